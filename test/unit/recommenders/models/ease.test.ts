import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RatingsBuilder } from '../../../../lambdas/domain/recommenders/data/dataset.ts';
import { HyperparameterError, scoreAllItems } from '../../../../lambdas/domain/recommenders/models/common.ts';
import { easeWeights, trainEase } from '../../../../lambdas/domain/recommenders/models/ease.ts';
import { binaryInteractions, invertSymmetricPositiveDefinite } from '../../../../lambdas/domain/recommenders/models/linalg.ts';
import type { FactorModel, RatingsDataset } from '../../../../lambdas/domain/recommenders/types.ts';
import { makeSyntheticRatings } from './fixtures.ts';
import { precisionAt10 } from './helpers.ts';

/** numpy's EASE on a tiny matrix (test/reference/recommenders/make_ease.py). */
const reference = JSON.parse(readFileSync(new URL('../../../reference/recommenders/ease.json', import.meta.url), 'utf8')) as {
  users: number[][];
  items: number;
  lambda: number;
  rank: number;
  B: number[][];
  scores: number[][];
  scores_rank: number[][];
};

/** The reference's users and items as a data set; items first appear in index order, so item index = reference index. */
function referenceDataset(): RatingsDataset {
  const builder = new RatingsBuilder();
  reference.users.forEach((items, u) => {
    for (const item of items) builder.add(`u${u}`, `i${item}`, 4, 0);
  });
  const dataset = builder.build([1, 5]);
  expect(dataset.itemIds).toEqual(Array.from({ length: reference.items }, (_, i) => `i${i}`));
  return dataset;
}

function scoreMatrix(model: FactorModel, users: number): number[][] {
  const out = new Float64Array(model.itemIds.length);
  return Array.from({ length: users }, (_, u) => Array.from(scoreAllItems(model, u, out)));
}

describe('invertSymmetricPositiveDefinite', () => {
  it('inverts a symmetric positive definite matrix (A A^-1 = I)', () => {
    // prepare: A = M M^T + I for a fixed M
    const n = 4;
    const m = [1, 2, 0, -1, 0.5, 1, 3, 0, 2, -1, 1, 1, 0, 0, 2, 1];
    const A = new Float64Array(n * n);
    for (let a = 0; a < n; a++)
      for (let b = 0; b < n; b++) {
        for (let k = 0; k < n; k++) A[a * n + b] += m[a * n + k] * m[b * n + k];
        if (a === b) A[a * n + b] += 1;
      }
    const inverse = Float64Array.from(A);
    // act
    invertSymmetricPositiveDefinite(inverse, n);
    // assess
    for (let a = 0; a < n; a++)
      for (let b = 0; b < n; b++) {
        let product = 0;
        for (let k = 0; k < n; k++) product += A[a * n + k] * inverse[k * n + b];
        expect(product).toBeCloseTo(a === b ? 1 : 0, 12);
      }
  });

  it('refuses a matrix that is not positive definite', () => {
    // prepare
    const singular = Float64Array.from([1, 1, 1, 1]);
    // act / assess
    expect(() => invertSymmetricPositiveDefinite(singular, 2)).toThrow(HyperparameterError);
  });
});

describe('trainEase', () => {
  it("computes numpy's B = I - P diag(1/diag P) with P = (X^T X + lambda I)^-1", () => {
    // prepare: the first user's items are i0, i1, i2 as in the reference
    const dataset = referenceDataset();
    // act
    const B = easeWeights(binaryInteractions(dataset), reference.items, reference.lambda);
    // assess
    for (let j = 0; j < reference.items; j++) for (let i = 0; i < reference.items; i++) expect(B[j * reference.items + i]).toBeCloseTo(reference.B[j][i], 12);
  });

  it('serves exact EASE scores X B from item-count factors (user = 0/1 row, item = column of B)', () => {
    // prepare
    const dataset = referenceDataset();
    // act
    const model = trainEase(dataset, { lambda: reference.lambda, rank: 0 });
    // assess
    expect(model.factors).toBe(reference.items);
    expect(model.algorithm).toBe('ease');
    scoreMatrix(model, reference.users.length).forEach((row, u) => {
      row.forEach((score, i) => {
        expect(score).toBeCloseTo(reference.scores[u][i], 6);
      });
    });
  });

  it('counts a repeated (user, item) pair once, as the binary matrix does', () => {
    // prepare
    const builder = new RatingsBuilder();
    reference.users.forEach((items, u) => {
      for (const item of items) builder.add(`u${u}`, `i${item}`, 4, 0);
    });
    builder.add('u0', 'i1', 5, 10);
    // act
    const B = easeWeights(binaryInteractions(builder.build([1, 5])), reference.items, reference.lambda);
    // assess
    expect(B[1]).toBeCloseTo(reference.B[0][1], 12);
  });

  it("distils to the best rank-k approximation of the training users' scores (numpy's truncated SVD)", () => {
    // prepare
    const dataset = referenceDataset();
    // act
    const model = trainEase(dataset, { lambda: reference.lambda, rank: reference.rank, powerIterations: 40 }, {}, 'ease-lowrank');
    // assess
    expect(model.factors).toBe(reference.rank);
    expect(model.algorithm).toBe('ease-lowrank');
    scoreMatrix(model, reference.users.length).forEach((row, u) => {
      row.forEach((score, i) => {
        expect(score).toBeCloseTo(reference.scores_rank[u][i], 5);
      });
    });
  });

  it('refuses lambda <= 0 and a rank above the number of items, naming the parameter', () => {
    // prepare
    const dataset = referenceDataset();
    // act / assess
    expect(() => trainEase(dataset, { lambda: 0 })).toThrow(/lambda/);
    expect(() => trainEase(dataset, { rank: reference.items + 1 })).toThrow(/rank/);
  });

  it('ranks planted tastes well above popularity, exactly and distilled', () => {
    // prepare
    const dataset = makeSyntheticRatings();
    // act
    const popularity = precisionAt10(dataset, 'popularity');
    const exact = precisionAt10(dataset, 'ease', { lambda: 100 });
    const distilled = precisionAt10(dataset, 'ease-lowrank', { lambda: 100, rank: 16 });
    // assess
    expect(exact).toBeGreaterThan(popularity * 1.5);
    expect(distilled).toBeGreaterThan(popularity * 1.5);
  });
});
