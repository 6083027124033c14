/**
 * The report builder: decisions, guardrails, the timeline and the HTML page, from cumulative
 * daily counters.
 */
import { describe, expect, it } from 'vitest';
import { buildExperimentReport, isAllFinite, renderReportHtml, StatsInputError, type DailyVariantCounters } from '../../../lambdas/domain/stats/index.ts';
import { simulateCounters, twoArmConfig, type ArmPlan } from './fixtures.ts';

const control = (overrides: Partial<ArmPlan> = {}): ArmPlan => ({ variant: 'control', usersPerDay: 1500, conversionRate: 0.09, ctr: 0.05, ...overrides });
const treatment = (overrides: Partial<ArmPlan> = {}): ArmPlan => ({ variant: 'treatment', usersPerDay: 1500, conversionRate: 0.09, ctr: 0.05, ...overrides });

describe('decision', () => {
  it('ships a treatment with a clear win on the always-valid p-value', () => {
    const counters = simulateCounters([control(), treatment({ conversionRate: 0.105 })], 14, 7);

    const report = buildExperimentReport({ config: twoArmConfig(), counters });

    expect(report.decision).toMatchObject({ decision: 'ship', winner: 'treatment' });
  });

  it('keeps running when there is no effect and the required sample size is not reached', () => {
    const counters = simulateCounters([control({ usersPerDay: 300 }), treatment({ usersPerDay: 300 })], 7, 8);

    const report = buildExperimentReport({ config: twoArmConfig(), counters });

    expect(report.decision.decision).toBe('keep-running');
    expect(report.sampleSize.progress).toBeLessThan(1);
  });

  it('keeps running with no effect past the fixed-horizon size but short of the sequential plan', () => {
    const counters = simulateCounters([control({ usersPerDay: 2000 }), treatment({ usersPerDay: 2000 })], 10, 9);

    const report = buildExperimentReport({ config: twoArmConfig(), counters });

    expect(report.sampleSize.smallestVariantUsers).toBeGreaterThan(report.sampleSize.fixedHorizonPerVariant as number);
    expect(report.sampleSize.progress).toBeLessThan(1);
    expect(report.decision.decision).toBe('keep-running');
  });

  it('stops for no effect once the sequential plan is reached and the always-valid interval rules out the MDE', () => {
    const counters = simulateCounters([control({ usersPerDay: 4000 }), treatment({ usersPerDay: 4000 })], 10, 9);

    const report = buildExperimentReport({ config: twoArmConfig(), counters });

    expect(report.sampleSize.progress).toBe(1);
    const comparison = report.comparisons[0];
    expect(
      comparison.status === 'ok' && comparison.alwaysValidInterval !== null && comparison.alwaysValidInterval.high < 0.1 * comparison.controlEstimate,
    ).toBe(true);
    expect(report.decision.decision).toBe('stop-no-effect');
  });

  it('asks to investigate a sample ratio mismatch before anything else', () => {
    const counters = simulateCounters([control({ usersPerDay: 1500 }), treatment({ usersPerDay: 1350, conversionRate: 0.12 })], 10, 10);

    const report = buildExperimentReport({ config: twoArmConfig(), counters });

    expect(report.srm).toMatchObject({ status: 'ok', flagged: true });
    expect(report.decision.decision).toBe('investigate-srm');
  });

  it('does not decide before min_sample_size users per variant, even on a large effect', () => {
    const counters = simulateCounters([control({ usersPerDay: 400 }), treatment({ usersPerDay: 400, conversionRate: 0.2 })], 3, 11);

    const report = buildExperimentReport({ config: twoArmConfig({ min_sample_size: 5000 }), counters });

    expect(report.decision.decision).toBe('keep-running');
    expect(report.decision.reason).toMatch(/min_sample_size/);
  });

  it('does not ship a winner that breaches a guardrail', () => {
    const counters = simulateCounters([control({ ctr: 0.06 }), treatment({ conversionRate: 0.11, ctr: 0.045 })], 14, 12);

    const report = buildExperimentReport({ config: twoArmConfig(), counters });

    expect(report.guardrails).toEqual([expect.objectContaining({ metric: 'ctr', variant: 'treatment', breached: true })]);
    expect(report.decision.decision).not.toBe('ship');
  });
});

