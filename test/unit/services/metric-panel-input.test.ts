/**
 * Every metric of the report from stored counters, against values computed independently with
 * scipy / numpy from the raw per-user data the counters summarise
 * (test/reference/stats/make_metrics_panel.py writes test/reference/stats/metrics_panel.json):
 * the counter fields each metric reads, the engine's tests, and the Holm family over
 * (secondary metrics x non-control variants).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { MetricKind } from '../../../lambdas/domain/experiments/model.ts';
import { buildMetricsPanel, buildRankingPanel, type MetricsPanel, type PanelMetric } from '../../../lambdas/domain/stats/index.ts';
import { COVERAGE_NOT_MEASURED, panelMetricInputs, rankingPanelInput, REVENUE_PER_USER_UNTESTED } from '../../../lambdas/services/metric-panel-input.ts';

type Pair = [number, number];
interface ExpectedComparison {
  pValue: number;
  pValueAdjusted: number | null;
  difference: number;
  ci: Pair;
  lift: number;
  liftCi: Pair;
}
interface PanelCase {
  name: string;
  target: MetricKind;
  confidenceLevel: number;
  variants: string[];
  counters: Record<string, Record<string, number>>;
  expected: {
    familySize: number;
    metrics: Record<string, { variants: Record<string, { n: number; estimate: number; interval: Pair }>; comparisons: Record<string, ExpectedComparison> }>;
  };
}
interface CaseFile {
  panels: PanelCase[];
}

const cases = JSON.parse(readFileSync(new URL('../../reference/stats/metrics_panel.json', import.meta.url), 'utf8')) as CaseFile;

/** Relative 1e-6 (absolute for values below 1). */
function expectClose(actual: number | null | undefined, expected: number, label: string): void {
  expect(actual, label).toBeTypeOf('number');
  expect(Math.abs((actual as number) - expected), `${label}: ${String(actual)} vs ${expected}`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(expected)));
}

type StoredItems = Record<string, { day: string; [field: string]: number | string }[]>;

/** The counters of a case as the counter repository returns them: two days per variant, so the mapping must sum them. */
function stored(counters: PanelCase['counters']): StoredItems {
  return Object.fromEntries(
    Object.entries(counters).map(([variant, fields]) => {
      const first = Object.fromEntries(
        Object.entries(fields).map(([field, value]) => [field, Number.isInteger(value) ? Math.floor(value * 0.4) : value * 0.4]),
      );
      const second = Object.fromEntries(Object.entries(fields).map(([field, value]) => [field, value - first[field]]));
      // A day after the analysis day, which the mapping must leave out.
      const later: StoredItems[string][number] = { day: '2026-11-03', clicks: 999 };
      return [variant, [{ day: '2026-11-01', ...first }, { day: '2026-11-02', ...second }, later]];
    }),
  );
}

function panelOf(testCase: PanelCase): MetricsPanel {
  const metrics = panelMetricInputs({ target_metric: { kind: testCase.target } as never }, testCase.variants, stored(testCase.counters), '2026-11-02');
  return buildMetricsPanel({
    variants: testCase.variants.map((name, i) => ({ name, weight: 1, control: i === 0 })),
    confidenceLevel: testCase.confidenceLevel,
    metrics,
  });
}

describe.each(cases.panels)('the metrics panel of "$name" against scipy', (testCase) => {
  const panel = panelOf(testCase);
  const metric = (id: string) => panel.metrics.find((m) => m.id === id) as PanelMetric;

  it('puts the target first, outside the family, and every other metric x non-control variant in one Holm family', () => {
    expect(panel.metrics[0]).toMatchObject({ id: testCase.target, role: 'target' });
    expect(
      panel.metrics
        .filter((m) => m.role === 'secondary')
        .map((m) => m.id)
        .sort(),
    ).toEqual(
      Object.keys(testCase.expected.metrics)
        .filter((id) => id !== testCase.target)
        .sort(),
    );
    expect(panel.family).toEqual({
      method: 'holm',
      size: testCase.expected.familySize,
      metrics: panel.metrics.filter((m) => m.role === 'secondary').map((m) => m.id),
    });
  });

  it.each(Object.keys(cases.panels[0].expected.metrics))('matches %s: estimates, intervals, differences, lifts, p and Holm p', (id) => {
    const expected = testCase.expected.metrics[id];
    const actual = metric(id);
    expect(actual.notTested).toBeNull();
    for (const variant of actual.variants) {
      const e = expected.variants[variant.name];
      expect(variant.n, `${id} ${variant.name} n`).toBe(e.n);
      expectClose(variant.estimate, e.estimate, `${id} ${variant.name} estimate`);
      expectClose(variant.interval?.low, e.interval[0], `${id} ${variant.name} interval low`);
      expectClose(variant.interval?.high, e.interval[1], `${id} ${variant.name} interval high`);
    }
    for (const comparison of actual.comparisons) {
      const e = expected.comparisons[comparison.variant];
      expect(comparison.status).toBe('ok');
      if (comparison.status !== 'ok') continue;
      const label = `${id} ${comparison.variant}`;
      expectClose(comparison.pValue, e.pValue, `${label} p`);
      if (e.pValueAdjusted === null) expect(comparison.pValueAdjusted, `${label} Holm p`).toBeNull();
      else expectClose(comparison.pValueAdjusted, e.pValueAdjusted, `${label} Holm p`);
      expectClose(comparison.difference, e.difference, `${label} difference`);
      expectClose(comparison.differenceInterval.low, e.ci[0], `${label} ci low`);
      expectClose(comparison.differenceInterval.high, e.ci[1], `${label} ci high`);
      expectClose(comparison.relativeLift, e.lift, `${label} lift`);
      expectClose(comparison.relativeLiftInterval?.low, e.liftCi[0], `${label} lift ci low`);
      expectClose(comparison.relativeLiftInterval?.high, e.liftCi[1], `${label} lift ci high`);
    }
  });
});

