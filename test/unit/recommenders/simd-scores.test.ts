import { describe, expect, it } from 'vitest';
import { createSimdScorer } from '../../../lambdas/domain/recommenders/simd-scores.ts';
import { prepareForServing, recommendTopN, scoreAllItems } from '../../../lambdas/domain/recommenders/top-n.ts';
import type { FactorModel } from '../../../lambdas/domain/recommenders/types.ts';

/** Seeded values in [-0.5, 0.5). */
function lcg(seed: number) {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0) / 2 ** 32 - 0.5;
}

function randomModel(items: number, factors: number, seed = 11): FactorModel {
  const random = lcg(seed);
  const users = 3;
  return {
    modelId: 'simd-test',
    algorithm: 'test',
    factors,
    userIds: ['a', 'b', 'c'],
    itemIds: Array.from({ length: items }, (_, i) => `i${i}`),
    userFactors: new Float32Array(users * factors).map(random),
    itemFactors: new Float32Array(items * factors).map(random),
    userBias: new Float32Array(users),
    itemBias: new Float32Array(items).map(random),
    globalBias: 0,
    itemPopularity: new Float32Array(items),
    seenOffsets: Int32Array.from([0, 2, 2, 2]),
    seenItems: Int32Array.from([0, 5]),
    ratingScale: [1, 5],
    hyperparameters: {},
    metrics: {},
    trainingData: { fingerprint: 'x', ratings: 0, users, items, source: 'test' },
  };
}

describe('createSimdScorer', () => {
  it.each([8, 16, 64])('scores like scoreAllItems, to float32 precision, with %d factors', (factors) => {
    // Prepare
    const model = randomModel(203, factors);
    const expected = new Float32Array(203);
    scoreAllItems(model, 1, expected);
    const scorer = createSimdScorer(model.itemFactors, model.itemBias, factors)!;

    // Act
    const scores = scorer.score(model.userFactors.subarray(factors, 2 * factors));

    // Assess
    const worst = Math.max(...Array.from(scores, (s, i) => Math.abs(s - expected[i])));
    expect(worst).toBeLessThan(1e-5);
  });

  it.each([0, 2, 12])('declines a model with %d factors (not a positive multiple of 8)', (factors) => {
    const model = randomModel(10, factors);

    expect(createSimdScorer(model.itemFactors, model.itemBias, factors)).toBeUndefined();
  });
});

describe('recommendTopN with the SIMD scorer', () => {
  it('ranks exactly like the scalar path and still leaves out seen items', () => {
    // Prepare
    const model = randomModel(500, 16);
    const simd = prepareForServing(model);
    const scalar = { ...prepareForServing(model), scorer: undefined };

    // Act
    const fast = recommendTopN(simd, 'a', 20);
    const slow = recommendTopN(scalar, 'a', 20);

    // Assess
    expect(simd.scorer).toBeDefined();
    expect(fast.items.map((i) => i.itemId)).toEqual(slow.items.map((i) => i.itemId));
    expect(fast.items.map((i) => i.itemId)).not.toContain('i0');
    expect(fast.items.map((i) => i.itemId)).not.toContain('i5');
  });
});
