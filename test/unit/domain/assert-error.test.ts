/** Narrowing what a catch block holds: Errors pass through, anything else thrown still reads sensibly. */
import { describe, expect, it } from 'vitest';
import { assertIsError, errorMessage, errorStack, toError } from '../../../lambdas/domain/assert-error.ts';

const NON_ERRORS = [
  ['a string', 'disk full', 'disk full'],
  ['a number', 42, '42'],
  ['undefined', undefined, 'undefined'],
  ['null', null, 'null'],
] as const;

describe('assertIsError', () => {
  it('lets an Error, or a subclass of one, through', () => {
    // Arrange
    const error: unknown = new SyntaxError('Unexpected token');

    // Act
    assertIsError(error);

    // Assess: the narrowed value is usable as an Error without a cast
    expect(error.message).toBe('Unexpected token');
  });

  it.each(NON_ERRORS)('throws a TypeError carrying %s as its cause', (_name, value) => {
    // Act / Assess
    expect(() => assertIsError(value)).toThrow(TypeError);
    expect(() => assertIsError(value)).toThrow(expect.objectContaining({ cause: value }));
  });

  it('quotes a thrown string in its message', () => {
    // Act / Assess
    expect(() => assertIsError('')).toThrow('expected an Error, caught ""');
  });
});

describe('errorMessage', () => {
  it("is an Error's own message", () => {
    // Act / Assess
    expect(errorMessage(new RangeError('out of range'))).toBe('out of range');
  });

  it.each(NON_ERRORS)('is %s as text when that was thrown', (_name, value, text) => {
    // Act / Assess
    expect(errorMessage(value)).toBe(text);
  });
});

describe('toError', () => {
  it('returns an Error itself', () => {
    // Arrange
    const error = new TypeError('bad');

    // Act / Assess
    expect(toError(error)).toBe(error);
  });

  it.each(NON_ERRORS)('wraps %s in an Error whose message is its text', (_name, value, text) => {
    // Act
    const error = toError(value);

    // Assess
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('Error');
    expect(error.message).toBe(text);
  });
});

describe('errorStack', () => {
  it("is an Error's stack, which starts with its name and message", () => {
    // Act
    const stack = errorStack(new TypeError('bad'));

    // Assess
    expect(stack.startsWith('TypeError: bad\n')).toBe(true);
  });

  it('falls back to the name and message when an Error has no stack', () => {
    // Arrange
    const error = new Error('no trace');
    error.stack = undefined;

    // Act / Assess
    expect(errorStack(error)).toBe('Error: no trace');
  });

  it.each(NON_ERRORS)('is %s as text when that was thrown', (_name, value, text) => {
    // Act / Assess
    expect(errorStack(value)).toBe(text);
  });
});
