/**
 * Offline evaluation metrics for rating prediction and top-N ranking, as the field defines
 * them. Pure functions on typed arrays; items a user saw in training are never candidates.
 *
 * Conventions (per user, then averaged over users with at least one relevant test item):
 * - Precision@K = hits in the top K / K (K, not the list length, so short lists are penalised).
 * - Recall@K = hits / |relevant|.  F1@K = harmonic mean of that user's P@K and R@K (0 if both 0).
 * - nDCG@K: binary relevance, gain 1 / log2(rank + 1) with rank from 1; ideal DCG over
 *   min(K, |relevant|) hits.
 * - MAP@K: AP@K = sum over hit ranks r <= K of Precision@r, divided by min(K, |relevant|).
 * - AUC: over all items not in the user's training set; positives are the relevant items, the
 *   rest negatives; ties count one half. Users with no negative (or no positive) are skipped.
 * - Coverage: share of the catalogue (all item indices) in at least one user's top K.
 */
import type { Csr } from './data/dataset.ts';

/** A by-user item list in CSR form (as built by `ratingsByUser`). */
export type UserItems = Pick<Csr, 'offsets' | 'indices'>;

// ---------------------------------------------------------------------------------------------
// Rating prediction

function requirePairs(actual: ArrayLike<number>, predicted: ArrayLike<number>): void {
  if (actual.length !== predicted.length) {
    throw new Error(`actual and predicted differ in length (${actual.length} vs ${predicted.length})`);
  }
  if (actual.length === 0) throw new Error('cannot score an empty set of predictions');
}

/** Root mean squared error. */
export function rmse(actual: ArrayLike<number>, predicted: ArrayLike<number>): number {
  requirePairs(actual, predicted);
  let sum = 0;
  for (let i = 0; i < actual.length; i++) {
    const error = actual[i] - predicted[i];
    sum += error * error;
  }
  return Math.sqrt(sum / actual.length);
}

/** Mean absolute error. */
export function mae(actual: ArrayLike<number>, predicted: ArrayLike<number>): number {
  requirePairs(actual, predicted);
  let sum = 0;
  for (let i = 0; i < actual.length; i++) sum += Math.abs(actual[i] - predicted[i]);
  return sum / actual.length;
}

// ---------------------------------------------------------------------------------------------
// Per-user ranking metrics. `recommended` is a ranked list of item indices, best first; only
// its first k entries count.

function requireK(k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new Error(`k must be a positive integer, got ${k}`);
}

function hitsAtK(recommended: ArrayLike<number>, relevant: ReadonlySet<number>, k: number): number {
  let hits = 0;
  const end = Math.min(k, recommended.length);
  for (let r = 0; r < end; r++) if (relevant.has(recommended[r])) hits++;
  return hits;
}

/** Hits in the top k divided by k. */
export function precisionAtK(recommended: ArrayLike<number>, relevant: ReadonlySet<number>, k: number): number {
  requireK(k);
  return hitsAtK(recommended, relevant, k) / k;
}

/** Hits in the top k divided by the number of relevant items (0 when there are none). */
export function recallAtK(recommended: ArrayLike<number>, relevant: ReadonlySet<number>, k: number): number {
  requireK(k);
  return relevant.size === 0 ? 0 : hitsAtK(recommended, relevant, k) / relevant.size;
}

/** Harmonic mean of precisionAtK and recallAtK (0 when both are 0). */
export function f1AtK(recommended: ArrayLike<number>, relevant: ReadonlySet<number>, k: number): number {
  const p = precisionAtK(recommended, relevant, k);
  const r = recallAtK(recommended, relevant, k);
  return p + r === 0 ? 0 : (2 * p * r) / (p + r);
}

