/**
 * A bandit analysed as a bandit: its split is checked against the allocation that was in force
 * when each user was assigned, and each arm's value is estimated from the logged propensities,
 * so neither the moving split nor the moving mix of users over time is mistaken for an effect.
 *
 * Inputs are additive sums per arm (counters, see domain/events/bandit-counters.ts), cumulative
 * to each day, over the N users exposed to any arm, arm a's users having propensity p_i and a 0/1
 * reward r_i:
 *   E_a = Σ_i π_i(a)  over every exposed user (the exposures arm a should have, whatever i got),
 *   S1 = Σ 1/p, S2 = Σ 1/p², R1 = Σ r/p, R2 = Σ r/p²  over arm a's users.
 * - Sample ratio: Pearson's chi-square of the observed users per arm against E (df = arms − 1).
 *   Under a correct bandit each count is a sum of independent Bernoulli(π_i(a)) draws, whose
 *   variance Σ π(1 − π) is at most the multinomial one the chi-square assumes, so the test keeps
 *   its level (it is conservative when the allocation moved a lot) and flags a split that the
 *   recorded allocation does not explain.
 * - IPS: V̂_a = R1 / N, the mean over all N users of x_i = 1{A_i = a} r_i / p_i, unbiased for the
 *   arm's mean reward over the users who came, however the allocation moved (the propensity is
 *   known given the past). Its variance is the sample variance of x over N.
 * - SNIPS (self-normalised): R1 / S1, the ratio of the means of x and of y_i = 1{A_i = a} / p_i,
 *   with its delta-method variance; consistent, and far more stable than IPS. With a constant
 *   allocation it is exactly the observed rate. The decision of a bandit uses SNIPS.
 * - Differences against the control: an SNIPS difference's linearised terms of two arms never
 *   share a user, and each sums to exactly zero, so their covariance is zero and the variances
 *   add. For IPS, x_t x_c = 0 for every user, so the covariance of the means is −m_t m_c / (N − 1).
 * - Always valid: the SNIPS differences of each day go through the same mSPRT as the A/B report
 *   (tau = mde x control SNIPS), Holm-adjusted over the treatment arms.
 */
import { requireCount, requireFinite, StatsInputError } from './errors.ts';
import { holmAdjust } from './holm.ts';
import { relativeLiftLogDelta, zCriticalFor } from './lift.ts';
import { inversePropensityEstimate, wilsonInterval, type IpsSufficientStatistics } from './ranking.ts';
import { ratioEstimate } from './ratio.ts';
import { insufficientData, type Interval, type StatResult } from './result.ts';
import { alwaysValidSequence, defaultMixtureVariance, type AlwaysValidPoint } from './sequential.ts';
import { normalTwoSidedPValue } from './special.ts';
import { sampleRatioMismatch, type SampleRatioMismatch } from './srm.ts';

/** One arm's bandit sums, cumulative from the start through the end of a day. */
export interface BanditArmSums {
  name: string;
  isControl: boolean;
  /** Users exposed to this arm (observed). */
  exposedUsers: number;
  /** Σ over every exposed user (any arm) of the share this arm had at that user's assignment. */
  expectedExposures: number;
  /** Users of this arm with the reward (clicked, or bought, at least once). */
  successes: number;
  /** Σ 1/p over this arm's users. */
  inversePropensitySum: number;
  /** Σ 1/p² over this arm's users. */
  inversePropensitySqSum: number;
  /** Σ r/p over this arm's users. */
  rewardInversePropensitySum: number;
  /** Σ r/p² (= Σ (r/p)² for a 0/1 reward) over this arm's users. */
  rewardInversePropensitySqSum: number;
}

/** Every arm's sums as of the end of `day`. */
export interface BanditLook {
  day: string;
  /** In the order of the report's variants. */
  arms: BanditArmSums[];
}

/**
 * What the report needs to analyse a bandit: its looks when every exposure logged its allocation,
 * or why it cannot (counters written before the allocation was logged), in which case the report
 * analyses it as a fixed split.
 */
export type BanditReportInput =
  | {
      status: 'ok';
      /** The 0/1 reward, in words (e.g. "clicked at least once"). */
      reward: string;
      looks: BanditLook[];
    }
  | { status: 'not-recorded'; reason: string };

