/** Small hand-made factor models for tests. */
import type { FactorModel } from '../../lambdas/domain/recommenders/types.ts';

/**
 * 3 users x 5 items x 2 factors. User "u1" likes items along factor 0, "u2" along factor 1;
 * "u1" has seen item "i0". Popularity: i4 > i3 > i2 > i1 > i0.
 */
export function tinyModel(overrides: Partial<FactorModel> = {}): FactorModel {
  return {
    modelId: 'tiny',
    algorithm: 'test',
    factors: 2,
    userIds: ['u1', 'u2', 'u3'],
    itemIds: ['i0', 'i1', 'i2', 'i3', 'i4'],
    userFactors: Float32Array.from([1, 0, 0, 1, 0.5, 0.5]),
    itemFactors: Float32Array.from([0.9, 0, 0.8, 0.1, 0.1, 0.7, 0.2, 0.2, 0, 0.1]),
    userBias: new Float32Array(3),
    itemBias: new Float32Array(5),
    globalBias: 3.5,
    itemPopularity: Float32Array.from([1, 2, 3, 4, 5]),
    seenOffsets: Int32Array.from([0, 1, 1, 1]),
    seenItems: Int32Array.from([0]),
    ratingScale: [1, 5],
    hyperparameters: { factors: 2 },
    metrics: {},
    trainingData: { fingerprint: 'test', ratings: 1, users: 3, items: 5, source: 'test' },
    ...overrides,
  };
}
