import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addIncrements, planCounterGroups, type Increments } from '../../../lambdas/domain/events/counters.ts';
import { acceptEvent, type EventInput } from '../../../lambdas/domain/events/event.ts';
import {
  attributeInterleavedEvent,
  preferenceOf,
  preferenceTransition,
  type StoredImpression,
  type TeamClicks,
} from '../../../lambdas/domain/events/interleaving-credit.ts';
import { creditClicks, type InterleavedItem } from '../../../lambdas/domain/experiments/interleaving.ts';

const NOW = Date.parse('2026-11-23T10:00:00Z');
const impression: StoredImpression = {
  event_id: 'imp-r1',
  user_id: 'u1',
  experiment_id: 'il',
  counted: true,
  slate: [
    { item_id: 'x', position: 1, score: 3, team: 'a', variant: 'control' },
    { item_id: 'y', position: 2, score: 2, team: 'b', variant: 'treatment' },
  ],
};
const input = (overrides: Partial<EventInput> = {}): EventInput => ({
  event_type: 'click',
  user_id: 'u1',
  experiment_id: 'il',
  item_id: 'y',
  request_id: 'r1',
  ...overrides,
});
const accepted = (overrides: Partial<EventInput> = {}) => acceptEvent(input(overrides), NOW);

describe('attributeInterleavedEvent', () => {
  it("credits a click to the team that placed the item, under the team's variant, for the preference", () => {
    // Act
    const attributed = attributeInterleavedEvent(input(), impression);

    // Assess
    expect(attributed).toEqual({
      variant: 'treatment',
      interleaving: { kind: 'credited', team: 'b', impressionId: 'imp-r1', itemId: 'y', countsForPreference: true },
    });
  });

  it('credits a purchase to its team without moving the preference (its click already did)', () => {
    // Act
    const attributed = attributeInterleavedEvent(input({ event_type: 'purchase', item_id: 'x' }), impression);

    // Assess
    expect(attributed).toMatchObject({ variant: 'control', interleaving: { kind: 'credited', team: 'a', countsForPreference: false } });
  });

  it.each([
    ['a rating', input({ event_type: 'rating', value: 4 }), impression, 'not-a-click'],
    ['a click without request_id', input({ request_id: undefined }), impression, 'no-request-id'],
    ['a click whose impression was never recorded', input(), undefined, 'impression-not-found'],
    ['a click on an impression whose counting failed', input(), { ...impression, counted: false }, 'impression-not-counted'],
    ["a click on another user's impression", input({ user_id: 'u2' }), impression, 'other-user-or-experiment'],
    ['a click on an item not in the slate', input({ item_id: 'z' }), impression, 'item-not-in-slate'],
    ['a click on a slate without teams', input(), { ...impression, slate: [{ item_id: 'y', position: 1, score: 1 }] }, 'not-interleaved'],
  ])('credits %s to nobody, under the interleaving counter', (_case, event, stored, reason) => {
    // Act
    const attributed = attributeInterleavedEvent(event, stored);

    // Assess
    expect(attributed).toEqual({ variant: '~interleaving', interleaving: { kind: 'uncredited', reason } });
  });
});

describe('preferenceTransition', () => {
  it('moves a tie to a win for b when b gets the first click', () => {
    expect(preferenceTransition({ a: 0, b: 0 }, { a: 0, b: 1 })).toEqual({ interleaving_wins_a: 0, interleaving_wins_b: 1 });
  });

  it('moves a win for b back to a tie when a catches up', () => {
    expect(preferenceTransition({ a: 1, b: 2 }, { a: 2, b: 2 })).toEqual({ interleaving_wins_a: 0, interleaving_wins_b: -1 });
  });

  it('sums, over any order of credits and undos on one impression, to exactly the final preference (as creditClicks calls it)', () => {
    const slate: InterleavedItem[] = ['p', 'q', 'r', 's', 't', 'u'].map((item_id, i) => ({ item_id, team: i % 2 === 0 ? 'a' : 'b' }));
    fc.assert(
      fc.property(fc.array(fc.record({ item: fc.integer({ min: 0, max: 5 }), undo: fc.boolean() }), { maxLength: 30 }), (steps) => {
        // Prepare: replay credits (once per item) and undos (only of a credited item), as the store does
        const credited = new Set<string>();
        let clicks: TeamClicks = { a: 0, b: 0 };
        const wins: Increments = {};

        // Act
        for (const { item, undo } of steps) {
          const { item_id, team } = slate[item];
          if (undo === credited.has(item_id)) {
            const after = { ...clicks, [team]: clicks[team] + (undo ? -1 : 1) };
            addIncrements(wins, preferenceTransition(clicks, after));
            clicks = after;
            if (undo) credited.delete(item_id);
            else credited.add(item_id);
          }
        }

        // Assess
        const final = creditClicks({ interleaved: slate, clickedItemIds: credited }).preference;
        expect(preferenceOf(clicks)).toBe(final);
        expect([wins.interleaving_wins_a ?? 0, wins.interleaving_wins_b ?? 0]).toEqual([final === 'a' ? 1 : 0, final === 'b' ? 1 : 0]);
      }),
    );
  });
});

describe('planCounterGroups for interleaving events', () => {
  it('counts an interleaved slate as an interleaved impression, with no user aggregate', () => {
    // Act
    const [group] = planCounterGroups([
      { event: accepted({ event_type: 'impression', item_id: undefined }), variant: '~interleaving', interleaving: { kind: 'impression' } },
    ]);

    // Assess
    expect(group.increments).toEqual({ impressions: 1, interleaved_impressions: 1 });
    expect(group.userDeltas.size).toBe(0);
  });

  it('lists the clicks that move a preference, and leaves purchases and uncredited clicks out', () => {
    // Prepare
    const events = [
      {
        event: accepted({ event_id: 'c1' }),
        variant: 'treatment',
        interleaving: { kind: 'credited', team: 'b', impressionId: 'imp-r1', itemId: 'y', countsForPreference: true } as const,
      },
      {
        event: accepted({ event_id: 'p1', event_type: 'purchase' }),
        variant: 'treatment',
        interleaving: { kind: 'credited', team: 'b', impressionId: 'imp-r1', itemId: 'y', countsForPreference: false } as const,
      },
      {
        event: accepted({ event_id: 'c2', request_id: undefined }),
        variant: '~interleaving',
        interleaving: { kind: 'uncredited', reason: 'no-request-id' } as const,
      },
    ];

    // Act
    const groups = planCounterGroups(events);

    // Assess
    expect(groups.map((g) => [g.variant, g.credits.map((c) => c.eventId), g.userDeltas.size])).toEqual([
      ['treatment', ['c1'], 0],
      ['~interleaving', [], 0],
    ]);
    expect(groups[0].increments).toEqual({ clicks: 1, conversions: 1, revenue_n: 1, revenue_sum: 0, revenue_sum_sq: 0 });
  });
});
