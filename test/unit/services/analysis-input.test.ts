/**
 * The mapping from an experiment and its stored daily counters to the statistics engine's
 * configuration and cumulative counters.
 */
import { describe, expect, it } from 'vitest';
import { twoArmExperiment } from '../../../lambdas/services/synthetic-counters.ts';
import { parseExperiment, type CreateExperimentInput, type Experiment, type Guardrail } from '../../../lambdas/domain/experiments/model.ts';
import { buildExperimentReport } from '../../../lambdas/domain/stats/index.ts';
import { buildAnalysisInput, cumulativeTotals, DEFAULT_ANALYSIS_MDE, metricPlanFor, type AnalysisInput } from '../../../lambdas/services/analysis-input.ts';
import { cohortIncrements } from '../../../lambdas/services/synthetic-counters.ts';
import type { DailyCounter } from '../../../lambdas/storage/counter-store.ts';

const NOW = new Date('2026-01-20T12:00:00Z');

function experiment(overrides: Partial<CreateExperimentInput> = {}): Experiment {
  return twoArmExperiment('exp-map', { now: NOW, ...overrides });
}

const item = (day: string, fields: Record<string, number>): DailyCounter => ({ day, ...fields });

/** Two days of both variants with every field the events path writes. */
function twoDays(): Record<string, DailyCounter[]> {
  return {
    control: [item('2026-01-15', cohortIncrements(100, 0.05, 0.03)), item('2026-01-16', cohortIncrements(120, 0.05, 0.03))],
    treatment: [item('2026-01-15', cohortIncrements(110, 0.06, 0.04)), item('2026-01-16', cohortIncrements(90, 0.06, 0.04))],
  };
}

/** An experiment as read from storage: guardrails the API refuses today still load. */
/** A field of the control's counters summed over both days. */
const controlSum = (field: string) => twoDays().control.reduce((sum, day) => sum + Number(day[field] ?? 0), 0);

function storedWithGuardrails(guardrails: Guardrail[], overrides: Partial<CreateExperimentInput> = {}): Experiment {
  return parseExperiment({ ...experiment(overrides), guardrails });
}

function ok(input: AnalysisInput): Extract<AnalysisInput, { status: 'ok' }> {
  if (input.status !== 'ok') throw new Error(`expected ok, got insufficient-data: ${input.reason}`);
  return input;
}

describe('cumulative counters', () => {
  it('turns daily increments into prefix sums per variant and day', () => {
    // Prepare
    const counters = { control: [item('2026-01-16', { clicks: 5 }), item('2026-01-15', { clicks: 2, exposed_users: 10 })] };

    // Act
    const { days, byDay } = cumulativeTotals(['control'], counters);

    // Assess
    expect(days).toEqual(['2026-01-15', '2026-01-16']);
    expect(byDay.map((totals) => [totals.control.clicks, totals.control.exposed_users])).toEqual([
      [2, 10],
      [7, 10],
    ]);
  });

  it('keeps the previous totals of a variant with no item on a day', () => {
    // Prepare
    const counters = {
      control: [item('2026-01-15', { impressions: 4 })],
      treatment: [item('2026-01-15', { impressions: 3 }), item('2026-01-16', { impressions: 6 })],
    };

    // Act
    const { byDay } = cumulativeTotals(['control', 'treatment'], counters);

    // Assess
    expect(byDay[1]).toMatchObject({ control: { impressions: 4 }, treatment: { impressions: 9 } });
  });

  it('reads missing and non-numeric fields as 0', () => {
    // Act
    const { byDay } = cumulativeTotals(['control'], { control: [item('2026-01-15', { exposed_users: 3 })] });

    // Assess
    expect(byDay[0].control).toMatchObject({ exposed_users: 3, clickers: 0, user_clicks_sq_sum: 0, watch_time_sum_sq: 0 });
  });

  it('ignores days after the analysis day', () => {
    // Act
    const { days } = cumulativeTotals(['control'], { control: [item('2026-01-15', { clicks: 1 }), item('2026-01-17', { clicks: 1 })] }, '2026-01-16');

    // Assess
    expect(days).toEqual(['2026-01-15']);
  });
});