/** One arm's estimates at the last day. */
export interface BanditArmEstimate {
  name: string;
  isControl: boolean;
  exposedUsers: number;
  expectedExposures: number;
  /** Share of the exposed users, observed and expected under the allocation in force. */
  observedShare: number | null;
  expectedShare: number | null;
  successes: number;
  /** successes / exposedUsers with a Wilson interval: what a fixed split would report. */
  observedRate: number | null;
  observedInterval: Interval | null;
  /** Inverse propensity scoring (unbiased, high variance). */
  ips: number | null;
  ipsInterval: Interval | null;
  /** Self-normalised IPS (what the decision uses). */
  snips: number | null;
  snipsInterval: Interval | null;
  /** (Σ 1/p)² / Σ 1/p²: how many equally weighted users the arm's estimate is worth. */
  effectiveSampleSize: number | null;
  /** Why the estimates are null, if they are. */
  reason: string | null;
}

/** One treatment arm against the control on the SNIPS estimates. */
export type BanditComparison = {
  variant: string;
  /** mSPRT p-value over the days, valid however many looks are taken. */
  alwaysValidPValue: number;
  /** Holm-adjusted over the treatment arms: what the decision uses. */
  alwaysValidPValueAdjusted: number;
  alwaysValidInterval: Interval | null;
} & (
  | {
      status: 'ok';
      controlEstimate: number;
      treatmentEstimate: number;
      /** SNIPS treatment − control. */
      difference: number;
      standardError: number;
      differenceInterval: Interval;
      zScore: number;
      /** Fixed-horizon p-value of this look alone. */
      pValue: number;
      relativeLift: number | null;
      relativeLiftInterval: Interval | null;
      /** IPS treatment − control, with its interval (shown beside, not decided on). */
      ipsDifference: number | null;
      ipsDifferenceInterval: Interval | null;
    }
  | { status: 'insufficient-data'; reason: string }
);

/** The bandit section of a report. */
export type BanditReport =
  | {
      status: 'ok';
      reward: string;
      /** The estimator the decision uses. */
      decisionEstimator: 'snips';
      /** Users exposed to any arm (N). */
      totalExposures: number;
      /** Observed users per arm against the exposures the recorded allocation implies. */
      srm: StatResult<SampleRatioMismatch>;
      arms: BanditArmEstimate[];
      comparisons: BanditComparison[];
      /** Per day: the sample-ratio p-value and each arm's SNIPS estimate (null without data). */
      timeline: { day: string; srmPValue: number | null; snips: (number | null)[] }[];
    }
  | { status: 'not-recorded'; reason: string };

/** Validates one look's sums; throws {@link StatsInputError} naming the field. */
export function validateBanditLook(look: BanditLook, index: number): void {
  look.arms.forEach((arm, a) => {
    const field = (name: string) => `bandit.looks[${index}].arms[${a}].${name}`;
    requireCount(field('exposedUsers'), arm.exposedUsers);
    requireCount(field('successes'), arm.successes);
    if (arm.successes > arm.exposedUsers) throw new StatsInputError(field('successes'), `${arm.successes} exceeds exposedUsers ${arm.exposedUsers}`);
    // Float sums of 1/p: a rounding residue just below zero is zero.
    for (const name of [
      'expectedExposures',
      'inversePropensitySum',
      'inversePropensitySqSum',
      'rewardInversePropensitySum',
      'rewardInversePropensitySqSum',
    ] as const) {
      requireFinite(field(name), arm[name]);
      if (arm[name] < -1e-9) throw new StatsInputError(field(name), `must be >= 0, got ${arm[name]}`);
    }
  });
}

const nonNegative = (x: number) => Math.max(0, x);

/**
 * Pearson's chi-square of the observed users per arm against the exposures the allocation in
 * force implies (see the module comment). An arm the allocation never served but that has users
 * is a mismatch: its expectation is taken as a vanishing 1e-300, never 0.
 */
export function banditSampleRatio(arms: readonly BanditArmSums[]): StatResult<SampleRatioMismatch> {
  if (arms.length < 2) return insufficientData('needs at least 2 arms');
  if (!arms.some((arm) => arm.expectedExposures > 0)) return insufficientData('no allocation recorded yet');
  return sampleRatioMismatch({
    observed: arms.map((arm) => arm.exposedUsers),
    weights: arms.map((arm) => (arm.expectedExposures > 0 ? arm.expectedExposures : 1e-300)),
  });
}

