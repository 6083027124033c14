import { requireCount, StatsInputError } from './errors.ts';
import { relativeLiftLogDelta, zCriticalFor } from './lift.ts';
import { insufficientData, okIfFinite, type Interval, type StatResult } from './result.ts';
import { normalTwoSidedPValue } from './special.ts';

/** Users exposed and users who converted (or impressions and clicks). */
export interface ProportionSample {
  users: number;
  conversions: number;
}

/** Result of {@link twoProportionZTest}. */
export interface TwoProportionZTest {
  controlRate: number;
  treatmentRate: number;
  /** treatmentRate - controlRate. */
  difference: number;
  zScore: number;
  pValue: number;
  /** Unpooled (Wald) interval for the difference. */
  differenceInterval: Interval;
  relativeLift: number | null;
  /** Katz log interval for the rate ratio, minus one. */
  relativeLiftInterval: Interval | null;
  standardErrorPooled: number;
  standardErrorUnpooled: number;
}

/** Validates a proportion sample; `field` names it in errors. */
export function validateProportionSample(field: string, sample: ProportionSample): void {
  requireCount(`${field}.users`, sample.users);
  requireCount(`${field}.conversions`, sample.conversions);
  if (sample.conversions > sample.users) {
    throw new StatsInputError(`${field}.conversions`, `${sample.conversions} exceeds users ${sample.users}`);
  }
}

/**
 * Two-sided two-proportion z-test. The statistic uses the pooled standard error (the null
 * hypothesis says both rates are equal); the interval for the difference uses the unpooled one
 * (it describes the difference where it is, not under the null).
 */
export function twoProportionZTest({
  control,
  treatment,
  confidenceLevel,
}: {
  control: ProportionSample;
  treatment: ProportionSample;
  confidenceLevel: number;
}): StatResult<TwoProportionZTest> {
  validateProportionSample('control', control);
  validateProportionSample('treatment', treatment);
  if (control.users < 2 || treatment.users < 2) {
    return insufficientData('each variant needs at least 2 users');
  }
  const controlRate = control.conversions / control.users;
  const treatmentRate = treatment.conversions / treatment.users;
  const pooledRate = (control.conversions + treatment.conversions) / (control.users + treatment.users);
  const standardErrorPooled = Math.sqrt(pooledRate * (1 - pooledRate) * (1 / control.users + 1 / treatment.users));
  if (!(standardErrorPooled > 0)) {
    return insufficientData('no variation: every user converted or none did');
  }
  const controlVariance = (controlRate * (1 - controlRate)) / control.users;
  const treatmentVariance = (treatmentRate * (1 - treatmentRate)) / treatment.users;
  const standardErrorUnpooled = Math.sqrt(controlVariance + treatmentVariance);
  const difference = treatmentRate - controlRate;
  const zScore = difference / standardErrorPooled;
  const zCritical = zCriticalFor(confidenceLevel);
  const lift = relativeLiftLogDelta({ estimate: controlRate, variance: controlVariance }, { estimate: treatmentRate, variance: treatmentVariance }, zCritical);
  return okIfFinite({
    controlRate,
    treatmentRate,
    difference,
    zScore,
    pValue: normalTwoSidedPValue(zScore),
    differenceInterval: { low: difference - zCritical * standardErrorUnpooled, high: difference + zCritical * standardErrorUnpooled },
    relativeLift: lift.lift,
    relativeLiftInterval: lift.interval,
    standardErrorPooled,
    standardErrorUnpooled,
  });
}
