import { describe, expect, it } from 'vitest';
import { RatingsBuilder } from '../../../../lambdas/domain/recommenders/data/dataset.ts';
import { scoreAllItems } from '../../../../lambdas/domain/recommenders/models/common.ts';
import { itemKnnWeights, trainItemKnn } from '../../../../lambdas/domain/recommenders/models/item-knn.ts';
import { binaryInteractions } from '../../../../lambdas/domain/recommenders/models/linalg.ts';
import type { RatingsDataset } from '../../../../lambdas/domain/recommenders/types.ts';
import { makeSyntheticRatings } from './fixtures.ts';
import { precisionAt10 } from './helpers.ts';

/**
 * Four users, items a, b, c, d:
 *   u1: a b      u2: a b c      u3: b c      u4: d a
 * Columns: a = {u1,u2,u4}, b = {u1,u2,u3}, c = {u2,u3}, d = {u4}.
 * cos(a,b) = 2/3, cos(a,c) = 1/sqrt(6), cos(a,d) = 1/sqrt(3), cos(b,c) = 2/sqrt(6),
 * cos(b,d) = 0, cos(c,d) = 0.
 */
function handCase(): RatingsDataset {
  const builder = new RatingsBuilder();
  const rows: [string, string][] = [
    ['u1', 'a'],
    ['u1', 'b'],
    ['u2', 'a'],
    ['u2', 'b'],
    ['u2', 'c'],
    ['u3', 'b'],
    ['u3', 'c'],
    ['u4', 'd'],
    ['u4', 'a'],
  ];
  for (const [user, item] of rows) builder.add(user, item, 5, 0);
  return builder.build([1, 5]);
}

describe('trainItemKnn', () => {
  it('keeps the cosine similarities of each item to its k nearest other items', () => {
    // prepare
    const dataset = handCase();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((id) => dataset.itemIds.indexOf(id));
    const n = dataset.itemIds.length;
    // act
    const W = itemKnnWeights(binaryInteractions(dataset), n, 1);
    // assess: a's nearest is b (2/3); b's is c (2/sqrt(6) = 0.816 > 2/3); c's is b; d's is a
    expect(W[a * n + b]).toBeCloseTo(2 / 3, 12);
    expect(W[a * n + c]).toBe(0);
    expect(W[a * n + d]).toBe(0);
    expect(W[b * n + c]).toBeCloseTo(2 / Math.sqrt(6), 12);
    expect(W[b * n + a]).toBe(0);
    expect(W[c * n + b]).toBeCloseTo(2 / Math.sqrt(6), 12);
    expect(W[d * n + a]).toBeCloseTo(1 / Math.sqrt(3), 12);
    expect(W[a * n + a]).toBe(0);
  });

  it("scores an item by the summed similarities from the user's items", () => {
    // prepare
    const dataset = handCase();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((id) => dataset.itemIds.indexOf(id));
    const u4 = dataset.userIds.indexOf('u4');
    // act: every other item kept (k = 3)
    const model = trainItemKnn(dataset, { neighbours: 3 });
    const scores = scoreAllItems(model, u4, new Float64Array(dataset.itemIds.length));
    // assess: u4 has d and a; score(i) = sim(d, i) + sim(a, i)
    expect(scores[b]).toBeCloseTo(0 + 2 / 3, 6);
    expect(scores[c]).toBeCloseTo(0 + 1 / Math.sqrt(6), 6);
    expect(scores[a]).toBeCloseTo(1 / Math.sqrt(3) + 0, 6);
    expect(scores[d]).toBeCloseTo(0 + 1 / Math.sqrt(3), 6);
    expect(model.factors).toBe(dataset.itemIds.length);
  });

  it('refuses fewer than one neighbour, naming the parameter', () => {
    // act / assess
    expect(() => trainItemKnn(handCase(), { neighbours: 0 })).toThrow(/neighbours/);
  });

  it('ranks held-out tastes better than popularity', () => {
    // prepare
    const dataset = makeSyntheticRatings();
    // act
    const knn = precisionAt10(dataset, 'item-knn', { neighbours: 50 });
    const popularity = precisionAt10(dataset, 'popularity');
    // assess
    expect(knn).toBeGreaterThan(popularity * 1.3);
  });
});