describe('metric kinds', () => {
  it('analyses click-through as a user-level ratio metric', () => {
    const counters = simulateCounters([control({ ctr: 0.05 }), treatment({ ctr: 0.058 })], 14, 13);

    const report = buildExperimentReport({ config: twoArmConfig({ target_metric: { kind: 'ratio' }, guardrails: [] }), counters });

    expect(report.comparisons[0]).toMatchObject({ status: 'ok', test: 'delta-method-z' });
    expect(report.decision.decision).toBe('ship');
  });

  it("analyses a continuous value with Welch's t-test", () => {
    const counters = simulateCounters([control(), treatment()], 5, 14);

    const report = buildExperimentReport({ config: twoArmConfig({ target_metric: { kind: 'mean' } }), counters });

    expect(report.comparisons[0]).toMatchObject({ status: 'ok', test: 'welch-t' });
    expect(report.sampleSize.requiredPerVariant).toBeGreaterThan(0);
  });
});

describe('timeline and output', () => {
  const counters = simulateCounters([control(), treatment({ conversionRate: 0.1 })], 14, 15);
  const report = buildExperimentReport({ config: twoArmConfig(), counters });

  it('has one point per day with non-increasing always-valid p-values', () => {
    expect(report.timeline.map((point) => point.day)).toHaveLength(14);
    const path = report.timeline.map((point) => point.comparisons[0].alwaysValidPValue);
    path.slice(1).forEach((p, i) => {
      expect(p).toBeLessThanOrEqual(path[i]);
    });
  });

  it('contains no NaN or Infinity and survives a JSON round trip unchanged', () => {
    expect(isAllFinite(report)).toBe(true);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('gives the same report for the same counters in any row order', () => {
    const shuffled = [...counters].reverse();

    expect(buildExperimentReport({ config: twoArmConfig(), counters: shuffled })).toEqual(report);
  });

  it('renders a self-contained HTML page with the four charts and no scripts or external resources', () => {
    const html = renderReportHtml(report);

    expect(html.match(/<svg /g)).toHaveLength(4);
    expect(html).not.toMatch(/<script|<link|src=|href=|url\(/i);
    expect(html).toContain(`Decision: ${report.decision.decision}`);
  });

  it('escapes the experiment id in the HTML', () => {
    const hostile = buildExperimentReport({ config: twoArmConfig({ experiment_id: '<img onerror=x>' }), counters });

    expect(renderReportHtml(hostile)).not.toContain('<img');
  });
});

describe('insufficient data', () => {
  it('reports a first day with a handful of users without NaN and keeps running', () => {
    const counters = simulateCounters([control({ usersPerDay: 1 }), treatment({ usersPerDay: 1 })], 1, 16);

    const report = buildExperimentReport({ config: twoArmConfig({ min_sample_size: 0 }), counters });

    expect(report.comparisons[0].status).toBe('insufficient-data');
    expect(report.decision.decision).toBe('keep-running');
    expect(isAllFinite(report)).toBe(true);
    expect(renderReportHtml(report)).toContain('<svg');
  });
});

describe('input errors name the field', () => {
  const counters = simulateCounters([control(), treatment()], 2, 17);

  it('rejects daily increments passed as if they were cumulative', () => {
    const shrinking: DailyVariantCounters[] = counters.map((row) =>
      row.day === '2026-11-02' && row.variant === 'control' ? { ...row, exposed_users: counters[0].exposed_users - 1 } : row,
    );

    expect(() => buildExperimentReport({ config: twoArmConfig(), counters: shrinking })).toThrow(/counters\[2\]\.exposed_users.*cumulative/);
  });

  it('rejects an unknown variant', () => {
    expect(() => buildExperimentReport({ config: twoArmConfig(), counters: [{ ...counters[0], variant: 'ghost' }] })).toThrow(/counters\[0\]\.variant/);
  });

  it('rejects a malformed day', () => {
    expect(() => buildExperimentReport({ config: twoArmConfig(), counters: [{ ...counters[0], day: '11/01/2026' }] })).toThrow(/counters\[0\]\.day/);
  });

  it('rejects a configuration without a control', () => {
    const config = twoArmConfig({
      variants: [
        { name: 'a', weight: 1, control: false },
        { name: 'b', weight: 1, control: false },
      ],
    });

    expect(() => buildExperimentReport({ config, counters })).toThrow(StatsInputError);
  });

  it('rejects an out-of-range guardrail', () => {
    expect(() => buildExperimentReport({ config: twoArmConfig({ guardrails: [{ metric: 'ctr', max_relative_drop: 5 }] }), counters })).toThrow(
      /guardrails\[0\]\.max_relative_drop/,
    );
  });
});
