/**
 * The analysis on capped sums (capping.ts): the decision's slots, the report's capping section
 * and the counters written before caps existed.
 */
import { describe, expect, it } from 'vitest';
import {
  addIncrements,
  addTotals,
  userStatIncrements,
  userTotalsDelta,
  ZERO_TOTALS,
  type Increments,
  type UserTotals,
} from '../../../lambdas/domain/events/counters.ts';
import { counterIncrements, type EventType } from '../../../lambdas/domain/events/event.ts';
import { userCapsOf } from '../../../lambdas/domain/experiments/caps.ts';
import { buildAnalysisInput } from '../../../lambdas/services/analysis-input.ts';
import { cappingReport, hasCappedSums } from '../../../lambdas/services/capping.ts';
import { analysisFromCounters } from '../../../lambdas/services/experiment-results.ts';
import { renderAnalysisReport } from '../../../lambdas/services/report.ts';
import { twoArmExperiment } from '../../../lambdas/services/synthetic-counters.ts';
import type { DailyCounter } from '../../../lambdas/storage/counter-store.ts';

const NOW = new Date('2026-03-01T00:00:00Z');
const DAY = '2026-03-02';

/** Counters of one day from users' events, written as the events path writes them (exposure, event increments, user-level sums). */
function countersOf(caps: ReturnType<typeof userCapsOf>, users: { variant: string; events: [EventType, number?][] }[]): Record<string, DailyCounter[]> {
  const rows: Record<string, Increments> = {};
  for (const { variant, events } of users) {
    const row = (rows[variant] ??= {});
    addIncrements(row, { exposed_users: 1 });
    let totals: UserTotals = ZERO_TOTALS;
    for (const [event_type, value] of events) {
      const after = addTotals(totals, userTotalsDelta({ event_type, value }));
      addIncrements(row, { ...counterIncrements({ event_type, value, fallback: null }), ...userStatIncrements(totals, after, caps) });
      totals = after;
    }
  }
  return Object.fromEntries(Object.entries(rows).map(([variant, row]) => [variant, [{ day: DAY, ...row }]]));
}

const repeat = (n: number, event: [EventType, number?]) => Array.from({ length: n }, () => event);

describe('the capping section of the analysis', () => {
  const experiment = twoArmExperiment('capped', { now: NOW, caps: { clicks: 3, revenue: 10 } });
  const caps = userCapsOf(experiment);
  // Four users per arm; the treatment's last user clicks 50 times and buys for 500.
  const users = [
    ...[1, 2, 0, 1].map((clicks) => ({
      variant: 'control',
      events: [['impression'] as [EventType], ['impression'] as [EventType], ...repeat(clicks, ['click'])],
    })),
    ...[1, 2, 1].map((clicks) => ({
      variant: 'treatment',
      events: [['impression'] as [EventType], ['impression'] as [EventType], ...repeat(clicks, ['click'])],
    })),
    {
      variant: 'treatment',
      events: [['impression'] as [EventType], ['impression'] as [EventType], ...repeat(50, ['click']), ['purchase', 500] as [EventType, number]],
    },
  ];
  const counters = countersOf(caps, users);

  it('counts the users at each cap and gives both estimates per user', () => {
    // Act
    const capping = cappingReport(experiment, counters);

    // Assess
    const clicks = capping.metrics.find((m) => m.metric === 'clicks')!;
    expect(clicks.cap).toBe(3);
    expect(clicks.variants.map((v) => [v.variant, v.usersAtCap, v.uncapped?.estimate, v.capped?.estimate])).toEqual([
      ['control', 0, 1, 1],
      ['treatment', 1, 54 / 4, 7 / 4],
    ]);
    // Capped clicks per user in the treatment: 1, 2, 1, 3: variance from the exact sums.
    const values = [1, 2, 1, 3];
    const mean = 7 / 4;
    const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / 3;
    const half = clicks.variants[1].capped!.interval!.high - mean;
    expect(half).toBeCloseTo(1.959963984540054 * Math.sqrt(variance / 4), 12);
    const revenue = capping.metrics.find((m) => m.metric === 'revenue')!;
    expect(revenue.variants[1]).toMatchObject({ usersAtCap: 1, uncapped: { estimate: 125 }, capped: { estimate: 2.5 } });
    expect(capping.usedByDecision).toBe(true);
  });

  it('decides click-through on the capped clicks and impressions', () => {
    // Act
    const input = buildAnalysisInput(experiment, counters);

    // Assess
    expect(input.status).toBe('ok');
    if (input.status !== 'ok') return;
    const treatment = input.counters.find((row) => row.variant === 'treatment')!;
    expect(treatment).toMatchObject({ clicks: 1 + 2 + 1 + 3, impressions: 8, user_clicks_sq_sum: 1 + 4 + 1 + 9, user_clicks_impressions_sum: 2 * 7 });
    expect(input.notes.metric.definition).toMatch(/capped/);
  });

  it('decides watch time per exposed user on the capped watch time', () => {
    // Prepare: watch time capped at 100 s; one treatment user watches 10,000 s.
    const watch = twoArmExperiment('watch', { now: NOW, target_metric: { kind: 'watch_time', cap_seconds: 100 } });
    const rows = countersOf(userCapsOf(watch), [
      { variant: 'control', events: [['impression'], ['watch_time', 60]] },
      { variant: 'control', events: [['impression'], ['watch_time', 30]] },
      { variant: 'treatment', events: [['impression'], ['watch_time', 10_000]] },
      { variant: 'treatment', events: [['impression']] },
    ]);

    // Act
    const input = buildAnalysisInput(watch, rows);

    // Assess: n = exposed users, the values in seconds, capped per user.
    expect(input.status).toBe('ok');
    if (input.status !== 'ok') return;
    expect(input.counters.find((row) => row.variant === 'treatment')).toMatchObject({ value_n: 2, value_sum: 100, value_sum_sq: 100 ** 2 });
    expect(input.notes.metric.definition).toMatch(/per exposed user/);
  });

  it('runs on the uncapped sums, and says so, for counters written before caps existed', () => {
    // Prepare
    const legacy = Object.fromEntries(
      Object.entries(counters).map(([variant, rows]) => [
        variant,
        rows.map(
          (row) => Object.fromEntries(Object.entries(row).filter(([field]) => !field.startsWith('capped_') && !field.startsWith('users_at_'))) as DailyCounter,
        ),
      ]),
    );

    // Act
    const analysis = analysisFromCounters(experiment, legacy, { day: DAY });
    const input = buildAnalysisInput(experiment, legacy);

    // Assess
    expect(hasCappedSums(input.notes.totals.treatment)).toBe(false);
    expect(analysis.capping?.usedByDecision).toBe(false);
    expect(analysis.capping?.oneUserInfluence).toMatchObject({ status: 'not-bounded' });
    expect(input.status === 'ok' && input.counters.find((row) => row.variant === 'treatment')?.clicks).toBe(54);
  });

  it('renders the section in the HTML report, users at the cap included', () => {
    // Act
    const { html, json } = renderAnalysisReport(analysisFromCounters(experiment, counters, { day: DAY }));

    // Assess
    expect(json.capping?.metrics.map((m) => m.metric)).toEqual(['clicks', 'impressions', 'purchases', 'revenue', 'watch_time', 'click_through']);
    expect(html).toContain('<h2>Per-user caps</h2>');
    expect(html).toContain('1 (25.0%)');
  });
});
