import { StatsInputError } from './errors.ts';

/**
 * Holm step-down adjusted p-values (family-wise error control under any dependence).
 * Sorted ascending, p_(j) is adjusted to max_{i <= j} min(1, (m - i + 1) p_(i)); the result is
 * returned in the input order. Compare each adjusted value with alpha.
 */
export function holmAdjust(pValues: number[]): number[] {
  pValues.forEach((p, i) => {
    if (!(typeof p === 'number' && p >= 0 && p <= 1)) {
      throw new StatsInputError(`pValues[${i}]`, `must be between 0 and 1, got ${String(p)}`);
    }
  });
  const m = pValues.length;
  const order = pValues.map((p, index) => ({ p, index })).sort((a, b) => a.p - b.p || a.index - b.index);
  const adjusted = new Array<number>(m);
  let runningMax = 0;
  order.forEach(({ p, index }, rank) => {
    runningMax = Math.max(runningMax, Math.min(1, (m - rank) * p));
    adjusted[index] = runningMax;
  });
  return adjusted;
}
