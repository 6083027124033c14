import { requireOpenUnit } from './errors.ts';
import type { Interval } from './result.ts';
import { normalQuantile } from './special.ts';

/** Relative lift (treatment / control - 1) with its interval; null parts are undefined. */
export interface RelativeLift {
  /** Null when the control estimate is not positive (the ratio is undefined). */
  lift: number | null;
  /** Null when either estimate is not positive (the log ratio is undefined). */
  interval: Interval | null;
}

/**
 * Relative lift with a delta-method interval on the log of the ratio:
 * log(B / A) +- z * sqrt(var(A) / A^2 + var(B) / B^2), exponentiated, minus one.
 * The log scale keeps the interval above -100% and asymmetric, as a ratio's should be; for
 * two proportions it is exactly the Katz interval for the risk ratio (scipy's
 * `relative_risk(...).confidence_interval`). The normal quantile is used for every metric
 * because the delta method is itself a large-sample approximation.
 */
export function relativeLiftLogDelta(
  control: { estimate: number; variance: number },
  treatment: { estimate: number; variance: number },
  zCritical: number,
): RelativeLift {
  if (!(control.estimate > 0)) return { lift: null, interval: null };
  const ratio = treatment.estimate / control.estimate;
  const lift = ratio - 1;
  if (!(treatment.estimate > 0)) return { lift, interval: null };
  const seLog = Math.sqrt(control.variance / (control.estimate * control.estimate) + treatment.variance / (treatment.estimate * treatment.estimate));
  const logRatio = Math.log(ratio);
  return {
    lift,
    interval: { low: Math.exp(logRatio - zCritical * seLog) - 1, high: Math.exp(logRatio + zCritical * seLog) - 1 },
  };
}

/** z_{1 - alpha/2} for a two-sided interval at `confidenceLevel`. */
export function zCriticalFor(confidenceLevel: number): number {
  requireOpenUnit('confidence_level', confidenceLevel);
  return -normalQuantile((1 - confidenceLevel) / 2);
}