/** Binary-relevance nDCG with log2 discount; the ideal list has min(k, |relevant|) hits. */
export function ndcgAtK(recommended: ArrayLike<number>, relevant: ReadonlySet<number>, k: number): number {
  requireK(k);
  if (relevant.size === 0) return 0;
  let dcg = 0;
  const end = Math.min(k, recommended.length);
  for (let r = 0; r < end; r++) if (relevant.has(recommended[r])) dcg += 1 / Math.log2(r + 2);
  let ideal = 0;
  const idealHits = Math.min(k, relevant.size);
  for (let r = 0; r < idealHits; r++) ideal += 1 / Math.log2(r + 2);
  return dcg / ideal;
}

/** AP@k: the mean of Precision@r over hit ranks r <= k, normalised by min(k, |relevant|). */
export function averagePrecisionAtK(recommended: ArrayLike<number>, relevant: ReadonlySet<number>, k: number): number {
  requireK(k);
  if (relevant.size === 0) return 0;
  let hits = 0;
  let sum = 0;
  const end = Math.min(k, recommended.length);
  for (let r = 0; r < end; r++) {
    if (relevant.has(recommended[r])) {
      hits++;
      sum += hits / (r + 1);
    }
  }
  return sum / Math.min(k, relevant.size);
}

/**
 * One user's AUC: the probability that a relevant item scores above a non-relevant one, over
 * the candidate items (every item index not in `excluded`, e.g. the training items), ties
 * counting one half. Undefined when there is no positive or no negative candidate.
 */
export function userAuc(scores: ArrayLike<number>, relevant: ReadonlySet<number>, excluded?: ArrayLike<number>): number | undefined {
  const skip = new Uint8Array(scores.length);
  if (excluded) for (let k = 0; k < excluded.length; k++) skip[excluded[k]] = 1;
  const candidates: number[] = [];
  for (let i = 0; i < scores.length; i++) if (!skip[i]) candidates.push(i);
  let positives = 0;
  for (const i of candidates) if (relevant.has(i)) positives++;
  const negatives = candidates.length - positives;
  if (positives === 0 || negatives === 0) return undefined;
  candidates.sort((a, b) => score(scores, a) - score(scores, b));
  // Mann–Whitney U with mid-ranks for ties.
  let positiveRankSum = 0;
  for (let start = 0; start < candidates.length; ) {
    let end = start + 1;
    while (end < candidates.length && score(scores, candidates[end]) === score(scores, candidates[start])) end++;
    const midRank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) if (relevant.has(candidates[k])) positiveRankSum += midRank;
    start = end;
  }
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** NaN scores rank last rather than poisoning comparisons. */
function score(scores: ArrayLike<number>, i: number): number {
  const s = scores[i];
  return Number.isNaN(s) ? -Infinity : s;
}

/** Share of the `itemCount` catalogue items that appear in at least one list. */
export function catalogueCoverage(lists: Iterable<ArrayLike<number>>, itemCount: number): number {
  if (itemCount <= 0) return 0;
  const seen = new Uint8Array(itemCount);
  let distinct = 0;
  for (const list of lists) {
    for (let r = 0; r < list.length; r++) {
      if (!seen[list[r]]) {
        seen[list[r]] = 1;
        distinct++;
      }
    }
  }
  return distinct / itemCount;
}

// ---------------------------------------------------------------------------------------------
// Top-K

/**
 * The indices of the k highest scores, best first, skipping `exclude` (e.g. the user's
 * training items). Ties go to the lower index; NaN ranks last. O(n log k) with a bounded heap.
 */
