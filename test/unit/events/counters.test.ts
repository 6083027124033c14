import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  COUNTER_SHARDS,
  addIncrements,
  addTotals,
  counterShard,
  negateTotals,
  planCounterGroups,
  subtractTotals,
  userStatIncrements,
  userTotalsDelta,
  ZERO_TOTALS,
  type Increments,
  type UserTotals,
} from '../../../lambdas/domain/events/counters.ts';
import { acceptEvent, counterIncrements, type EventType } from '../../../lambdas/domain/events/event.ts';

const NOW = Date.parse('2026-11-23T10:00:00Z');
const event = (id: string, userId: string, type: EventType, value?: number) =>
  acceptEvent(
    { event_id: id, event_type: type, user_id: userId, experiment_id: 'exp', item_id: type === 'click' || type === 'purchase' ? 'i1' : undefined, value },
    NOW,
  );
const totals = (clicks: number, impressions: number, purchases = 0): UserTotals => ({ ...ZERO_TOTALS, clicks, impressions, purchases });

describe('userStatIncrements', () => {
  it('adds (c+dc)² − c², (m+dm)² − m² and (c+dc)(m+dm) − c·m when a user goes from 2 clicks, 5 impressions to 3 and 7', () => {
    // Act
    const increments = userStatIncrements(totals(2, 5), totals(3, 7));

    // Assess
    expect(increments).toMatchObject({ user_clicks_sq_sum: 9 - 4, user_impressions_sq_sum: 49 - 25, user_clicks_impressions_sum: 21 - 10 });
    // The user already had a click: no clicker to add (a field that does not change is left out).
    expect(increments).not.toHaveProperty('clickers');
  });

  it("counts a clicker and a converter on the user's first click and first purchase", () => {
    // Act
    const increments = userStatIncrements(ZERO_TOTALS, totals(1, 0, 1));

    // Assess
    expect(increments).toMatchObject({ clickers: 1, converters: 1 });
  });

  it('takes the clicker back when an undo returns the user to no clicks', () => {
    // Act
    const increments = userStatIncrements(totals(1, 4), totals(0, 4));

    // Assess
    expect(increments).toMatchObject({ clickers: -1, user_clicks_sq_sum: -1, user_clicks_impressions_sum: -4 });
  });

  it('cancels exactly: a change followed by its undo adds nothing', () => {
    // Prepare
    const before = totals(3, 8, 1);
    const after = addTotals(before, totals(2, 1, 0));

    // Act
    const net = addIncrements(userStatIncrements(before, after), userStatIncrements(after, subtractTotals(after, totals(2, 1, 0))));

    // Assess
    expect(Object.values(net).every((v) => v === 0)).toBe(true);
  });

  it('sums to Σc², Σm², Σc·m and the user counts over any interleaving of changes and undos', () => {
    // Prepare
    const change = fc.record({
      user: fc.integer({ min: 0, max: 4 }),
      clicks: fc.integer({ min: 0, max: 3 }),
      impressions: fc.integer({ min: 0, max: 5 }),
      purchases: fc.integer({ min: 0, max: 1 }),
      undo: fc.boolean(),
    });

    fc.assert(
      fc.property(fc.array(change, { maxLength: 40 }), (changes) => {
        // Act: apply every change (and, for some, its undo later) and record each increment.
        const state = new Map<number, UserTotals>();
        const recorded: Increments = {};
        const pendingUndos: { user: number; delta: UserTotals }[] = [];
        const apply = (user: number, delta: UserTotals) => {
          const before = state.get(user) ?? ZERO_TOTALS;
          const after = addTotals(before, delta);
          state.set(user, after);
          addIncrements(recorded, userStatIncrements(before, after));
        };
        for (const c of changes) {
          const delta = totals(c.clicks, c.impressions, c.purchases);
          apply(c.user, delta);
          if (c.undo) pendingUndos.push({ user: c.user, delta });
        }
        for (const u of pendingUndos) apply(u.user, negateTotals(u.delta));

        // Assess
        const users = [...state.values()];
        const sum = (f: (t: UserTotals) => number) => users.reduce((s, t) => s + f(t), 0);
        expect(recorded.user_clicks_sq_sum ?? 0).toBe(sum((t) => t.clicks ** 2));
        expect(recorded.user_impressions_sq_sum ?? 0).toBe(sum((t) => t.impressions ** 2));
        expect(recorded.user_clicks_impressions_sum ?? 0).toBe(sum((t) => t.clicks * t.impressions));
        expect(recorded.clickers ?? 0).toBe(sum((t) => (t.clicks > 0 ? 1 : 0)));
        expect(recorded.converters ?? 0).toBe(sum((t) => (t.purchases > 0 ? 1 : 0)));
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});

describe('userTotalsDelta', () => {
  it.each([
    ['impression', totals(0, 1)],
    ['click', totals(1, 0)],
    ['purchase', totals(0, 0, 1)],
    ['rating', ZERO_TOTALS],
    ['watch_time', ZERO_TOTALS],
  ] as const)('maps a %s to its change of the user totals', (type, expected) => {
    expect(userTotalsDelta({ event_type: type })).toEqual(expected);
  });
});

describe('counterIncrements', () => {
  it('counts an impression served from a fallback as a fallback impression too, and a cold-start one apart', () => {
    expect(counterIncrements({ event_type: 'impression', fallback: 'unknown-user' })).toEqual({
      impressions: 1,
      fallback_impressions: 1,
      fallback_cold_start_impressions: 1,
    });
  });

  it('counts a personalised impression only as an impression', () => {
    expect(counterIncrements({ event_type: 'impression', fallback: null })).toEqual({ impressions: 1 });
  });
});

describe('counterShard', () => {
  it('is a stable shard in [0, COUNTER_SHARDS) of the key', () => {
    fc.assert(
      fc.property(fc.string(), (key) => {
        const shard = counterShard(key);
        expect(Number.isInteger(shard) && shard >= 0 && shard < COUNTER_SHARDS).toBe(true);
        expect(counterShard(key)).toBe(shard);
      }),
    );
  });

  it('spreads request ids evenly, so no daily-counter item takes much more than its share of the writes', () => {
    // Prepare: 32,000 impression ids shaped like the ones /recommend writes.
    const counts = new Array<number>(COUNTER_SHARDS).fill(0);
    for (let i = 0; i < 32_000; i++) counts[counterShard(`imp-${i.toString(16).padStart(8, '0')}-4f1c-9a2b-${i % 7919}`)]++;

    // Assess: chi-square goodness of fit with 15 degrees of freedom; 30.58 is its 0.99 quantile
    // (scipy.stats.chi2.ppf(0.99, 15)), so a uniform hash fails this 1 % of the time at most
    // and the fixed ids make the outcome deterministic.
    const expected = 32_000 / COUNTER_SHARDS;
    const chiSquare = counts.reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
    expect(chiSquare).toBeLessThan(30.58);
    expect(Math.max(...counts) / expected).toBeLessThan(1.05);
  });
});

describe('planCounterGroups', () => {
  it('coalesces events into one group per (experiment, variant, day) with summed increments', () => {
    // Prepare
    const events = [
      { event: event('a', 'u1', 'click'), variant: 'control' },
      { event: event('b', 'u1', 'purchase', 4), variant: 'control' },
      { event: event('c', 'u2', 'rating', 5), variant: 'treatment' },
      { event: event('d', 'u3', 'click'), variant: 'control' },
    ];

    // Act
    const groups = planCounterGroups(events);

    // Assess
    expect(groups.map((g) => [g.variant, g.day, g.eventIds])).toEqual([
      ['control', '2026-11-23', ['a', 'b', 'd']],
      ['treatment', '2026-11-23', ['c']],
    ]);
    expect(groups[0].increments).toEqual({ clicks: 2, conversions: 1, revenue_n: 1, revenue_sum: 4, revenue_sum_sq: 16 });
    // Each group writes the daily-counter shard of its first event id.
    expect(groups.map((g) => g.shard)).toEqual([counterShard('a'), counterShard('c')]);
  });

  it("sums each user's changes into one delta and leaves out users whose totals do not change", () => {
    // Prepare
    const events = [
      { event: event('a', 'u1', 'click'), variant: 'control' },
      { event: event('b', 'u1', 'click'), variant: 'control' },
      { event: event('c', 'u1', 'impression'), variant: 'control' },
      { event: event('d', 'u2', 'rating', 4), variant: 'control' },
      { event: event('e', 'u3', 'watch_time', 30.25), variant: 'control' },
      { event: event('f', 'u3', 'purchase', 0.145), variant: 'control' },
    ];

    // Act
    const [group] = planCounterGroups(events);

    // Assess: a rating changes no total; watch time and revenue are kept in milliseconds and cents.
    expect([...group.userDeltas]).toEqual([
      ['u1', totals(2, 1)],
      ['u3', { ...ZERO_TOTALS, purchases: 1, revenue_cents: 15, watch_ms: 30_250 }],
    ]);
  });
});
