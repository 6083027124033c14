/**
 * Bad input to the statistics engine (a negative count, conversions above users, a weight of
 * zero). Distinct from "not enough data", which is a normal result and never thrown.
 */
export class StatsInputError extends Error {
  override readonly name = 'StatsInputError';
  /** Path of the offending field, e.g. `variants[1].conversions`. */
  readonly field: string;

  constructor(field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.field = field;
  }
}

/** Throws unless `value` is a finite number >= 0 (and an integer when asked). */
export function requireCount(field: string, value: number, { integer = true } = {}): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new StatsInputError(field, `must be a finite number >= 0, got ${String(value)}`);
  }
  if (integer && !Number.isInteger(value)) {
    throw new StatsInputError(field, `must be a whole number, got ${value}`);
  }
}

/** Throws unless `value` is finite (any sign). */
export function requireFinite(field: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new StatsInputError(field, `must be a finite number, got ${String(value)}`);
  }
}

/** Throws unless 0 < value < 1. */
export function requireOpenUnit(field: string, value: number): void {
  if (typeof value !== 'number' || !(value > 0 && value < 1)) {
    throw new StatsInputError(field, `must be strictly between 0 and 1, got ${String(value)}`);
  }
}
