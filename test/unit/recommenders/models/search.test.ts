import { describe, expect, it } from 'vitest';
import { gridCandidates, randomCandidates, searchHyperparameters } from '../../../../lambdas/domain/recommenders/models/search.ts';
import { makePlantedRatings, makeSyntheticRatings } from './fixtures.ts';

describe('gridCandidates', () => {
  it('enumerates every combination, the last parameter varying fastest', () => {
    // prepare
    const space = { factors: [4, 8], reg: [0.1, 1] };
    // act
    const grid = gridCandidates(space);
    // assess
    expect(grid).toEqual([
      { factors: 4, reg: 0.1 },
      { factors: 4, reg: 1 },
      { factors: 8, reg: 0.1 },
      { factors: 8, reg: 1 },
    ]);
  });
});

describe('randomCandidates', () => {
  it('draws the same distinct candidates for the same seed', () => {
    // prepare
    const space = { a: [1, 2, 3, 4], b: [1, 2, 3, 4] };
    // act
    const first = randomCandidates(space, 5, 3);
    const second = randomCandidates(space, 5, 3);
    // assess
    expect(second).toEqual(first);
    expect(new Set(first.map((c) => JSON.stringify(c))).size).toBe(5);
  });
});

describe('searchHyperparameters', () => {
  it('picks the setting with the lowest cross-validated RMSE', () => {
    // prepare
    const dataset = makeSyntheticRatings();
    // act
    const result = searchHyperparameters({ dataset, model: 'svd', space: { epochs: [0, 20] }, base: { factors: 10 }, folds: 2, metric: 'rmse', seed: 0 });
    // assess
    expect(result.best).toMatchObject({ epochs: 20, factors: 10 });
    expect(result.trials).toHaveLength(2);
    expect(result.bestScore).toBe(Math.min(...result.trials.map((t) => t.score)));
  });

  it('maximises ranking metrics', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 60, items: 50, ratingsPerUser: 10, seed: 2 });
    // act
    const result = searchHyperparameters({
      dataset,
      model: 'als',
      space: { iterations: [0, 5] },
      base: { factors: 4 },
      folds: 2,
      metric: 'precision_at_k',
      seed: 0,
    });
    // assess
    expect(result.bestScore).toBe(Math.max(...result.trials.map((t) => t.score)));
  });

  it('rejects a hyperparameter the model does not have', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 10, items: 10, ratingsPerUser: 3, seed: 2 });
    // act
    const act = (): unknown => searchHyperparameters({ dataset, model: 'popularity', space: { factors: [1] }, folds: 2, metric: 'precision_at_k', seed: 0 });
    // assess
    expect(act).toThrow(/unknown hyperparameter 'factors'/);
  });
});
