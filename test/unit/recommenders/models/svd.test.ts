import { describe, expect, it } from 'vitest';
import { trainBaseline } from '../../../../lambdas/domain/recommenders/models/baseline.ts';
import { predictRating } from '../../../../lambdas/domain/recommenders/models/common.ts';
import { trainSvd, trainSvdTuned } from '../../../../lambdas/domain/recommenders/models/svd.ts';
import type { RatingsDataset } from '../../../../lambdas/domain/recommenders/types.ts';
import { makePlantedRatings, makeSyntheticRatings } from './fixtures.ts';
import { heldOutRmse } from './helpers.ts';

/** Three ratings by three different users of three different items: their updates do not interact. */
function threeRatings(): RatingsDataset {
  return {
    userIndex: Int32Array.from([0, 1, 2]),
    itemIndex: Int32Array.from([0, 1, 2]),
    rating: Float32Array.from([5, 3, 1]),
    timestamp: Float64Array.from([1, 2, 3]),
    userIds: ['a', 'b', 'c'],
    itemIds: ['x', 'y', 'z'],
    ratingScale: [1, 5],
  };
}

describe('trainSvd (Surprise SVD reference)', () => {
  // 2: the remainder loop only; 5: one unrolled block of four plus the remainder; 8: two blocks.
  it.each([2, 5, 8])('applies the Surprise SGD update equations to each rating with %i factors', (k) => {
    // prepare
    const dataset = threeRatings();
    const settings = { factors: k, lr: 0.05, reg: 0.1, lrBias: 0.05, regBias: 0.1, initStd: 0.5, seed: 11 };
    const initial = trainSvd(dataset, { ...settings, epochs: 0 });
    const mu = 3;
    // act
    const trained = trainSvd(dataset, { ...settings, epochs: 1 });
    // assess
    expect(trained.globalBias).toBeCloseTo(mu, 10);
    for (let n = 0; n < 3; n++) {
      const p = Array.from(initial.userFactors.subarray(k * n, k * n + k));
      const q = Array.from(initial.itemFactors.subarray(k * n, k * n + k));
      const err = dataset.rating[n] - (mu + p.reduce((sum, pf, f) => sum + pf * q[f], 0));
      expect(trained.userBias[n]).toBeCloseTo(0.05 * err, 6);
      expect(trained.itemBias[n]).toBeCloseTo(0.05 * err, 6);
      for (let f = 0; f < k; f++) {
        expect(trained.userFactors[k * n + f]).toBeCloseTo(p[f] + 0.05 * (err * q[f] - 0.1 * p[f]), 6);
        expect(trained.itemFactors[k * n + f]).toBeCloseTo(q[f] + 0.05 * (err * p[f] - 0.1 * q[f]), 6);
      }
    }
  });

  it('reshuffles the ratings between epochs by default, as the reference', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 40, items: 50, ratingsPerUser: 10, seed: 1 });
    const settings = { factors: 4, epochs: 3, seed: 5 };
    // act
    const reshuffled = trainSvd(dataset, settings);
    const fixedOrder = trainSvd(dataset, { ...settings, reshuffle: 0 });
    // assess
    expect(reshuffled.hyperparameters.reshuffle).toBe(1);
    expect(fixedOrder.userFactors).not.toEqual(reshuffled.userFactors);
  });

  it('differs between reshuffling and a fixed order only from the second epoch', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 40, items: 50, ratingsPerUser: 10, seed: 1 });
    const settings = { factors: 4, epochs: 1, seed: 5 };
    // act
    const reshuffled = trainSvd(dataset, settings);
    const fixedOrder = trainSvd(dataset, { ...settings, reshuffle: 0 });
    // assess
    expect(fixedOrder.userFactors).toEqual(reshuffled.userFactors);
    expect(fixedOrder.itemBias).toEqual(reshuffled.itemBias);
  });

  it.each([
    ['reshuffle', 2],
    ['baselineInit', 0.5],
  ])('rejects %s = %s, naming the parameter', (name, value) => {
    // prepare
    const dataset = threeRatings();
    // act
    const act = (): unknown => trainSvd(dataset, { factors: 2, epochs: 1, [name]: value });
    // assess
    expect(act).toThrow(new RegExp(`hyperparameter ${name} must be 0 or 1`));
  });

  it('uses Surprise SVD defaults: 100 factors, 20 epochs, lr 0.005, reg 0.02, init std 0.1', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 20, items: 30, ratingsPerUser: 6, seed: 1 });
    // act
    const model = trainSvd(dataset);
    // assess
    expect(model.factors).toBe(100);
    expect(model.hyperparameters).toMatchObject({ factors: 100, epochs: 20, lr: 0.005, reg: 0.02, lrBias: 0.005, regBias: 0.02, initStd: 0.1 });
  });

  it('gives identical factors for the same seed and different ones for another seed', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 40, items: 50, ratingsPerUser: 10, seed: 1 });
    // act
    const a = trainSvd(dataset, { factors: 8, epochs: 3, seed: 5 });
    const b = trainSvd(dataset, { factors: 8, epochs: 3, seed: 5 });
    const c = trainSvd(dataset, { factors: 8, epochs: 3, seed: 6 });
    // assess
    expect(b.userFactors).toEqual(a.userFactors);
    expect(b.itemFactors).toEqual(a.itemFactors);
    expect(b.itemBias).toEqual(a.itemBias);
    expect(c.userFactors).not.toEqual(a.userFactors);
  });

  it('clips predictions to the rating scale', () => {
    // prepare
    const dataset = threeRatings();
    const model = trainSvd(dataset, { factors: 2, epochs: 1 });
    const extreme = { ...model, globalBias: 40 };
    // act
    const prediction = predictRating(extreme, 0, 0);
    // assess
    expect(prediction).toBe(5);
  });

  it('refuses to return a diverged model', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 20, items: 30, ratingsPerUser: 6, seed: 1 });
    // act
    const act = (): unknown => trainSvd(dataset, { factors: 4, epochs: 20, lr: 50 });
    // assess
    expect(act).toThrow(/diverged/);
  });

  it('gives users without training ratings zero factors', () => {
    // prepare
    const dataset = { ...threeRatings(), userIds: ['a', 'b', 'c', 'ghost'] };
    // act
    const model = trainSvd(dataset, { factors: 3, epochs: 2 });
    // assess
    expect(Array.from(model.userFactors.subarray(9, 12))).toEqual([0, 0, 0]);
  });

  it('predicts held-out planted ratings better than the global mean', () => {
    // prepare
    const dataset = makeSyntheticRatings();
    // act
    const svd = heldOutRmse(dataset, (train) => trainSvd(train));
    const mean = heldOutRmse(dataset, (train) => trainBaseline(train, { epochs: 0 }));
    // assess
    expect(svd).toBeLessThan(mean * 0.9);
  });
});