describe('target metric', () => {
  it('analyses click-through as a user-level ratio: n = exposed users, sums of clicks and impressions, user second moments', () => {
    // Prepare
    const counters = {
      control: [
        item('2026-01-15', {
          exposed_users: 10,
          impressions: 40,
          clicks: 4,
          clickers: 3,
          user_clicks_sq_sum: 6,
          user_impressions_sq_sum: 200,
          user_clicks_impressions_sum: 20,
        }),
      ],
      treatment: [],
    };

    // Act
    const input = ok(buildAnalysisInput(experiment(), counters));

    // Assess
    expect(input.config.target_metric.kind).toBe('ratio');
    expect(input.counters.find((row) => row.variant === 'control')).toMatchObject({
      exposed_users: 10,
      clicks: 4,
      impressions: 40,
      user_clicks_sq_sum: 6,
      user_impressions_sq_sum: 200,
      user_clicks_impressions_sum: 20,
    });
  });

  it.each([
    ['a bandit', { mode: 'bandit' as const }],
    ['the Bayesian method', { analysis_method: 'bayesian' as const }],
  ])('analyses click-through under %s as the share of exposed users who clicked (clickers)', (_, overrides) => {
    // Prepare
    const counters = {
      control: [item('2026-01-15', { exposed_users: 10, clicks: 9, clickers: 3 })],
      treatment: [item('2026-01-15', { exposed_users: 10, clicks: 2, clickers: 2 })],
    };

    // Act
    const input = ok(buildAnalysisInput(experiment(overrides), counters));

    // Assess
    expect(input.config.target_metric.kind).toBe('proportion');
    expect(input.counters.map((row) => [row.variant, row.conversions])).toEqual([
      ['control', 3],
      ['treatment', 2],
    ]);
  });

  it('analyses conversion as converters / exposed users, not purchase events', () => {
    // Prepare
    const counters = {
      control: [item('2026-01-15', { exposed_users: 50, conversions: 9, converters: 4 })],
      treatment: [item('2026-01-15', { exposed_users: 50 })],
    };

    // Act
    const input = ok(buildAnalysisInput(experiment({ target_metric: { kind: 'conversion' } }), counters));

    // Assess
    expect(input.config.target_metric.kind).toBe('proportion');
    expect(input.counters[0]).toMatchObject({ variant: 'control', exposed_users: 50, conversions: 4 });
  });

  it.each([
    ['watch_time', { watch_time_n: 3, watch_time_sum: 900, watch_time_sum_sq: 290_000 }],
    ['rating', { rating_n: 3, rating_sum: 12, rating_sum_sq: 50 }],
  ] as const)('analyses %s as a mean from its n, sum and sum of squares', (kind, fields) => {
    // Prepare
    const counters = { control: [item('2026-01-15', { exposed_users: 5, ...fields, revenue_n: 99 })], treatment: [] };

    // Act
    const input = ok(buildAnalysisInput(experiment({ target_metric: { kind } }), counters));

    // Assess
    const values = Object.values(fields);
    expect(input.config.target_metric.kind).toBe('mean');
    expect(input.counters[0]).toMatchObject({ value_n: values[0], value_sum: values[1], value_sum_sq: values[2] });
  });

  it('describes the metric definition for the report', () => {
    expect(metricPlanFor(experiment())).toEqual({ kind: 'ratio', definition: expect.stringContaining('delta method') });
  });
});

