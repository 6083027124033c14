/**
 * Building and slicing RatingsDataset values. Index convention used by every loader and by
 * the generator: users and items get dense indices in FIRST-SEEN order of the rating rows,
 * which is deterministic for a given file and keeps external ids stable to look up.
 */
import type { ItemMetadata, RatingsDataset } from '../types.ts';

/**
 * Accumulates rating rows into growable typed arrays and assigns dense indices in first-seen
 * order. `add` returns the row number it wrote.
 */
export class RatingsBuilder {
  private readonly userLookup = new Map<string, number>();
  private readonly itemLookup = new Map<string, number>();
  private readonly userIds: string[] = [];
  private readonly itemIds: string[] = [];
  private users = new Int32Array(1024);
  private items = new Int32Array(1024);
  private ratings = new Float32Array(1024);
  private timestamps = new Float64Array(1024);
  private size = 0;

  /** Number of rows added so far. */
  get length(): number {
    return this.size;
  }

  add(userId: string, itemId: string, rating: number, timestamp: number): number {
    if (this.size === this.users.length) this.grow();
    const row = this.size++;
    this.users[row] = indexOf(this.userLookup, this.userIds, userId);
    this.items[row] = indexOf(this.itemLookup, this.itemIds, itemId);
    this.ratings[row] = rating;
    this.timestamps[row] = timestamp;
    return row;
  }

  /** Returns the data set; the builder must not be used afterwards. */
  build(ratingScale: [number, number]): RatingsDataset {
    return {
      userIndex: this.users.slice(0, this.size),
      itemIndex: this.items.slice(0, this.size),
      rating: this.ratings.slice(0, this.size),
      timestamp: this.timestamps.slice(0, this.size),
      userIds: this.userIds,
      itemIds: this.itemIds,
      ratingScale,
    };
  }

  private grow(): void {
    const capacity = this.users.length * 2;
    this.users = copyInto(new Int32Array(capacity), this.users);
    this.items = copyInto(new Int32Array(capacity), this.items);
    this.ratings = copyInto(new Float32Array(capacity), this.ratings);
    this.timestamps = copyInto(new Float64Array(capacity), this.timestamps);
  }
}

function copyInto<T extends Int32Array | Float32Array | Float64Array>(target: T, source: T): T {
  target.set(source);
  return target;
}

function indexOf(lookup: Map<string, number>, ids: string[], id: string): number {
  let index = lookup.get(id);
  if (index === undefined) {
    index = ids.length;
    lookup.set(id, index);
    ids.push(id);
  }
  return index;
}

/** Number of rating rows. */
export function ratingCount(dataset: RatingsDataset): number {
  return dataset.rating.length;
}

/**
 * The rows `rows` of `dataset` as a new data set in the SAME user/item index space (userIds,
 * itemIds, items and ratingScale are shared, not copied): what splits hand to models so that
 * train and test indices agree. Users or items without rows simply have no ratings.
 */
export function subsetRatings(dataset: RatingsDataset, rows: ArrayLike<number>): RatingsDataset {
  const n = rows.length;
  const userIndex = new Int32Array(n);
  const itemIndex = new Int32Array(n);
  const rating = new Float32Array(n);
  const timestamp = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const row = rows[k];
    userIndex[k] = dataset.userIndex[row];
    itemIndex[k] = dataset.itemIndex[row];
    rating[k] = dataset.rating[row];
    timestamp[k] = dataset.timestamp[row];
  }
  return { ...dataset, userIndex, itemIndex, rating, timestamp };
}

/** Compressed sparse rows: the entries of row r are `values[offsets[r] .. offsets[r + 1])`. */
export interface Csr {
  offsets: Int32Array;
  /** Column indices (item indices for a by-user CSR). */
  indices: Int32Array;
  /** The data set row each entry came from. */
  rows: Int32Array;
}

/**
 * Groups rating rows by user (items of each user, in row order). Pass `rows` to restrict to a
 * split, e.g. the training rows, to get each user's "seen" items.
 */
export function ratingsByUser(dataset: RatingsDataset, rows?: ArrayLike<number>): Csr {
  return groupRows(dataset.userIndex, dataset.itemIndex, dataset.userIds.length, rows);
}

/** Groups rating rows by item (users of each item, in row order). */
export function ratingsByItem(dataset: RatingsDataset, rows?: ArrayLike<number>): Csr {
  return groupRows(dataset.itemIndex, dataset.userIndex, dataset.itemIds.length, rows);
}

