/**
 * Top-N recommendation over a factor model: score every item for one user and keep the best
 * N with a bounded min-heap, so the cost is one pass over the item factors plus O(M log N).
 */
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
}

/** Builds the lookups a model needs for serving. Done once per artifact version. */
export function prepareForServing(model: FactorModel): ServingModel {
  const userIndexById = new Map<string, number>();
  model.userIds.forEach((id, index) => userIndexById.set(id, index));
  const order = Array.from({ length: model.itemIds.length }, (_, i) => i);
  order.sort((a, b) => model.itemPopularity[b] - model.itemPopularity[a] || a - b);
  return {
    model,
    userIndexById,
    popularityOrder: Int32Array.from(order),
    scratch: new Float32Array(model.itemIds.length),
  };
}

/**
 * Scores all items for one user into `out`: itemBias[i] + dot(U[u], V[i]). The global and
 * user biases are constant for one user and do not change the ranking, so they are left out.
 */
export function scoreAllItems(model: FactorModel, userIndex: number, out: Float32Array): void {
  const k = model.factors;
  const items = model.itemIds.length;
  const itemFactors = model.itemFactors;
  const itemBias = model.itemBias;
  if (k === 0) {
    out.set(itemBias);
    return;
  }
  const u = model.userFactors.subarray(userIndex * k, userIndex * k + k);
  for (let i = 0, base = 0; i < items; i++, base += k) {
    let dot = 0;
    for (let f = 0; f < k; f++) dot += u[f] * itemFactors[base + f];
    out[i] = itemBias[i] + dot;
  }
}

/**
 * Indices of the `n` largest scores, best first, skipping `excluded` items. Ties are broken
 * by the lower item index so results are deterministic.
 */
export function selectTopN(scores: Float32Array, n: number, excluded?: ReadonlySet<number>): Int32Array {
  const size = Math.min(n, scores.length);
  const heapIdx = new Int32Array(size);
  const heapScore = new Float64Array(size);
  let count = 0;
  // Min-heap on (score asc, index desc): the root is the weakest kept candidate.
  const weaker = (sa: number, ia: number, sb: number, ib: number) => sa < sb || (sa === sb && ia > ib);
  const siftDown = (start: number) => {
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < count && weaker(heapScore[l], heapIdx[l], heapScore[m], heapIdx[m])) m = l;
      if (r < count && weaker(heapScore[r], heapIdx[r], heapScore[m], heapIdx[m])) m = r;
      if (m === i) return;
      [heapScore[i], heapScore[m]] = [heapScore[m], heapScore[i]];
      [heapIdx[i], heapIdx[m]] = [heapIdx[m], heapIdx[i]];
      i = m;
    }
  };
  for (let i = 0; i < scores.length; i++) {
    if (excluded?.has(i)) continue;
    const s = scores[i];
    if (count < size) {
      let c = count++;
      heapScore[c] = s;
      heapIdx[c] = i;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!weaker(heapScore[c], heapIdx[c], heapScore[p], heapIdx[p])) break;
        [heapScore[c], heapScore[p]] = [heapScore[p], heapScore[c]];
        [heapIdx[c], heapIdx[p]] = [heapIdx[p], heapIdx[c]];
        c = p;
      }
    } else if (size > 0 && weaker(heapScore[0], heapIdx[0], s, i)) {
      heapScore[0] = s;
      heapIdx[0] = i;
      siftDown(0);
    }
  }
  const order = Array.from({ length: count }, (_, j) => j);
  order.sort((a, b) => heapScore[b] - heapScore[a] || heapIdx[a] - heapIdx[b]);
  return Int32Array.from(order.map((j) => heapIdx[j]));
}

/** Items the user saw in training, as a set of item indices. */
export function seenItemsOf(model: FactorModel, userIndex: number): Set<number> {
  const seen = new Set<number>();
  for (let p = model.seenOffsets[userIndex]; p < model.seenOffsets[userIndex + 1]; p++) seen.add(model.seenItems[p]);
  return seen;
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
  const { model, scratch } = serving;
  scoreAllItems(model, userIndex, scratch);
  const top = selectTopN(scratch, n, seenItemsOf(model, userIndex));
  const items: ScoredItem[] = [];
  top.forEach((i, r) => items.push({ itemId: model.itemIds[i], score: roundScore(scratch[i]), rank: r + 1 }));
  return { items };
}

function roundScore(score: number): number {
  // float32 noise beyond 6 significant digits is meaningless to callers.
  return Number(score.toPrecision(6));
}
