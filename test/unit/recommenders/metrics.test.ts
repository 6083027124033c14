import { describe, expect, it } from 'vitest';
import {
  averagePrecisionAtK,
  catalogueCoverage,
  evaluateRanking,
  f1AtK,
  mae,
  ndcgAtK,
  precisionAtK,
  recallAtK,
  rmse,
  topK,
  userAuc,
} from '../../../lambdas/domain/recommenders/metrics.ts';

/*
 * nDCG and AUC reference values were computed once with this numpy-free Python and pasted below:
 *
 *   import math
 *   def ndcg(rec, rel, k):
 *       dcg = sum(1/math.log2(r+2) for r, i in enumerate(rec[:k]) if i in rel)
 *       idcg = sum(1/math.log2(r+2) for r in range(min(k, len(rel))))
 *       return dcg/idcg
 *   def auc(scores, rel, excluded):
 *       cand = [i for i in range(len(scores)) if i not in excluded]
 *       pos = [i for i in cand if i in rel]; neg = [i for i in cand if i not in rel]
 *       s = 0.0
 *       for p in pos:
 *           for n in neg:
 *               s += 1.0 if scores[p] > scores[n] else 0.5 if scores[p] == scores[n] else 0.0
 *       return s/(len(pos)*len(neg))
 *   rec=[3,1,7,5,9,2]; rel={1,5,8,2}
 *   for k in (3,5,10): print(ndcg(rec, rel, k))
 *   scores=[0.9,0.1,0.4,0.4,0.7,0.2,0.4,0.8]
 *   print(auc(scores, {0,2,5}, {7}), auc(scores, {0,2,5}, set()))
 */
const PYTHON_NDCG = { 3: 0.2960819109658652, 5: 0.4144299250118475, 10: 0.553486104522623 };
const PYTHON_AUC_EXCLUDING_7 = 0.5833333333333334;
const PYTHON_AUC_ALL_ITEMS = 0.5333333333333333;

const recommended = [3, 1, 7, 5, 9, 2];
const relevant = new Set([1, 5, 8, 2]);

describe('rating metrics', () => {
  it('rmse is the root of the mean squared error', () => {
    expect(rmse([1, 2, 3, 4], [2, 2, 3, 2])).toBeCloseTo(Math.sqrt(5 / 4), 12);
  });

  it('mae is the mean absolute error', () => {
    expect(mae([1, 2, 3, 4], [2, 2, 3, 2])).toBeCloseTo(3 / 4, 12);
  });

  it('rejects predictions of a different length', () => {
    expect(() => rmse([1, 2], [1])).toThrow(/differ in length \(2 vs 1\)/);
  });

  it('rejects an empty set instead of returning NaN', () => {
    expect(() => mae([], [])).toThrow(/empty/);
  });
});

describe('per-user ranking metrics', () => {
  it('precision@5 counts hits over k', () => {
    expect(precisionAtK(recommended, relevant, 5)).toBeCloseTo(2 / 5, 12);
  });

  it('precision@k divides by k even when the list is shorter', () => {
    expect(precisionAtK([1, 5], relevant, 10)).toBeCloseTo(2 / 10, 12);
  });

  it('recall@5 counts hits over the relevant items', () => {
    expect(recallAtK(recommended, relevant, 5)).toBeCloseTo(2 / 4, 12);
  });

  it('f1@5 is the harmonic mean of precision and recall', () => {
    expect(f1AtK(recommended, relevant, 5)).toBeCloseTo((2 * 0.4 * 0.5) / 0.9, 12);
  });

  it('f1 is 0, not NaN, without hits', () => {
    expect(f1AtK([3, 7], relevant, 2)).toBe(0);
  });

  it('AP@5 averages precision at hit ranks over min(k, |relevant|)', () => {
    // hits at ranks 2 and 4: (1/2 + 2/4) / min(5, 4)
    expect(averagePrecisionAtK(recommended, relevant, 5)).toBeCloseTo(0.25, 12);
  });

  it('AP@2 normalises by k when fewer than |relevant| can fit', () => {
    // hit at rank 2 only: (1/2) / min(2, 4)
    expect(averagePrecisionAtK(recommended, relevant, 2)).toBeCloseTo(0.25, 12);
  });

  it('AP is 1 for a perfect list', () => {
    expect(averagePrecisionAtK([1, 5, 8, 2, 0], relevant, 10)).toBe(1);
  });

  it('nDCG@5 matches the hand computation', () => {
    const dcg = 1 / Math.log2(3) + 1 / Math.log2(5);
    const ideal = 1 + 1 / Math.log2(3) + 1 / Math.log2(4) + 1 / Math.log2(5);
    expect(ndcgAtK(recommended, relevant, 5)).toBeCloseTo(dcg / ideal, 12);
  });

  it.each([3, 5, 10] as const)('nDCG@%i matches the Python reference', (k) => {
    expect(ndcgAtK(recommended, relevant, k)).toBeCloseTo(PYTHON_NDCG[k], 12);
  });

  it('nDCG is 1 for a perfect list', () => {
    expect(ndcgAtK([2, 8, 5, 1], relevant, 4)).toBeCloseTo(1, 12);
  });

  it('rejects k below 1', () => {
    expect(() => precisionAtK(recommended, relevant, 0)).toThrow(/k must be a positive integer/);
  });
});

