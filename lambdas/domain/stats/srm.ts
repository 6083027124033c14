import { requireCount, StatsInputError } from './errors.ts';
import { insufficientData, ok, type StatResult } from './result.ts';
import { chiSquareSurvival } from './special.ts';

/** Below this p-value a sample ratio mismatch is flagged (the industry-standard threshold). */
export const SRM_P_VALUE_THRESHOLD = 0.001;

/** Result of {@link sampleRatioMismatch}. */
export interface SampleRatioMismatch {
  chiSquare: number;
  degreesOfFreedom: number;
  pValue: number;
  /** True when pValue < threshold: the assignment is broken and results cannot be trusted. */
  flagged: boolean;
  threshold: number;
  /** Users expected per variant under the configured weights. */
  expected: number[];
  observedShares: number[];
  expectedShares: number[];
}

/**
 * Chi-square goodness-of-fit of observed users per variant against the configured weights
 * (weights need not sum to one; they are normalised).
 */
export function sampleRatioMismatch({
  observed,
  weights,
  threshold = SRM_P_VALUE_THRESHOLD,
}: {
  observed: number[];
  weights: number[];
  threshold?: number;
}): StatResult<SampleRatioMismatch> {
  if (observed.length !== weights.length) {
    throw new StatsInputError('weights', `has ${weights.length} entries for ${observed.length} variants`);
  }
  observed.forEach((count, i) => {
    requireCount(`observed[${i}]`, count);
  });
  weights.forEach((weight, i) => {
    if (!(typeof weight === 'number' && Number.isFinite(weight) && weight > 0)) {
      throw new StatsInputError(`weights[${i}]`, `must be a finite number > 0, got ${String(weight)}`);
    }
  });
  if (observed.length < 2) return insufficientData('needs at least 2 variants');
  const total = observed.reduce((sum, count) => sum + count, 0);
  if (total === 0) return insufficientData('no users observed');
  const weightTotal = weights.reduce((sum, weight) => sum + weight, 0);
  const expectedShares = weights.map((weight) => weight / weightTotal);
  const expected = expectedShares.map((share) => share * total);
  const chiSquare = observed.reduce((sum, count, i) => sum + (count - expected[i]) ** 2 / expected[i], 0);
  const degreesOfFreedom = observed.length - 1;
  const pValue = chiSquareSurvival(chiSquare, degreesOfFreedom);
  return ok({
    chiSquare,
    degreesOfFreedom,
    pValue,
    flagged: pValue < threshold,
    threshold,
    expected,
    observedShares: observed.map((count) => count / total),
    expectedShares,
  });
}
