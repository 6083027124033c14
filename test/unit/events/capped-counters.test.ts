/**
 * The capped user-level sums (counters.ts, caps.ts) and the exact arithmetic under them
 * (exact.ts): written as increments of each user's capped totals, summed over any order of
 * changes and undos, they must equal the sums over users of min(total, K) and its square.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addIncrements,
  addTotals,
  negateTotals,
  userStatIncrements,
  ZERO_TOTALS,
  type Increments,
  type UserTotals,
} from '../../../lambdas/domain/events/counters.ts';
import { exactAdd, exactMultiply, exactNegate, exactSubtract, normaliseExact, toMinorUnits } from '../../../lambdas/domain/events/exact.ts';
import { DEFAULT_USER_CAPS, type UserCaps } from '../../../lambdas/domain/experiments/caps.ts';

const big = (n: number | bigint) => BigInt(n);

describe('exact counter arithmetic', () => {
  it('adds, subtracts and multiplies integers exactly past 2^53, and gives a number back once the result fits', () => {
    // Prepare
    const max = Number.MAX_SAFE_INTEGER;

    // Act / Assess
    expect(exactAdd(max, 2)).toBe(2n ** 53n + 1n);
    expect(exactSubtract(exactAdd(max, 2), 2)).toBe(max);
    expect(exactMultiply(2 ** 40, 2 ** 40)).toBe(2n ** 80n);
    expect(exactMultiply(3, 5)).toBe(15);
    expect(exactNegate(0)).toBe(0);
    expect(Object.is(exactNegate(0), -0)).toBe(false);
    expect(normaliseExact(2n ** 53n - 1n)).toBe(max);
  });

  it('keeps float sums (values) in double precision', () => {
    expect(exactAdd(0.1, 0.2)).toBe(0.1 + 0.2);
    expect(exactMultiply(1.5, 3)).toBe(4.5);
  });

  it('is exact for any integers: the BigInt result of a + b and a × b', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), (a, b) => {
        const asExact = (v: bigint) => normaliseExact(v);
        expect(big(exactAdd(asExact(a), asExact(b)))).toBe(a + b);
        expect(big(exactMultiply(asExact(a), asExact(b)))).toBe(a * b);
      }),
      { seed: 7, numRuns: 500 },
    );
  });

  it.each([
    [0.145, 100, 15],
    [19.99, 100, 1999],
    [100_000, 100, 10_000_000],
    [0.000001, 100, 0],
    [30.25, 1000, 30_250],
    [86_400, 1000, 86_400_000],
  ])('takes %s in units of 1/%s as %s (decimal rounding, not binary)', (value, scale, expected) => {
    expect(toMinorUnits(value, scale)).toBe(expected);
  });
});

describe('capped user-level sums', () => {
  const totals = (t: Partial<UserTotals>): UserTotals => ({ ...ZERO_TOTALS, ...t });

  it('adds min(after, K) − min(before, K), the square increment and the user at the cap when a user crosses the cap', () => {
    // Prepare: a clicks cap of 3; the user goes from 2 to 5 clicks.
    const caps: UserCaps = { ...DEFAULT_USER_CAPS, clicks: 3 };

    // Act
    const increments = userStatIncrements(totals({ clicks: 2, impressions: 4 }), totals({ clicks: 5, impressions: 4 }), caps);

    // Assess
    expect(increments).toMatchObject({
      user_clicks_sq_sum: 25 - 4,
      capped_clicks: 1,
      capped_clicks_sq_sum: 9 - 4,
      users_at_clicks_cap: 1,
      capped_clicks_impressions_sum: 3 * 4 - 2 * 4,
    });
  });

  it('adds nothing capped once the user is past the cap', () => {
    const caps: UserCaps = { ...DEFAULT_USER_CAPS, revenue_cents: 1000 };
    const increments = userStatIncrements(totals({ purchases: 2, revenue_cents: 1500 }), totals({ purchases: 3, revenue_cents: 2500 }), caps);
    expect(increments).toMatchObject({ revenue_cents: 1000, user_revenue_cents_sq_sum: 2500 ** 2 - 1500 ** 2 });
    expect(Object.keys(increments).filter((field) => field.includes('revenue') && (field.startsWith('capped_') || field.startsWith('users_at_')))).toEqual([]);
  });

  it('computes squares past 2^53 exactly, as BigInts', () => {
    // Prepare: a user at 2.8e10 cents (14 days of 200 purchases of 100,000) buys once more.
    const before = totals({ purchases: 2800, revenue_cents: 28_000_000_000 });
    const after = totals({ purchases: 2801, revenue_cents: 28_010_000_000 });

    // Act
    const increments = userStatIncrements(before, after);

    // Assess
    expect(increments.user_revenue_cents_sq_sum).toBe(28_010_000_000n ** 2n - 28_000_000_000n ** 2n);
  });

  it('sums to Σ min(total, K), Σ min(total, K)² and the users at each cap over any interleaving of changes and undos', () => {
    // Prepare
    const change = fc.record({
      user: fc.integer({ min: 0, max: 4 }),
      clicks: fc.integer({ min: 0, max: 3 }),
      impressions: fc.integer({ min: 0, max: 5 }),
      purchases: fc.integer({ min: 0, max: 1 }),
      revenue_cents: fc.integer({ min: 0, max: 10_000_000 }),
      watch_ms: fc.integer({ min: 0, max: 86_400_000 }),
      undo: fc.boolean(),
    });
    const capsArb = fc.record({
      clicks: fc.integer({ min: 1, max: 6 }),
      impressions: fc.integer({ min: 1, max: 10 }),
      purchases: fc.integer({ min: 1, max: 3 }),
      revenue_cents: fc.integer({ min: 1, max: 20_000_000 }),
      watch_ms: fc.integer({ min: 1, max: 200_000_000 }),
    });

    fc.assert(
      fc.property(fc.array(change, { maxLength: 40 }), capsArb, (changes, caps) => {
        // Act: apply every change (and, for some, its undo later) and record each increment.
        const state = new Map<number, UserTotals>();
        const recorded: Increments = {};
        const pendingUndos: { user: number; delta: UserTotals }[] = [];
        const apply = (user: number, delta: UserTotals) => {
          const before = state.get(user) ?? ZERO_TOTALS;
          const after = addTotals(before, delta);
          state.set(user, after);
          addIncrements(recorded, userStatIncrements(before, after, caps));
        };
        for (const c of changes) {
          const delta = {
            clicks: c.clicks,
            impressions: c.impressions,
            purchases: c.purchases,
            revenue_cents: c.purchases > 0 ? c.revenue_cents : 0,
            watch_ms: c.watch_ms,
          };
          apply(c.user, delta);
          if (c.undo) pendingUndos.push({ user: c.user, delta });
        }
        for (const u of pendingUndos) apply(u.user, negateTotals(u.delta));

        // Assess: exact (BigInt) sums over users of the final totals.
        const users = [...state.values()];
        const sum = (f: (t: UserTotals) => bigint) => users.reduce((s, t) => s + f(t), 0n);
        const min = (a: number, b: number) => big(Math.min(a, b));
        const recordedOf = (field: string) => big(recorded[field] ?? 0);
        for (const [field, cap] of [
          ['clicks', caps.clicks],
          ['impressions', caps.impressions],
          ['purchases', caps.purchases],
          ['revenue_cents', caps.revenue_cents],
          ['watch_ms', caps.watch_ms],
        ] as const) {
          expect(recordedOf(`capped_${field}`)).toBe(sum((t) => min(t[field], cap)));
          expect(recordedOf(`capped_${field}_sq_sum`)).toBe(sum((t) => min(t[field], cap) ** 2n));
        }
        expect(recordedOf('capped_clicks_impressions_sum')).toBe(sum((t) => min(t.clicks, caps.clicks) * min(t.impressions, caps.impressions)));
        expect(recordedOf('users_at_clicks_cap')).toBe(sum((t) => (t.clicks >= caps.clicks ? 1n : 0n)));
        expect(recordedOf('users_at_watch_cap')).toBe(sum((t) => (t.watch_ms >= caps.watch_ms ? 1n : 0n)));
        expect(recordedOf('user_watch_ms_sq_sum')).toBe(sum((t) => big(t.watch_ms) ** 2n));
        expect(recordedOf('revenue_cents')).toBe(sum((t) => big(t.revenue_cents)));
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});
