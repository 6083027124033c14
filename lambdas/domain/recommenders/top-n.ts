/**
 * Top-N recommendation over a factor model: score every item for one user and keep the best
 * N with a bounded min-heap, so the cost is one pass over the item factors plus O(M log N).
 * Scoring runs in WebAssembly SIMD when the factor count is a multiple of 8 (simd-scores.ts),
 * else in the scalar loop below.
 */
import { createSimdScorer, type SimdScorer } from './simd-scores.ts';
import type { FactorModel } from './types.ts';

export interface ScoredItem {
  itemId: string;
  score: number;
  rank: number;
}

/** Why a user got the popularity list instead of personal scores. */
export type FallbackReason = 'unknown-user' | 'artifact-unavailable';

export interface Recommendations {
  items: ScoredItem[];
  /** Set when the popularity fallback was used; undefined for personalised results. */
  fallback?: FallbackReason;
}

/** A model prepared for serving: id lookups built once per loaded artifact version. */
export interface ServingModel {
  model: FactorModel;
  userIndexById: Map<string, number>;
  /** Item indices ordered by training popularity, most popular first (the cold-start list). */
  popularityOrder: Int32Array;
  /** Scratch buffer reused across requests in one warm container (single-threaded). */
  scratch: Float32Array;
  /** WebAssembly SIMD scoring over a copy of the item factors, when the runtime and factor count allow. */
  scorer?: SimdScorer;
}

/** Builds the lookups a model needs for serving. Done once per artifact version. */
export function prepareForServing(model: FactorModel): ServingModel {
  const userIndexById = new Map<string, number>();
  model.userIds.forEach((id, index) => {
    userIndexById.set(id, index);
  });
  const order = Array.from({ length: model.itemIds.length }, (_, i) => i);
  order.sort((a, b) => model.itemPopularity[b] - model.itemPopularity[a] || a - b);
  return {
    model,
    userIndexById,
    popularityOrder: Int32Array.from(order),
    scratch: new Float32Array(model.itemIds.length),
    scorer: createSimdScorer(model.itemFactors, model.itemBias, model.factors),
  };
}

/**
 * Scores all items for one user into `out`: itemBias[i] + dot(U[u], V[i]). The global and
 * user biases are constant for one user and do not change the ranking, so they are left out.
 *
 * This is the hot loop of serving (62,000 × 64 factors is 4 M multiply-adds): four items are
 * scored per pass so each user factor is loaded once for four rows, with two accumulators per
 * item to break the add dependency chain. Rows stay contiguous, so memory is read in order.
 */
export function scoreAllItems(model: FactorModel, userIndex: number, out: Float32Array): void {
  const k = model.factors;
  const items = model.itemIds.length;
  const v = model.itemFactors;
  const itemBias = model.itemBias;
  if (k === 0) {
    out.set(itemBias);
    return;
  }
  const u = model.userFactors.subarray(userIndex * k, userIndex * k + k);
  const even = k & ~1;
  let i = 0;
  let b0 = 0;
  for (; i + 3 < items; i += 4, b0 += 4 * k) {
    const b1 = b0 + k;
    const b2 = b1 + k;
    const b3 = b2 + k;
    let a0 = 0,
      a1 = 0,
      a2 = 0,
      a3 = 0,
      c0 = 0,
      c1 = 0,
      c2 = 0,
      c3 = 0; // prettier-ignore
    let f = 0;
    for (; f < even; f += 2) {
      const x = u[f];
      const y = u[f + 1];
      a0 += x * v[b0 + f];
      a1 += x * v[b1 + f];
      a2 += x * v[b2 + f];
      a3 += x * v[b3 + f];
      c0 += y * v[b0 + f + 1];
      c1 += y * v[b1 + f + 1];
      c2 += y * v[b2 + f + 1];
      c3 += y * v[b3 + f + 1];
    }
    if (f < k) {
      const x = u[f];
      a0 += x * v[b0 + f];
      a1 += x * v[b1 + f];
      a2 += x * v[b2 + f];
      a3 += x * v[b3 + f];
    }
    out[i] = itemBias[i] + (a0 + c0);
    out[i + 1] = itemBias[i + 1] + (a1 + c1);
    out[i + 2] = itemBias[i + 2] + (a2 + c2);
    out[i + 3] = itemBias[i + 3] + (a3 + c3);
  }
  for (; i < items; i++, b0 += k) {
    let dot = 0;
    for (let f = 0; f < k; f++) dot += u[f] * v[b0 + f];
    out[i] = itemBias[i] + dot;
  }
}

