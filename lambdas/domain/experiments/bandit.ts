/**
 * Thompson sampling over Beta-Bernoulli posteriors, made deterministic.
 *
 * Classic Thompson sampling draws one sample per arm per request, which makes the
 * probability of the chosen arm (the propensity later analysis needs) unknown. Here the
 * allocation is computed instead: the probability that each arm has the highest success
 * rate under its posterior, by numerical integration (no random numbers at all), then mixed
 * with a floor so every arm keeps a minimum share. A user is mapped onto that allocation by
 * a hash, so the same counter snapshot and user always give the same arm and propensity.
 */
import jStat from 'jstat';
import { fieldError } from './errors.ts';
import type { Experiment } from './model.ts';

/** Per-arm counters of the target metric: exposed users (trials) and successes among them. */
export interface ArmCounter {
  successes: number;
  trials: number;
}

/** Counters by arm (variant) name. Missing arms count as no data. */
export type ArmCounters = Readonly<Record<string, ArmCounter>>;

/** Probability of serving each arm; the values sum to 1. */
export type BanditAllocation = Readonly<Record<string, number>>;

/** Beta posterior parameters. */
export interface BetaPosterior {
  alpha: number;
  beta: number;
}

/**
 * Simpson intervals per arm. With the integration window at ±12 posterior standard
 * deviations this is a step of 0.024 sd, which keeps the error below 1e-6 in practice.
 */
const SIMPSON_INTERVALS = 1000;
const WINDOW_SDS = 12;

/** Beta(1 + successes, 1 + failures): the posterior under a uniform prior. */
export function posteriorOf(counter: ArmCounter | undefined, prior: BetaPosterior = { alpha: 1, beta: 1 }): BetaPosterior {
  const successes = counter?.successes ?? 0;
  const trials = counter?.trials ?? 0;
  return { alpha: prior.alpha + successes, beta: prior.beta + trials - successes };
}

/** Throws a 400 naming the counter when it is not a valid (successes <= trials) pair. */
export function validateCounters(counters: ArmCounters): void {
  for (const [arm, counter] of Object.entries(counters)) {
    const { successes, trials } = counter;
    if (!Number.isFinite(trials) || trials < 0) throw fieldError(`counters.${arm}.trials`, 'must be a finite number >= 0');
    if (!Number.isFinite(successes) || successes < 0) throw fieldError(`counters.${arm}.successes`, 'must be a finite number >= 0');
    if (successes > trials) throw fieldError(`counters.${arm}.successes`, `must be <= trials (${trials})`);
  }
}

/**
 * P(arm i has the highest rate) for independent Beta posteriors:
 * `P_i = ∫ f_i(x) · Π_{j≠i} F_j(x) dx`, by composite Simpson over a window of ±12 sd
 * around arm i's mean (clipped to [0, 1]). The results are renormalised to sum to exactly 1
 * to absorb the integration error.
 */
export function probabilityOfBeingBest(posteriors: readonly BetaPosterior[]): number[] {
  if (posteriors.length === 0) return [];
  if (posteriors.length === 1) return [1];

  const raw = posteriors.map((own, i) => {
    const mean = own.alpha / (own.alpha + own.beta);
    const sd = Math.sqrt((own.alpha * own.beta) / ((own.alpha + own.beta) ** 2 * (own.alpha + own.beta + 1)));
    const lo = Math.max(0, mean - WINDOW_SDS * sd);
    const hi = Math.min(1, mean + WINDOW_SDS * sd);
    const step = (hi - lo) / SIMPSON_INTERVALS;
    let sum = 0;
    for (let k = 0; k <= SIMPSON_INTERVALS; k++) {
      const x = lo + k * step;
      let integrand = jStat.beta.pdf(x, own.alpha, own.beta);
      for (let j = 0; j < posteriors.length && integrand > 0; j++) {
        if (j !== i) integrand *= jStat.ibeta(x, posteriors[j].alpha, posteriors[j].beta);
      }
      const simpsonWeight = k === 0 || k === SIMPSON_INTERVALS ? 1 : k % 2 === 1 ? 4 : 2;
      sum += simpsonWeight * (Number.isFinite(integrand) ? integrand : 0);
    }
    return (sum * step) / 3;
  });

  const total = raw.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return posteriors.map(() => 1 / posteriors.length);
  return raw.map((p) => p / total);
}

/**
 * Mixes probabilities with a floor: `p'_i = m + (1 - K·m) · p_i`, so each of the K arms
 * gets at least `m` and the sum stays 1. Requires `K·m <= 1`.
 */
export function applyMinimumShare(probabilities: readonly number[], minShare: number): number[] {
  const k = probabilities.length;
  if (!(minShare >= 0) || minShare * k > 1 + 1e-12) {
    throw fieldError('bandit.min_share', `must be between 0 and 1/${k} for ${k} arms, got ${minShare}`);
  }
  return probabilities.map((p) => minShare + (1 - k * minShare) * p);
}

/**
 * The Thompson allocation for one counter snapshot: for each arm, the probability it would
 * be chosen by Thompson sampling, floored at `minShare`. Deterministic: compute it once per
 * snapshot and reuse it for every request.
 */
export function thompsonAllocation({
  arms,
  counters,
  minShare,
}: {
  /** Active arm names, in the experiment's variant order. */
  arms: readonly string[];
  counters: ArmCounters;
  minShare: number;
}): BanditAllocation {
  if (arms.length === 0) throw fieldError('variants', 'a bandit needs at least one active arm');
  validateCounters(counters);
  const best = probabilityOfBeingBest(arms.map((arm) => posteriorOf(counters[arm])));
  const floored = applyMinimumShare(best, minShare);
  return Object.fromEntries(arms.map((arm, i) => [arm, floored[i]]));
}

/**
 * Maps a uniform `draw` in [0, 1) onto an allocation by cumulative probability (in the
 * allocation's key order) and returns the arm and its probability (the propensity).
 */
export function chooseFromAllocation({ allocation, draw }: { allocation: BanditAllocation; draw: number }): {
  arm: string;
  propensity: number;
} {
  const entries = Object.entries(allocation).filter(([, p]) => p > 0);
  if (entries.length === 0) throw new Error('allocation has no arm with positive probability');
  const total = entries.reduce((sum, [, p]) => sum + p, 0);
  let cumulative = 0;
  for (const [arm, p] of entries) {
    cumulative += p / total;
    if (draw < cumulative) return { arm, propensity: p / total };
  }
  // Only reached when rounding leaves the cumulative sum a hair under 1.
  const [arm, p] = entries[entries.length - 1];
  return { arm, propensity: p / total };
}

/** Minimum share used when a bandit experiment does not set `bandit.min_share`. */
export const DEFAULT_MIN_SHARE = 0.05;

/**
 * The Thompson allocation of a bandit experiment: its active arms in variant order, its
 * `bandit.min_share` (default {@link DEFAULT_MIN_SHARE}). Pass the result to
 * `resolveAssignment` as `banditAllocation`.
 */
export function banditAllocationFor({ experiment, counters }: { experiment: Experiment; counters: ArmCounters }): BanditAllocation {
  const arms = experiment.variants.filter((v) => v.active).map((v) => v.name);
  return thompsonAllocation({ arms, counters, minShare: experiment.bandit?.min_share ?? DEFAULT_MIN_SHARE });
}