/** The IPS sufficient statistics of one arm over N exposed users (reward 0/1, so Σ (r/p)² = Σ r/p²). */
export function armIpsStatistics(arm: BanditArmSums, totalExposures: number): IpsSufficientStatistics {
  return {
    n: totalExposures,
    sumW: nonNegative(arm.inversePropensitySum),
    sumW2: nonNegative(arm.inversePropensitySqSum),
    sumRW: nonNegative(arm.rewardInversePropensitySum),
    sumRW2: nonNegative(arm.rewardInversePropensitySqSum),
    sumRWW: nonNegative(arm.rewardInversePropensitySqSum),
  };
}

/** SNIPS of one arm with its delta-method variance, or why not. */
function snipsOf(arm: BanditArmSums, totalExposures: number): StatResult<{ estimate: number; variance: number }> {
  const s = armIpsStatistics(arm, totalExposures);
  if (!(s.sumW > 0)) return insufficientData(`no users in ${arm.name} yet`);
  const ratio = ratioEstimate({ users: s.n, sumX: s.sumRW, sumY: s.sumW, sumX2: s.sumRW2, sumY2: s.sumW2, sumXY: s.sumRWW });
  if (ratio.status !== 'ok') return ratio;
  return { status: 'ok', estimate: ratio.ratio, variance: ratio.variance };
}

/** IPS mean and sample variance of x = 1{A = a} r / p over N users. */
function ipsMoments(arm: BanditArmSums, n: number): { mean: number; variance: number } {
  const mean = nonNegative(arm.rewardInversePropensitySum) / n;
  return { mean, variance: Math.max(0, (nonNegative(arm.rewardInversePropensitySqSum) - n * mean * mean) / (n - 1)) };
}

function armEstimate(arm: BanditArmSums, totalExposures: number, totalExpected: number, z: number, confidenceLevel: number): BanditArmEstimate {
  const base = {
    name: arm.name,
    isControl: arm.isControl,
    exposedUsers: arm.exposedUsers,
    expectedExposures: arm.expectedExposures,
    observedShare: totalExposures > 0 ? arm.exposedUsers / totalExposures : null,
    expectedShare: totalExpected > 0 ? arm.expectedExposures / totalExpected : null,
    successes: arm.successes,
    observedRate: arm.exposedUsers > 0 ? arm.successes / arm.exposedUsers : null,
    observedInterval: arm.exposedUsers > 0 ? wilsonInterval(arm.successes, arm.exposedUsers, z) : null,
  };
  const estimate = inversePropensityEstimate(armIpsStatistics(arm, totalExposures), confidenceLevel);
  if (estimate.status !== 'ok')
    return { ...base, ips: null, ipsInterval: null, snips: null, snipsInterval: null, effectiveSampleSize: null, reason: estimate.reason };
  return {
    ...base,
    ips: estimate.ips,
    ipsInterval: estimate.ipsInterval,
    snips: estimate.snips,
    snipsInterval: estimate.snipsInterval,
    effectiveSampleSize: estimate.effectiveSampleSize,
    reason: null,
  };
}

/** SNIPS treatment − control at one look, with its variance (for the mSPRT). */
function snipsDifference(
  control: BanditArmSums,
  treatment: BanditArmSums,
  n: number,
): StatResult<{ control: { estimate: number; variance: number }; treatment: { estimate: number; variance: number }; difference: number; variance: number }> {
  if (n < 2) return insufficientData('needs at least 2 exposed users');
  const c = snipsOf(control, n);
  if (c.status !== 'ok') return c;
  const t = snipsOf(treatment, n);
  if (t.status !== 'ok') return t;
  return { status: 'ok', control: c, treatment: t, difference: t.estimate - c.estimate, variance: c.variance + t.variance };
}

const totalOf = (arms: readonly BanditArmSums[], key: 'exposedUsers' | 'expectedExposures') => arms.reduce((sum, arm) => sum + arm[key], 0);

/**
 * The bandit section of a report from its cumulative looks (oldest first, arms in the report's
 * variant order, the control among them): sample ratio against the allocation in force, IPS and
 * SNIPS per arm, SNIPS differences against the control with fixed-horizon and always-valid
 * p-values (Holm over the treatment arms), per day. `baseline` fixes the mSPRT's tau = mde x
 * baseline in advance (else the latest control SNIPS).
 */
