/**
 * User-level statistics from exact sums: a metric with the user as the unit (clicks per user,
 * revenue per user, a 0/1 outcome per user), where the counters keep n, Σy and Σy² over users as
 * exact integers (BigInts beyond 2^53, see domain/events/exact.ts).
 *
 * The centred second moments are formed before any rounding, n·Σab − Σa·Σb exactly, and only
 * then turned into doubles: the variance of a sum of 10^21 loses nothing to cancellation. Sums
 * that are fractions (float counters) take the same path in double precision.
 */
import { exactMultiply, exactSubtract, toDouble, type Exact } from '../events/exact.ts';
import { relativeLiftLogDelta, zCriticalFor } from './lift.ts';
import { insufficientData, okIfFinite, type Interval, type StatResult } from './result.ts';
import { studentTQuantile, studentTTwoSidedPValue } from './special.ts';

/** n, Σy and Σy² over users. */
export interface UserSums {
  n: Exact;
  sum: Exact;
  sumSq: Exact;
}

/**
 * Σ(a − ā)(b − b̄) over n users from their sums: (n·Σab − Σa·Σb) / n, the numerator exact for
 * integer sums. With a = b it is the centred sum of squares.
 */
export function coMoment(n: Exact, sumA: Exact, sumB: Exact, sumAB: Exact): number {
  const count = toDouble(n);
  if (!(count > 0)) return 0;
  return toDouble(exactSubtract(exactMultiply(n, sumAB), exactMultiply(sumA, sumB))) / count;
}

/** Mean and unbiased variance per user, in the metric's units (`scale` divides minor units: 100 for cents). */
export interface UserMeanSummary {
  n: number;
  mean: number;
  variance: number;
}

/** The mean and variance of a user-level metric from its exact sums. */
export function userMeanSummary(sums: UserSums, scale = 1): UserMeanSummary {
  const n = toDouble(sums.n);
  const mean = n > 0 ? toDouble(sums.sum) / n / scale : 0;
  const variance = n > 1 ? Math.max(0, coMoment(sums.n, sums.sum, sums.sum, sums.sumSq)) / (n - 1) / (scale * scale) : 0;
  return { n, mean, variance };
}

/** An estimate with its confidence interval. */
export interface EstimateWithInterval {
  estimate: number;
  interval: Interval | null;
}

/** A user-level mean with its normal interval (null below 2 users). */
export function userMeanEstimate(sums: UserSums, confidenceLevel: number, scale = 1): EstimateWithInterval | null {
  const summary = userMeanSummary(sums, scale);
  if (summary.n === 0) return null;
  if (summary.n < 2) return { estimate: summary.mean, interval: null };
  const half = zCriticalFor(confidenceLevel) * Math.sqrt(summary.variance / summary.n);
  return { estimate: summary.mean, interval: { low: summary.mean - half, high: summary.mean + half } };
}

/** Treatment minus control for a user-level mean (Welch). */
export interface UserMeanComparison {
  controlMean: number;
  treatmentMean: number;
  difference: number;
  standardError: number;
  degreesOfFreedom: number;
  pValue: number;
  differenceInterval: Interval;
  relativeLift: number | null;
  relativeLiftInterval: Interval | null;
}

/** Welch's t-test of two user-level means from their exact sums. */
export function userMeanTest({
  control,
  treatment,
  confidenceLevel,
  scale = 1,
}: {
  control: UserSums;
  treatment: UserSums;
  confidenceLevel: number;
  scale?: number;
}): StatResult<UserMeanComparison> {
  const a = userMeanSummary(control, scale);
  const b = userMeanSummary(treatment, scale);
  if (a.n < 2 || b.n < 2) return insufficientData('each variant needs at least 2 users');
  const va = a.variance / a.n;
  const vb = b.variance / b.n;
  const standardError = Math.sqrt(va + vb);
  if (!(standardError > 0)) return insufficientData('zero variance in both variants');
  const degreesOfFreedom = (va + vb) ** 2 / (va ** 2 / (a.n - 1) + vb ** 2 / (b.n - 1));
  const difference = b.mean - a.mean;
  const t = difference / standardError;
  const tCritical = studentTQuantile(1 - (1 - confidenceLevel) / 2, degreesOfFreedom);
  const lift = relativeLiftLogDelta({ estimate: a.mean, variance: va }, { estimate: b.mean, variance: vb }, zCriticalFor(confidenceLevel));
  return okIfFinite({
    controlMean: a.mean,
    treatmentMean: b.mean,
    difference,
    standardError,
    degreesOfFreedom,
    pValue: studentTTwoSidedPValue(t, degreesOfFreedom),
    differenceInterval: { low: difference - tCritical * standardError, high: difference + tCritical * standardError },
    relativeLift: lift.lift,
    relativeLiftInterval: lift.interval,
  });
}