describe('configuration', () => {
  it('carries weights, control, confidence level, min sample size and the default MDE', () => {
    // Act
    const input = ok(buildAnalysisInput(experiment({ confidence_level: 0.9, min_sample_size: 250 }), twoDays()));

    // Assess
    expect(input.config).toMatchObject({
      experiment_id: 'exp-map',
      variants: [
        { name: 'control', weight: 0.5, control: true },
        { name: 'treatment', weight: 0.5, control: false },
      ],
      confidence_level: 0.9,
      min_sample_size: 250,
      mde: DEFAULT_ANALYSIS_MDE,
    });
  });

  it("uses the experiment's own minimum detectable effect when it sets one", () => {
    // Act
    const input = ok(buildAnalysisInput(experiment({ minimum_detectable_effect: 0.05 }), twoDays()));

    // Assess
    expect(input.config.mde).toBe(0.05);
  });

  it('leaves out inactive variants with weight 0, and names them', () => {
    // Prepare
    const exp = experiment({
      variants: [
        { name: 'control', model_id: 'content', model_version: 'v1', weight: 0.5, is_control: true },
        { name: 'treatment', model_id: 'als', model_version: 'v1', weight: 0.5 },
        { name: 'retired', model_id: 'bpr', model_version: 'v1', weight: 0, active: false },
      ],
    });

    // Act
    const input = ok(buildAnalysisInput(exp, { ...twoDays(), retired: [item('2026-01-15', { exposed_users: 7 })] }));

    // Assess
    expect(input.config.variants.map((variant) => variant.name)).toEqual(['control', 'treatment']);
    expect(input.notes.excludedVariants).toEqual(['retired']);
  });
});

describe('guardrails', () => {
  it('maps click-through and conversion guardrails and names the ones a stored experiment holds that the counters do not measure', () => {
    // Prepare: stored before the API refused latency guardrails
    const exp = storedWithGuardrails([
      { metric: 'click_through', max_relative_degradation: 0.05 },
      { metric: 'conversion', max_relative_degradation: 0.1 },
      { metric: 'latency_p95_ms', max_relative_degradation: 0.2 },
    ]);

    // Act
    const input = ok(buildAnalysisInput(exp, twoDays()));

    // Assess
    expect(input.config.guardrails).toEqual([
      { metric: 'ctr', max_relative_drop: 0.05 },
      { metric: 'conversion_rate', max_relative_drop: 0.1 },
    ]);
    expect(input.notes.skippedGuardrails).toEqual([{ metric: 'latency_p95_ms', reason: expect.stringContaining('not measured') }]);
    // Conversion is measured on its own counters (converters), not in the target's slot.
    const conversion = input.metrics.find((metric) => metric.id === 'conversion');
    expect(conversion?.measure).toMatchObject({ kind: 'proportion', samples: [{ users: 220, conversions: controlSum('converters') }, expect.anything()] });
  });

  it('names a stored 100% degradation limit as unchecked: no drop can exceed it', () => {
    // Act
    const input = ok(buildAnalysisInput(storedWithGuardrails([{ metric: 'rating', max_relative_degradation: 1 }]), twoDays()));

    // Assess
    expect(input.config.guardrails).toEqual([]);
    expect(input.notes.skippedGuardrails).toEqual([{ metric: 'rating', reason: expect.stringContaining('100%') }]);
  });

  it("checks a watch-time guardrail on its own metric, leaving the target's slots alone", () => {
    // Act
    const input = ok(buildAnalysisInput(experiment({ guardrails: [{ metric: 'watch_time', max_relative_degradation: 0.1 }] }), twoDays()));

    // Assess
    expect(input.config.guardrails).toEqual([{ metric: 'watch_time', max_relative_drop: 0.1 }]);
    expect(input.counters[0].value_n).toBe(0);
    const watch = input.metrics.find((metric) => metric.id === 'watch_time');
    expect(watch?.measure).toMatchObject({ kind: 'mean', samples: [{ sum: controlSum('watch_time_sum') }, expect.anything()] });
  });

  it('checks rating and watch-time guardrails beside a watch-time target: no slot limits how many metrics a report checks', () => {
    // Prepare
    const exp = experiment({
      target_metric: { kind: 'watch_time' },
      guardrails: [
        { metric: 'rating', max_relative_degradation: 0.1 },
        { metric: 'watch_time', max_relative_degradation: 0.1 },
        { metric: 'conversion', max_relative_degradation: 0.1 },
      ],
    });

    // Act
    const input = ok(buildAnalysisInput(exp, twoDays()));

    // Assess
    expect(input.config.guardrails).toEqual([
      { metric: 'rating', max_relative_drop: 0.1 },
      { metric: 'watch_time', max_relative_drop: 0.1 },
      { metric: 'conversion_rate', max_relative_drop: 0.1 },
    ]);
    expect(input.notes.skippedGuardrails).toEqual([]);
    const report = buildExperimentReport({ config: input.config, counters: input.counters, metrics: input.metrics, ranking: input.ranking });
    expect(report.guardrails.map((check) => [check.metric, check.status])).toEqual([
      ['rating', 'ok'],
      ['watch_time', 'ok'],
      ['conversion_rate', 'ok'],
    ]);
  });

  it('checks the conversion guardrail while click-through is analysed on clickers in the proportion slot', () => {
    // Act
    const input = ok(
      buildAnalysisInput(experiment({ analysis_method: 'bayesian', guardrails: [{ metric: 'conversion', max_relative_degradation: 0.1 }] }), twoDays()),
    );

    // Assess
    expect(input.config.guardrails).toEqual([{ metric: 'conversion_rate', max_relative_drop: 0.1 }]);
    expect(input.notes.skippedGuardrails).toEqual([]);
    expect(input.counters[0].conversions).toBe(twoDays().control[0].clickers);
    const conversion = input.metrics.find((metric) => metric.id === 'conversion');
    expect(conversion?.measure).toMatchObject({ samples: [{ conversions: controlSum('converters') }, expect.anything()] });
  });
});

