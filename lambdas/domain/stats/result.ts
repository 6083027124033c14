/** A two-sided interval; `low <= high`. */
export interface Interval {
  low: number;
  high: number;
}

/**
 * The defined answer when a quantity cannot be estimated (zero impressions, zero variance,
 * n = 1): reports carry this instead of NaN or Infinity.
 */
export interface InsufficientData {
  status: 'insufficient-data';
  reason: string;
}

/** Either a computed result (`status: 'ok'`) or {@link InsufficientData}. */
export type StatResult<T> = ({ status: 'ok' } & T) | InsufficientData;

/** Builds an {@link InsufficientData} result. */
export function insufficientData(reason: string): InsufficientData {
  return { status: 'insufficient-data', reason };
}

/** Builds an ok result. */
export function ok<T extends object>(value: T): { status: 'ok' } & T {
  return { status: 'ok', ...value };
}

/** True when every number reachable from `value` is finite. */
export function isAllFinite(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isAllFinite);
  if (value !== null && typeof value === 'object') return Object.values(value).every(isAllFinite);
  return true;
}

/**
 * The last line of defence of the no-NaN rule: a result with a non-finite number anywhere
 * (underflow in extreme inputs) becomes insufficient-data instead.
 */
export function okIfFinite<T extends object>(value: T): StatResult<T> {
  return isAllFinite(value) ? ok(value) : insufficientData('numerically degenerate input (values too small or too large to estimate)');
}
