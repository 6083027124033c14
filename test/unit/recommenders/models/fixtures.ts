/**
 * A tiny seeded MovieLens-like data maker for the model tests: planted low-rank tastes tied
 * to genres, Zipf-like item popularity, ratings 1-5. Small on purpose (tests stay fast).
 */
import { generateSyntheticMovieLens } from '../../../../lambdas/domain/recommenders/data/synthetic.ts';
import { normalStream, sfc32 } from '../../../../lambdas/domain/recommenders/data/random.ts';
import type { ItemMetadata, RatingsDataset } from '../../../../lambdas/domain/recommenders/types.ts';

export interface PlantedDataOptions {
  users: number;
  items: number;
  ratingsPerUser: number;
  genres?: number;
  seed?: number;
  noise?: number;
}

const GENRE_NAMES = ['Action', 'Comedy', 'Drama', 'Horror', 'Romance', 'Sci-Fi', 'Thriller', 'Western'];

/** Ratings where user u likes genre (u mod genres) and items of that genre. */
export function makePlantedRatings(options: PlantedDataOptions): RatingsDataset {
  const { users, items, ratingsPerUser } = options;
  const genres = options.genres ?? 4;
  const noise = options.noise ?? 0.3;
  const random = sfc32(options.seed ?? 1);
  const normal = normalStream(random);
  const itemGenre = Array.from({ length: items }, (_, i) => i % genres);
  const itemQuality = Array.from({ length: items }, () => 0.4 * normal());
  const popularity = Array.from({ length: items }, (_, i) => 1 / (1 + i) ** 0.6);
  const userIndex: number[] = [];
  const itemIndex: number[] = [];
  const rating: number[] = [];
  const timestamp: number[] = [];
  for (let u = 0; u < users; u++) {
    const favourite = u % genres;
    const weights = popularity.map((p, i) => p * (itemGenre[i] === favourite ? 4 : 1));
    const chosen = new Set<number>();
    while (chosen.size < Math.min(ratingsPerUser, items)) chosen.add(sampleIndex(weights, random()));
    for (const i of [...chosen].sort((a, b) => a - b)) {
      const affinity = itemGenre[i] === favourite ? 1.2 : -0.4;
      const value = 3.3 + affinity + itemQuality[i] + noise * normal();
      userIndex.push(u);
      itemIndex.push(i);
      rating.push(Math.min(5, Math.max(1, Math.round(value))));
      timestamp.push(880_000_000 + userIndex.length * 60);
    }
  }
  const metadata: ItemMetadata[] = itemGenre.map((g, i) => ({
    itemId: String(i + 1),
    title: `${GENRE_NAMES[g]} Story ${i + 1} (1995)`,
    genres: [GENRE_NAMES[g]],
  }));
  return {
    userIndex: Int32Array.from(userIndex),
    itemIndex: Int32Array.from(itemIndex),
    rating: Float32Array.from(rating),
    timestamp: Float64Array.from(timestamp),
    userIds: Array.from({ length: users }, (_, u) => String(u + 1)),
    itemIds: metadata.map((item) => item.itemId),
    items: metadata,
    ratingScale: [1, 5],
  };
}

function sampleIndex(weights: number[], uniform: number): number {
  const total = weights.reduce((sum, w) => sum + w, 0);
  let target = uniform * total;
  for (let i = 0; i < weights.length; i++) {
    target -= weights[i];
    if (target < 0) return i;
  }
  return weights.length - 1;
}

/**
 * A small data set from the shared synthetic MovieLens generator (planted genre-tied
 * low-rank tastes, long tails): the fixture for "learns the signal" tests.
 */
export function makeSyntheticRatings(seed = 5): RatingsDataset {
  return generateSyntheticMovieLens({ users: 300, items: 300, ratings: 15_000, seed }).dataset;
}
