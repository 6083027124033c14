/**
 * Cleaning and train/test splits. Splits return ROW INDICES (ascending) into the data set, so
 * train and test share the user/item index space; {@link splitDataset} turns them into
 * sub-datasets. Every split is deterministic for a given seed.
 */
import type { RatingsDataset } from '../types.ts';
import { ratingsByUser, subsetRatings } from './dataset.ts';
import { mulberry32, randomPermutation, shuffleInPlace } from './random.ts';

/** Row indices of the training and the test part, each in ascending order. */
export interface Split {
  train: Int32Array;
  test: Int32Array;
}

/** Train and test sub-datasets sharing the parent's user and item index space. */
export function splitDataset(dataset: RatingsDataset, split: Split): { train: RatingsDataset; test: RatingsDataset } {
  return { train: subsetRatings(dataset, split.train), test: subsetRatings(dataset, split.test) };
}

// ---------------------------------------------------------------------------------------------
// Cleaning

/** Minimum numbers of ratings a user and an item must keep. */
export interface MinRatingsOptions {
  minUserRatings?: number;
  minItemRatings?: number;
}

export interface CleaningResult {
  /** A compact data set: only surviving users and items, re-indexed in their original order. */
  dataset: RatingsDataset;
  /** Rows of the input that were kept, ascending. */
  keptRows: Int32Array;
  removedUsers: number;
  removedItems: number;
  /** Filtering passes until nothing changed. */
  passes: number;
}

/**
 * Drops users with fewer than `minUserRatings` and items with fewer than `minItemRatings`
 * ratings, repeating until a fixed point: removing an item can push a user under the minimum
 * and the other way round.
 */
export function filterMinRatings(dataset: RatingsDataset, options: MinRatingsOptions): CleaningResult {
  const minUser = options.minUserRatings ?? 1;
  const minItem = options.minItemRatings ?? 1;
  requireCount(minUser, 'minUserRatings', 1);
  requireCount(minItem, 'minItemRatings', 1);
  const n = dataset.rating.length;
  const users = dataset.userIds.length;
  const items = dataset.itemIds.length;
  const alive = new Uint8Array(n).fill(1);
  const userCount = new Int32Array(users);
  const itemCount = new Int32Array(items);
  let passes = 0;
  for (let changed = true; changed; ) {
    passes++;
    changed = false;
    userCount.fill(0);
    itemCount.fill(0);
    for (let row = 0; row < n; row++) {
      if (!alive[row]) continue;
      userCount[dataset.userIndex[row]]++;
      itemCount[dataset.itemIndex[row]]++;
    }
    for (let row = 0; row < n; row++) {
      if (alive[row] && (userCount[dataset.userIndex[row]] < minUser || itemCount[dataset.itemIndex[row]] < minItem)) {
        alive[row] = 0;
        changed = true;
      }
    }
  }
  const keptRows = rowsWhere(n, (row) => alive[row] === 1);
  const dataset2 = reindexRows(dataset, keptRows);
  return {
    dataset: dataset2,
    keptRows,
    removedUsers: users - dataset2.userIds.length,
    removedItems: items - dataset2.itemIds.length,
    passes,
  };
}

/** The rows as a compact data set with users and items re-indexed, keeping their relative order. */
function reindexRows(dataset: RatingsDataset, rows: Int32Array): RatingsDataset {
  const keepUser = new Uint8Array(dataset.userIds.length);
  const keepItem = new Uint8Array(dataset.itemIds.length);
  for (const row of rows) {
    keepUser[dataset.userIndex[row]] = 1;
    keepItem[dataset.itemIndex[row]] = 1;
  }
  const userMap = compactMap(keepUser);
  const itemMap = compactMap(keepItem);
  const subset = subsetRatings(dataset, rows);
  for (let k = 0; k < rows.length; k++) {
    subset.userIndex[k] = userMap[subset.userIndex[k]];
    subset.itemIndex[k] = itemMap[subset.itemIndex[k]];
  }
  const result: RatingsDataset = {
    ...subset,
    userIds: dataset.userIds.filter((_, u) => keepUser[u] === 1),
    itemIds: dataset.itemIds.filter((_, i) => keepItem[i] === 1),
  };
  if (dataset.items) result.items = dataset.items.filter((_, i) => keepItem[i] === 1);
  return result;
}

function compactMap(keep: Uint8Array): Int32Array {
  const map = new Int32Array(keep.length).fill(-1);
  let next = 0;
  for (let i = 0; i < keep.length; i++) if (keep[i]) map[i] = next++;
  return map;
}

// ---------------------------------------------------------------------------------------------
// Splits

/**
 * Random k-fold cross-validation: the rows are shuffled with the seed and cut into `folds`
 * folds whose sizes differ by at most one (the first `n % folds` folds get one more, as
 * Surprise's KFold does). Fold f tests on its rows and trains on all others.
 */
export function kFoldSplits(rowsOrDataset: number | RatingsDataset, options: { folds: number; seed: number }): Split[] {
  const n = typeof rowsOrDataset === 'number' ? rowsOrDataset : rowsOrDataset.rating.length;
  requireCount(options.folds, 'folds', 2);
  if (options.folds > n) throw new Error(`folds (${options.folds}) must not exceed the number of ratings (${n})`);
  const order = randomPermutation(n, mulberry32(options.seed));
  const base = Math.floor(n / options.folds);
  const extra = n % options.folds;
  const splits: Split[] = [];
  let start = 0;
  for (let fold = 0; fold < options.folds; fold++) {
    const end = start + base + (fold < extra ? 1 : 0);
    const inTest = new Uint8Array(n);
    for (let k = start; k < end; k++) inTest[order[k]] = 1;
    splits.push({ train: rowsWhere(n, (row) => inTest[row] === 0), test: rowsWhere(n, (row) => inTest[row] === 1) });
    start = end;
  }
  return splits;
}

