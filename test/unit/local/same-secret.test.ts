/**
 * The README says local keys are "compared as HMAC digests in constant time": sameSecret hands
 * node's timingSafeEqual two 32-byte digests whatever the lengths presented, so neither the length
 * nor the content of the key decides how long the comparison takes.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { sameSecret } from '../../../local/gateway.ts';

/** The byte lengths of what each timingSafeEqual call compared. */
const compared = vi.hoisted(() => ({ lengths: [] as [number, number][] }));

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return {
    ...actual,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compared.lengths.push([a.byteLength, b.byteLength]);
      return actual.timingSafeEqual(a, b);
    },
  };
});

beforeEach(() => {
  compared.lengths = [];
});

describe('sameSecret', () => {
  it.each([
    ['an equal key', 'ak_0123456789abcdef', true],
    ['a shorter key', 'ak_', false],
    ['an empty key', '', false],
    ['a much longer key', 'ak_0123456789abcdef'.repeat(50), false],
    ['a key differing in its last character', 'ak_0123456789abcdeF', false],
  ])('compares %s as two 32-byte HMAC digests in one timingSafeEqual call', (_, given, expected) => {
    // Act
    const same = sameSecret(given, 'ak_0123456789abcdef');

    // Assess
    expect(same).toBe(expected);
    expect(compared.lengths).toEqual([[32, 32]]);
  });
});
