/** The synthetic counters behind the analysis benchmark and tests. */
import { describe, expect, it } from 'vitest';
import { cohortIncrements, eventsOf, syntheticDailyCounters, usersForEvents } from '../../../lambdas/services/synthetic-counters.ts';

describe('synthetic counters', () => {
  it('gives per-user second moments that real users could produce', () => {
    // Act
    const c = cohortIncrements(1234, 0.05, 0.03) as Required<ReturnType<typeof cohortIncrements>>;

    // Assess: Cauchy-Schwarz, Σx² >= (Σx)² / n, for clicks and impressions.
    expect(c.user_clicks_sq_sum * c.exposed_users).toBeGreaterThanOrEqual(c.clicks ** 2);
    expect(c.user_impressions_sq_sum * c.exposed_users).toBeGreaterThan(c.impressions ** 2);
    expect(c.clickers).toBeLessThanOrEqual(c.exposed_users);
    expect(c.converters).toBeLessThanOrEqual(c.exposed_users);
  });

  it('spreads each arm over the days with one item per variant and day', () => {
    // Act
    const rows = syntheticDailyCounters({
      arms: [
        { variant: 'a', users: 100, ctr: 0.05, conversionRate: 0 },
        { variant: 'b', users: 101, ctr: 0.05, conversionRate: 0 },
      ],
      days: 14,
      firstDay: '2026-12-25',
    });

    // Assess
    expect(rows).toHaveLength(28);
    expect(rows.filter((row) => row.variant === 'b').reduce((sum, row) => sum + (row.increments.exposed_users ?? 0), 0)).toBe(101);
    expect(rows.at(-1)?.day).toBe('2027-01-07');
  });

  it('sizes an experiment to the requested number of events within one percent', () => {
    // Prepare
    const users = usersForEvents(10_000_000, 2, 0.05, 0.03);

    // Act
    const rows = syntheticDailyCounters({
      arms: ['a', 'b'].map((variant) => ({ variant, users, ctr: 0.05, conversionRate: 0.03 })),
      days: 14,
      firstDay: '2026-01-01',
    });

    // Assess
    const events = rows.reduce((sum, row) => sum + eventsOf(row.increments), 0);
    expect(Math.abs(events / 10_000_000 - 1)).toBeLessThan(0.01);
  });
});
