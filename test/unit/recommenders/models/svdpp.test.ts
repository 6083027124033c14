import { describe, expect, it } from 'vitest';
import { predictRating } from '../../../../lambdas/domain/recommenders/models/common.ts';
import { trainSvdpp } from '../../../../lambdas/domain/recommenders/models/svdpp.ts';
import { trainSvd, trainSvdTuned } from '../../../../lambdas/domain/recommenders/models/svd.ts';
import { makeSyntheticRatings } from './fixtures.ts';
import { heldOutRmse } from './helpers.ts';

describe('trainSvdpp', () => {
  it('predicts held-out ratings better than SVD with Surprise settings and the tuned SVD', () => {
    // prepare
    const dataset = makeSyntheticRatings(7);
    // act
    const svdpp = heldOutRmse(dataset, (train) => trainSvdpp(train));
    const svd = heldOutRmse(dataset, (train) => trainSvd(train));
    const tuned = heldOutRmse(dataset, (train) => trainSvdTuned(train));
    // assess
    expect(svdpp).toBeLessThan(svd - 0.02);
    expect(svdpp).toBeLessThan(tuned);
  });

  it('lowers its training error epoch after epoch', () => {
    // prepare
    const dataset = makeSyntheticRatings(7);
    const losses: number[] = [];
    // act
    trainSvdpp(dataset, { epochs: 6 }, { onProgress: (progress) => losses.push(progress.loss ?? Number.NaN) });
    // assess
    expect(losses).toHaveLength(6);
    expect(losses[5]).toBeLessThan(losses[0]);
  });

  it('gives the same factors for the same seed and predictions on the rating scale', () => {
    // prepare
    const dataset = makeSyntheticRatings(7);
    // act
    const model = trainSvdpp(dataset, { epochs: 3 });
    const again = trainSvdpp(dataset, { epochs: 3 });
    const predictions = Array.from({ length: 50 }, (_, r) => predictRating(model, dataset.userIndex[r], dataset.itemIndex[r]));
    // assess
    expect(again.userFactors).toEqual(model.userFactors);
    expect(again.itemFactors).toEqual(model.itemFactors);
    expect(Math.min(...predictions)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...predictions)).toBeLessThanOrEqual(5);
  });

  it('refuses a negative learning rate, naming it', () => {
    // act / assess
    expect(() => trainSvdpp(makeSyntheticRatings(7), { lr: -1 })).toThrow(/lr/);
  });
});
