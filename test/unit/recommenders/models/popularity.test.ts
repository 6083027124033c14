import { describe, expect, it } from 'vitest';
import { trainPopularity } from '../../../../lambdas/domain/recommenders/models/popularity.ts';
import { makePlantedRatings } from './fixtures.ts';

describe('trainPopularity', () => {
  it('scores items by log(1 + training count) with no factors', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 30, items: 20, ratingsPerUser: 8, seed: 2 });
    // act
    const model = trainPopularity(dataset);
    // assess
    expect(model.factors).toBe(0);
    expect(model.userFactors.length).toBe(0);
    for (let i = 0; i < dataset.itemIds.length; i++) expect(model.itemBias[i]).toBeCloseTo(Math.log1p(model.itemPopularity[i]), 6);
  });

  it('counts training interactions per item in itemPopularity', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 10, items: 12, ratingsPerUser: 5, seed: 3 });
    const expected = new Float32Array(12);
    for (const item of dataset.itemIndex) expected[item]++;
    // act
    const model = trainPopularity(dataset);
    // assess
    expect(Array.from(model.itemPopularity)).toEqual(Array.from(expected));
  });

  it('records each user’s training items as sorted CSR rows', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 6, items: 15, ratingsPerUser: 4, seed: 4 });
    // act
    const model = trainPopularity(dataset);
    // assess
    expect(model.seenOffsets.length).toBe(7);
    for (let u = 0; u < 6; u++) {
      const rated = [...new Set(Array.from(dataset.itemIndex).filter((_, r) => dataset.userIndex[r] === u))].sort((a, b) => a - b);
      expect(Array.from(model.seenItems.subarray(model.seenOffsets[u], model.seenOffsets[u + 1]))).toEqual(rated);
    }
  });

  it('fingerprints the training data independently of row order', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 8, items: 10, ratingsPerUser: 4, seed: 5 });
    const reversed = {
      ...dataset,
      userIndex: dataset.userIndex.slice().reverse(),
      itemIndex: dataset.itemIndex.slice().reverse(),
      rating: dataset.rating.slice().reverse(),
      timestamp: dataset.timestamp.slice().reverse(),
    };
    // act
    const a = trainPopularity(dataset).trainingData;
    const b = trainPopularity(reversed).trainingData;
    // assess
    expect(a.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(b.fingerprint).toBe(a.fingerprint);
    expect(a).toMatchObject({ ratings: dataset.rating.length, users: 8 });
  });

  it('fingerprints the training data independently of how ids were mapped to indices', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 8, items: 10, ratingsPerUser: 4, seed: 5 });
    const users = dataset.userIds.length;
    const remapped = {
      ...dataset,
      userIds: [...dataset.userIds].reverse(),
      userIndex: dataset.userIndex.map((u) => users - 1 - u),
    };
    // act
    const a = trainPopularity(dataset).trainingData.fingerprint;
    const b = trainPopularity(remapped).trainingData.fingerprint;
    // assess
    expect(b).toBe(a);
  });

  it('gives a different fingerprint when one rating changes', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 8, items: 10, ratingsPerUser: 4, seed: 5 });
    const changed = { ...dataset, rating: dataset.rating.map((r, row) => (row === 3 ? (r === 5 ? 4 : r + 1) : r)) };
    // act
    const a = trainPopularity(dataset).trainingData.fingerprint;
    const b = trainPopularity(changed).trainingData.fingerprint;
    // assess
    expect(b).not.toBe(a);
  });
});
