import { requireCount, requireFinite, StatsInputError } from './errors.ts';
import { relativeLiftLogDelta, zCriticalFor } from './lift.ts';
import { insufficientData, okIfFinite, type Interval, type StatResult } from './result.ts';
import { studentTQuantile, studentTTwoSidedPValue } from './special.ts';

/** Sufficient statistics of a continuous metric: count, sum and sum of squares. */
export interface MeanSample {
  n: number;
  sum: number;
  sumSq: number;
}

/** Mean and unbiased variance recovered from a {@link MeanSample}. */
export interface MeanSummary {
  n: number;
  mean: number;
  variance: number;
}

/** Result of {@link welchTTest}. */
export interface WelchTTest {
  controlMean: number;
  treatmentMean: number;
  difference: number;
  tStatistic: number;
  /** Welch-Satterthwaite degrees of freedom. */
  degreesOfFreedom: number;
  pValue: number;
  /** Welch interval for the difference (t quantile with the same df). */
  differenceInterval: Interval;
  relativeLift: number | null;
  /** Log-scale delta-method interval (normal quantile), null unless both means are positive. */
  relativeLiftInterval: Interval | null;
  controlVariance: number;
  treatmentVariance: number;
}

/** Validates a mean sample; `field` names it in errors. */
export function validateMeanSample(field: string, sample: MeanSample): void {
  requireCount(`${field}.n`, sample.n);
  requireFinite(`${field}.sum`, sample.sum);
  requireCount(`${field}.sum_sq`, sample.sumSq, { integer: false });
  // Σx² ≥ (Σx)²/n for any data (Cauchy-Schwarz): clearly less (beyond the rounding a sum of
  // many floats carries, as the ratio samples allow) is a corrupt counter, not zero variance.
  // (Below 1e-290 the squares are subnormal and carry too few digits to tell.)
  const squaredMean = sample.n > 0 ? (sample.sum * sample.sum) / sample.n : 0;
  if (squaredMean > 1e-290 && sample.sumSq < squaredMean * (1 - 1e-9)) {
    throw new StatsInputError(
      `${field}.sum_sq`,
      `${sample.sumSq} is less than sum²/n = ${(sample.sum * sample.sum) / sample.n}: no data has that (a corrupt counter)`,
    );
  }
  if (sample.n === 0 && (sample.sum !== 0 || sample.sumSq !== 0)) throw new StatsInputError(`${field}.n`, 'is 0 while the sums are not');
}

/**
 * Below this share of the raw second moment, a variance from sum and sum of squares is
 * rounding error, not signal: the subtraction sumSq - sum^2 / n cancels to about 1e-16 of
 * sumSq, so constant data could otherwise show a tiny spurious variance and a huge t.
 */
export const CANCELLATION_TOLERANCE = 1e-12;

/**
 * Mean and unbiased variance from n, sum and sum of squares; a variance lost in rounding
 * (see {@link CANCELLATION_TOLERANCE}) is reported as exactly zero.
 */
export function summarizeMeanSample(sample: MeanSample): MeanSummary {
  const mean = sample.sum / sample.n;
  if (sample.n < 2) return { n: sample.n, mean, variance: 0 };
  const centred = sample.sumSq - sample.sum * mean;
  const variance = centred <= CANCELLATION_TOLERANCE * sample.sumSq ? 0 : centred / (sample.n - 1);
  return { n: sample.n, mean, variance };
}

/** Welch's unequal-variance t-test from sufficient statistics, two-sided. */
export function welchTTest({
  control,
  treatment,
  confidenceLevel,
}: {
  control: MeanSample;
  treatment: MeanSample;
  confidenceLevel: number;
}): StatResult<WelchTTest> {
  validateMeanSample('control', control);
  validateMeanSample('treatment', treatment);
  if (control.n < 2 || treatment.n < 2) return insufficientData('each variant needs at least 2 observations');
  const a = summarizeMeanSample(control);
  const b = summarizeMeanSample(treatment);
  const varianceOfMeanA = a.variance / a.n;
  const varianceOfMeanB = b.variance / b.n;
  const standardError = Math.sqrt(varianceOfMeanA + varianceOfMeanB);
  if (!(standardError > 0)) return insufficientData('zero variance in both variants');
  const degreesOfFreedom = (varianceOfMeanA + varianceOfMeanB) ** 2 / (varianceOfMeanA ** 2 / (a.n - 1) + varianceOfMeanB ** 2 / (b.n - 1));
  const difference = b.mean - a.mean;
  const tStatistic = difference / standardError;
  const tCritical = studentTQuantile(1 - (1 - confidenceLevel) / 2, degreesOfFreedom);
  const lift = relativeLiftLogDelta(
    { estimate: a.mean, variance: varianceOfMeanA },
    { estimate: b.mean, variance: varianceOfMeanB },
    zCriticalFor(confidenceLevel),
  );
  return okIfFinite({
    controlMean: a.mean,
    treatmentMean: b.mean,
    difference,
    tStatistic,
    degreesOfFreedom,
    pValue: studentTTwoSidedPValue(tStatistic, degreesOfFreedom),
    differenceInterval: { low: difference - tCritical * standardError, high: difference + tCritical * standardError },
    relativeLift: lift.lift,
    relativeLiftInterval: lift.interval,
    controlVariance: a.variance,
    treatmentVariance: b.variance,
  });
}
