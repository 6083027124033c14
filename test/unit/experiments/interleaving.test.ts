import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { InterleavedItem, Preference } from '../../../lambdas/domain/experiments/index.ts';
import { countPreferences, creditClicks, signTest, teamDraftInterleave } from '../../../lambdas/domain/experiments/index.ts';
import { mulberry32 } from '../../../lambdas/domain/recommenders/data/random.ts';

const items = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

/**
 * Cascade-like click model: the user scans top-down and clicks an item with probability
 * `relevance * 0.9^position`. Seeded, so a simulation is reproducible.
 */
function simulateClicks(list: readonly InterleavedItem[], relevant: ReadonlySet<string>, random: () => number): string[] {
  return list.filter((item, position) => random() < (relevant.has(item.item_id) ? 0.6 : 0.05) * 0.9 ** position).map((item) => item.item_id);
}

describe('teamDraftInterleave', () => {
  it('returns a permutation of the union of both lists without duplicates', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 20 }),
        fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 20 }),
        fc.string(),
        fc.string(),
        (a, b, userId, requestId) => {
          const listA = a.map((n) => `item-${n}`);
          const listB = b.map((n) => `item-${n}`);
          const result = teamDraftInterleave({ listA, listB, userId, requestId }).map((i) => i.item_id);
          const union = new Set([...listA, ...listB]);
          return result.length === union.size && new Set(result).size === result.length && result.every((id) => union.has(id));
        },
      ),
      { seed: 101, numRuns: 500 },
    );
  });

  it('is reproducible for the same user and request', () => {
    // Prepare
    const input = { listA: items('a', 10), listB: items('b', 10), userId: 'user-1', requestId: 'req-1' };

    // Act
    const twice = [teamDraftInterleave(input), teamDraftInterleave(input)];

    // Assess
    expect(twice[0]).toEqual(twice[1]);
  });

  it('varies the coin flips between requests', () => {
    // Prepare
    const input = { listA: items('a', 10), listB: items('b', 10), userId: 'user-1' };

    // Act
    const orders = new Set(items('req-', 20).map((requestId) => JSON.stringify(teamDraftInterleave({ ...input, requestId }))));

    // Assess
    expect(orders.size).toBeGreaterThan(1);
  });

  it('keeps the team sizes within one of each other in every prefix', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (userId, requestId) => {
        const result = teamDraftInterleave({ listA: items('a', 12), listB: items('b', 12), userId, requestId });
        let balance = 0;
        return result.every((item) => Math.abs((balance += item.team === 'a' ? 1 : -1)) <= 1);
      }),
      { seed: 111, numRuns: 300 },
    );
  });

  it('preserves each team’s own ranking order', () => {
    // Act
    const result = teamDraftInterleave({ listA: items('a', 8), listB: items('b', 8), userId: 'u', requestId: 'r' });

    // Assess
    expect(result.filter((i) => i.team === 'a').map((i) => i.item_id)).toEqual(items('a', 8));
    expect(result.filter((i) => i.team === 'b').map((i) => i.item_id)).toEqual(items('b', 8));
  });

  it('stops at the requested length', () => {
    expect(teamDraftInterleave({ listA: items('a', 10), listB: items('b', 10), userId: 'u', requestId: 'r', length: 5 })).toHaveLength(5);
  });
});

describe('creditClicks', () => {
  it('credits each click to the team that placed the item', () => {
    // Prepare
    const interleaved: InterleavedItem[] = [
      { item_id: 'x', team: 'a' },
      { item_id: 'y', team: 'b' },
      { item_id: 'z', team: 'b' },
    ];

    // Act
    const credit = creditClicks({ interleaved, clickedItemIds: ['y', 'z', 'z', 'not-shown'] });

    // Assess
    expect(credit).toEqual({ clicks_a: 0, clicks_b: 2, preference: 'b' });
  });

  it('calls an impression without clicks a tie', () => {
    expect(creditClicks({ interleaved: [{ item_id: 'x', team: 'a' }], clickedItemIds: [] }).preference).toBe('tie');
  });
});

describe('signTest', () => {
  it.each([
    // Reference: scipy.stats.binomtest(k, n, 0.5).pvalue
    [60, 40, 0.056888],
    [70, 30, 0.000079],
    [5, 5, 1],
    [0, 10, 0.001953],
  ])('gives %i vs %i wins a two-sided p-value of %f', (wins_a, wins_b, expected) => {
    expect(signTest({ wins_a, wins_b }).p_value).toBeCloseTo(expected, 5);
  });

  it('reports no preference and a delta of 0 without impressions', () => {
    expect(signTest({ wins_a: 0, wins_b: 0 })).toMatchObject({ p_value: 1, delta: 0, preferred: 'none' });
  });

  it('rejects a negative count naming it', () => {
    expect(() => signTest({ wins_a: -1, wins_b: 3 })).toThrowError('wins_a: must be an integer >= 0, got -1');
  });
});

describe('interleaving in simulation', () => {
  /** Preferences of `impressions` simulated users. */
  function simulate(listA: string[], listB: string[], relevant: Set<string>, impressions: number): Preference[] {
    const random = mulberry32(7);
    return Array.from({ length: impressions }, (_, i) => {
      const interleaved = teamDraftInterleave({ listA, listB, userId: `user-${i}`, requestId: `req-${i}`, length: 10 });
      return creditClicks({ interleaved, clickedItemIds: simulateClicks(interleaved, relevant, random) }).preference;
    });
  }

  it('finds no preference between identical lists', () => {
    // Prepare
    const list = items('item-', 20);
    const relevant = new Set(list.filter((_, i) => i % 3 === 0));

    // Act
    const result = signTest(countPreferences(simulate(list, list, relevant, 4000)));

    // Assess
    expect(result.preferred).toBe('none');
    expect(Math.abs(result.delta)).toBeLessThan(0.02);
  });

  it('prefers the list that ranks relevant items higher', () => {
    // Prepare: both lists hold the same 20 items; list b puts the 5 relevant ones first
    const all = items('item-', 20);
    const relevant = new Set(all.slice(15));
    const listA = all;
    const listB = [...all.slice(15), ...all.slice(0, 15)];

    // Act
    const result = signTest(countPreferences(simulate(listA, listB, relevant, 1000)));

    // Assess
    expect(result.preferred).toBe('b');
    expect(result.p_value).toBeLessThan(1e-6);
  });
});
