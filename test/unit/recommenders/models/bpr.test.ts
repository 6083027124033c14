import { describe, expect, it } from 'vitest';
import { trainBpr } from '../../../../lambdas/domain/recommenders/models/bpr.ts';
import { makePlantedRatings, makeSyntheticRatings } from './fixtures.ts';
import { precisionAt10 } from './helpers.ts';

describe('trainBpr', () => {
  it('gives identical factors for the same seed', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 40, items: 30, ratingsPerUser: 8, seed: 4 });
    // act
    const a = trainBpr(dataset, { factors: 5, epochs: 3, seed: 2 });
    const b = trainBpr(dataset, { factors: 5, epochs: 3, seed: 2 });
    // assess
    expect(b.userFactors).toEqual(a.userFactors);
    expect(b.itemFactors).toEqual(a.itemFactors);
    expect(b.itemBias).toEqual(a.itemBias);
  });

  it('raises the log-likelihood of the sampled preferences while training', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 80, items: 60, ratingsPerUser: 12, seed: 3 });
    const losses: number[] = [];
    // act
    trainBpr(dataset, { factors: 8, epochs: 10 }, { onProgress: (p) => losses.push(p.loss ?? Number.NaN) });
    // assess
    expect(losses[9]).toBeLessThan(losses[0]);
  });

  it('ranks held-out planted tastes better than popularity', () => {
    // prepare
    const dataset = makeSyntheticRatings();
    // act
    const bpr = precisionAt10(dataset, 'bpr', { factors: 8, epochs: 30 });
    const popularity = precisionAt10(dataset, 'popularity');
    // assess
    expect(bpr).toBeGreaterThan(popularity * 1.3);
  });
});
