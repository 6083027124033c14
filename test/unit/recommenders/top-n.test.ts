import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { prepareForServing, recommendTopN, scoreAllItems, selectTopN } from '../../../lambdas/domain/recommenders/top-n.ts';
import { tinyModel } from '../../helpers/models.ts';

describe('top-N recommendation', () => {
  it('ranks by dot product and leaves out items the user has seen', () => {
    const serving = prepareForServing(tinyModel());

    const { items, fallback } = recommendTopN(serving, 'u1', 3);

    expect(fallback).toBeUndefined();
    expect(items.map((i) => i.itemId)).toEqual(['i1', 'i3', 'i2']);
    expect(items.map((i) => i.rank)).toEqual([1, 2, 3]);
  });

  it('serves the popularity list, flagged, to a user the model has never seen', () => {
    const serving = prepareForServing(tinyModel());

    const { items, fallback } = recommendTopN(serving, 'stranger', 2);

    expect(fallback).toBe('unknown-user');
    expect(items.map((i) => i.itemId)).toEqual(['i4', 'i3']);
  });

  it('returns every unseen item when N exceeds the catalogue', () => {
    const { items } = recommendTopN(prepareForServing(tinyModel()), 'u1', 50);

    expect(items).toHaveLength(4);
  });

  it('scores item bias plus the dot product', () => {
    const model = tinyModel({ itemBias: Float32Array.from([0, 0, 0, 0, 10]) });
    const out = new Float32Array(5);

    scoreAllItems(model, 1, out);

    expect(out[4]).toBeCloseTo(10.1, 5);
    expect(out[2]).toBeCloseTo(0.7, 5);
  });

  it('selects exactly what a full sort would, ties broken by lower index, skipping items masked with −∞', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 70 }),
        fc.array(fc.nat(59), { maxLength: 10 }),
        (values, n, excludedList) => {
          const excluded = new Set(excludedList);
          const scores = Float32Array.from(values, (v, i) => (excluded.has(i) ? Number.NEGATIVE_INFINITY : v));
          const expected = values
            .map((score, index) => ({ score, index }))
            .filter(({ index }) => !excluded.has(index))
            .sort((a, b) => b.score - a.score || a.index - b.index)
            .slice(0, n)
            .map(({ index }) => index);

          expect(Array.from(selectTopN(scores, n))).toEqual(expected);
        },
      ),
      { seed: 7, numRuns: 300 },
    );
  });
});