describe('metrics the counters cannot test', () => {
  const base = cases.panels[1];
  const withoutUserRevenue = () =>
    Object.fromEntries(
      Object.entries(stored(base.counters)).map(([variant, items]) => [
        variant,
        items.map(({ revenue_cents: _cents, user_revenue_cents_sq_sum: _squares, ...rest }) => rest),
      ]),
    );

  it('shows revenue per user without a test, saying why, when the counters lack the user-level revenue sums', () => {
    // Act
    const metrics = panelMetricInputs({ target_metric: { kind: 'conversion' } as never }, base.variants, withoutUserRevenue(), '2026-11-02');
    const panel = buildMetricsPanel({ variants: base.variants.map((name, i) => ({ name, weight: 1, control: i === 0 })), confidenceLevel: 0.95, metrics });

    // Assess
    const revenue = panel.metrics.find((m) => m.id === 'revenue_per_user') as PanelMetric;
    expect(revenue).toMatchObject({ notTested: REVENUE_PER_USER_UNTESTED, comparisons: [] });
    expect(revenue.notTested).toContain('sum over users of (revenue of the user)^2');
    // The estimate is still shown: revenue / exposed users.
    expectClose(revenue.variants[0].estimate, base.counters.control.revenue_sum / base.counters.control.exposed_users, 'revenue per user');
    // ...and it leaves the family, which counts only tested metrics.
    expect(panel.family.size).toBe(4);
    expect(panel.family.metrics).not.toContain('revenue_per_user');
  });

  it('tests revenue per user while a variant has no purchase yet: zero increments are never written, so its revenue fields are absent', () => {
    // Prepare
    const counters = {
      control: [{ day: '2026-11-01', exposed_users: 50 }],
      treatment: [
        { day: '2026-11-01', exposed_users: 40, revenue_n: 3, revenue_sum: 30, revenue_sum_sq: 400, revenue_cents: 3000, user_revenue_cents_sq_sum: 5_000_000 },
      ],
    };

    // Act
    const revenue = panelMetricInputs({ target_metric: { kind: 'conversion' } as never }, ['control', 'treatment'], counters).find(
      (metric) => metric.id === 'revenue_per_user',
    );

    // Assess: a mean over users, users without a purchase counting 0
    expect(revenue?.measure).toEqual({
      kind: 'mean',
      samples: [
        { n: 50, sum: 0, sumSq: 0 },
        { n: 40, sum: 30, sumSq: 500 },
      ],
    });
  });

  it('does not test click-through on counters without consistent user-level second moments', () => {
    // Prepare
    const counters = {
      control: [{ day: '2026-11-01', exposed_users: 10, impressions: 40, clicks: 4 }],
      treatment: [{ day: '2026-11-01', exposed_users: 10, impressions: 40, clicks: 6 }],
    };

    // Act
    const [clickThrough] = panelMetricInputs({ target_metric: { kind: 'click_through' } as never }, ['control', 'treatment'], counters);

    // Assess
    expect(clickThrough.measure).toMatchObject({ kind: 'not-tested', reason: expect.stringContaining('user_clicks_sq_sum'), estimates: [0.1, 0.15] });
  });
});

describe('the ranking counters', () => {
  it('reads lists by length, clicks by position and the fallbacks apart, through the analysis day', () => {
    // Prepare
    const counters = {
      control: [
        {
          day: '2026-11-01',
          impressions: 30,
          slate_len_10: 20,
          slate_len_5: 10,
          clicks_pos_1: 6,
          clicks_pos_3: 2,
          fallback_impressions: 4,
          fallback_cold_start_impressions: 3,
          fallback_artifact_impressions: 1,
        },
        { day: '2026-11-02', impressions: 10, slate_len_10: 10, clicks_pos_1: 1, fallback_impressions: 2 },
        { day: '2026-11-03', impressions: 99, slate_len_10: 99 },
      ],
    };

    // Act
    const input = rankingPanelInput([{ name: 'control', isControl: true }], counters, '2026-11-02');

    // Assess
    expect(input.variants).toEqual([
      {
        name: 'control',
        isControl: true,
        impressions: 40,
        slatesByLength: [0, 0, 0, 0, 10, 0, 0, 0, 0, 30],
        clicksByPosition: [7, 0, 2],
        fallback: { total: 6, coldStart: 3, artifact: 1 },
      },
    ]);
    expect(input.coverage).toEqual({ status: 'not-measured', reason: COVERAGE_NOT_MEASURED });
    const panel = buildRankingPanel({ ...input, confidenceLevel: 0.95 });
    expect(panel.variants[0].fallback).toMatchObject({ share: 6 / 40, coldStartShare: 3 / 40, artifactShare: 1 / 40, unclassifiedImpressions: 2 });
  });
});
