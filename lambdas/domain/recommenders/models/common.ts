/**
 * Building blocks every model shares: the training-side bookkeeping of a `FactorModel`
 * (seen-items CSR, popularity, data fingerprint), row subsets of a data set, scoring, and the
 * small contract each trainer implements.
 */
import { createHash } from 'node:crypto';
import type { FactorModel, Hyperparameters, RatingsDataset } from '../types.ts';

/** One progress report from a trainer (an epoch or an alternating step). */
export interface TrainProgress {
  algorithm: string;
  step: number;
  totalSteps: number;
  /** Training loss or error when the trainer tracks one. */
  loss?: number;
}

export interface TrainOptions {
  onProgress?: (progress: TrainProgress) => void;
  /** Where the data came from, written to trainingData.source. */
  source?: string;
  /** Overrides the derived model id. */
  modelId?: string;
}

/** The fields of a FactorModel that only depend on the training data. */
export interface TrainingSummary {
  itemPopularity: Float32Array;
  seenOffsets: Int32Array;
  seenItems: Int32Array;
  globalMean: number;
  trainingData: FactorModel['trainingData'];
}

/** Thrown for hyperparameters outside their domain; the message names the parameter. */
export class HyperparameterError extends Error {
  override readonly name = 'HyperparameterError';
}

/**
 * Items each user has seen, as CSR (offsets has users + 1 entries, items sorted and unique
 * per user).
 */
export function buildSeenItems(dataset: RatingsDataset): { seenOffsets: Int32Array; seenItems: Int32Array } {
  const users = dataset.userIds.length;
  const counts = new Int32Array(users + 1);
  for (let r = 0; r < dataset.userIndex.length; r++) counts[dataset.userIndex[r] + 1]++;
  for (let u = 0; u < users; u++) counts[u + 1] += counts[u];
  const fill = counts.slice(0, users);
  const raw = new Int32Array(dataset.userIndex.length);
  for (let r = 0; r < dataset.userIndex.length; r++) raw[fill[dataset.userIndex[r]]++] = dataset.itemIndex[r];
  // Sort each user's slice and drop duplicate (user, item) pairs.
  const seenOffsets = new Int32Array(users + 1);
  const unique: number[] = [];
  for (let u = 0; u < users; u++) {
    const slice = raw.subarray(counts[u], counts[u + 1]).sort();
    for (let j = 0; j < slice.length; j++) if (j === 0 || slice[j] !== slice[j - 1]) unique.push(slice[j]);
    seenOffsets[u + 1] = unique.length;
  }
  return { seenOffsets, seenItems: Int32Array.from(unique) };
}

/** Ratings per item in the training data. */
export function countItemPopularity(dataset: RatingsDataset): Float32Array {
  const counts = new Float32Array(dataset.itemIds.length);
  for (let r = 0; r < dataset.itemIndex.length; r++) counts[dataset.itemIndex[r]]++;
  return counts;
}

/**
 * sha256 over the (user id, item id, rating, timestamp) rows sorted by user id, item id and
 * time, so the same ratings give the same fingerprint whatever their order in the file.
 */
export function fingerprintRatings(dataset: RatingsDataset): string {
  const order = sortedRowOrder(dataset);
  const { userIndex, itemIndex, timestamp } = dataset;
  const hash = createHash('sha256');
  const chunk: string[] = [];
  for (const r of order) {
    chunk.push(`${dataset.userIds[userIndex[r]]}\t${dataset.itemIds[itemIndex[r]]}\t${dataset.rating[r]}\t${timestamp[r]}\n`);
    if (chunk.length === 4096) {
      hash.update(chunk.join(''));
      chunk.length = 0;
    }
  }
  hash.update(chunk.join(''));
  return hash.digest('hex');
}

/**
 * Row indices sorted by (user id, item id, timestamp, rating), ids compared as strings so that
 * the order does not depend on how indices were assigned (first seen in the file). Packs
 * (user, item) and the row into one float64 key and uses the native numeric sort (about ten
 * times faster than a comparator on ML-1M); runs of a repeated (user, item) pair are then
 * ordered by time and rating so the result never depends on row order.
 */
function sortedRowOrder(dataset: RatingsDataset): Int32Array {
  const n = dataset.userIndex.length;
  const { userIndex, itemIndex, timestamp, rating } = dataset;
  const items = dataset.itemIds.length;
  const userRank = lexicographicRanks(dataset.userIds);
  const itemRank = lexicographicRanks(dataset.itemIds);
  const byTimeThenRating = (a: number, b: number): number => timestamp[a] - timestamp[b] || rating[a] - rating[b];
  const rowBits = 2 ** Math.max(1, Math.ceil(Math.log2(n + 1)));
  if (dataset.userIds.length * items * rowBits >= 2 ** 53) {
    const order = Int32Array.from({ length: n }, (_, r) => r);
    return order.sort((a, b) => userRank[userIndex[a]] - userRank[userIndex[b]] || itemRank[itemIndex[a]] - itemRank[itemIndex[b]] || byTimeThenRating(a, b));
  }
  const keys = new Float64Array(n);
  for (let r = 0; r < n; r++) keys[r] = (userRank[userIndex[r]] * items + itemRank[itemIndex[r]]) * rowBits + r;
  keys.sort();
  const order = new Int32Array(n);
  for (let j = 0; j < n; j++) order[j] = keys[j] % rowBits;
  for (let start = 0; start < n; ) {
    let end = start + 1;
    const pair = Math.floor(keys[start] / rowBits);
    while (end < n && Math.floor(keys[end] / rowBits) === pair) end++;
    if (end - start > 1) order.subarray(start, end).sort(byTimeThenRating);
    start = end;
  }
  return order;
}

