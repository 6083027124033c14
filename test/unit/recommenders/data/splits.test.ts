import { describe, expect, it } from 'vitest';
import { RatingsBuilder, ratingsByUser } from '../../../../lambdas/domain/recommenders/data/dataset.ts';
import {
  filterMinRatings,
  kFoldSplits,
  leaveLastNSplit,
  splitDataset,
  stratifiedRatioSplit,
  temporalSplit,
} from '../../../../lambdas/domain/recommenders/data/splits.ts';
import { generateSyntheticMovieLens } from '../../../../lambdas/domain/recommenders/data/synthetic.ts';
import type { RatingsDataset } from '../../../../lambdas/domain/recommenders/types.ts';

/** Builds a data set from [user, item, rating, timestamp] rows. */
function datasetOf(rows: [string, string, number, number][]): RatingsDataset {
  const builder = new RatingsBuilder();
  for (const [user, item, rating, timestamp] of rows) builder.add(user, item, rating, timestamp);
  return builder.build([1, 5]);
}

const synthetic = generateSyntheticMovieLens({ users: 120, items: 300, ratings: 6000, seed: 5 }).dataset;

describe('filterMinRatings', () => {
  // u1 rates a,b,c; u2 rates a,b; u3 rates c only. With 2 per user and 2 per item:
  // pass 1 drops u3 (1 rating); then c has only u1 -> dropped; then u1 keeps a,b.
  const dataset = datasetOf([
    ['u1', 'a', 5, 1],
    ['u1', 'b', 4, 2],
    ['u1', 'c', 3, 3],
    ['u2', 'a', 2, 4],
    ['u2', 'b', 1, 5],
    ['u3', 'c', 4, 6],
  ]);

  it('iterates to a fixed point', () => {
    const result = filterMinRatings(dataset, { minUserRatings: 2, minItemRatings: 2 });
    expect([Array.from(result.keptRows), result.dataset.userIds, result.dataset.itemIds]).toEqual([
      [0, 1, 3, 4],
      ['u1', 'u2'],
      ['a', 'b'],
    ]);
  });

  it('re-indexes the survivors compactly', () => {
    const result = filterMinRatings(dataset, { minUserRatings: 2, minItemRatings: 2 });
    expect([Array.from(result.dataset.userIndex), Array.from(result.dataset.itemIndex)]).toEqual([
      [0, 0, 1, 1],
      [0, 1, 0, 1],
    ]);
  });

  it('reports what it removed', () => {
    const result = filterMinRatings(dataset, { minUserRatings: 2, minItemRatings: 2 });
    expect([result.removedUsers, result.removedItems]).toEqual([1, 1]);
  });

  it('leaves every survivor at or above both minimums', () => {
    const { dataset: cleaned } = filterMinRatings(synthetic, { minUserRatings: 30, minItemRatings: 10 });
    const perUser = new Int32Array(cleaned.userIds.length);
    const perItem = new Int32Array(cleaned.itemIds.length);
    cleaned.userIndex.forEach((u) => {
      perUser[u]++;
    });
    cleaned.itemIndex.forEach((i) => {
      perItem[i]++;
    });
    expect([Math.min(...perUser) >= 30, Math.min(...perItem) >= 10]).toEqual([true, true]);
  });

  it('rejects a minimum below 1', () => {
    expect(() => filterMinRatings(dataset, { minUserRatings: 0 })).toThrow('minUserRatings must be an integer >= 1, got 0');
  });
});

describe('kFoldSplits', () => {
  const splits = kFoldSplits(103, { folds: 5, seed: 0 });

  it('makes folds whose sizes differ by at most one, larger first', () => {
    expect(splits.map((split) => split.test.length)).toEqual([21, 21, 21, 20, 20]);
  });

  it('tests every row exactly once', () => {
    const all = splits.flatMap((split) => Array.from(split.test)).sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 103 }, (_, row) => row));
  });

  it('trains each fold on all the other rows', () => {
    expect(splits.every((split) => split.train.length + split.test.length === 103 && !split.test.some((row) => split.train.includes(row)))).toBe(true);
  });

  it('is deterministic for a seed', () => {
    expect(Array.from(kFoldSplits(103, { folds: 5, seed: 0 })[0].test)).toEqual(Array.from(splits[0].test));
  });

  it('shuffles differently for another seed', () => {
    expect(Array.from(kFoldSplits(103, { folds: 5, seed: 1 })[0].test)).not.toEqual(Array.from(splits[0].test));
  });

  it('rejects more folds than rows', () => {
    expect(() => kFoldSplits(3, { folds: 5, seed: 0 })).toThrow('folds (5) must not exceed the number of ratings (3)');
  });
});

