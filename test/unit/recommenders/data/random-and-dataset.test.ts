import { describe, expect, it } from 'vitest';
import {
  RatingsBuilder,
  attachItems,
  ratingsByItem,
  ratingsByUser,
  subsetRatings,
  summarizeDataset,
} from '../../../../lambdas/domain/recommenders/data/dataset.ts';
import { parseRatings } from '../../../../lambdas/domain/recommenders/data/formats.ts';
import { deriveSeed, mulberry32, randomPermutation, shuffleInPlace, standardNormal } from '../../../../lambdas/domain/recommenders/data/random.ts';

describe('mulberry32', () => {
  it('produces the reference sequence for seed 0', () => {
    // Reference values of the published mulberry32 (first three draws, seed 0).
    const rng = mulberry32(0);
    expect([rng(), rng(), rng()].map((x) => Math.round(x * 4294967296))).toEqual([1144304738, 1416247, 958946056]);
  });

  it('stays within [0, 1)', () => {
    const rng = mulberry32(123);
    const draws = Array.from({ length: 10_000 }, rng);
    expect(draws.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('rejects a non-integer seed', () => {
    expect(() => mulberry32(0.5)).toThrow('seed must be an integer, got 0.5');
  });
});

describe('random helpers', () => {
  it('deriveSeed gives different streams for different stream numbers', () => {
    expect(new Set([0, 1, 2, 3].map((stream) => deriveSeed(42, stream))).size).toBe(4);
  });

  it('randomPermutation is a permutation', () => {
    expect(Array.from(randomPermutation(50, mulberry32(1))).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('shuffleInPlace only touches the given range', () => {
    const values = [0, 1, 2, 3, 4, 5, 6, 7];
    shuffleInPlace(values, mulberry32(3), 2, 6);
    expect([values.slice(0, 2), values.slice(6), values.slice(2, 6).sort()]).toEqual([
      [0, 1],
      [6, 7],
      [2, 3, 4, 5],
    ]);
  });

  it('standardNormal has mean about 0 and variance about 1', () => {
    const rng = mulberry32(5);
    const draws = Array.from({ length: 20_000 }, () => standardNormal(rng));
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    const variance = draws.reduce((a, b) => a + (b - mean) ** 2, 0) / draws.length;
    expect([Math.abs(mean) < 0.03, Math.abs(variance - 1) < 0.05]).toEqual([true, true]);
  });
});

describe('dataset helpers', () => {
  const dataset = parseRatings('10\t1\t5\t100\n20\t2\t3\t200\n10\t3\t4\t300\n', { fileName: 'u.data' });

  it('ratingsByUser groups item indices by user in row order', () => {
    const csr = ratingsByUser(dataset);
    expect([Array.from(csr.offsets), Array.from(csr.indices), Array.from(csr.rows)]).toEqual([
      [0, 2, 3],
      [0, 2, 1],
      [0, 2, 1],
    ]);
  });

  it('ratingsByItem groups user indices by item', () => {
    expect(Array.from(ratingsByItem(dataset).indices)).toEqual([0, 1, 0]);
  });

  it('subsetRatings keeps the index space', () => {
    const subset = subsetRatings(dataset, [2]);
    expect([Array.from(subset.userIndex), Array.from(subset.itemIndex), subset.userIds]).toEqual([[0], [2], ['10', '20']]);
  });

  it('attachItems aligns metadata to item indices', () => {
    const withItems = attachItems(dataset, [{ itemId: '3', title: 'C', genres: [] }]);
    expect(withItems.items).toEqual([undefined, undefined, { itemId: '3', title: 'C', genres: [] }]);
  });

  it('attachItems can append unrated catalogue items', () => {
    const withItems = attachItems(dataset, [{ itemId: '9', title: 'Unrated', genres: [] }], { includeUnratedItems: true });
    expect(withItems.itemIds).toEqual(['1', '2', '3', '9']);
  });

  it('summarizeDataset reports counts, mean and shares', () => {
    const summary = summarizeDataset(dataset);
    expect([summary.ratings, summary.users, summary.items, summary.meanRating, summary.ratingShares]).toEqual([
      3,
      2,
      3,
      4,
      { '3': 1 / 3, '4': 1 / 3, '5': 1 / 3 },
    ]);
  });

  it('summarizeDataset of an empty data set has no NaN', () => {
    const summary = summarizeDataset(new RatingsBuilder().build([1, 5]));
    expect(Object.values(summary).filter((value) => typeof value === 'number' && !Number.isFinite(value))).toEqual([]);
  });
});

describe('large inputs', () => {
  // About 20 MB of u.data: crosses the parser's 16 MB decoding chunk.
  const lines = 900_000;
  const text = `${Array.from({ length: lines }, (_, k) => `${1 + (k % 5000)}\t${1 + Math.floor(k / 5000)}\t${1 + (k % 5)}\t${880000000 + k}`).join('\n')}\n`;
  const bytes = Uint8Array.from(Buffer.from(text, 'latin1'));

  it('parses every row across decoding chunks', () => {
    const dataset = parseRatings(bytes, { fileName: 'big.data' });
    expect([dataset.rating.length, dataset.timestamp[lines - 1], dataset.userIds.length]).toEqual([lines, 880000000 + lines - 1, 5000]);
  });

  it('numbers lines correctly after the first chunk', () => {
    const broken = new Uint8Array(bytes.length + 4);
    broken.set(bytes);
    broken.set(Buffer.from('1\t2\n', 'latin1'), bytes.length);
    expect(() => parseRatings(broken, { fileName: 'big.data' })).toThrow(`big.data line ${lines + 1}: expected 4`);
  });
});
