import { describe, expect, it } from 'vitest';
import { missingDataWeights, trainImplicitAls } from '../../../../lambdas/domain/recommenders/models/als.ts';
import { RatingsBuilder } from '../../../../lambdas/domain/recommenders/data/dataset.ts';
import { randomPermutation, sfc32 } from '../../../../lambdas/domain/recommenders/data/random.ts';
import { scoreAllItems } from '../../../../lambdas/domain/recommenders/models/common.ts';
import { makePlantedRatings, makeSyntheticRatings } from './fixtures.ts';
import { precisionAt10 } from './helpers.ts';

describe('trainImplicitAls', () => {
  it('never increases the implicit-feedback loss from one iteration to the next', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 80, items: 60, ratingsPerUser: 12, seed: 3 });
    const losses: number[] = [];
    // act
    trainImplicitAls(dataset, { factors: 6, iterations: 8, cgSteps: 6, seed: 1 }, { trackLoss: true, onProgress: (p) => losses.push(p.loss ?? Number.NaN) });
    // assess
    expect(losses).toHaveLength(8);
    for (let step = 1; step < losses.length; step++) expect(losses[step]).toBeLessThanOrEqual(losses[step - 1] * (1 + 1e-9));
    expect(losses[7]).toBeLessThan(losses[0]);
  });

  it('never increases the loss when missing data is weighted by popularity', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 80, items: 60, ratingsPerUser: 12, seed: 3 });
    const losses: number[] = [];
    // act
    trainImplicitAls(
      dataset,
      { factors: 6, iterations: 8, cgSteps: 6, missingExponent: 0.5, seed: 1 },
      { trackLoss: true, onProgress: (p) => losses.push(p.loss ?? Number.NaN) },
    );
    // assess
    for (let step = 1; step < losses.length; step++) expect(losses[step]).toBeLessThanOrEqual(losses[step - 1] * (1 + 1e-9));
    expect(losses[7]).toBeLessThan(losses[0]);
  });

  it('weighs missing items by popularity^exponent, scaled to average one', () => {
    // prepare
    const popularity = [1, 4, 9, 0];
    // act
    const weights = missingDataWeights(popularity, 0.5);
    // assess: raw weights 1, 2, 3, 0 sum to 6; four items, so each is scaled by 4 / 6
    expect(Array.from(weights)).toEqual([1, 2, 3, 0].map((w) => expect.closeTo((w * 4) / 6, 12)));
  });

  it('weighs every missing item one with exponent zero (uniform, as Hu et al.)', () => {
    // prepare
    const popularity = [5, 0, 2];
    // act
    const weights = missingDataWeights(popularity, 0);
    // assess
    expect(Array.from(weights)).toEqual([1, 1, 1]);
  });

  it('rejects a fractional seed, naming the parameter', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 5, items: 5, ratingsPerUser: 2, seed: 1 });
    // act
    const act = (): unknown => trainImplicitAls(dataset, { seed: 1.5 });
    // assess
    expect(act).toThrow(/hyperparameter seed must be an integer/);
  });

  it('gives identical factors for the same seed', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 40, items: 30, ratingsPerUser: 8, seed: 4 });
    // act
    const a = trainImplicitAls(dataset, { factors: 5, iterations: 3, seed: 9 });
    const b = trainImplicitAls(dataset, { factors: 5, iterations: 3, seed: 9 });
    // assess
    expect(b.userFactors).toEqual(a.userFactors);
    expect(b.itemFactors).toEqual(a.itemFactors);
  });

  it('ranks held-out planted tastes better than popularity', () => {
    // prepare
    const dataset = makeSyntheticRatings();
    // act
    const als = precisionAt10(dataset, 'als', { factors: 8 });
    const popularity = precisionAt10(dataset, 'popularity');
    // assess
    expect(als).toBeGreaterThan(popularity * 1.3);
  });

  it('puts the optional popularity prior in the item bias', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 20, items: 15, ratingsPerUser: 5, seed: 6 });
    // act
    const model = trainImplicitAls(dataset, { factors: 2, iterations: 1, popularityWeight: 0.5 });
    // assess
    for (let i = 0; i < 15; i++) expect(model.itemBias[i]).toBeCloseTo(0.5 * Math.log1p(model.itemPopularity[i]), 6);
  });

  it('rejects a negative regularisation, naming the parameter', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 5, items: 5, ratingsPerUser: 2, seed: 1 });
    // act
    const act = (): unknown => trainImplicitAls(dataset, { reg: -1 });
    // assess
    expect(act).toThrow(/reg/);
  });

  it('never increases the loss with frequency-scaled regularisation (Rendle et al.)', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 80, items: 60, ratingsPerUser: 12, seed: 3 });
    const losses: number[] = [];
    // act
    trainImplicitAls(
      dataset,
      { factors: 6, iterations: 8, cgSteps: 6, regExponent: 1, seed: 1 },
      { trackLoss: true, onProgress: (p) => losses.push(p.loss ?? Number.NaN) },
    );
    // assess
    for (let step = 1; step < losses.length; step++) expect(losses[step]).toBeLessThanOrEqual(losses[step - 1] * (1 + 1e-9));
    expect(losses[7]).toBeLessThan(losses[0]);
  });

  it('recovers a planted block structure: each user is recommended items of their own block', () => {
    // prepare: 4 groups of 20 users, 4 blocks of 15 items; a user of group g has 8 items of block g
    const builder = new RatingsBuilder();
    const random = sfc32(11);
    for (let u = 0; u < 80; u++) {
      const block = u % 4;
      const order = Array.from(randomPermutation(15, random)).slice(0, 8);
      for (const j of order) builder.add(`u${u}`, `i${block * 15 + j}`, 4, 0);
    }
    const dataset = builder.build([1, 5]);
    const blockOf = (itemIndex: number): number => Math.floor(Number(dataset.itemIds[itemIndex].slice(1)) / 15);
    // act
    const model = trainImplicitAls(dataset, { factors: 4, iterations: 15, regExponent: 1, reg: 1, seed: 2 });
    const scores = new Float64Array(dataset.itemIds.length);
    let inBlock = 0;
    for (let u = 0; u < 80; u++) {
      scoreAllItems(model, u, scores);
      const seen = new Set(model.seenItems.subarray(model.seenOffsets[u], model.seenOffsets[u + 1]));
      const top = Array.from(scores.keys())
        .filter((i) => !seen.has(i))
        .sort((x, y) => scores[y] - scores[x])
        .slice(0, 5);
      inBlock += top.filter((i) => blockOf(i) === Number(dataset.userIds[u].slice(1)) % 4).length;
    }
    // assess: 7 unseen items are left in each block, so a perfect model puts all 5 there
    expect(inBlock / (80 * 5)).toBeGreaterThan(0.95);
  });
});