describe('trainSvdTuned', () => {
  it('uses the cross-validated settings by default: 16 factors, 20 epochs, lr 0.1 decaying 7% per epoch, reg 0.12, one order', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 20, items: 30, ratingsPerUser: 6, seed: 1 });
    // act
    const model = trainSvdTuned(dataset);
    // assess
    expect(model.algorithm).toBe('svd-tuned');
    expect(model.factors).toBe(16);
    expect(model.hyperparameters).toMatchObject({
      factors: 16,
      epochs: 20,
      lr: 0.1,
      reg: 0.12,
      lrBias: 0.01,
      regBias: 0.02,
      initStd: 0.05,
      lrDecay: 0.93,
      baselineInit: 1,
      reshuffle: 0,
    });
  });

  it('gives identical models for the same seed', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 40, items: 50, ratingsPerUser: 10, seed: 1 });
    // act
    const a = trainSvdTuned(dataset, { seed: 3 });
    const b = trainSvdTuned(dataset, { seed: 3 });
    // assess
    expect(b.userFactors).toEqual(a.userFactors);
    expect(b.itemFactors).toEqual(a.itemFactors);
    expect(b.userBias).toEqual(a.userBias);
  });

  it('predicts held-out planted ratings better than the bias-only baseline', () => {
    // prepare
    const dataset = makeSyntheticRatings();
    // act
    const tuned = heldOutRmse(dataset, (train) => trainSvdTuned(train));
    const baseline = heldOutRmse(dataset, (train) => trainBaseline(train));
    // assess
    expect(tuned).toBeLessThan(baseline);
  });

  it('predicts held-out planted ratings better than the reference settings', () => {
    // prepare
    const dataset = makeSyntheticRatings();
    // act
    const tuned = heldOutRmse(dataset, (train) => trainSvdTuned(train));
    const reference = heldOutRmse(dataset, (train) => trainSvd(train));
    // assess
    expect(tuned).toBeLessThan(reference);
  });
});
