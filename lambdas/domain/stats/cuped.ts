/**
 * CUPED (Deng, Xu, Kohavi and Walker 2013): variance reduction with a covariate measured before
 * exposure. Each user's outcome y is replaced by y − θ(x − x̄), with x the user's pre-exposure
 * covariate and θ = Cov(x, y) / Var(x); the covariate cannot depend on the variant, so the
 * adjusted difference estimates the same effect with the variance the covariate does not explain.
 *
 * θ is estimated once, pooled across variants from the within-variant covariances (so a
 * treatment effect on the mean of y does not enter it): θ = Σ_j S_xy,j / Σ_j S_xx,j. Each arm's
 * adjusted estimate is ŷ_j − θ(x̄_j − x̄) with x̄ the covariate mean over every arm, with variance
 * (s²_y − 2θ s_xy + θ² s²_x) / n_j.
 *
 * Three kinds of metric, all from exact per-user sums (n, Σx, Σx², Σy, Σy², Σxy):
 * - a proportion (y ∈ {0, 1} per user: Σy² = Σy),
 * - a user-level mean (clicks, revenue or watch time per user),
 * - a ratio Σc / Σm with the user as the unit (delta method): y is the linearised
 *   (c − R·m) / m̄, so s²_y and s_xy come from Σc², Σm², Σcm, Σxc and Σxm (Deng et al. 2018).
 * Pure; no I/O.
 */
import { toDouble, type Exact } from '../events/exact.ts';
import { zCriticalFor } from './lift.ts';
import { insufficientData, okIfFinite, type Interval, type StatResult } from './result.ts';
import { normalTwoSidedPValue } from './special.ts';
import { coMoment } from './user-level.ts';

/** One arm of a user-level (mean or proportion) metric: users, covariate and outcome sums. */
export interface CupedMeanArm {
  name: string;
  n: Exact;
  sumX: Exact;
  sumX2: Exact;
  sumY: Exact;
  sumY2: Exact;
  sumXY: Exact;
}

/** One arm of a ratio metric Σc / Σm with the user as the unit. */
export interface CupedRatioArm {
  name: string;
  n: Exact;
  sumX: Exact;
  sumX2: Exact;
  sumC: Exact;
  sumM: Exact;
  sumC2: Exact;
  sumM2: Exact;
  sumCM: Exact;
  sumXC: Exact;
  sumXM: Exact;
}

/** An arm's estimate, unadjusted and adjusted, with intervals. */
export interface CupedArmResult {
  variant: string;
  users: number;
  estimate: number;
  interval: Interval;
  adjustedEstimate: number;
  adjustedInterval: Interval;
}

/** A non-control arm against the control, unadjusted and adjusted. */
export interface CupedComparison {
  variant: string;
  difference: number;
  standardError: number;
  differenceInterval: Interval;
  pValue: number;
  adjustedDifference: number;
  adjustedStandardError: number;
  adjustedDifferenceInterval: Interval;
  adjustedPValue: number;
  /** 1 − Var(adjusted difference) / Var(difference): the share of the variance the covariate removed. */
  varianceReduction: number;
}

/** The CUPED analysis of one metric. */
export interface CupedResult {
  /** θ, pooled across variants. */
  theta: number;
  /** The covariate's mean over every arm (the adjusted estimates are centred on it). */
  covariateMean: number;
  /** Correlation of covariate and outcome, pooled within variants. */
  correlation: number;
  arms: CupedArmResult[];
  comparisons: CupedComparison[];
}

/** What CUPED needs of each arm: its estimate and the per-user (co)variances, linearised for a ratio. */
interface LinearisedArm {
  name: string;
  n: number;
  estimate: number;
  covariateMean: number;
  /** Centred sums over the arm's users: S_yy, S_xy, S_xx (of the linearised outcome for a ratio). */
  syy: number;
  sxy: number;
  sxx: number;
}

