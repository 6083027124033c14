import { describe, expect, it } from 'vitest';
import { ratingsByUser, summarizeDataset } from '../../../../lambdas/domain/recommenders/data/dataset.ts';
import { ML_100K_GENRES } from '../../../../lambdas/domain/recommenders/data/formats.ts';
import { stratifiedRatioSplit } from '../../../../lambdas/domain/recommenders/data/splits.ts';
import {
  ML_100K_RATING_SHARES,
  ML_100K_SIZE,
  defaultSyntheticConfig,
  generateSyntheticMovieLens,
} from '../../../../lambdas/domain/recommenders/data/synthetic.ts';
import { evaluateRanking } from '../../../../lambdas/domain/recommenders/metrics.ts';

// One ML-100K-sized data set (about 0.3 s) shared by the statistical checks.
const { dataset, items } = generateSyntheticMovieLens({ ...ML_100K_SIZE, seed: 1 });
const summary = summarizeDataset(dataset);

function countsPer(index: Int32Array, size: number): number[] {
  const counts = new Array<number>(size).fill(0);
  for (const i of index) counts[i]++;
  return counts.sort((a, b) => a - b);
}

describe('generateSyntheticMovieLens at ML-100K size', () => {
  it('has exactly the requested numbers of users, items and ratings', () => {
    expect([summary.users, summary.items, summary.ratings, items.length]).toEqual([943, 1682, 100_000, 1682]);
  });

  it('gives every user at least 20 ratings', () => {
    expect(summary.minRatingsPerUser).toBe(20);
  });

  it('rates every item at least once', () => {
    expect(summary.minRatingsPerItem).toBeGreaterThanOrEqual(1);
  });

  it("reproduces ML-100K's rating histogram to the rounding of quantiles", () => {
    const shares = [1, 2, 3, 4, 5].map((stars) => summary.ratingShares[String(stars)]);
    shares.forEach((share, star) => {
      expect(share).toBeCloseTo(ML_100K_RATING_SHARES[star], 3);
    });
  });

  it('has a mean rating of about 3.53', () => {
    expect(summary.meanRating).toBeCloseTo(3.53, 2);
  });

  it('has long-tailed item popularity: the top 10% of items hold over a third of the ratings', () => {
    const counts = countsPer(dataset.itemIndex, summary.items).reverse();
    const head = counts.slice(0, Math.round(summary.items / 10)).reduce((sum, c) => sum + c, 0);
    expect(head / summary.ratings).toBeGreaterThan(1 / 3);
  });

  it('has long-tailed user activity: the busiest user rates over 5 times the median', () => {
    const counts = countsPer(dataset.userIndex, summary.users);
    expect(counts[counts.length - 1] / counts[counts.length >> 1]).toBeGreaterThan(5);
  });

  it('gives every item 1 to 3 of the 19 ML-100K genres', () => {
    const valid = items.every(
      (item) => item.genres.length >= 1 && item.genres.length <= 3 && item.genres.every((g) => (ML_100K_GENRES as readonly string[]).includes(g)),
    );
    expect(valid).toBe(true);
  });

  it('titles items like "Movie Title (1995)" with the year alongside', () => {
    expect(items.every((item) => item.title.endsWith(`(${item.year})`))).toBe(true);
  });

  it('spreads timestamps over a few months from September 1997', () => {
    const days = (summary.lastTimestamp - summary.firstTimestamp) / 86_400;
    expect([summary.firstTimestamp >= 874_724_710, days > 90 && days <= 215]).toEqual([true, true]);
  });

  it('leaves popularity a Precision@10 between 0.1 and 0.2 on the 75/25 per-user split', () => {
    const split = stratifiedRatioSplit(dataset, { ratio: 0.75, seed: 42 });
    const popularity = new Float64Array(summary.items);
    for (const row of split.train) popularity[dataset.itemIndex[row]]++;
    const metrics = evaluateRanking({
      train: ratingsByUser(dataset, split.train),
      test: ratingsByUser(dataset, split.test),
      itemCount: summary.items,
      k: 10,
      scoreUser: (_user, out) => out.set(popularity),
    });
    expect(metrics.precisionAtK).toBeGreaterThan(0.1);
    expect(metrics.precisionAtK).toBeLessThan(0.2);
  });

  it('plants taste beyond biases: users agree more with same-genre ratings than with others', () => {
    // Per user, the spread between their best and worst genre (mean deviation from the user's own
    // mean). Measured: 1.16 with the planted tastes, 0.80 with affinityStd 0 (noise alone).
    const byUser = ratingsByUser(dataset);
    let spread = 0;
    for (let user = 0; user < summary.users; user++) {
      const rows = Array.from(byUser.rows.subarray(byUser.offsets[user], byUser.offsets[user + 1]));
      const mean = rows.reduce((sum, row) => sum + dataset.rating[row], 0) / rows.length;
      const byGenre = new Map<string, number[]>();
      for (const row of rows)
        for (const genre of dataset.items![dataset.itemIndex[row]]!.genres) byGenre.set(genre, [...(byGenre.get(genre) ?? []), dataset.rating[row] - mean]);
      const means = [...byGenre.values()].filter((v) => v.length >= 5).map((v) => v.reduce((a, b) => a + b, 0) / v.length);
      if (means.length >= 2) spread += Math.max(...means) - Math.min(...means);
    }
    expect(spread / summary.users).toBeGreaterThan(1.0);
  });
});

describe('generateSyntheticMovieLens determinism and validation', () => {
  const small = { users: 50, items: 200, ratings: 2000, seed: 9 };

  it('gives identical data for the same seed', () => {
    expect(generateSyntheticMovieLens(small)).toEqual(generateSyntheticMovieLens(small));
  });

  it('gives different data for another seed', () => {
    expect(generateSyntheticMovieLens({ ...small, seed: 10 }).dataset.rating).not.toEqual(generateSyntheticMovieLens(small).dataset.rating);
  });

  it('rejects fewer ratings than users x 20', () => {
    expect(() => generateSyntheticMovieLens({ ...small, ratings: 999 })).toThrow('ratings (999) must be at least users x minUserRatings = 1000');
  });

  it('rejects more ratings than user-item pairs', () => {
    expect(() => generateSyntheticMovieLens({ ...small, ratings: 10_001 })).toThrow('ratings (10001) exceed the 10000 possible user-item pairs');
  });

  it('rejects a non-integer seed', () => {
    expect(() => generateSyntheticMovieLens({ ...small, seed: 1.5 })).toThrow('seed must be an integer, got 1.5');
  });

  it('reports progress up to completion', () => {
    const seen: number[] = [];
    generateSyntheticMovieLens(small, { onProgress: (done) => seen.push(done) });
    expect(seen.at(-1)).toBe(1);
  });

  it('fills every user to the catalogue when ratings equal all pairs', () => {
    const full = generateSyntheticMovieLens({ users: 5, items: 20, ratings: 100, seed: 1 });
    expect(summarizeDataset(full.dataset).minRatingsPerUser).toBe(20);
  });
});

describe('defaultSyntheticConfig', () => {
  it('is the bundled data set: 600 users, 1,000 items, 40,000 ratings, seed 42', () => {
    expect(defaultSyntheticConfig()).toEqual({ users: 600, items: 1000, ratings: 40_000, seed: 42 });
  });
});
