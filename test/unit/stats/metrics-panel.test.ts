/**
 * The report's metrics panel (every metric, one Holm family over the secondary ones), its ranking
 * panel (click-through by position, reciprocal rank, fallbacks), the guardrails checked on the
 * panel, and their HTML. Reference values: test/reference/stats/make_metrics_panel.py.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  buildExperimentReport,
  buildMetricsPanel,
  buildRankingPanel,
  holmAdjust,
  isAllFinite,
  renderReportHtml,
  StatsInputError,
  type PanelMetricInput,
  type RankingVariantInput,
} from '../../../lambdas/domain/stats/index.ts';
import { simulateCounters, twoArmConfig } from './fixtures.ts';

const VARIANTS = [
  { name: 'control', weight: 0.5, control: true },
  { name: 'treatment', weight: 0.5, control: false },
];

const proportion = (id: string, role: 'target' | 'secondary', control: [number, number], treatment: [number, number]): PanelMetricInput => ({
  id,
  label: id,
  definition: `${id} definition`,
  role,
  scale: 'rate',
  measure: {
    kind: 'proportion',
    samples: [
      { users: control[0], conversions: control[1] },
      { users: treatment[0], conversions: treatment[1] },
    ],
  },
});

const mean = (id: string, control: [number, number, number], treatment: [number, number, number]): PanelMetricInput => ({
  id,
  label: id,
  definition: `${id} definition`,
  role: 'secondary',
  scale: 'amount',
  measure: { kind: 'mean', samples: [control, treatment].map(([n, sum, sumSq]) => ({ n, sum, sumSq })) },
});

describe('the metrics panel', () => {
  it('keeps the target out of the family and adjusts the secondary p-values over all of them together', () => {
    // Prepare
    const metrics = [
      proportion('conversion', 'target', [5000, 450], [5000, 520]),
      proportion('a', 'secondary', [4000, 400], [4000, 470]),
      proportion('b', 'secondary', [4000, 400], [4000, 430]),
    ];

    // Act
    const panel = buildMetricsPanel({ variants: VARIANTS, confidenceLevel: 0.95, metrics });

    // Assess
    const [target, a, b] = panel.metrics.map((m) => m.comparisons[0]);
    expect(target).toMatchObject({ status: 'ok', pValueAdjusted: null });
    expect(panel.family).toEqual({ method: 'holm', size: 2, metrics: ['a', 'b'] });
    if (a.status !== 'ok' || b.status !== 'ok') throw new Error('expected both tested');
    expect([a.pValueAdjusted, b.pValueAdjusted]).toEqual(holmAdjust([a.pValue, b.pValue]));
  });

  it('counts a comparison without enough data as p = 1 in the family, so the family does not shrink', () => {
    // Prepare: the second metric has no observations in control.
    const metrics = [proportion('a', 'secondary', [4000, 400], [4000, 470]), mean('watch', [0, 0, 0], [10, 30, 100])];

    // Act
    const panel = buildMetricsPanel({ variants: VARIANTS, confidenceLevel: 0.95, metrics });

    // Assess
    const [a, watch] = panel.metrics.map((m) => m.comparisons[0]);
    expect(watch).toMatchObject({ status: 'insufficient-data', reason: expect.stringContaining('at least 2 observations') });
    expect(panel.family.size).toBe(2);
    expect(a.status === 'ok' && a.pValueAdjusted).toBe(a.status === 'ok' && Math.min(1, 2 * a.pValue));
  });

  it('shows a metric it cannot test with its estimates and reason, without a comparison', () => {
    // Prepare
    const metrics: PanelMetricInput[] = [
      {
        id: 'revenue_per_user',
        label: 'revenue per user',
        definition: 'd',
        role: 'secondary',
        scale: 'amount',
        measure: { kind: 'not-tested', reason: 'no user-level squares', estimates: [1.5, null], units: [100, 0] },
      },
    ];

    // Act
    const panel = buildMetricsPanel({ variants: VARIANTS, confidenceLevel: 0.95, metrics });

    // Assess
    expect(panel.metrics[0]).toMatchObject({
      notTested: 'no user-level squares',
      comparisons: [],
      variants: [
        { n: 100, estimate: 1.5, interval: null },
        { n: 0, estimate: null, interval: null },
      ],
    });
    expect(panel.family.size).toBe(0);
  });

  it.each([
    ['a duplicate metric id', [proportion('a', 'secondary', [10, 1], [10, 2]), proportion('a', 'secondary', [10, 1], [10, 2])], /metrics\[1\]\.id/],
    [
      'one sample for two variants',
      [{ ...proportion('a', 'secondary', [10, 1], [10, 2]), measure: { kind: 'proportion' as const, samples: [{ users: 10, conversions: 1 }] } }],
      /metrics\[0\]\.measure/,
    ],
    ['a corrupt mean sample, named by metric', [mean('watch', [10, 100, 5], [10, 30, 100])], /metrics\[0\] \(watch\): variants\[0\]\.sum_sq/],
  ])('refuses %s, naming the field', (_, metrics, message) => {
    expect(() => buildMetricsPanel({ variants: VARIANTS, confidenceLevel: 0.95, metrics })).toThrow(StatsInputError);
    expect(() => buildMetricsPanel({ variants: VARIANTS, confidenceLevel: 0.95, metrics })).toThrow(message);
  });
});

interface PositionCase {
  slatesByLength: number[];
  clicksByPosition: number[];
  expected: {
    byPosition: { position: number; impressions: number; clicks: number; ctr: number; interval: [number, number] }[];
    reciprocalRank: number;
    lists: number;
  };
}
const positionCases = (JSON.parse(readFileSync(new URL('../../reference/stats/metrics_panel.json', import.meta.url), 'utf8')) as { positions: PositionCase[] })
  .positions;

const rankingVariant = (overrides: Partial<RankingVariantInput> = {}): RankingVariantInput => ({
  name: 'control',
  isControl: true,
  impressions: 1000,
  slatesByLength: [],
  clicksByPosition: [],
  fallback: { total: 0, coldStart: 0, artifact: 0 },
  ...overrides,
});

describe('the ranking panel', () => {
  it.each(positionCases)(
    'gives click-through by position with scipy Wilson intervals and the reciprocal rank of clicks (case %#)',
    ({ slatesByLength, clicksByPosition, expected }) => {
      // Act
      const panel = buildRankingPanel({
        confidenceLevel: 0.95,
        variants: [rankingVariant({ slatesByLength, clicksByPosition })],
        coverage: { status: 'not-measured', reason: 'r' },
      });

      // Assess
      const [variant] = panel.variants;
      expect(panel.positions).toBe(expected.byPosition.length);
      variant.byPosition.forEach((row, p) => {
        const e = expected.byPosition[p];
        expect(row).toMatchObject({ status: 'ok', position: e.position, impressions: e.impressions, clicks: e.clicks });
        if (row.status !== 'ok') return;
        expect(row.ctr).toBeCloseTo(e.ctr, 12);
        expect(row.interval.low).toBeCloseTo(e.interval[0], 9);
        expect(row.interval.high).toBeCloseTo(e.interval[1], 9);
      });
      expect(variant.reciprocalRank).toMatchObject({ status: 'ok', lists: expected.lists });
      expect(variant.reciprocalRank.status === 'ok' && variant.reciprocalRank.value).toBeCloseTo(expected.reciprocalRank, 12);
    },
  );

  it('lines every variant up on the longest list, and names positions no list of a variant reached', () => {
    // Act
    const panel = buildRankingPanel({
      confidenceLevel: 0.95,
      variants: [
        rankingVariant({ slatesByLength: [0, 0, 10], clicksByPosition: [2, 1, 0, 0, 4] }),
        rankingVariant({ name: 'treatment', isControl: false, slatesByLength: [0, 0, 0, 8] }),
      ],
      coverage: { status: 'not-measured', reason: 'r' },
    });

    // Assess
    expect(panel.positions).toBe(4);
    expect(panel.variants.map((v) => v.byPosition.length)).toEqual([4, 4]);
    expect(panel.variants[0].byPosition[3]).toMatchObject({ status: 'insufficient-data', reason: expect.stringContaining('no list') });
    expect(panel.variants[0].clicksBeyondLists).toBe(4);
    expect(panel.variants[0].reciprocalRank).toEqual({ status: 'ok', lists: 10, clicks: 3, value: (2 + 1 / 2) / 10 });
    expect(panel.variants[1].reciprocalRank).toEqual({ status: 'ok', lists: 8, clicks: 0, value: 0 });
  });

  it('does not divide clicks by fewer lists than they name: more clicks than impressions at a position is no rate', () => {
    // Act
    const panel = buildRankingPanel({
      confidenceLevel: 0.95,
      variants: [rankingVariant({ slatesByLength: [3], clicksByPosition: [5] })],
      coverage: { status: 'not-measured', reason: 'r' },
    });

    // Assess
    expect(panel.variants[0].byPosition[0]).toMatchObject({
      status: 'insufficient-data',
      reason: '5 clicks named this position, more than the 3 lists that showed it',
    });
  });

  it('keeps cold-start and artifact fallbacks apart, and what was counted before the split', () => {
    // Act
    const panel = buildRankingPanel({
      confidenceLevel: 0.95,
      variants: [rankingVariant({ impressions: 200, fallback: { total: 50, coldStart: 30, artifact: 5 } })],
      coverage: { status: 'ok', distinctItemsShown: [40], catalogueSize: 160 },
    });

    // Assess
    expect(panel.variants[0].fallback).toEqual({
      impressions: 200,
      fallbackImpressions: 50,
      coldStartImpressions: 30,
      artifactImpressions: 5,
      unclassifiedImpressions: 15,
      share: 0.25,
      coldStartShare: 0.15,
      artifactShare: 0.025,
    });
    expect(panel.variants[0].coverage).toBe(0.25);
    expect(panel.variants[0].reciprocalRank).toMatchObject({ status: 'insufficient-data' });
    expect(panel.coverage).toEqual({ status: 'ok', catalogueSize: 160 });
  });
});

describe('the report with its panels', () => {
  const counters = simulateCounters(
    [
      { variant: 'control', usersPerDay: 1500, conversionRate: 0.09, ctr: 0.05 },
      { variant: 'treatment', usersPerDay: 1500, conversionRate: 0.105, ctr: 0.05 },
    ],
    14,
    7,
  );
  const last = (variant: string) => counters.filter((row) => row.variant === variant).at(-1)!;
  /** Watch time per event: the treatment's drops by a third. */
  const watch = (factor: number) => {
    const n = 20_000;
    const m = 600 * factor;
    return { n, sum: n * m, sumSq: n * (m * m + 200 * 200) };
  };
  const metrics: PanelMetricInput[] = [
    proportion(
      'conversion',
      'target',
      [last('control').exposed_users, last('control').conversions],
      [last('treatment').exposed_users, last('treatment').conversions],
    ),
    {
      id: 'watch_time',
      label: 'watch time',
      definition: 'd',
      role: 'secondary',
      scale: 'amount',
      measure: { kind: 'mean', samples: [watch(1), watch(2 / 3)] },
    },
    {
      id: 'click_through',
      label: 'click-through',
      definition: 'd',
      role: 'secondary',
      scale: 'rate',
      measure: {
        kind: 'ratio',
        samples: ['control', 'treatment'].map((v) => ({
          users: last(v).exposed_users,
          sumX: last(v).clicks,
          sumY: last(v).impressions,
          sumX2: last(v).user_clicks_sq_sum,
          sumY2: last(v).user_impressions_sq_sum,
          sumXY: last(v).user_clicks_impressions_sum,
        })),
      },
    },
  ];
  const ranking = {
    variants: [
      {
        name: 'control',
        isControl: true,
        impressions: 100,
        slatesByLength: [0, 0, 0, 0, 100],
        clicksByPosition: [10, 6, 4, 2, 1],
        fallback: { total: 10, coldStart: 10, artifact: 0 },
      },
      {
        name: 'treatment',
        isControl: false,
        impressions: 100,
        slatesByLength: [0, 0, 0, 0, 100],
        clicksByPosition: [14, 7, 3, 2, 2],
        fallback: { total: 12, coldStart: 8, artifact: 4 },
      },
    ],
    coverage: { status: 'not-measured' as const, reason: 'a set' },
  };

  it('checks every guardrail on its own metric of the panel: a watch-time drop blocks the conversion winner', () => {
    // Act
    const report = buildExperimentReport({
      config: twoArmConfig({
        guardrails: [
          { metric: 'watch_time', max_relative_drop: 0.1 },
          { metric: 'ctr', max_relative_drop: 0.05 },
        ],
      }),
      counters,
      metrics,
      ranking,
    });

    // Assess
    expect(report.guardrails).toEqual([
      expect.objectContaining({ metric: 'watch_time', variant: 'treatment', status: 'ok', breached: true }),
      expect.objectContaining({ metric: 'ctr', variant: 'treatment', status: 'ok', breached: false }),
    ]);
    expect(report.decision.decision).not.toBe('ship');
    expect(isAllFinite(report)).toBe(true);
  });

  it('decides exactly as without the panel when no guardrail trips (the target alone decides)', () => {
    // Act
    const withPanel = buildExperimentReport({ config: twoArmConfig(), counters, metrics, ranking });
    const without = buildExperimentReport({ config: twoArmConfig(), counters });

    // Assess
    expect(withPanel.decision).toEqual(without.decision);
    expect(withPanel.decision.decision).toBe('ship');
    expect(withPanel.comparisons).toEqual(without.comparisons);
    expect(withPanel.guardrails).toEqual(without.guardrails);
    expect(without).toMatchObject({ metrics: null, ranking: null });
  });

  it('refuses a watch-time guardrail without the panel it is checked on, naming the field', () => {
    expect(() => buildExperimentReport({ config: twoArmConfig({ guardrails: [{ metric: 'watch_time', max_relative_drop: 0.1 }] }), counters })).toThrow(
      /guardrails\[0\]\.metric/,
    );
  });

  it('renders every metric in a table, a forest plot of the lifts, click-through by position and the unchecked guardrails', () => {
    // Prepare
    const report = buildExperimentReport({ config: twoArmConfig(), counters, metrics, ranking });

    // Act
    const html = renderReportHtml(report, { uncheckedGuardrails: [{ metric: 'latency_p95_ms', reason: 'not measured by the daily counters' }] });

    // Assess
    expect(html).toContain('<h2>All metrics</h2>');
    expect(html).toMatch(/<table class="metrics">[\s\S]*watch time[\s\S]*click-through[\s\S]*<\/table>/);
    expect(html).toContain('p (Holm, secondary family)');
    expect(html).toContain('not in the family');
    expect(html).toContain('aria-label="Relative lift against control per metric, with 95% intervals"');
    expect(html).toContain('aria-label="Click-through by list position per variant (impression-level 95% Wilson intervals)"');
    expect(html).toContain('latency_p95_ms: <strong class="bad">NOT CHECKED</strong> — not measured by the daily counters');
    // The four timeline charts, the forest plot and the position chart.
    expect(html.match(/<svg /g)).toHaveLength(6);
    expect(html).not.toMatch(/<script|<link|src=|href=|url\(/i);
  });

  it('escapes metric labels and variant names in the new sections', () => {
    // Prepare
    const hostile = metrics.map((m) => ({ ...m, label: '<img onerror=x>' }));
    const report = buildExperimentReport({ config: twoArmConfig(), counters, metrics: hostile, ranking });

    // Act
    const html = renderReportHtml(report);

    // Assess
    expect(html).not.toContain('<img');
  });
});
