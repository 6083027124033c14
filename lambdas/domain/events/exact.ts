/**
 * Exact counter arithmetic. Counters are sums of integers (counts, cents, milliseconds, their
 * squares and cross products) that DynamoDB stores exactly to 38 digits, but a JavaScript number
 * holds integers exactly only up to 2^53 and the document client refuses to send a larger one.
 * So an amount is a number while it is a safe integer (or a fraction: the per-event value sums
 * are floats anyway, and far below 2^53 by the bounds of event.ts), and a BigInt beyond; every
 * operation here is exact on integers and gives a number back as soon as the result fits again.
 * The document client sends and returns BigInts as DynamoDB numbers, so sums of any realistic
 * size stay exact from the write through the read; only the statistics turn them into doubles.
 */

/** A counter amount: a number while a double holds it exactly, a BigInt beyond ±2^53. */
export type Exact = number | bigint;

/** A BigInt as a number when a double holds it exactly (|v| ≤ 2^53 − 1), else itself. */
export function normaliseExact(value: bigint): Exact {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value;
}

const isIntegral = (value: Exact): boolean => typeof value === 'bigint' || Number.isInteger(value);

/** Whether both amounts are integers: only then is the BigInt path exact (and needed). */
const bothIntegral = (a: Exact, b: Exact): boolean => isIntegral(a) && isIntegral(b);

/** a + b, exact for integers of any size. */
export function exactAdd(a: Exact, b: Exact): Exact {
  if (typeof a === 'number' && typeof b === 'number') {
    const sum = a + b;
    if (Number.isSafeInteger(sum) || !bothIntegral(a, b)) return sum;
  }
  // A fraction next to a BigInt: only the float sums (values), which never grow that large.
  if (!bothIntegral(a, b)) return Number(a) + Number(b);
  return normaliseExact(BigInt(a) + BigInt(b));
}

/** −a (0 stays 0, never −0). */
export function exactNegate(a: Exact): Exact {
  if (typeof a === 'bigint') return normaliseExact(-a);
  return a === 0 ? 0 : -a;
}

/** a − b, exact for integers of any size. */
export function exactSubtract(a: Exact, b: Exact): Exact {
  return exactAdd(a, exactNegate(b));
}

/** a × b, exact for integers of any size. */
export function exactMultiply(a: Exact, b: Exact): Exact {
  if (typeof a === 'number' && typeof b === 'number') {
    const product = a * b;
    if (Number.isSafeInteger(product) || !bothIntegral(a, b)) return product;
  }
  if (!bothIntegral(a, b)) return Number(a) * Number(b);
  return normaliseExact(BigInt(a) * BigInt(b));
}

/** The smaller of two amounts. */
export function exactMin(a: Exact, b: Exact): Exact {
  return a < b ? a : b;
}

/** Whether an amount is zero. */
export const isExactZero = (a: Exact): boolean => a === 0 || a === 0n;

/** The nearest double: the one place an exact sum becomes approximate, inside the statistics. */
export function toDouble(a: Exact): number {
  return typeof a === 'bigint' ? Number(a) : a;
}

/** An amount as a JSON-safe value: a number when exact, else its decimal digits as a string. */
export function exactJson(a: Exact): number | string {
  return typeof a === 'bigint' ? a.toString() : a;
}

/**
 * A value in integer minor units (cents for revenue, milliseconds for watch time): the float
 * `value × scale` rounded to the nearest integer, read through 15 significant digits first so
 * a decimal like 0.145 (stored as 0.14499999999999999) gives 14.5 → 15 cents, not 14.
 */
export function toMinorUnits(value: number, scale: number): number {
  return Math.round(Number((value * scale).toPrecision(15)));
}
