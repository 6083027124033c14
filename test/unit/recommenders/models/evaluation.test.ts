import { describe, expect, it } from 'vitest';
import { evaluateRanking, evaluateRating } from '../../../../lambdas/domain/recommenders/evaluation.ts';
import { trainPopularity } from '../../../../lambdas/domain/recommenders/models/popularity.ts';
import type { ModelDefinition } from '../../../../lambdas/domain/recommenders/models/registry.ts';
import type { RatingsDataset } from '../../../../lambdas/domain/recommenders/types.ts';
import { makePlantedRatings } from './fixtures.ts';

/**
 * A model that scores every item the user rated anywhere (train or test) 1 and the rest 0:
 * perfect on the held-out items only if the training items are removed from the candidates.
 */
function oracleFor(full: RatingsDataset): ModelDefinition {
  return {
    name: 'popularity',
    summary: 'test oracle',
    task: 'ranking',
    defaults: {},
    needsItems: false,
    train: (train) => {
      const base = trainPopularity(train);
      const items = full.itemIds.length;
      const userFactors = new Float32Array(full.userIds.length * items);
      for (let r = 0; r < full.rating.length; r++) userFactors[full.userIndex[r] * items + full.itemIndex[r]] = 1;
      const itemFactors = new Float32Array(items * items);
      for (let i = 0; i < items; i++) itemFactors[i * items + i] = 1;
      return { ...base, factors: items, userFactors, itemFactors, itemBias: new Float32Array(items) };
    },
  };
}

describe('evaluateRating', () => {
  it('tests on folds of equal size (within one) that together cover every rating once', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 30, items: 40, ratingsPerUser: 7, seed: 1 });
    // act
    const result = evaluateRating({ dataset, model: 'baseline', folds: 4, seed: 0 });
    // assess
    const sizes = result.per_fold.map((fold) => fold.test);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(dataset.rating.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    for (const fold of result.per_fold) expect(fold.train + fold.test).toBe(dataset.rating.length);
  });

  it('reports the means of the per-fold rmse, mae and fit seconds', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 30, items: 40, ratingsPerUser: 7, seed: 1 });
    // act
    const result = evaluateRating({ dataset, model: 'baseline', folds: 3, seed: 0 });
    // assess
    const mean = (key: 'rmse' | 'mae' | 'fit_seconds'): number => result.per_fold.reduce((sum, fold) => sum + fold[key], 0) / 3;
    expect(result.rmse).toBeCloseTo(mean('rmse'), 12);
    expect(result.mae).toBeCloseTo(mean('mae'), 12);
    expect(result.fit_seconds).toBeCloseTo(mean('fit_seconds'), 12);
    expect(result.rmse).toBeGreaterThanOrEqual(result.mae);
  });

  it('gives the same figures for the same seed', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 30, items: 40, ratingsPerUser: 7, seed: 1 });
    // act
    const a = evaluateRating({ dataset, model: 'svd', params: { factors: 4, epochs: 3 }, folds: 3, seed: 5 });
    const b = evaluateRating({ dataset, model: 'svd', params: { factors: 4, epochs: 3 }, folds: 3, seed: 5 });
    // assess
    expect(b.rmse).toBe(a.rmse);
  });

  it('rejects fewer than two folds', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 5, items: 5, ratingsPerUser: 2, seed: 1 });
    // act
    const act = (): unknown => evaluateRating({ dataset, model: 'baseline', folds: 1, seed: 0 });
    // assess
    expect(act).toThrow(/folds/);
  });
});

describe('evaluateRanking', () => {
  it('evaluates every user with at least two ratings (none is lost in the split)', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 25, items: 30, ratingsPerUser: 4, seed: 2 });
    // act
    const result = evaluateRanking({ dataset, model: 'popularity', split: 0.75, k: 5, seed: 42 });
    // assess
    expect(result.users_evaluated).toBe(25);
  });

  it('removes training items from the candidates', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 20, items: 40, ratingsPerUser: 8, seed: 3 });
    // act
    const result = evaluateRanking({ dataset, model: oracleFor(dataset), split: 0.75, k: 10, seed: 42 });
    // assess: every held-out item (2 per user) reaches the top 10
    expect(result.recall_at_k).toBe(1);
    expect(result.precision_at_k).toBeCloseTo(0.2, 12);
    expect(result.auc).toBe(1);
  });

  it('reports every metric of the protocol within [0, 1]', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 20, items: 40, ratingsPerUser: 8, seed: 3 });
    // act
    const result = evaluateRanking({ dataset, model: 'popularity', split: 0.75, k: 10, seed: 42 });
    // assess
    for (const key of ['precision_at_k', 'recall_at_k', 'f1_at_k', 'ndcg_at_k', 'map_at_k', 'auc', 'coverage'] as const) {
      expect(result[key]).toBeGreaterThanOrEqual(0);
      expect(result[key]).toBeLessThanOrEqual(1);
    }
  });

  it('rejects a split outside (0, 1)', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 5, items: 5, ratingsPerUser: 2, seed: 1 });
    // act
    const act = (): unknown => evaluateRanking({ dataset, model: 'popularity', split: 1, k: 10, seed: 0 });
    // assess
    expect(act).toThrow(/split/);
  });
});
