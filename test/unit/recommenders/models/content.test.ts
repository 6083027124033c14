import { describe, expect, it } from 'vitest';
import { buildVocabulary, CONTENT_DEFAULTS, itemTerms, trainContent } from '../../../../lambdas/domain/recommenders/models/content.ts';
import { scoreAllItems } from '../../../../lambdas/domain/recommenders/models/common.ts';
import type { ItemMetadata, RatingsDataset } from '../../../../lambdas/domain/recommenders/types.ts';
import { makePlantedRatings } from './fixtures.ts';
import { precisionAt10 } from './helpers.ts';

const CATALOGUE: ItemMetadata[] = [
  { itemId: '1', title: 'Die Hard (1988)', genres: ['Action', 'Thriller'] },
  { itemId: '2', title: 'Speed (1994)', genres: ['Action', 'Thriller'] },
  { itemId: '3', title: 'Notting Hill (1999)', genres: ['Comedy', 'Romance'] },
  { itemId: '4', title: 'Sleepless in Seattle (1993)', genres: ['Comedy', 'Romance'] },
  { itemId: '5', title: 'Heat (1995)', genres: ['Action', 'Crime'] },
  { itemId: '6', title: 'Emma (1996)', genres: ['Romance'] },
];

/** User a liked the first action film; user b liked the first romantic comedy. */
function twoUsers(): RatingsDataset {
  return {
    userIndex: Int32Array.from([0, 1, 0]),
    itemIndex: Int32Array.from([0, 2, 5]),
    rating: Float32Array.from([5, 5, 1]),
    timestamp: Float64Array.from([1, 2, 3]),
    userIds: ['a', 'b'],
    itemIds: CATALOGUE.map((item) => item.itemId),
    items: CATALOGUE,
    ratingScale: [1, 5],
  };
}

describe('trainContent', () => {
  it('ranks items of the liked genres first', () => {
    // prepare
    const model = trainContent(twoUsers());
    const scores = new Float64Array(6);
    // act
    scoreAllItems(model, 0, scores);
    const order = [1, 2, 3, 4, 5].sort((x, y) => scores[y] - scores[x]);
    // assess
    expect(order.slice(0, 2).sort()).toEqual([1, 4]);
  });

  it('scores by cosine: unit-length item vectors and profiles', () => {
    // prepare
    const model = trainContent(twoUsers());
    const d = model.factors;
    // act
    const norm = (values: Float32Array, row: number): number => Math.hypot(...values.subarray(row * d, row * d + d));
    // assess
    expect(norm(model.itemFactors, 0)).toBeCloseTo(1, 5);
    expect(norm(model.userFactors, 1)).toBeCloseTo(1, 5);
  });

  it('builds its profile from liked items only (rating >= 4)', () => {
    // prepare
    const model = trainContent(twoUsers());
    const scores = new Float64Array(6);
    // act
    scoreAllItems(model, 0, scores);
    // assess: the disliked Emma (Romance) does not pull romance up
    expect(scores[3]).toBeLessThan(scores[1]);
  });

  it('caps the vocabulary at maxTerms', () => {
    // prepare
    const items = CATALOGUE;
    // act
    const vocabulary = buildVocabulary(items, { ...CONTENT_DEFAULTS, maxTerms: 3, minDocumentFrequency: 1 });
    // assess
    expect(vocabulary).toHaveLength(3);
    expect(vocabulary.every((term) => term.startsWith('genre:'))).toBe(true);
  });

  it('takes title words without the year and stop words', () => {
    // prepare
    const item = { itemId: '9', title: 'Lord of the Rings, The (2001)', genres: ['Fantasy'] };
    // act
    const terms = itemTerms(item);
    // assess
    expect(terms).toEqual({ genres: ['genre:fantasy'], words: ['lord', 'rings'] });
  });

  it('refuses to train without item metadata', () => {
    // prepare
    const { items: _items, ...withoutItems } = twoUsers();
    // act
    const act = (): unknown => trainContent(withoutItems);
    // assess
    expect(act).toThrow(/item metadata/);
  });

  it('ranks held-out planted genre tastes better than popularity', () => {
    // prepare
    const dataset = makePlantedRatings({ users: 200, items: 150, ratingsPerUser: 25, genres: 5, seed: 5 });
    // act
    const content = precisionAt10(dataset, 'content');
    const popularity = precisionAt10(dataset, 'popularity');
    // assess
    expect(content).toBeGreaterThan(popularity);
  });
});