/** rank[i] = position of ids[i] in the code-unit order of all ids. */
function lexicographicRanks(ids: string[]): Int32Array {
  const order = ids.map((_, i) => i).sort((a, b) => (ids[a] < ids[b] ? -1 : ids[a] > ids[b] ? 1 : a - b));
  const rank = new Int32Array(ids.length);
  order.forEach((index, position) => (rank[index] = position));
  return rank;
}

/** Everything a trainer needs to fill in besides its own factors and biases. */
export function summariseTraining(dataset: RatingsDataset, source = 'unknown'): TrainingSummary {
  const { seenOffsets, seenItems } = buildSeenItems(dataset);
  let sum = 0;
  for (let r = 0; r < dataset.rating.length; r++) sum += dataset.rating[r];
  const activeUsers = countNonEmpty(seenOffsets);
  const itemPopularity = countItemPopularity(dataset);
  let activeItems = 0;
  for (let i = 0; i < itemPopularity.length; i++) if (itemPopularity[i] > 0) activeItems++;
  return {
    itemPopularity,
    seenOffsets,
    seenItems,
    globalMean: dataset.rating.length > 0 ? sum / dataset.rating.length : 0,
    trainingData: {
      fingerprint: fingerprintRatings(dataset),
      ratings: dataset.rating.length,
      users: activeUsers,
      items: activeItems,
      source,
    },
  };
}

function countNonEmpty(offsets: Int32Array): number {
  let count = 0;
  for (let u = 0; u + 1 < offsets.length; u++) if (offsets[u + 1] > offsets[u]) count++;
  return count;
}

/** Fields a trainer supplies; the rest comes from the training summary. */
export interface ModelParts {
  algorithm: string;
  factors: number;
  userFactors: Float32Array;
  itemFactors: Float32Array;
  userBias: Float32Array;
  itemBias: Float32Array;
  globalBias: number;
  hyperparameters: Hyperparameters;
  metrics?: Record<string, number>;
}

/** Assembles a FactorModel from a trainer's parts and the training summary. */
export function assembleModel(dataset: RatingsDataset, summary: TrainingSummary, parts: ModelParts, options: TrainOptions = {}): FactorModel {
  return {
    modelId: options.modelId ?? `${parts.algorithm}-${summary.trainingData.fingerprint.slice(0, 12)}`,
    algorithm: parts.algorithm,
    factors: parts.factors,
    userIds: dataset.userIds,
    itemIds: dataset.itemIds,
    userFactors: parts.userFactors,
    itemFactors: parts.itemFactors,
    userBias: parts.userBias,
    itemBias: parts.itemBias,
    globalBias: parts.globalBias,
    itemPopularity: summary.itemPopularity,
    seenOffsets: summary.seenOffsets,
    seenItems: summary.seenItems,
    ratingScale: [dataset.ratingScale[0], dataset.ratingScale[1]],
    hyperparameters: parts.hyperparameters,
    metrics: parts.metrics ?? {},
    trainingData: summary.trainingData,
  };
}

/** The raw score of the model contract: global + user bias + item bias + dot product. */
export function scoreUserItem(model: FactorModel, user: number, item: number): number {
  const k = model.factors;
  let score = model.globalBias + model.userBias[user] + model.itemBias[item];
  const uf = user * k;
  const itf = item * k;
  for (let f = 0; f < k; f++) score += model.userFactors[uf + f] * model.itemFactors[itf + f];
  return score;
}

/** A rating prediction: the score clipped to the rating scale. */
export function predictRating(model: FactorModel, user: number, item: number): number {
  const score = scoreUserItem(model, user, item);
  return Math.min(model.ratingScale[1], Math.max(model.ratingScale[0], score));
}

/** Scores of every item for one user into `out` (length = items). */
export function scoreAllItems(model: FactorModel, user: number, out: Float64Array): Float64Array {
  const k = model.factors;
  const items = model.itemIds.length;
  const base = model.globalBias + model.userBias[user];
  const uf = user * k;
  const { userFactors, itemFactors, itemBias } = model;
  for (let i = 0; i < items; i++) {
    let score = base + itemBias[i];
    const itf = i * k;
    for (let f = 0; f < k; f++) score += userFactors[uf + f] * itemFactors[itf + f];
    out[i] = score;
  }
  return out;
}

/**
 * Throws when SGD diverged (a learning rate too large for the data): a model with NaN or
 * infinite parameters must never reach an artifact.
 */
export function assertTrainingConverged(algorithm: string, arrays: Float64Array[]): void {
  for (const values of arrays) {
    for (let j = 0; j < values.length; j++) {
      if (!Number.isFinite(values[j])) throw new HyperparameterError(`${algorithm} training diverged (non-finite parameters): lower the learning rate lr`);
    }
  }
}

/**
 * Checks a training seed: the shared generator (data/random.ts) takes any integer, and a
 * fractional seed is more likely a typo than a wish.
 */
export function assertIntegerSeed(seed: number): void {
  if (!Number.isInteger(seed)) throw new HyperparameterError(`hyperparameter seed must be an integer, got ${seed}`);
}

/** Converts a float64 working array to the float32 storage form. */
export function toFloat32(values: Float64Array): Float32Array {
  return Float32Array.from(values);
}
