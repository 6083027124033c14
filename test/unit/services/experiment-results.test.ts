/**
 * The analysis document: the report from counters, the decision, the promotion guard, alerts
 * and the rendered report files.
 */
import { describe, expect, it } from 'vitest';
import { twoArmExperiment } from '../../../lambdas/services/synthetic-counters.ts';
import { parseExperiment, type CreateExperimentInput, type Experiment } from '../../../lambdas/domain/experiments/model.ts';
import { alertFor } from '../../../lambdas/services/analysis-run.ts';
import { analysisFromCounters, promotionFromReport, shouldAlert } from '../../../lambdas/services/experiment-results.ts';
import { renderAnalysisReport } from '../../../lambdas/services/report.ts';
import { syntheticDailyCounters, type SyntheticArm } from '../../../lambdas/services/synthetic-counters.ts';
import type { DailyCounter } from '../../../lambdas/storage/counter-store.ts';

const NOW = new Date('2026-01-20T12:00:00Z');
const DAY = '2026-01-14';

function experiment(overrides: Partial<CreateExperimentInput> = {}): Experiment {
  return twoArmExperiment('exp-doc', { now: NOW, ...overrides });
}

/** Stored counters of 14 days from 2026-01-01. */
function counters(arms: SyntheticArm[]): Record<string, DailyCounter[]> {
  const out: Record<string, DailyCounter[]> = {};
  for (const row of syntheticDailyCounters({ arms, days: 14, firstDay: '2026-01-01' })) {
    (out[row.variant] ??= []).push({ day: row.day, ...(row.increments as Record<string, number>) });
  }
  return out;
}

const arm = (variant: string, overrides: Partial<SyntheticArm> = {}): SyntheticArm => ({ variant, users: 5000, ctr: 0.05, conversionRate: 0.05, ...overrides });

describe('analysis from counters', () => {
  it('ships a clear click-through winner and names it for promotion', () => {
    // Act
    const analysis = analysisFromCounters(experiment(), counters([arm('control'), arm('treatment', { ctr: 0.07 })]), { day: DAY });

    // Assess
    expect(analysis).toMatchObject({ result: 'ok', decision: 'ship', winner: 'treatment', through: DAY });
    expect(analysis.promotion).toEqual({ significant: true, srm_flagged: false, winner: 'treatment' });
  });

  it('asks to investigate a 5,200 / 4,800 split on 50/50 weights, and blocks promotion', () => {
    // Act
    const analysis = analysisFromCounters(experiment(), counters([arm('control', { users: 5200 }), arm('treatment', { users: 4800, ctr: 0.07 })]), {
      day: DAY,
    });

    // Assess
    expect(analysis.decision).toBe('investigate-srm');
    expect(analysis.promotion).toMatchObject({ significant: false, srm_flagged: true });
  });

  it('keeps running with a reason and no report when there are no counters', () => {
    // Act
    const analysis = analysisFromCounters(experiment(), {}, { day: DAY });

    // Assess
    expect(analysis).toMatchObject({ result: 'insufficient-data', reason: 'no counters yet', decision: 'keep-running', report: null, counter_items_read: 0 });
    expect(analysis.promotion).toEqual({ significant: false, srm_flagged: false });
  });

  it('gives the same document for the same counters and day', () => {
    // Prepare
    const stored = counters([arm('control'), arm('treatment', { ctr: 0.055 })]);

    // Act
    const first = JSON.stringify(analysisFromCounters(experiment(), stored, { day: DAY }));
    const second = JSON.stringify(analysisFromCounters(experiment(), structuredClone(stored), { day: DAY }));

    // Assess
    expect(second).toBe(first);
    expect(first).not.toMatch(/NaN|Infinity/);
  });

  it('counts the counter items it read: days x variants, whatever the number of events', () => {
    // Act
    const small = analysisFromCounters(experiment(), counters([arm('control', { users: 500 }), arm('treatment', { users: 500 })]), { day: DAY });
    const large = analysisFromCounters(experiment(), counters([arm('control', { users: 500_000 }), arm('treatment', { users: 500_000 })]), { day: DAY });

    // Assess
    expect([small.counter_items_read, large.counter_items_read]).toEqual([28, 28]);
  });

  it('reports a tripped guardrail even while the decision is keep-running', () => {
    // Prepare
    const exp = experiment({ min_sample_size: 100_000, guardrails: [{ metric: 'conversion', max_relative_degradation: 0.1 }] });

    // Act
    const analysis = analysisFromCounters(exp, counters([arm('control'), arm('treatment', { conversionRate: 0.025 })]), { day: DAY });

    // Assess
    expect(analysis.decision).toBe('keep-running');
    expect(analysis.guardrails_breached).toEqual([{ variant: 'treatment', metric: 'conversion_rate' }]);
    expect(shouldAlert(analysis)).toBe(true);
  });
});