describe('stratifiedRatioSplit', () => {
  const split = stratifiedRatioSplit(synthetic, { ratio: 0.75, seed: 42 });
  const train = ratingsByUser(synthetic, split.train);
  const test = ratingsByUser(synthetic, split.test);
  const all = ratingsByUser(synthetic);
  const count = (csr: { offsets: Int32Array }, user: number): number => csr.offsets[user + 1] - csr.offsets[user];

  it('keeps round(ratio x n) of each user for training', () => {
    const mismatches = synthetic.userIds.filter((_, user) => count(train, user) !== Math.round(0.75 * count(all, user)));
    expect(mismatches).toEqual([]);
  });

  it('partitions the rows', () => {
    expect(split.train.length + split.test.length).toBe(synthetic.rating.length);
  });

  it('puts a single-rating user in training and keeps both sides non-empty otherwise', () => {
    const small = datasetOf([
      ['solo', 'a', 3, 1],
      ['pair', 'a', 3, 1],
      ['pair', 'b', 4, 2],
    ]);
    const result = stratifiedRatioSplit(small, { ratio: 0.9, seed: 1 });
    expect([result.train.length, result.test.length, small.userIndex[result.test[0]]]).toEqual([2, 1, 1]);
  });

  it('holds out at least one rating per user with two or more', () => {
    expect(synthetic.userIds.every((_, user) => count(test, user) >= 1)).toBe(true);
  });

  it('is deterministic for a seed', () => {
    expect(Array.from(stratifiedRatioSplit(synthetic, { ratio: 0.75, seed: 42 }).test)).toEqual(Array.from(split.test));
  });

  it('rejects a ratio outside (0, 1)', () => {
    expect(() => stratifiedRatioSplit(synthetic, { ratio: 1, seed: 0 })).toThrow('ratio must be strictly between 0 and 1, got 1');
  });
});

describe('temporalSplit', () => {
  const dataset = datasetOf([
    ['u1', 'a', 5, 10],
    ['u1', 'b', 4, 20],
    ['u2', 'a', 2, 30],
    ['u2', 'b', 1, 40],
  ]);

  it('trains on ratings before the cutoff and tests on the rest', () => {
    const split = temporalSplit(dataset, { cutoff: 30 });
    expect([Array.from(split.train), Array.from(split.test)]).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });

  it('places the cutoff at the timestamp quantile of trainRatio', () => {
    expect(temporalSplit(dataset, { trainRatio: 0.75 }).cutoff).toBe(40);
  });
});

describe('leaveLastNSplit', () => {
  const dataset = datasetOf([
    ['u1', 'a', 5, 30],
    ['u1', 'b', 4, 10],
    ['u1', 'c', 3, 20],
    ['u2', 'a', 2, 5],
    ['u3', 'a', 2, 5],
    ['u3', 'b', 2, 6],
  ]);

  it("tests on each user's latest rating", () => {
    expect(Array.from(leaveLastNSplit(dataset).test)).toEqual([0, 5]);
  });

  it('keeps at least one rating per user in training', () => {
    expect(Array.from(leaveLastNSplit(dataset, { n: 5 }).train)).toEqual([1, 3, 4]);
  });
});

describe('splitDataset', () => {
  it('shares the user and item index space between train and test', () => {
    const { train, test } = splitDataset(synthetic, kFoldSplits(synthetic, { folds: 3, seed: 0 })[0]);
    expect([train.userIds === synthetic.userIds, test.itemIds === synthetic.itemIds, train.rating.length + test.rating.length]).toEqual([
      true,
      true,
      synthetic.rating.length,
    ]);
  });
});
