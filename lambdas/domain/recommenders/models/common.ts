/**
 * Building blocks every model shares: the training-side bookkeeping of a `FactorModel`
 * (seen-items CSR, popularity, data fingerprint), row subsets of a data set, scoring, and the
 * small contract each trainer implements.
 */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { fillGaussian } from '../data/random.ts';
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
  // Compacted in place: the write position never passes the read position.
  const seenOffsets = new Int32Array(users + 1);
  let kept = 0;
  for (let u = 0; u < users; u++) {
    const slice = raw.subarray(counts[u], counts[u + 1]).sort();
    for (let j = 0; j < slice.length; j++) if (j === 0 || slice[j] !== slice[j - 1]) raw[kept++] = slice[j];
    seenOffsets[u + 1] = kept;
  }
  return { seenOffsets, seenItems: raw.slice(0, kept) };
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
 * The hashed text is `user\titem\trating\ttimestamp\n` per row (numbers as String() prints
 * them, UTF-8). It is encoded straight into a byte buffer rather than through one string per
 * row: every fit computes the fingerprint, and the strings cost more than a short SGD fit.
 */
export function fingerprintRatings(dataset: RatingsDataset): string {
  const order = sortedRowOrder(dataset);
  const { userIndex, itemIndex, rating, timestamp } = dataset;
  const userFields = dataset.userIds.map((id) => Buffer.from(`${id}\t`, 'utf8'));
  const itemFields = dataset.itemIds.map((id) => Buffer.from(`${id}\t`, 'utf8'));
  const ratingFields = new RatingFields();
  const longestId = longestLength(userFields) + longestLength(itemFields);
  // Room for the longest row: both ids, a rating and a timestamp (String() of a double is at most 25 characters each).
  const rowRoom = longestId + 64;
  const chunk = new Uint8Array(Math.max(1 << 16, rowRoom));
  const hash = createHash('sha256');
  let used = 0;
  for (let j = 0; j < order.length; j++) {
    if (used + rowRoom > chunk.length) {
      hash.update(chunk.subarray(0, used));
      used = 0;
    }
    const r = order[j];
    // Byte loops rather than Buffer.copy: the fields are a few bytes, and a native call per field costs more than the copy.
    used = writeBytes(chunk, used, userFields[userIndex[r]]);
    used = writeBytes(chunk, used, itemFields[itemIndex[r]]);
    used = writeBytes(chunk, used, ratingFields.get(rating[r]));
    used = writeNumber(chunk, used, timestamp[r]);
    chunk[used++] = 0x0a;
  }
  hash.update(chunk.subarray(0, used));
  return hash.digest('hex');
}

/**
 * `${rating}\t` as bytes, remembered per value: a rating scale has a handful of values, and
 * half-star ones (the usual case) are found by index rather than by hashing a double.
 */
class RatingFields {
  private readonly halves: (Uint8Array | undefined)[] = new Array(64).fill(undefined);
  private readonly others = new Map<number, Uint8Array>();

  get(value: number): Uint8Array {
    const half = value * 2;
    if (half >= 0 && half < 64 && Number.isInteger(half)) return (this.halves[half] ??= this.encode(value));
    let field = this.others.get(value);
    if (field === undefined) this.others.set(value, (field = this.encode(value)));
    return field;
  }

  private encode(value: number): Uint8Array {
    return Buffer.from(`${value}\t`, 'latin1');
  }
}

/** The longest length in a list (a loop: spreading a list of a million ids would overflow the stack). */
function longestLength(fields: Uint8Array[]): number {
  let longest = 0;
  for (const field of fields) longest = Math.max(longest, field.length);
  return longest;
}

function writeBytes(target: Uint8Array, offset: number, bytes: Uint8Array): number {
  for (let b = 0; b < bytes.length; b++) target[offset + b] = bytes[b];
  return offset + bytes.length;
}

/** Writes String(value) at `offset` (digits by hand for the usual non-negative integer); returns the new offset. */
function writeNumber(target: Uint8Array, offset: number, value: number): number {
  if (!(Number.isInteger(value) && value >= 0 && value <= Number.MAX_SAFE_INTEGER)) return writeBytes(target, offset, Buffer.from(String(value), 'latin1'));
  let digits = 1;
  for (let power = 10; power <= value; power *= 10) digits++;
  // No `%` on doubles (V8 calls fmod for it); int32 arithmetic for the usual Unix-seconds timestamp.
  if (value <= 0x7fffffff) {
    let rest = value | 0;
    for (let d = digits - 1; d >= 0; d--) {
      const next = (rest / 10) | 0;
      target[offset + d] = 0x30 + (rest - next * 10);
      rest = next;
    }
  } else {
    let rest = value;
    for (let d = digits - 1; d >= 0; d--) {
      const next = Math.floor(rest / 10);
      target[offset + d] = 0x30 + (rest - next * 10);
      rest = next;
    }
  }
  return offset + digits;
}

