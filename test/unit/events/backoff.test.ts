import { describe, expect, it } from 'vitest';
import { UnprocessedAfterRetriesError, drainWithBackoff, fullJitterDelay, retryWithBackoff } from '../../../lambdas/common/backoff.ts';

/** A deterministic stand-in for the jitter's uniform draw. */
const always = (u: number) => () => u;

describe('fullJitterDelay', () => {
  it('draws uniformly below base · 2^retry', () => {
    expect([0, 1, 2, 3].map((retry) => fullJitterDelay(retry, { baseMs: 10, capMs: 1000, random: always(0.5) }))).toEqual([5, 10, 20, 40]);
  });

  it('never waits longer than the cap', () => {
    expect(fullJitterDelay(20, { baseMs: 10, capMs: 300, random: always(0.999) })).toBe(299);
  });

  it('can wait nothing at all (full jitter starts at 0)', () => {
    expect(fullJitterDelay(3, { random: always(0) })).toBe(0);
  });
});

describe('drainWithBackoff', () => {
  it('calls again with only the unprocessed work until nothing is left, sleeping between calls', async () => {
    // Prepare
    const calls: number[][] = [];
    const sleeps: number[] = [];
    const unprocessed = [[3, 4], [4], []];

    // Act
    const attempts = await drainWithBackoff(
      [1, 2, 3, 4],
      async (pending) => {
        calls.push(pending);
        return unprocessed.shift()!;
      },
      {
        baseMs: 100,
        random: always(0.5),
        sleep: async (ms) => sleeps.push(ms),
      },
    );

    // Assess
    expect(calls).toEqual([[1, 2, 3, 4], [3, 4], [4]]);
    expect(sleeps).toEqual([50, 100]);
    expect(attempts).toBe(3);
  });

  it('gives up after maxAttempts, naming what is still unprocessed', async () => {
    // Act
    const outcome = drainWithBackoff(['k1', 'k2'], async () => ['k2'], { maxAttempts: 3, sleep: async () => undefined });

    // Assess
    await expect(outcome).rejects.toBeInstanceOf(UnprocessedAfterRetriesError);
    await expect(outcome).rejects.toMatchObject({ remaining: ['k2'], message: '1 items still unprocessed after 3 attempts' });
  });
});

describe('retryWithBackoff', () => {
  it('calls again after a retryable error, sleeping the full-jitter delay between calls, and returns the first success', async () => {
    // Prepare
    const sleeps: number[] = [];
    let calls = 0;

    // Act
    const value = await retryWithBackoff(
      async () => {
        calls++;
        if (calls < 3) throw new Error('throttled');
        return 'done';
      },
      () => true,
      { baseMs: 100, random: always(0.5), sleep: async (ms) => sleeps.push(ms) },
    );

    // Assess
    expect(value).toBe('done');
    expect(calls).toBe(3);
    expect(sleeps).toEqual([50, 100]);
  });

  it('throws the last error after maxAttempts calls', async () => {
    // Prepare
    let calls = 0;

    // Act
    const outcome = retryWithBackoff(
      async () => {
        calls++;
        throw new Error(`attempt ${calls}`);
      },
      () => true,
      { maxAttempts: 4, sleep: async () => undefined },
    );

    // Assess
    await expect(outcome).rejects.toThrow('attempt 4');
    expect(calls).toBe(4);
  });

  it('throws at once, without sleeping, an error that is not retryable', async () => {
    // Prepare
    const sleeps: number[] = [];
    const refused = new Error('timed out: may have been applied');

    // Act
    const outcome = retryWithBackoff(
      async () => {
        throw refused;
      },
      (error) => error !== refused,
      { sleep: async (ms) => sleeps.push(ms) },
    );

    // Assess
    await expect(outcome).rejects.toBe(refused);
    expect(sleeps).toEqual([]);
  });
});