describe('userAuc', () => {
  const scores = [0.9, 0.1, 0.4, 0.4, 0.7, 0.2, 0.4, 0.8];
  const positives = new Set([0, 2, 5]);

  it('matches the Python reference with ties and a training item excluded', () => {
    expect(userAuc(scores, positives, [7])).toBeCloseTo(PYTHON_AUC_EXCLUDING_7, 12);
  });

  it('matches the Python reference over all items', () => {
    expect(userAuc(scores, positives)).toBeCloseTo(PYTHON_AUC_ALL_ITEMS, 12);
  });

  it('is 1 when every positive outscores every negative', () => {
    expect(userAuc([3, 2, 1, 0], new Set([0, 1]))).toBe(1);
  });

  it('is 0.5 when all scores tie', () => {
    expect(userAuc([1, 1, 1, 1], new Set([0]))).toBe(0.5);
  });

  it('is undefined without negatives', () => {
    expect(userAuc([1, 2], new Set([0, 1]))).toBeUndefined();
  });
});

describe('topK', () => {
  it('returns the best indices in descending score order', () => {
    expect(Array.from(topK([0.1, 0.9, 0.5, 0.7, 0.3], 3))).toEqual([1, 3, 2]);
  });

  it('skips excluded (training) items', () => {
    expect(Array.from(topK([0.1, 0.9, 0.5, 0.7, 0.3], 3, [1, 3]))).toEqual([2, 4, 0]);
  });

  it('breaks ties by the lower index', () => {
    expect(Array.from(topK([1, 2, 2, 1, 2], 4))).toEqual([1, 2, 4, 0]);
  });

  it('returns fewer than k when fewer candidates remain', () => {
    expect(Array.from(topK([1, 2, 3], 5, [0]))).toEqual([2, 1]);
  });

  it('ranks NaN last', () => {
    expect(Array.from(topK([NaN, 1, 2], 3))).toEqual([2, 1, 0]);
  });

  it('agrees with a full sort on random scores', () => {
    const scores = Array.from({ length: 500 }, (_, i) => (Math.sin(i * 12.9898) * 43758.5453) % 1);
    const expected = Array.from(scores.keys())
      .sort((a, b) => scores[b] - scores[a] || a - b)
      .slice(0, 20);
    expect(Array.from(topK(scores, 20))).toEqual(expected);
  });
});

describe('catalogueCoverage', () => {
  it('is the share of items recommended to at least one user', () => {
    expect(
      catalogueCoverage(
        [
          [0, 1],
          [1, 2],
          [2, 0],
        ],
        10,
      ),
    ).toBeCloseTo(0.3, 12);
  });
});

describe('evaluateRanking', () => {
  // 2 users, 4 items. User 0 trained on item 0, holds out items 1 and 3;
  // user 1 trained on items 1 and 2, holds out item 0. Scores are item-index based: 3 > 2 > 1 > 0.
  const train = { offsets: Int32Array.from([0, 1, 3]), indices: Int32Array.from([0, 1, 2]) };
  const test = { offsets: Int32Array.from([0, 2, 3]), indices: Int32Array.from([1, 3, 0]) };
  const result = evaluateRanking({
    train,
    test,
    itemCount: 4,
    k: 2,
    scoreUser: (_user, out) => out.set([0, 1, 2, 3]),
  });

  it('averages precision over users, excluding training items from the top k', () => {
    // user 0 gets [3, 2]: 1 hit; user 1 gets [3, 0]: 1 hit
    expect(result.precisionAtK).toBeCloseTo(0.5, 12);
  });

  it('averages recall over users', () => {
    expect(result.recallAtK).toBeCloseTo((1 / 2 + 1) / 2, 12);
  });

  it('averages AUC over candidates that exclude training items', () => {
    // user 0: candidates 1, 2, 3; positives 1 and 3 vs negative 2 -> 1/2. user 1: positive 0 vs negative 3 -> 0.
    expect(result.auc).toBeCloseTo(0.25, 12);
  });

  it('reports coverage of the catalogue by the top-k lists', () => {
    expect(result.coverage).toBeCloseTo(3 / 4, 12);
  });

  it('counts only users with held-out items', () => {
    expect(result.users).toBe(2);
  });
});