export function topK(scores: ArrayLike<number>, k: number, exclude?: ArrayLike<number>): Int32Array {
  requireK(k);
  const n = scores.length;
  const skip = exclude && exclude.length > 0 ? new Uint8Array(n) : undefined;
  if (skip && exclude) for (let e = 0; e < exclude.length; e++) skip[exclude[e]] = 1;
  // Min-heap on "goodness": the root is the worst of the best k so far.
  const heap = new Int32Array(k);
  let size = 0;
  const worse = (a: number, b: number): boolean => {
    const sa = score(scores, a);
    const sb = score(scores, b);
    return sa < sb || (sa === sb && a > b);
  };
  const siftDown = (from: number): void => {
    let at = from;
    for (;;) {
      const left = 2 * at + 1;
      const right = left + 1;
      let worst = at;
      if (left < size && worse(heap[left], heap[worst])) worst = left;
      if (right < size && worse(heap[right], heap[worst])) worst = right;
      if (worst === at) return;
      const tmp = heap[at];
      heap[at] = heap[worst];
      heap[worst] = tmp;
      at = worst;
    }
  };
  for (let i = 0; i < n; i++) {
    if (skip?.[i]) continue;
    if (size < k) {
      let at = size++;
      heap[at] = i;
      while (at > 0) {
        const parent = (at - 1) >> 1;
        if (!worse(heap[at], heap[parent])) break;
        const tmp = heap[at];
        heap[at] = heap[parent];
        heap[parent] = tmp;
        at = parent;
      }
    } else if (worse(heap[0], i)) {
      heap[0] = i;
      siftDown(0);
    }
  }
  const result = heap.slice(0, size);
  return result.sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0));
}

// ---------------------------------------------------------------------------------------------
// Whole evaluation

/** Mean ranking metrics over the evaluated users. */
export interface RankingMetrics {
  k: number;
  /** Users with at least one relevant test item. */
  users: number;
  precisionAtK: number;
  recallAtK: number;
  f1AtK: number;
  ndcgAtK: number;
  mapAtK: number;
  /** Mean over users that have both positive and negative candidates (0 if none). */
  auc: number;
  coverage: number;
}

export interface RankingEvaluationInput {
  /** Each user's training items: excluded from the candidates. */
  train: UserItems;
  /** Each user's held-out items: all relevant. */
  test: UserItems;
  /** Size of the item index space (the catalogue). */
  itemCount: number;
  k: number;
  /** Writes the user's score for every item index into `out` (length itemCount). */
  scoreUser: (user: number, out: Float64Array) => void;
}

/**
 * Scores every user with a test item, recommends the top k unseen items and averages the
 * per-user metrics (see the module comment for the exact definitions).
 */
export function evaluateRanking(input: RankingEvaluationInput): RankingMetrics {
  const { train, test, itemCount, k } = input;
  requireK(k);
  const users = test.offsets.length - 1;
  if (train.offsets.length - 1 !== users) {
    throw new Error(`train and test have different user counts (${train.offsets.length - 1} vs ${users})`);
  }
  const scores = new Float64Array(itemCount);
  const lists: Int32Array[] = [];
  const sums = { precision: 0, recall: 0, f1: 0, ndcg: 0, map: 0, auc: 0 };
  let evaluated = 0;
  let aucUsers = 0;
  for (let user = 0; user < users; user++) {
    const relevant = new Set(test.indices.subarray(test.offsets[user], test.offsets[user + 1]));
    if (relevant.size === 0) continue;
    const seen = train.indices.subarray(train.offsets[user], train.offsets[user + 1]);
    scores.fill(0);
    input.scoreUser(user, scores);
    const top = topK(scores, k, seen);
    lists.push(top);
    evaluated++;
    sums.precision += precisionAtK(top, relevant, k);
    sums.recall += recallAtK(top, relevant, k);
    sums.f1 += f1AtK(top, relevant, k);
    sums.ndcg += ndcgAtK(top, relevant, k);
    sums.map += averagePrecisionAtK(top, relevant, k);
    const auc = userAuc(scores, relevant, seen);
    if (auc !== undefined) {
      sums.auc += auc;
      aucUsers++;
    }
  }
  const mean = (sum: number, count: number): number => (count === 0 ? 0 : sum / count);
  return {
    k,
    users: evaluated,
    precisionAtK: mean(sums.precision, evaluated),
    recallAtK: mean(sums.recall, evaluated),
    f1AtK: mean(sums.f1, evaluated),
    ndcgAtK: mean(sums.ndcg, evaluated),
    mapAtK: mean(sums.map, evaluated),
    auc: mean(sums.auc, aucUsers),
    coverage: catalogueCoverage(lists, itemCount),
  };
}
