/**
 * The metrics panel on the per-user capped sums (issue 11, item 4): whenever every variant's
 * counters hold them, click-through, revenue per user and watch time (so the guardrails checked
 * on them) read each user's capped totals, as the decision does, so one user far past the caps
 * moves them no more than a user at the caps would. Checked against the raw per-user data with
 * the caps applied directly.
 */
import { describe, expect, it } from 'vitest';
import {
  addIncrements,
  addTotals,
  exposureIncrements,
  userStatIncrements,
  userTotalsDelta,
  ZERO_TOTALS,
  type Increments,
  type UserTotals,
} from '../../../lambdas/domain/events/counters.ts';
import { counterIncrements, type EventType } from '../../../lambdas/domain/events/event.ts';
import { userCapsOf } from '../../../lambdas/domain/experiments/caps.ts';
import { buildMetricsPanel, type PanelMetric } from '../../../lambdas/domain/stats/index.ts';
import { panelMetricInputs } from '../../../lambdas/services/metric-panel-input.ts';
import { twoArmExperiment } from '../../../lambdas/services/synthetic-counters.ts';

const DAY = '2026-03-02';
const experiment = twoArmExperiment('capped-panel', { now: new Date('2026-03-01T00:00:00Z') });
const caps = userCapsOf(experiment);

interface RawUser {
  variant: 'control' | 'treatment';
  impressions: number;
  clicks: number;
  /** Purchase values (currency units). */
  purchases: number[];
  watchSeconds: number[];
}

/** 300 users per arm, deterministic; one control user far past every cap. */
function users(): RawUser[] {
  const out: RawUser[] = [];
  for (let i = 0; i < 600; i++) {
    const variant = i % 2 === 0 ? 'control' : 'treatment';
    const impressions = 4 + (i % 9);
    out.push({
      variant,
      impressions,
      clicks: (i * 7) % 5 === 0 ? 2 : i % 3 === 0 ? 1 : 0,
      purchases: i % 10 < 2 ? [20 + (i % 30)] : [],
      watchSeconds: i % 4 < 2 ? [300 + (i % 200)] : [],
    });
  }
  out.push({
    variant: 'control',
    impressions: 900,
    clicks: 600,
    purchases: Array.from({ length: 40 }, () => 90_000),
    watchSeconds: Array.from({ length: 30 }, () => 20_000),
  });
  return out;
}

/** The counters the events path writes for these users (exposure, then each event with its user-level increments). */
function counters(raw: RawUser[]): Record<string, { day: string; [field: string]: number | string }[]> {
  const rows: Record<string, Increments> = { control: {}, treatment: {} };
  for (const user of raw) {
    const row = rows[user.variant];
    addIncrements(row, exposureIncrements());
    let totals: UserTotals = ZERO_TOTALS;
    const events: { event_type: EventType; value?: number }[] = [
      ...Array.from({ length: user.impressions }, () => ({ event_type: 'impression' as const })),
      ...Array.from({ length: user.clicks }, () => ({ event_type: 'click' as const })),
      ...user.purchases.map((value) => ({ event_type: 'purchase' as const, value })),
      ...user.watchSeconds.map((value) => ({ event_type: 'watch_time' as const, value })),
    ];
    for (const event of events) {
      const after = addTotals(totals, userTotalsDelta(event));
      addIncrements(row, { ...counterIncrements({ ...event, fallback: null }), ...userStatIncrements(totals, after, caps) });
      totals = after;
    }
  }
  return Object.fromEntries(Object.entries(rows).map(([variant, row]) => [variant, [{ day: DAY, ...(row as Record<string, number>) }]]));
}

const metricOf = (panel: ReturnType<typeof buildMetricsPanel>, id: string): PanelMetric => panel.metrics.find((m) => m.id === id)!;
const estimateOf = (metric: PanelMetric, variant: string) => metric.variants.find((v) => v.name === variant)?.estimate;

