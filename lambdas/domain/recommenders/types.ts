/**
 * Core data types of the recommender domain. Pure TypeScript, no AWS and no I/O:
 * loaders, models, metrics and artifacts all speak these types.
 */

/** Metadata of one catalogue item (a movie in MovieLens terms). */
export interface ItemMetadata {
  itemId: string;
  title: string;
  genres: string[];
  /** Release year when the title or date carries one. */
  year?: number;
}

/**
 * A ratings data set in columnar, typed-array form. Users and items are mapped to dense
 * indices 0..n-1; `userIds[i]` / `itemIds[j]` give the external ids back.
 */
export interface RatingsDataset {
  userIndex: Int32Array;
  itemIndex: Int32Array;
  rating: Float32Array;
  /** Unix seconds. */
  timestamp: Float64Array;
  userIds: string[];
  itemIds: string[];
  /** Item metadata by item index when an item file was loaded. */
  items?: (ItemMetadata | undefined)[];
  /** Rating scale, e.g. [1, 5] (ml-latest uses half stars from 0.5). */
  ratingScale: [number, number];
}

/** Hyperparameters are flat and JSON-serialisable so they can be written to manifests. */
export type Hyperparameters = Record<string, number | string | boolean>;

/**
 * What every trained model produces: precomputed factor matrices and biases. A score is
 * `globalBias + userBias[u] + itemBias[i] + dot(userFactors[u], itemFactors[i])`, which covers
 * popularity (k = 0, item bias only), biased MF, implicit ALS / BPR (factors only) and
 * content models (TF-IDF profiles as factors).
 */
export interface FactorModel {
  modelId: string;
  algorithm: string;
  factors: number;
  userIds: string[];
  itemIds: string[];
  /** Row-major, userIds.length x factors. */
  userFactors: Float32Array;
  /** Row-major, itemIds.length x factors. */
  itemFactors: Float32Array;
  userBias: Float32Array;
  itemBias: Float32Array;
  globalBias: number;
  /** Interactions per item in the training data: the cold-start (popularity) fallback. */
  itemPopularity: Float32Array;
  /** Items each user has seen in training, CSR: seenOffsets has userIds.length + 1 entries. */
  seenOffsets: Int32Array;
  seenItems: Int32Array;
  ratingScale: [number, number];
  hyperparameters: Hyperparameters;
  metrics: Record<string, number>;
  trainingData: { fingerprint: string; ratings: number; users: number; items: number; source: string };
}