describe('every metric in the report', () => {
  it('measures every metric on its own counters, the target first and outside the secondary family', () => {
    // Act
    const analysis = analysisFromCounters(experiment(), counters([arm('control'), arm('treatment', { ctr: 0.07 })]), { day: DAY });

    // Assess
    const metrics = analysis.report?.metrics;
    expect(metrics?.metrics.map((metric) => [metric.id, metric.role])).toEqual([
      ['click_through', 'target'],
      ['conversion', 'secondary'],
      ['revenue_per_user', 'secondary'],
      ['revenue_per_purchase', 'secondary'],
      ['watch_time', 'secondary'],
      ['rating', 'secondary'],
    ]);
    // The panel's click-through is the target's own test, at its fixed horizon.
    const target = analysis.report?.comparisons[0];
    const panelTarget = metrics?.metrics[0].comparisons[0];
    expect(target?.status === 'ok' && panelTarget?.status === 'ok' && [panelTarget.pValue, panelTarget.difference]).toEqual(
      target?.status === 'ok' && [target.pValue, target.difference],
    );
    expect(panelTarget).toMatchObject({ pValueAdjusted: null });
    expect(analysis.report?.ranking?.coverage).toMatchObject({ status: 'not-measured' });
  });

  it('checks rating and watch-time guardrails together: no slot is shared with the target or each other', () => {
    // Prepare
    const exp = experiment({
      target_metric: { kind: 'conversion' },
      guardrails: [
        { metric: 'rating', max_relative_degradation: 0.1 },
        { metric: 'watch_time', max_relative_degradation: 0.1 },
        { metric: 'click_through', max_relative_degradation: 0.1 },
      ],
    });

    // Act
    const analysis = analysisFromCounters(exp, counters([arm('control'), arm('treatment')]), { day: DAY });

    // Assess
    expect(analysis.skipped_guardrails).toEqual([]);
    expect(analysis.report?.guardrails.map((check) => [check.metric, check.variant, check.status])).toEqual([
      ['rating', 'treatment', 'ok'],
      ['watch_time', 'treatment', 'ok'],
      ['ctr', 'treatment', 'ok'],
    ]);
  });
});

describe('promotion from the report', () => {
  it('is not significant without a report', () => {
    expect(promotionFromReport(null)).toEqual({ significant: false, srm_flagged: false });
  });
});

describe('alerts', () => {
  it('does not alert on keep-running without a tripped guardrail', () => {
    // Act
    const analysis = analysisFromCounters(experiment(), {}, { day: DAY });

    // Assess
    expect(shouldAlert(analysis)).toBe(false);
  });

  it('names the breached guardrail and variant in the subject', () => {
    // Prepare
    const exp = experiment({ min_sample_size: 100_000, guardrails: [{ metric: 'conversion', max_relative_degradation: 0.1 }] });
    const analysis = analysisFromCounters(exp, counters([arm('control'), arm('treatment', { conversionRate: 0.025 })]), { day: DAY });

    // Act
    const alert = alertFor(analysis, `reports/exp-doc/${DAY}/report.html`);

    // Assess
    expect(alert.subject).toBe('abrec: exp-doc guardrail breached (conversion_rate@treatment)');
    expect(JSON.parse(alert.message)).toMatchObject({
      experiment_id: 'exp-doc',
      day: DAY,
      decision: 'keep-running',
      report: `reports/exp-doc/${DAY}/report.html`,
    });
  });
});

describe('rendered report', () => {
  it('writes the analysis document as JSON and the engine page with the analysis notes as HTML', () => {
    // Prepare: an experiment stored before the API refused latency guardrails still loads
    const exp = parseExperiment({ ...experiment(), guardrails: [{ metric: 'latency_p95_ms', max_relative_degradation: 0.2 }] });
    const analysis = analysisFromCounters(exp, counters([arm('control'), arm('treatment')]), { day: DAY });

    // Act
    const rendered = renderAnalysisReport(analysis);

    // Assess
    expect(rendered.json).toBe(analysis);
    expect(rendered.html).toContain('<svg');
    expect(rendered.html).toContain('Guardrail latency_p95_ms not checked');
    // ...and visibly where the guardrails are, not only in the notes.
    expect(rendered.html).toMatch(
      /<h2>Guardrails<\/h2>\n<ul><li>latency_p95_ms: <strong class="bad">NOT CHECKED<\/strong> — not measured by the daily counters/,
    );
    expect(analysis.skipped_guardrails).toEqual([{ metric: 'latency_p95_ms', reason: expect.stringContaining('not measured by the daily counters') }]);
  });

  it('shows every metric and the recommendation metrics on the page', () => {
    // Act
    const rendered = renderAnalysisReport(analysisFromCounters(experiment(), counters([arm('control'), arm('treatment', { ctr: 0.06 })]), { day: DAY }));

    // Assess
    expect(rendered.html).toContain('<h2>All metrics</h2>');
    expect(rendered.html).toContain('<h2>Recommendation metrics</h2>');
    expect(rendered.html).toContain('revenue per purchase');
  });

  it('renders a short page with the reason when there is no report', () => {
    // Act
    const rendered = renderAnalysisReport(analysisFromCounters(experiment(), {}, { day: DAY }));

    // Assess
    expect(rendered.html).toContain('Not enough data for a report: no counters yet');
    expect(rendered.html).not.toContain('<script');
  });
});