describe('insufficient data', () => {
  it('says so when there are no counters yet', () => {
    // Act
    const input = buildAnalysisInput(experiment(), { control: [], treatment: [] });

    // Assess
    expect(input).toMatchObject({ status: 'insufficient-data', reason: 'no counters yet' });
  });

  it('says so when every counter is after the analysis day', () => {
    // Act
    const input = buildAnalysisInput(experiment(), twoDays(), { through: '2026-01-14' });

    // Assess
    expect(input).toMatchObject({ status: 'insufficient-data', reason: 'no counters on or before 2026-01-14' });
  });

  it('refuses the delta method on counters without user-level second moments, naming the fields', () => {
    // Prepare
    const counters = {
      control: [item('2026-01-15', { exposed_users: 10, impressions: 40, clicks: 4 })],
      treatment: [item('2026-01-15', { exposed_users: 10, impressions: 40, clicks: 6 })],
    };

    // Act
    const input = buildAnalysisInput(experiment(), counters);

    // Assess
    expect(input).toMatchObject({ status: 'insufficient-data', reason: expect.stringContaining('user_clicks_sq_sum') });
  });

  it('skips only the click-through guardrail when the target does not need those moments', () => {
    // Prepare
    const counters = {
      control: [item('2026-01-15', { exposed_users: 10, impressions: 40, clicks: 4, converters: 1 })],
      treatment: [item('2026-01-15', { exposed_users: 10, impressions: 40, clicks: 6 })],
    };
    const exp = experiment({ target_metric: { kind: 'conversion' }, guardrails: [{ metric: 'click_through', max_relative_degradation: 0.05 }] });

    // Act
    const input = ok(buildAnalysisInput(exp, counters));

    // Assess
    expect(input.config.guardrails).toEqual([]);
    expect(input.notes.skippedGuardrails).toEqual([{ metric: 'click_through', reason: expect.stringContaining('second moments') }]);
  });

  it('gives engine input that builds a report with every field finite', () => {
    // Prepare
    const input = ok(buildAnalysisInput(experiment({ guardrails: [{ metric: 'conversion', max_relative_degradation: 0.1 }] }), twoDays()));

    // Act
    const report = buildExperimentReport({ config: input.config, counters: input.counters });

    // Assess
    expect(report.days).toBe(2);
    expect(JSON.stringify(report)).not.toMatch(/NaN|Infinity/);
  });
});
