/**
 * The retraining gate's comparison: a candidate configuration and the published version it
 * would replace, measured on the same held-out split of the same training snapshot in the same
 * run (not against a figure in the old manifest, computed on other data).
 *
 * The split: when the snapshot holds feedback logged since the last run (rows stamped at or
 * after `heldOutSinceSeconds`), those rows are held out and everything older trains (a temporal
 * split: the published version was trained before they arrived, so neither side has seen them);
 * otherwise the per-user 75/25 holdout of {@link HOLDOUT_SPLIT}, where the published version may
 * have been trained on held-out rows, which favours it (the reason says which split was used).
 * The candidate configuration is trained on the training side; the published version is scored
 * as it is (its artifact). Both rank every item of the snapshot's catalogue for every user with a
 * held-out item, the user's training-side items excluded: a user the published version does not
 * know is ranked by its item popularity (what serving falls back to), and items it does not know
 * rank last.
 */
import { ratingsByUser, subsetRatings } from './data/dataset.ts';
import { stratifiedRatioSplit } from './data/splits.ts';
import { HOLDOUT_SPLIT } from './evaluation.ts';
import { evaluateRanking } from './metrics.ts';
import { scoreAllItems } from './models/common.ts';
import type { ModelDefinition } from './models/registry.ts';
import type { FactorModel, RatingsDataset } from './types.ts';

export const GATE_K = 10;

export interface SplitMetrics {
  ndcg_at_10: number;
  precision_at_10: number;
  recall_at_10: number;
  map_at_10: number;
  users_evaluated: number;
}

/** Scores of every snapshot item for a snapshot user, from a model with its own id spaces. */
export function scorerInDatasetSpace(model: FactorModel, dataset: RatingsDataset): (user: number, out: Float64Array) => void {
  const userIndex = new Map(model.userIds.map((id, i) => [id, i]));
  const itemIndex = new Map(model.itemIds.map((id, i) => [id, i]));
  const toModelItem = Int32Array.from(dataset.itemIds, (id) => itemIndex.get(id) ?? -1);
  const modelScores = new Float64Array(model.itemIds.length);
  return (user, out) => {
    const known = userIndex.get(dataset.userIds[user]);
    if (known !== undefined) scoreAllItems(model, known, modelScores);
    for (let j = 0; j < out.length; j++) {
      const m = toModelItem[j];
      out[j] = m < 0 ? Number.NEGATIVE_INFINITY : known !== undefined ? modelScores[m] : model.itemPopularity[m];
    }
  };
}

/** The top-10 figures of one scorer on one split. */
function measure(dataset: RatingsDataset, split: { train: Int32Array; test: Int32Array }, scoreUser: (user: number, out: Float64Array) => void): SplitMetrics {
  const metrics = evaluateRanking({
    train: ratingsByUser(dataset, split.train),
    test: ratingsByUser(dataset, split.test),
    itemCount: dataset.itemIds.length,
    k: GATE_K,
    scoreUser,
  });
  return {
    ndcg_at_10: metrics.ndcgAtK,
    precision_at_10: metrics.precisionAtK,
    recall_at_10: metrics.recallAtK,
    map_at_10: metrics.mapAtK,
    users_evaluated: metrics.users,
  };
}

export type SplitKind = 'logged-since-last-run' | 'per-user-75-25';

/** The split of {@link compareOnSameSplit} (see the module comment). */
export function gateSplit(dataset: RatingsDataset, heldOutSinceSeconds?: number): { kind: SplitKind; train: Int32Array; test: Int32Array } {
  if (heldOutSinceSeconds !== undefined) {
    const train: number[] = [];
    const test: number[] = [];
    for (let row = 0; row < dataset.rating.length; row++) (dataset.timestamp[row] >= heldOutSinceSeconds ? test : train).push(row);
    const trainUsers = new Set(train.map((row) => dataset.userIndex[row]));
    // Usable only if some held-out row belongs to a user with training rows (else nothing can be ranked for them).
    if (test.some((row) => trainUsers.has(dataset.userIndex[row])))
      return { kind: 'logged-since-last-run', train: Int32Array.from(train), test: Int32Array.from(test) };
  }
  return { kind: 'per-user-75-25', ...stratifiedRatioSplit(dataset, HOLDOUT_SPLIT) };
}

/** The candidate configuration and the current version on one split of `dataset`. */
export function compareOnSameSplit(
  dataset: RatingsDataset,
  candidate: ModelDefinition,
  current: FactorModel | undefined,
  heldOutSinceSeconds?: number,
): { candidate: SplitMetrics; current: SplitMetrics | null; heldOutRatings: number; split: SplitKind } {
  const split = gateSplit(dataset, heldOutSinceSeconds);
  const trained = candidate.train(subsetRatings(dataset, split.train));
  return {
    candidate: measure(dataset, split, (user, out) => scoreAllItems(trained, user, out)),
    current: current ? measure(dataset, split, scorerInDatasetSpace(current, dataset)) : null,
    heldOutRatings: split.test.length,
    split: split.kind,
  };
}

/** The gate: published when the candidate's nDCG@10 is at most `maxRegression` (relative) below the current's on the same split. */
export function gateDecision(
  candidate: SplitMetrics,
  current: SplitMetrics | null,
  maxRegression: number,
  split: SplitKind = 'per-user-75-25',
): { accepted: boolean; reason: string } {
  if (!current) return { accepted: true, reason: 'no published version yet' };
  const floor = current.ndcg_at_10 * (1 - maxRegression);
  const accepted = candidate.ndcg_at_10 >= floor;
  const on = split === 'logged-since-last-run' ? 'the feedback logged since the last run, held out' : 'the same per-user 75/25 held-out split';
  const figures = `nDCG@10 ${candidate.ndcg_at_10.toFixed(4)} vs current ${current.ndcg_at_10.toFixed(4)} on ${on} (floor ${floor.toFixed(4)}, max regression ${maxRegression})`;
  return { accepted, reason: accepted ? `not worse: ${figures}` : `worse than the published version: ${figures}` };
}