describe('the metrics panel on the capped sums', () => {
  it('reads click-through, revenue per user and watch time per user from each user capped, as the raw data with the caps applied gives', () => {
    // Prepare
    const raw = users();
    const capped = (variant: string, value: (u: RawUser) => number) => raw.filter((u) => u.variant === variant).reduce((sum, u) => sum + value(u), 0);
    const n = (variant: string) => raw.filter((u) => u.variant === variant).length;

    // Act
    const panel = buildMetricsPanel({
      confidenceLevel: 0.95,
      variants: [
        { name: 'control', weight: 0.5, control: true },
        { name: 'treatment', weight: 0.5, control: false },
      ],
      metrics: panelMetricInputs(experiment, ['control', 'treatment'], counters(raw), DAY),
    });

    // Assess
    const ctr = metricOf(panel, 'click_through');
    expect(ctr.definition).toMatch(/capped/);
    for (const variant of ['control', 'treatment']) {
      const expected = capped(variant, (u) => Math.min(u.clicks, caps.clicks)) / capped(variant, (u) => Math.min(u.impressions, caps.impressions));
      expect(estimateOf(ctr, variant)).toBeCloseTo(expected, 12);
      const revenue =
        capped(variant, (u) =>
          Math.min(
            u.purchases.reduce((a, b) => a + b, 0),
            caps.revenue_cents / 100,
          ),
        ) / n(variant);
      expect(estimateOf(metricOf(panel, 'revenue_per_user'), variant)).toBeCloseTo(revenue, 9);
      const watch =
        capped(variant, (u) =>
          Math.min(
            u.watchSeconds.reduce((a, b) => a + b, 0),
            caps.watch_ms / 1000,
          ),
        ) / n(variant);
      expect(estimateOf(metricOf(panel, 'watch_time'), variant)).toBeCloseTo(watch, 9);
    }
    expect(metricOf(panel, 'revenue_per_user').definition).toMatch(/capped \(caps\.revenue/);
    expect(metricOf(panel, 'watch_time').definition).toMatch(/per exposed user .* capped/);
  });

  it('is moved by a user far past the caps no more than by a user at the caps', () => {
    // Prepare: the same population with the outlier cut down to exactly the caps
    const raw = users();
    const atCaps = raw.map((u) =>
      u.impressions === 900
        ? { ...u, impressions: caps.impressions, clicks: caps.clicks, purchases: [caps.revenue_cents / 100], watchSeconds: [caps.watch_ms / 1000] }
        : u,
    );
    const panelOf = (population: RawUser[]) =>
      buildMetricsPanel({
        confidenceLevel: 0.95,
        variants: [
          { name: 'control', weight: 0.5, control: true },
          { name: 'treatment', weight: 0.5, control: false },
        ],
        metrics: panelMetricInputs(experiment, ['control', 'treatment'], counters(population), DAY),
      });

    // Act
    const [far, capped] = [panelOf(raw), panelOf(atCaps)];

    // Assess: identical tests, whatever the outlier did past the caps
    for (const id of ['click_through', 'revenue_per_user', 'watch_time']) {
      const [a, b] = [metricOf(far, id).comparisons[0], metricOf(capped, id).comparisons[0]];
      expect(a.status, id).toBe('ok');
      if (a.status !== 'ok' || b.status !== 'ok') throw new Error(id);
      expect(a.pValue, id).toBeCloseTo(b.pValue, 12);
      expect(a.difference, id).toBeCloseTo(b.difference, 9);
    }
  });

  it('stays on the raw counters while a variant has counters written before the caps existed', () => {
    // Prepare: a variant with uncapped activity and no capped sums
    const stored = {
      control: [
        { day: DAY, exposed_users: 100, impressions: 500, clicks: 50, user_clicks_sq_sum: 80, user_impressions_sq_sum: 3000, user_clicks_impressions_sum: 300 },
      ],
      treatment: counters(users()).treatment,
    };

    // Act
    const metrics = panelMetricInputs(experiment, ['control', 'treatment'], stored, DAY);

    // Assess
    expect(metrics.find((m) => m.id === 'click_through')?.definition).not.toMatch(/capped/);
  });
});