function groupRows(keys: Int32Array, values: Int32Array, keyCount: number, rows: ArrayLike<number> | undefined): Csr {
  const n = rows ? rows.length : keys.length;
  const offsets = new Int32Array(keyCount + 1);
  for (let k = 0; k < n; k++) offsets[keys[rows ? rows[k] : k] + 1]++;
  for (let key = 0; key < keyCount; key++) offsets[key + 1] += offsets[key];
  const cursor = offsets.slice(0, keyCount);
  const indices = new Int32Array(n);
  const sourceRows = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const row = rows ? rows[k] : k;
    const at = cursor[keys[row]]++;
    indices[at] = values[row];
    sourceRows[at] = row;
  }
  return { offsets, indices, rows: sourceRows };
}

/** Options for {@link attachItems}. */
export interface AttachItemsOptions {
  /**
   * Append items present in the metadata but absent from the ratings to the item index
   * space (they then have no ratings). Default false: the index space is the rated items.
   */
  includeUnratedItems?: boolean;
}

/**
 * Returns `dataset` with `items` set: metadata aligned to item indices (undefined for a rated
 * item the metadata does not describe).
 */
export function attachItems(dataset: RatingsDataset, metadata: readonly ItemMetadata[], options: AttachItemsOptions = {}): RatingsDataset {
  const byId = new Map(metadata.map((item) => [item.itemId, item]));
  const itemIds = [...dataset.itemIds];
  if (options.includeUnratedItems) {
    const rated = new Set(itemIds);
    for (const item of metadata) if (!rated.has(item.itemId)) itemIds.push(item.itemId);
  }
  return { ...dataset, itemIds, items: itemIds.map((id) => byId.get(id)) };
}

/** Counts and rating histogram of a data set, for summaries and sanity checks. */
export interface DatasetSummary {
  ratings: number;
  users: number;
  items: number;
  /** Share of the user x item matrix that is rated. */
  density: number;
  meanRating: number;
  /** Share of ratings per distinct rating value, keys as printed (e.g. "4" or "3.5"). */
  ratingShares: Record<string, number>;
  minRatingsPerUser: number;
  maxRatingsPerUser: number;
  minRatingsPerItem: number;
  maxRatingsPerItem: number;
  firstTimestamp: number;
  lastTimestamp: number;
}

/** Summarises a data set (all zeros for an empty one, never NaN). */
export function summarizeDataset(dataset: RatingsDataset): DatasetSummary {
  const n = dataset.rating.length;
  const users = dataset.userIds.length;
  const items = dataset.itemIds.length;
  const perUser = new Int32Array(users);
  const perItem = new Int32Array(items);
  const counts = new Map<number, number>();
  let sum = 0;
  let first = Infinity;
  let last = -Infinity;
  for (let row = 0; row < n; row++) {
    perUser[dataset.userIndex[row]]++;
    perItem[dataset.itemIndex[row]]++;
    const r = dataset.rating[row];
    sum += r;
    counts.set(r, (counts.get(r) ?? 0) + 1);
    first = Math.min(first, dataset.timestamp[row]);
    last = Math.max(last, dataset.timestamp[row]);
  }
  const ratingShares: Record<string, number> = {};
  for (const value of [...counts.keys()].sort((a, b) => a - b)) {
    ratingShares[String(value)] = counts.get(value)! / n;
  }
  return {
    ratings: n,
    users,
    items,
    density: users * items === 0 ? 0 : n / (users * items),
    meanRating: n === 0 ? 0 : sum / n,
    ratingShares,
    minRatingsPerUser: minOf(perUser),
    maxRatingsPerUser: maxOf(perUser),
    minRatingsPerItem: minOf(perItem),
    maxRatingsPerItem: maxOf(perItem),
    firstTimestamp: n === 0 ? 0 : first,
    lastTimestamp: n === 0 ? 0 : last,
  };
}

// Loops rather than Math.min(...values): spreading a million-entry array overflows the stack.
function minOf(values: Int32Array): number {
  if (values.length === 0) return 0;
  let min = values[0];
  for (let i = 1; i < values.length; i++) if (values[i] < min) min = values[i];
  return min;
}

function maxOf(values: Int32Array): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) if (values[i] > max) max = values[i];
  return max;
}