function cuped(arms: LinearisedArm[], confidenceLevel: number): StatResult<CupedResult> {
  if (arms.length < 2) return insufficientData('needs a control and at least one other variant');
  if (arms.some((arm) => arm.n < 2)) return insufficientData('each variant needs at least 2 users');
  const pooledSxx = arms.reduce((sum, arm) => sum + arm.sxx, 0);
  const pooledSxy = arms.reduce((sum, arm) => sum + arm.sxy, 0);
  const pooledSyy = arms.reduce((sum, arm) => sum + arm.syy, 0);
  // A covariate without variance (every user alike) explains nothing: θ = 0, the plain estimate.
  const theta = pooledSxx > 0 ? pooledSxy / pooledSxx : 0;
  const users = arms.reduce((sum, arm) => sum + arm.n, 0);
  const covariateMean = arms.reduce((sum, arm) => sum + arm.covariateMean * arm.n, 0) / users;
  const z = zCriticalFor(confidenceLevel);
  const variances = arms.map((arm) => ({
    plain: Math.max(0, arm.syy) / (arm.n - 1) / arm.n,
    adjusted: Math.max(0, arm.syy - 2 * theta * arm.sxy + theta * theta * arm.sxx) / (arm.n - 1) / arm.n,
  }));
  const results = arms.map((arm, i) => {
    const adjustedEstimate = arm.estimate - theta * (arm.covariateMean - covariateMean);
    const half = z * Math.sqrt(variances[i].plain);
    const adjustedHalf = z * Math.sqrt(variances[i].adjusted);
    return {
      variant: arm.name,
      users: arm.n,
      estimate: arm.estimate,
      interval: { low: arm.estimate - half, high: arm.estimate + half },
      adjustedEstimate,
      adjustedInterval: { low: adjustedEstimate - adjustedHalf, high: adjustedEstimate + adjustedHalf },
    };
  });
  const [control, ...treatments] = results;
  const comparisons = treatments.map((arm, t) => {
    const i = t + 1;
    const difference = arm.estimate - control.estimate;
    const adjustedDifference = arm.adjustedEstimate - control.adjustedEstimate;
    const variance = variances[i].plain + variances[0].plain;
    const adjustedVariance = variances[i].adjusted + variances[0].adjusted;
    const standardError = Math.sqrt(variance);
    const adjustedStandardError = Math.sqrt(adjustedVariance);
    return {
      variant: arm.variant,
      difference,
      standardError,
      differenceInterval: { low: difference - z * standardError, high: difference + z * standardError },
      pValue: standardError > 0 ? normalTwoSidedPValue(difference / standardError) : 1,
      adjustedDifference,
      adjustedStandardError,
      adjustedDifferenceInterval: { low: adjustedDifference - z * adjustedStandardError, high: adjustedDifference + z * adjustedStandardError },
      adjustedPValue: adjustedStandardError > 0 ? normalTwoSidedPValue(adjustedDifference / adjustedStandardError) : 1,
      varianceReduction: variance > 0 ? 1 - adjustedVariance / variance : 0,
    };
  });
  if (comparisons.some((c) => !(c.standardError > 0))) return insufficientData('zero variance in the outcome');
  const correlation = pooledSxx > 0 && pooledSyy > 0 ? pooledSxy / Math.sqrt(pooledSxx * pooledSyy) : 0;
  return okIfFinite({ theta, covariateMean, correlation, arms: results, comparisons });
}

/**
 * CUPED for a user-level mean or a proportion (control first). `scale` divides the outcome's
 * units (100 for revenue summed in cents); θ is then in outcome units per covariate unit.
 */
export function cupedMeans({ arms, confidenceLevel, scale = 1 }: { arms: CupedMeanArm[]; confidenceLevel: number; scale?: number }): StatResult<CupedResult> {
  return cuped(
    arms.map((arm) => {
      const n = toDouble(arm.n);
      return {
        name: arm.name,
        n,
        estimate: n > 0 ? toDouble(arm.sumY) / n / scale : 0,
        covariateMean: n > 0 ? toDouble(arm.sumX) / n : 0,
        syy: coMoment(arm.n, arm.sumY, arm.sumY, arm.sumY2) / (scale * scale),
        sxy: coMoment(arm.n, arm.sumX, arm.sumY, arm.sumXY) / scale,
        sxx: coMoment(arm.n, arm.sumX, arm.sumX, arm.sumX2),
      };
    }),
    confidenceLevel,
  );
}

/**
 * CUPED for a ratio Σc / Σm with the user as the unit (control first): each arm's ratio R is
 * linearised, y = (c − R·m) / m̄, so that its variance is the delta method's.
 */
export function cupedRatio({ arms, confidenceLevel }: { arms: CupedRatioArm[]; confidenceLevel: number }): StatResult<CupedResult> {
  if (arms.some((arm) => !(toDouble(arm.sumM) > 0))) return insufficientData('zero denominator (no impressions) in a variant');
  return cuped(
    arms.map((arm) => {
      const n = toDouble(arm.n);
      const ratio = toDouble(arm.sumC) / toDouble(arm.sumM);
      const meanM = toDouble(arm.sumM) / n;
      const scc = coMoment(arm.n, arm.sumC, arm.sumC, arm.sumC2);
      const smm = coMoment(arm.n, arm.sumM, arm.sumM, arm.sumM2);
      const scm = coMoment(arm.n, arm.sumC, arm.sumM, arm.sumCM);
      const sxc = coMoment(arm.n, arm.sumX, arm.sumC, arm.sumXC);
      const sxm = coMoment(arm.n, arm.sumX, arm.sumM, arm.sumXM);
      return {
        name: arm.name,
        n,
        estimate: ratio,
        covariateMean: n > 0 ? toDouble(arm.sumX) / n : 0,
        syy: (scc - 2 * ratio * scm + ratio * ratio * smm) / (meanM * meanM),
        sxy: (sxc - ratio * sxm) / meanM,
        sxx: coMoment(arm.n, arm.sumX, arm.sumX, arm.sumX2),
      };
    }),
    confidenceLevel,
  );
}
