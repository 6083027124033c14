import { requireCount, StatsInputError } from './errors.ts';
import { zCriticalFor } from './lift.ts';
import { ratioEstimate } from './ratio.ts';
import { insufficientData, ok, type Interval, type StatResult } from './result.ts';

/** Impressions and clicks at one rank position (position 1 is the top slot). */
export interface PositionCounts {
  impressions: number;
  clicks: number;
}

/** Click-through at one position with its Wilson score interval. */
export type PositionCtr = { position: number } & StatResult<{ impressions: number; clicks: number; ctr: number; interval: Interval }>;

/** Wilson score interval of `successes` out of `trials` > 0 at critical value z. */
export function wilsonInterval(successes: number, trials: number, z: number): Interval {
  const rate = successes / trials;
  const zz = z * z;
  const centre = (rate + zz / (2 * trials)) / (1 + zz / trials);
  const halfWidth = (z / (1 + zz / trials)) * Math.sqrt((rate * (1 - rate)) / trials + zz / (4 * trials * trials));
  return { low: Math.max(0, centre - halfWidth), high: Math.min(1, centre + halfWidth) };
}

/**
 * Click-through by position. The Wilson interval is used because per-position counts are
 * often small and CTRs near zero, where the Wald interval goes below zero.
 */
export function ctrByPosition(positions: PositionCounts[], confidenceLevel: number): PositionCtr[] {
  const z = zCriticalFor(confidenceLevel);
  return positions.map((counts, index) => {
    requireCount(`positions[${index}].impressions`, counts.impressions);
    requireCount(`positions[${index}].clicks`, counts.clicks);
    if (counts.clicks > counts.impressions) {
      throw new StatsInputError(`positions[${index}].clicks`, `${counts.clicks} exceeds impressions ${counts.impressions}`);
    }
    const position = index + 1;
    if (counts.impressions === 0) return { position, ...insufficientData('no impressions at this position') };
    const ctr = counts.clicks / counts.impressions;
    return { position, ...ok({ impressions: counts.impressions, clicks: counts.clicks, ctr, interval: wilsonInterval(counts.clicks, counts.impressions, z) }) };
  });
}

/**
 * Mean reciprocal rank of clicks: over served lists, 1 / rank of the first click (0 when the
 * list got no click). Counters keep the number of lists and the sum of reciprocal ranks.
 */
export function meanReciprocalRank({ lists, reciprocalRankSum }: { lists: number; reciprocalRankSum: number }): StatResult<{ mrr: number }> {
  requireCount('lists', lists);
  requireCount('reciprocalRankSum', reciprocalRankSum, { integer: false });
  if (reciprocalRankSum > lists) throw new StatsInputError('reciprocalRankSum', `${reciprocalRankSum} exceeds lists ${lists}`);
  if (lists === 0) return insufficientData('no lists served');
  return ok({ mrr: reciprocalRankSum / lists });
}

/** Share of the catalogue that was recommended at least once. */
export function catalogueCoverage({
  distinctItemsRecommended,
  catalogueSize,
}: {
  distinctItemsRecommended: number;
  catalogueSize: number;
}): StatResult<{ coverage: number }> {
  requireCount('distinctItemsRecommended', distinctItemsRecommended);
  requireCount('catalogueSize', catalogueSize);
  if (distinctItemsRecommended > catalogueSize) {
    throw new StatsInputError('distinctItemsRecommended', `${distinctItemsRecommended} exceeds catalogueSize ${catalogueSize}`);
  }
  if (catalogueSize === 0) return insufficientData('empty catalogue');
  return ok({ coverage: distinctItemsRecommended / catalogueSize });
}

/** One logged bandit decision. */
export interface LoggedDecision {
  reward: number;
  /** Probability the logging policy gave the action it took, > 0. */
  propensity: number;
  /** Probability the evaluated policy gives that action (1 or 0 for a deterministic policy). */
  targetProbability: number;
}

/** Sums of importance weights w = target / propensity, enough for IPS and SNIPS. */
export interface IpsSufficientStatistics {
  n: number;
  sumW: number;
  sumW2: number;
  sumRW: number;
  sumRW2: number;
  sumRWW: number;
}

/** Folds logged decisions into {@link IpsSufficientStatistics} (counters can keep these sums). */
export function ipsSufficientStatistics(decisions: LoggedDecision[]): IpsSufficientStatistics {
  const stats: IpsSufficientStatistics = { n: 0, sumW: 0, sumW2: 0, sumRW: 0, sumRW2: 0, sumRWW: 0 };
  decisions.forEach((decision, index) => {
    if (!(decision.propensity > 0 && decision.propensity <= 1)) {
      throw new StatsInputError(`decisions[${index}].propensity`, `must be in (0, 1], got ${String(decision.propensity)}`);
    }
    if (!(decision.targetProbability >= 0 && decision.targetProbability <= 1)) {
      throw new StatsInputError(`decisions[${index}].targetProbability`, `must be in [0, 1], got ${String(decision.targetProbability)}`);
    }
    if (!Number.isFinite(decision.reward)) throw new StatsInputError(`decisions[${index}].reward`, 'must be finite');
    const w = decision.targetProbability / decision.propensity;
    const rw = decision.reward * w;
    stats.n += 1;
    stats.sumW += w;
    stats.sumW2 += w * w;
    stats.sumRW += rw;
    stats.sumRW2 += rw * rw;
    stats.sumRWW += rw * w;
  });
  return stats;
}

/** Off-policy value estimates of the target policy. */
export interface IpsEstimate {
  /** Inverse propensity scoring: mean of r w. Unbiased, high variance. */
  ips: number;
  ipsInterval: Interval;
  /** Self-normalised IPS: sum(r w) / sum(w). Slightly biased, far more stable. */
  snips: number;
  /** Delta-method interval of the ratio sum(r w) / sum(w). */
  snipsInterval: Interval;
  /** (sum w)^2 / sum w^2: how many logged decisions the estimate is worth. */
  effectiveSampleSize: number;
}

/** IPS and self-normalised IPS with normal intervals from the sufficient statistics. */
export function inversePropensityEstimate(stats: IpsSufficientStatistics, confidenceLevel: number): StatResult<IpsEstimate> {
  const z = zCriticalFor(confidenceLevel);
  if (stats.n < 2) return insufficientData('needs at least 2 logged decisions');
  if (!(stats.sumW > 0)) return insufficientData('the target policy never takes a logged action');
  const ips = stats.sumRW / stats.n;
  const ipsVariance = Math.max(0, (stats.sumRW2 - stats.n * ips * ips) / (stats.n - 1));
  const ipsSe = Math.sqrt(ipsVariance / stats.n);
  // SNIPS is the ratio metric with x = r w and y = w per decision.
  const snips = ratioEstimate({ users: stats.n, sumX: stats.sumRW, sumY: stats.sumW, sumX2: stats.sumRW2, sumY2: stats.sumW2, sumXY: stats.sumRWW });
  if (snips.status !== 'ok') return snips;
  return ok({
    ips,
    ipsInterval: { low: ips - z * ipsSe, high: ips + z * ipsSe },
    snips: snips.ratio,
    snipsInterval: { low: snips.ratio - z * snips.standardError, high: snips.ratio + z * snips.standardError },
    effectiveSampleSize: (stats.sumW * stats.sumW) / stats.sumW2,
  });
}
