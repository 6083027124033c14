/**
 * Item-based k-nearest neighbours for top-N (Deshpande and Karypis 2004, Sarwar et al. 2001)
 * on the binary user x item matrix X: the similarity of items j and i is the cosine of their
 * columns, G_ji / sqrt(G_jj G_ii) with G = X^T X (so the number of users who have both over
 * the geometric mean of their popularities), each item j keeps its `neighbours` most similar
 * other items (ties to the lower index), and user u's score of item i is
 * sum_{j in I_u} W_ji over the kept similarities W.
 *
 * Serving form: the exact item-item factors of ease.ts (user factors = X_u, item factors =
 * column i of W, item-count dimensions).
 */
import type { FactorModel, RatingsDataset } from '../types.ts';
import { assembleModel, assertNonNegativeIntegers, HyperparameterError, summariseTraining, type TrainOptions } from './common.ts';
import { itemItemFactors } from './ease.ts';
import { binaryInteractions, gramOfInteractions, type BinaryInteractions } from './linalg.ts';

export interface ItemKnnParams {
  /** Similar items kept per item (>= 1). */
  neighbours: number;
}

/**
 * Picked by Precision@10 on the 75/25 per-user split (seed 42) of synthetic ML-100K-sized
 * data, seed 1 (20 / 50 / 100 / 200 neighbours: 0.286 / 0.294 / 0.294 / 0.289).
 */
export const ITEM_KNN_DEFAULTS: ItemKnnParams = { neighbours: 100 };

/**
 * The kept cosine similarities, items x items row-major: W[j * n + i] is sim(j, i) when i is
 * among j's `neighbours` nearest items, else 0.
 */
export function itemKnnWeights(x: BinaryInteractions, itemCount: number, neighbours: number): Float64Array {
  const G = gramOfInteractions(x, itemCount);
  const norms = new Float64Array(itemCount);
  for (let i = 0; i < itemCount; i++) norms[i] = Math.sqrt(G[i * itemCount + i]);
  const W = new Float64Array(itemCount * itemCount);
  const candidates: number[] = [];
  const similarity = new Float64Array(itemCount);
  for (let j = 0; j < itemCount; j++) {
    const row = j * itemCount;
    candidates.length = 0;
    for (let i = 0; i < itemCount; i++) {
      const together = G[row + i];
      if (i === j || together === 0) continue;
      similarity[i] = together / (norms[j] * norms[i]);
      candidates.push(i);
    }
    candidates.sort((a, b) => similarity[b] - similarity[a] || a - b);
    const kept = Math.min(neighbours, candidates.length);
    for (let c = 0; c < kept; c++) W[row + candidates[c]] = similarity[candidates[c]];
  }
  return W;
}

/** Trains item-kNN (see the module comment). */
export function trainItemKnn(dataset: RatingsDataset, params: Partial<ItemKnnParams> = {}, options: TrainOptions = {}): FactorModel {
  const settings: ItemKnnParams = { ...ITEM_KNN_DEFAULTS, ...params };
  assertNonNegativeIntegers(settings, ['neighbours']);
  if (settings.neighbours < 1) throw new HyperparameterError(`hyperparameter neighbours must be at least 1, got ${settings.neighbours}`);
  const itemCount = dataset.itemIds.length;
  const summary = summariseTraining(dataset, options.source);
  const x = binaryInteractions(dataset);
  const W = itemKnnWeights(x, itemCount, settings.neighbours);
  options.onProgress?.({ algorithm: 'item-knn', step: 1, totalSteps: 1 });
  return assembleModel(
    dataset,
    summary,
    {
      algorithm: 'item-knn',
      factors: itemCount,
      ...itemItemFactors(x, W, itemCount),
      userBias: new Float32Array(dataset.userIds.length),
      itemBias: new Float32Array(itemCount),
      globalBias: 0,
      hyperparameters: { ...settings },
    },
    options,
  );
}
