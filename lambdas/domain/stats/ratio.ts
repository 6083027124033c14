import { requireCount, requireFinite, StatsInputError } from './errors.ts';
import { relativeLiftLogDelta, zCriticalFor } from './lift.ts';
import { insufficientData, okIfFinite, type Interval, type StatResult } from './result.ts';
import { normalTwoSidedPValue } from './special.ts';
import { CANCELLATION_TOLERANCE } from './welch.ts';

/**
 * User-level sufficient statistics of a ratio metric sum(x) / sum(y), e.g. click-through with
 * x = clicks per user and y = impressions per user. The counters keep exactly these six sums.
 */
export interface RatioSample {
  users: number;
  sumX: number;
  sumY: number;
  sumX2: number;
  sumY2: number;
  sumXY: number;
}

/** A ratio estimate with its delta-method variance. */
export interface RatioEstimate {
  ratio: number;
  variance: number;
  standardError: number;
}

/** Result of {@link ratioMetricTest}. */
export interface RatioMetricTest {
  controlRatio: number;
  treatmentRatio: number;
  difference: number;
  zScore: number;
  pValue: number;
  differenceInterval: Interval;
  relativeLift: number | null;
  relativeLiftInterval: Interval | null;
  standardError: number;
}

/** Validates a ratio sample; `field` names it in errors. */
export function validateRatioSample(field: string, sample: RatioSample): void {
  requireCount(`${field}.users`, sample.users);
  requireCount(`${field}.sum_x`, sample.sumX, { integer: false });
  requireCount(`${field}.sum_y`, sample.sumY, { integer: false });
  requireCount(`${field}.sum_x2`, sample.sumX2, { integer: false });
  requireCount(`${field}.sum_y2`, sample.sumY2, { integer: false });
  requireFinite(`${field}.sum_xy`, sample.sumXY);
  if (sample.users > 0 && sample.sumX2 * sample.users < sample.sumX * sample.sumX * (1 - 1e-9)) {
    throw new StatsInputError(`${field}.sum_x2`, 'is smaller than sum_x^2 / users, which no data can produce');
  }
}

/**
 * Ratio of means x-bar / y-bar with the delta-method variance, treating the user (not the
 * impression) as the independent unit:
 *   Var(R) ~= (s_x^2 - 2 R s_xy + R^2 s_y^2) / (n y-bar^2),
 * with unbiased (n - 1) sample variances and covariance.
 */
export function ratioEstimate(sample: RatioSample): StatResult<RatioEstimate> {
  const n = sample.users;
  if (n < 2) return insufficientData('needs at least 2 users');
  const meanX = sample.sumX / n;
  const meanY = sample.sumY / n;
  if (!(meanY > 0)) return insufficientData('zero denominator (no impressions)');
  const varianceX = (sample.sumX2 - n * meanX * meanX) / (n - 1);
  const varianceY = (sample.sumY2 - n * meanY * meanY) / (n - 1);
  const covariance = (sample.sumXY - n * meanX * meanY) / (n - 1);
  const ratio = meanX / meanY;
  const linearised = varianceX - 2 * ratio * covariance + ratio * ratio * varianceY;
  // Same rounding guard as for means: below this share of the raw second moments it is noise.
  const scale = (sample.sumX2 + ratio * ratio * sample.sumY2) / (n - 1);
  const variance = linearised <= CANCELLATION_TOLERANCE * scale ? 0 : linearised / (n * meanY * meanY);
  return okIfFinite({ ratio, variance, standardError: Math.sqrt(variance) });
}

/**
 * Two-sided z-test on the difference of two user-level ratio metrics (delta method), with the
 * interval of the difference and the log-scale relative lift.
 */
export function ratioMetricTest({
  control,
  treatment,
  confidenceLevel,
}: {
  control: RatioSample;
  treatment: RatioSample;
  confidenceLevel: number;
}): StatResult<RatioMetricTest> {
  validateRatioSample('control', control);
  validateRatioSample('treatment', treatment);
  const a = ratioEstimate(control);
  if (a.status !== 'ok') return insufficientData(`control: ${a.reason}`);
  const b = ratioEstimate(treatment);
  if (b.status !== 'ok') return insufficientData(`treatment: ${b.reason}`);
  // An arm without a single click has a delta-method variance of exactly zero: its estimate would
  // look certain, so the test waits for data instead.
  if (control.sumX === 0 || treatment.sumX === 0) return insufficientData(`${control.sumX === 0 ? 'control' : 'treatment'} has no clicks (numerator) yet`);
  const standardError = Math.sqrt(a.variance + b.variance);
  if (!(standardError > 0)) return insufficientData('zero variance in both variants');
  const difference = b.ratio - a.ratio;
  const zScore = difference / standardError;
  const zCritical = zCriticalFor(confidenceLevel);
  const lift = relativeLiftLogDelta({ estimate: a.ratio, variance: a.variance }, { estimate: b.ratio, variance: b.variance }, zCritical);
  return okIfFinite({
    controlRatio: a.ratio,
    treatmentRatio: b.ratio,
    difference,
    zScore,
    pValue: normalTwoSidedPValue(zScore),
    differenceInterval: { low: difference - zCritical * standardError, high: difference + zCritical * standardError },
    relativeLift: lift.lift,
    relativeLiftInterval: lift.interval,
    standardError,
  });
}
