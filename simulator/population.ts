/**
 * Simulated users from a MovieLens-format data set. Each user's ratings are split 75/25 by the
 * same per-user holdout the models' offline metrics use (`stratifiedRatioSplit`, seed 42): the
 * 75 % part is what models may be trained on, the held-out 25 % is the user's hidden "true"
 * taste, which drives their clicks and which no model under test has seen. How often a user
 * comes back follows how active they were in the data. Pure: no I/O, no AWS.
 */
import { splitDataset, stratifiedRatioSplit } from '../lambdas/domain/recommenders/data/splits.ts';
import { HOLDOUT_SPLIT } from '../lambdas/domain/recommenders/evaluation.ts';
import type { RatingsDataset } from '../lambdas/domain/recommenders/types.ts';

/** The holdout that hides each user's taste: the models' offline protocol (75/25 per user, seed 42). */
export const TASTE_HOLDOUT = HOLDOUT_SPLIT;

export interface SimulatedUser {
  userId: string;
  /** Held-out ratings (item id → rating on the data's scale): the user's true taste. */
  taste: ReadonlyMap<string, number>;
  /** Mean of the user's training ratings: what they would give an item they never rated. */
  meanRating: number;
  /** Probability of coming back on any one day. */
  returnProbability: number;
}

export interface Population {
  users: SimulatedUser[];
  /** The rows the models may be trained on (the 75 % part). */
  training: RatingsDataset;
  ratingScale: [number, number];
  /** Held-out ratings over all users. */
  heldOutRatings: number;
}

/** Daily return probability from a user's activity quantile: the least active come back on 10 % of days, the most active on 70 %. */
export const RETURN_PROBABILITY = { least: 0.1, most: 0.7 } as const;

/**
 * The training part of a data set under {@link TASTE_HOLDOUT}: what the default models are
 * trained on, so that the simulator's tastes stay unseen.
 */
export function tasteTrainingPart(dataset: RatingsDataset): RatingsDataset {
  return splitDataset(dataset, stratifiedRatioSplit(dataset, TASTE_HOLDOUT)).train;
}

/**
 * Builds the population: every user of the data set with at least one held-out rating, at most
 * `maxUsers` of them (the most active first is biased, so the first `maxUsers` in file order).
 */
export function buildPopulation(dataset: RatingsDataset, { maxUsers = Number.POSITIVE_INFINITY }: { maxUsers?: number } = {}): Population {
  const split = stratifiedRatioSplit(dataset, TASTE_HOLDOUT);
  const userCount = dataset.userIds.length;
  const tastes: Map<string, number>[] = Array.from({ length: userCount }, () => new Map());
  const trainSum = new Float64Array(userCount);
  const trainCount = new Int32Array(userCount);
  for (const row of split.test) tastes[dataset.userIndex[row]].set(dataset.itemIds[dataset.itemIndex[row]], dataset.rating[row]);
  for (const row of split.train) {
    trainSum[dataset.userIndex[row]] += dataset.rating[row];
    trainCount[dataset.userIndex[row]]++;
  }
  const activity = Array.from({ length: userCount }, (_, u) => trainCount[u] + tastes[u].size);
  const sorted = [...activity].sort((a, b) => a - b);
  // Mid-rank quantile, so ties share one probability and the extremes stay inside (0, 1).
  const quantile = (n: number) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid] < n) lo = mid + 1;
      else hi = mid;
    }
    let end = lo;
    while (end < sorted.length && sorted[end] === n) end++;
    return (lo + end) / 2 / sorted.length;
  };
  const [low, high] = dataset.ratingScale;
  const users: SimulatedUser[] = [];
  let heldOutRatings = 0;
  for (let u = 0; u < userCount && users.length < maxUsers; u++) {
    if (tastes[u].size === 0) continue;
    heldOutRatings += tastes[u].size;
    users.push({
      userId: dataset.userIds[u],
      taste: tastes[u],
      meanRating: trainCount[u] > 0 ? trainSum[u] / trainCount[u] : (low + high) / 2,
      returnProbability: RETURN_PROBABILITY.least + (RETURN_PROBABILITY.most - RETURN_PROBABILITY.least) * quantile(activity[u]),
    });
  }
  return { users, training: splitDataset(dataset, split).train, ratingScale: dataset.ratingScale, heldOutRatings };
}