export function buildBanditReport({
  looks,
  reward,
  confidenceLevel,
  mde,
  baseline,
}: {
  looks: readonly BanditLook[];
  reward: string;
  confidenceLevel: number;
  mde: number;
  baseline?: number;
}): BanditReport {
  if (looks.length === 0) throw new StatsInputError('bandit.looks', 'no looks: the bandit has no data yet');
  looks.forEach(validateBanditLook);
  const names = looks[0].arms.map((arm) => arm.name);
  looks.forEach((look, l) => {
    if (look.arms.length !== names.length || look.arms.some((arm, a) => arm.name !== names[a])) {
      throw new StatsInputError(`bandit.looks[${l}].arms`, `must name the arms ${names.join(', ')} in that order`);
    }
  });
  const controlIndex = looks[0].arms.findIndex((arm) => arm.isControl);
  if (controlIndex < 0 || looks[0].arms.filter((arm) => arm.isControl).length !== 1)
    throw new StatsInputError('bandit.looks[0].arms', 'needs exactly one control arm');
  const z = zCriticalFor(confidenceLevel);
  const alpha = 1 - confidenceLevel;
  const latest = looks[looks.length - 1];
  const n = totalOf(latest.arms, 'exposedUsers');
  const arms = latest.arms.map((arm) => armEstimate(arm, n, totalOf(latest.arms, 'expectedExposures'), z, confidenceLevel));

  const controlSnips = snipsOf(latest.arms[controlIndex], n);
  const tauBase = baseline ?? (controlSnips.status === 'ok' ? controlSnips.estimate : null);
  const mixtureVariance = tauBase !== null && tauBase > 0 ? defaultMixtureVariance(mde * tauBase) : null;
  const treatments = latest.arms.map((_, a) => a).filter((a) => a !== controlIndex);
  const sequences = treatments.map((a): AlwaysValidPoint[] => {
    if (mixtureVariance === null) return looks.map(() => ({ pValue: 1, interval: null }));
    const perLook = looks.map((look) => {
      const d = snipsDifference(look.arms[controlIndex], look.arms[a], totalOf(look.arms, 'exposedUsers'));
      return d.status === 'ok' ? { difference: d.difference, variance: d.variance } : { difference: 0, variance: 0 };
    });
    return alwaysValidSequence(perLook, mixtureVariance, alpha);
  });
  const finals = sequences.map((sequence) => sequence[sequence.length - 1]);
  const adjusted = holmAdjust(finals.map((point) => point.pValue));

  const comparisons = treatments.map((a, k): BanditComparison => {
    const variant = latest.arms[a].name;
    const sequential = { variant, alwaysValidPValue: finals[k].pValue, alwaysValidPValueAdjusted: adjusted[k], alwaysValidInterval: finals[k].interval };
    const d = snipsDifference(latest.arms[controlIndex], latest.arms[a], n);
    if (d.status !== 'ok') return { ...sequential, status: 'insufficient-data', reason: d.reason };
    const standardError = Math.sqrt(d.variance);
    const zScore = standardError > 0 ? d.difference / standardError : 0;
    const lift = relativeLiftLogDelta(d.control, d.treatment, z);
    const ipsC = ipsMoments(latest.arms[controlIndex], n);
    const ipsT = ipsMoments(latest.arms[a], n);
    const ipsDifference = ipsT.mean - ipsC.mean;
    const ipsSe = Math.sqrt(Math.max(0, (ipsT.variance + ipsC.variance + (2 * n * ipsT.mean * ipsC.mean) / (n - 1)) / n));
    return {
      ...sequential,
      status: 'ok',
      controlEstimate: d.control.estimate,
      treatmentEstimate: d.treatment.estimate,
      difference: d.difference,
      standardError,
      differenceInterval: { low: d.difference - z * standardError, high: d.difference + z * standardError },
      zScore,
      pValue: standardError > 0 ? normalTwoSidedPValue(zScore) : d.difference === 0 ? 1 : 0,
      relativeLift: lift.lift,
      relativeLiftInterval: lift.interval,
      ipsDifference,
      ipsDifferenceInterval: { low: ipsDifference - z * ipsSe, high: ipsDifference + z * ipsSe },
    };
  });

  const timeline = looks.map((look) => {
    const srm = banditSampleRatio(look.arms);
    const total = totalOf(look.arms, 'exposedUsers');
    return {
      day: look.day,
      srmPValue: srm.status === 'ok' ? srm.pValue : null,
      snips: look.arms.map((arm) => {
        const s = total >= 2 ? snipsOf(arm, total) : insufficientData('no users');
        return s.status === 'ok' ? s.estimate : null;
      }),
    };
  });

  return {
    status: 'ok',
    reward,
    decisionEstimator: 'snips',
    totalExposures: n,
    srm: banditSampleRatio(latest.arms),
    arms,
    comparisons,
    timeline,
  };
}