/**
 * Row indices sorted by (user id, item id, timestamp, rating), ids compared as strings so that
 * the order does not depend on how indices were assigned (first seen in the file). Two stable
 * counting sorts (by item rank, then by user rank) give the (user, item, row) order in linear
 * time; runs of a repeated (user, item) pair are then ordered by time and rating so the
 * result never depends on row order.
 */
function sortedRowOrder(dataset: RatingsDataset): Int32Array {
  const n = dataset.userIndex.length;
  const { userIndex, itemIndex, timestamp, rating } = dataset;
  const userRank = lexicographicRanks(dataset.userIds);
  const itemRank = lexicographicRanks(dataset.itemIds);
  const rows = new Int32Array(n);
  for (let r = 0; r < n; r++) rows[r] = r;
  const itemKeys = new Int32Array(n);
  const userKeys = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    itemKeys[r] = itemRank[itemIndex[r]];
    userKeys[r] = userRank[userIndex[r]];
  }
  const order = stableCountingSort(stableCountingSort(rows, itemKeys, itemRank.length), userKeys, userRank.length);
  const byTimeThenRating = (a: number, b: number): number => timestamp[a] - timestamp[b] || rating[a] - rating[b];
  for (let start = 0; start < n; ) {
    let end = start + 1;
    const first = order[start];
    while (end < n && userIndex[order[end]] === userIndex[first] && itemIndex[order[end]] === itemIndex[first]) end++;
    if (end - start > 1) order.subarray(start, end).sort(byTimeThenRating);
    start = end;
  }
  return order;
}

/** `rows` reordered by keys[row] (0 <= key < buckets), keeping the given order within a key. */
function stableCountingSort(rows: Int32Array, keys: Int32Array, buckets: number): Int32Array {
  const starts = new Int32Array(buckets + 1);
  for (let j = 0; j < rows.length; j++) starts[keys[rows[j]] + 1]++;
  for (let b = 0; b < buckets; b++) starts[b + 1] += starts[b];
  const sorted = new Int32Array(rows.length);
  for (let j = 0; j < rows.length; j++) sorted[starts[keys[rows[j]]]++] = rows[j];
  return sorted;
}

/** rank[i] = position of ids[i] in the code-unit order of all ids. */
function lexicographicRanks(ids: string[]): Int32Array {
  const order = ids.map((_, i) => i).sort((a, b) => (ids[a] < ids[b] ? -1 : ids[a] > ids[b] ? 1 : a - b));
  const rank = new Int32Array(ids.length);
  order.forEach((index, position) => {
    rank[index] = position;
  });
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

/**
 * Scores of every item for one user into `out` (length = items). A user vector that is
 * mostly zeros (the 0/1 rows of the item-item models, item-count dimensions) is scored over
 * its non-zero entries only: the same terms in the same order, so the same sums.
 */
export function scoreAllItems(model: FactorModel, user: number, out: Float64Array): Float64Array {
  const k = model.factors;
  const items = model.itemIds.length;
  const base = model.globalBias + model.userBias[user];
  const uf = user * k;
  const { userFactors, itemFactors, itemBias } = model;
  if (k > 64) {
    const nonZero: number[] = [];
    for (let f = 0; f < k; f++) if (userFactors[uf + f] !== 0) nonZero.push(f);
    if (nonZero.length * 2 < k) {
      for (let i = 0; i < items; i++) {
        let score = base + itemBias[i];
        const itf = i * k;
        for (const f of nonZero) score += userFactors[uf + f] * itemFactors[itf + f];
        out[i] = score;
      }
      return out;
    }
  }
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

/** Throws naming the first of `names` that is not a non-negative integer. */
export function assertNonNegativeIntegers<T extends object>(settings: T, names: readonly (keyof T & string)[]): void {
  for (const name of names) {
    const value = settings[name] as unknown as number;
    if (!Number.isInteger(value) || value < 0) throw new HyperparameterError(`hyperparameter ${name} must be a non-negative integer, got ${value}`);
  }
}

/** Throws naming the first of `names` that is not a finite number >= 0. */
export function assertNonNegativeNumbers<T extends object>(settings: T, names: readonly (keyof T & string)[]): void {
  for (const name of names) {
    const value = settings[name] as unknown as number;
    if (!Number.isFinite(value) || value < 0) throw new HyperparameterError(`hyperparameter ${name} must be a finite number >= 0, got ${value}`);
  }
}

/**
 * Gaussian N(0, initStd) starting factors for users then items, drawn from one seeded stream
 * (the draw order fixes every model's output for a seed).
 */
export function initialFactors(
  normal: () => number,
  users: number,
  items: number,
  factors: number,
  initStd: number,
): { userFactors: Float64Array; itemFactors: Float64Array } {
  const userFactors = fillGaussian(new Float64Array(users * factors), normal, 0, initStd);
  const itemFactors = fillGaussian(new Float64Array(items * factors), normal, 0, initStd);
  return { userFactors, itemFactors };
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