/**
 * Indices of the `n` largest scores, best first, ties to the lower index, skipping scores of
 * −∞ (how recommendTopN masks the items a user has seen: cheaper than a Set lookup per item). A bounded min-heap in typed arrays whose root is the
 * weakest kept candidate; since indices arrive in increasing order, a later item with an equal
 * score never displaces the root, so one comparison rejects almost every item.
 */
export function selectTopN(scores: Float32Array, n: number): Int32Array {
  const size = Math.max(0, Math.min(n, scores.length));
  const heapIdx = new Int32Array(size);
  const heapScore = new Float64Array(size);
  let count = 0;
  const NEG = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (s === NEG) continue;
    if (count < size) {
      // Sift up: the new (larger index) entry is weaker on equal scores.
      let c = count++;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (heapScore[p] < s || (heapScore[p] === s && heapIdx[p] > i)) break;
        heapScore[c] = heapScore[p];
        heapIdx[c] = heapIdx[p];
        c = p;
      }
      heapScore[c] = s;
      heapIdx[c] = i;
    } else if (size > 0 && s > heapScore[0]) {
      // Replace the root and sift down: the weaker child is (score asc, index desc).
      let c = 0;
      for (;;) {
        const l = 2 * c + 1;
        if (l >= size) break;
        const r = l + 1;
        let m = l;
        if (r < size && (heapScore[r] < heapScore[l] || (heapScore[r] === heapScore[l] && heapIdx[r] > heapIdx[l]))) m = r;
        if (heapScore[m] > s || (heapScore[m] === s && heapIdx[m] < i)) break;
        heapScore[c] = heapScore[m];
        heapIdx[c] = heapIdx[m];
        c = m;
      }
      heapScore[c] = s;
      heapIdx[c] = i;
    }
  }
  const order = Array.from({ length: count }, (_, j) => j);
  order.sort((a, b) => heapScore[b] - heapScore[a] || heapIdx[a] - heapIdx[b]);
  return Int32Array.from(order.map((j) => heapIdx[j]));
}

/** The popularity list: the documented fallback for users the model has never seen. */
export function popularItems(serving: ServingModel, n: number): ScoredItem[] {
  const { model, popularityOrder } = serving;
  const count = Math.min(n, popularityOrder.length);
  const items: ScoredItem[] = [];
  for (let r = 0; r < count; r++) {
    const i = popularityOrder[r];
    items.push({ itemId: model.itemIds[i], score: model.itemPopularity[i], rank: r + 1 });
  }
  return items;
}

/**
 * Recommends `n` items for a user: personal scores without the items the user already saw,
 * or the popularity list (flagged) for a user unknown to the model.
 */
export function recommendTopN(serving: ServingModel, userId: string, n: number): Recommendations {
  const userIndex = serving.userIndexById.get(userId);
  if (userIndex === undefined) return { items: popularItems(serving, n), fallback: 'unknown-user' };
  const { model, scorer } = serving;
  const k = model.factors;
  let scores = serving.scratch;
  if (scorer) scores = scorer.score(model.userFactors.subarray(userIndex * k, userIndex * k + k));
  else scoreAllItems(model, userIndex, scores);
  // Seen items are masked in the scores rather than looked up in a Set per item.
  for (let p = model.seenOffsets[userIndex]; p < model.seenOffsets[userIndex + 1]; p++) scores[model.seenItems[p]] = Number.NEGATIVE_INFINITY;
  const top = selectTopN(scores, n);
  const items: ScoredItem[] = [];
  top.forEach((i, r) => {
    items.push({ itemId: model.itemIds[i], score: roundScore(scores[i]), rank: r + 1 });
  });
  return { items };
}

function roundScore(score: number): number {
  // float32 noise beyond 6 significant digits is meaningless to callers.
  return Number(score.toPrecision(6));
}