/**
 * Per-user ratio split: users in index order, each user's rows (in row order) shuffled with
 * one seeded stream; the first `round(ratio * n)` go to training, clamped so both sides get at
 * least one. Users with a single rating go to training.
 */
export function stratifiedRatioSplit(dataset: RatingsDataset, options: { ratio: number; seed: number }): Split {
  const { ratio } = options;
  if (!(ratio > 0 && ratio < 1)) throw new Error(`ratio must be strictly between 0 and 1, got ${ratio}`);
  const rng = mulberry32(options.seed);
  const byUser = ratingsByUser(dataset);
  const n = dataset.rating.length;
  const inTest = new Uint8Array(n);
  const rows = byUser.rows;
  for (let user = 0; user < dataset.userIds.length; user++) {
    const start = byUser.offsets[user];
    const end = byUser.offsets[user + 1];
    const count = end - start;
    if (count < 2) continue;
    shuffleInPlace(rows, rng, start, end);
    const trainCount = Math.min(count - 1, Math.max(1, Math.round(ratio * count)));
    for (let k = start + trainCount; k < end; k++) inTest[rows[k]] = 1;
  }
  return { train: rowsWhere(n, (row) => inTest[row] === 0), test: rowsWhere(n, (row) => inTest[row] === 1) };
}

/**
 * Global temporal split: rows with `timestamp < cutoff` train, the rest test. Give the cutoff
 * (Unix seconds) or `trainRatio`, which puts the cutoff at that quantile of the timestamps
 * (rows sharing the cutoff timestamp all go to test, so the ratio is approximate).
 */
export function temporalSplit(dataset: RatingsDataset, options: { cutoff: number } | { trainRatio: number }): Split & { cutoff: number } {
  const n = dataset.rating.length;
  let cutoff: number;
  if ('cutoff' in options) {
    if (!Number.isFinite(options.cutoff)) throw new Error(`cutoff must be a finite number of Unix seconds, got ${options.cutoff}`);
    cutoff = options.cutoff;
  } else {
    const { trainRatio } = options;
    if (!(trainRatio > 0 && trainRatio < 1)) throw new Error(`trainRatio must be strictly between 0 and 1, got ${trainRatio}`);
    if (n === 0) throw new Error('cannot split an empty data set');
    const sorted = Float64Array.from(dataset.timestamp).sort();
    cutoff = sorted[Math.min(n - 1, Math.round(trainRatio * n))];
  }
  return {
    cutoff,
    train: rowsWhere(n, (row) => dataset.timestamp[row] < cutoff),
    test: rowsWhere(n, (row) => dataset.timestamp[row] >= cutoff),
  };
}

/**
 * Per-user temporal split: each user's ratings sorted by timestamp (later rows winning ties),
 * the first `round(ratio * n)` train and the latest rest test, clamped so both sides get at
 * least one; users with a single rating train only. The per-user counterpart of
 * {@link stratifiedRatioSplit}: the same shares, but the future is what is predicted.
 */
export function perUserTemporalSplit(dataset: RatingsDataset, options: { ratio: number }): Split {
  const { ratio } = options;
  if (!(ratio > 0 && ratio < 1)) throw new Error(`ratio must be strictly between 0 and 1, got ${ratio}`);
  const byUser = ratingsByUser(dataset);
  const total = dataset.rating.length;
  const inTest = new Uint8Array(total);
  for (let user = 0; user < dataset.userIds.length; user++) {
    const start = byUser.offsets[user];
    const end = byUser.offsets[user + 1];
    const count = end - start;
    if (count < 2) continue;
    const userRows = Array.from(byUser.rows.subarray(start, end)).sort((a, b) => dataset.timestamp[a] - dataset.timestamp[b] || a - b);
    const trainCount = Math.min(count - 1, Math.max(1, Math.round(ratio * count)));
    for (let k = trainCount; k < count; k++) inTest[userRows[k]] = 1;
  }
  return { train: rowsWhere(total, (row) => inTest[row] === 0), test: rowsWhere(total, (row) => inTest[row] === 1) };
}

/**
 * Leave-last-n: each user's `n` latest ratings (by timestamp, later rows winning ties) are
 * tested, keeping at least one rating in training, so users with `n` or fewer ratings test on
 * all but their first and single-rating users only train.
 */
export function leaveLastNSplit(dataset: RatingsDataset, options: { n?: number } = {}): Split {
  const last = options.n ?? 1;
  requireCount(last, 'n', 1);
  const byUser = ratingsByUser(dataset);
  const rows = byUser.rows;
  const total = dataset.rating.length;
  const inTest = new Uint8Array(total);
  for (let user = 0; user < dataset.userIds.length; user++) {
    const start = byUser.offsets[user];
    const end = byUser.offsets[user + 1];
    const userRows = Array.from(rows.subarray(start, end)).sort((a, b) => dataset.timestamp[a] - dataset.timestamp[b] || a - b);
    const testCount = Math.min(last, userRows.length - 1);
    for (let k = userRows.length - testCount; k < userRows.length; k++) inTest[userRows[k]] = 1;
  }
  return { train: rowsWhere(total, (row) => inTest[row] === 0), test: rowsWhere(total, (row) => inTest[row] === 1) };
}

// ---------------------------------------------------------------------------------------------

function rowsWhere(n: number, keep: (row: number) => boolean): Int32Array {
  let count = 0;
  for (let row = 0; row < n; row++) if (keep(row)) count++;
  const rows = new Int32Array(count);
  let at = 0;
  for (let row = 0; row < n; row++) if (keep(row)) rows[at++] = row;
  return rows;
}

function requireCount(value: number, name: string, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}, got ${value}`);
}
