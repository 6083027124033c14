/**
 * The sequential plan and the stop rule: the sample size the report plans for is the one the
 * always-valid test needs (checked against scipy in test/reference/stats/sequential_cases.json),
 * and a run stops for no effect only past that plan, once the MDE is ruled out.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  buildExperimentReport,
  renderReportHtml,
  sampleSizeForProportions,
  sequentialPower,
  sequentialPowerForStandardError,
  sequentialSampleSize,
  sequentialSampleSizeForDifference,
  StatsInputError,
  type DailyVariantCounters,
  type ExperimentConfig,
} from '../../../lambdas/domain/stats/index.ts';
import { simulateCounters, twoArmConfig } from './fixtures.ts';

const UNUSED = {
  impressions: 0,
  clicks: 0,
  value_n: 0,
  value_sum: 0,
  value_sum_sq: 0,
  user_clicks_sq_sum: 0,
  user_impressions_sq_sum: 0,
  user_clicks_impressions_sum: 0,
};

/** Cumulative counters growing in a straight line over `days` to the given totals per arm. */
function straightLine(days: number, users: number, conversions: Record<string, number>): DailyVariantCounters[] {
  return Array.from({ length: days }, (_, d) => {
    const day = new Date(Date.UTC(2026, 10, 1 + d)).toISOString().slice(0, 10);
    return Object.entries(conversions).map(([variant, total]) => ({
      day,
      variant,
      exposed_users: Math.round((users * (d + 1)) / days),
      conversions: Math.round((total * (d + 1)) / days),
      ...UNUSED,
    }));
  }).flat();
}

interface ReferenceCases {
  genzAbsoluteError: number;
  sequentialSampleSize: {
    input: { baselineRate: number; relativeMde: number; alpha: number; power: number; looks: number };
    expected: { users: number; usersPerVariant: number; powerAtPlan: number };
  }[];
  sequentialSampleSizeForDifference: {
    input: { differenceVariancePerUser: number; absoluteMde: number; mixtureVariance?: number; alpha: number; power: number; looks: number };
    expected: { users: number; usersPerVariant: number };
  }[];
  sequentialPower: {
    input: { differenceVariancePerUser: number; absoluteMde: number; alpha: number; usersPerVariant: number; looks: number };
    expected: { power: number };
  }[];
}

const reference = JSON.parse(readFileSync(new URL('../../reference/stats/sequential_cases.json', import.meta.url), 'utf8')) as ReferenceCases;
/**
 * One look is a normal tail on both sides, so it must agree to rounding. Several looks are
 * Genz's quasi-Monte Carlo in scipy (absolute error about 1e-6) against the recursive
 * integration here; the users solved from them may differ by one.
 */
const powerTolerance = (looks: number): number => (looks === 1 ? 1e-9 : 5 * reference.genzAbsoluteError);
const usersTolerance = (looks: number): number => (looks === 1 ? 0 : 1);

describe('reference values (scipy, test/reference/stats/make_sequential_cases.py)', () => {
  it.each(reference.sequentialSampleSize)('sequentialSampleSize case %#', ({ input, expected }) => {
    const plan = sequentialSampleSize(input);
    const treatmentRate = input.baselineRate * (1 + input.relativeMde);
    const design = {
      differenceVariancePerUser: input.baselineRate * (1 - input.baselineRate) + treatmentRate * (1 - treatmentRate),
      absoluteMde: treatmentRate - input.baselineRate,
      alpha: input.alpha,
      looks: input.looks,
    };

    expect(Math.abs(plan.usersPerVariant - expected.usersPerVariant)).toBeLessThanOrEqual(usersTolerance(input.looks));
    expect(Math.abs(sequentialPower({ ...design, usersPerVariant: expected.usersPerVariant }) - expected.powerAtPlan)).toBeLessThanOrEqual(
      powerTolerance(input.looks),
    );
    expect(sequentialPower({ ...design, usersPerVariant: plan.usersPerVariant })).toBeGreaterThanOrEqual(input.power);
    expect(sequentialPower({ ...design, usersPerVariant: plan.usersPerVariant - 1 })).toBeLessThan(input.power);
  });

  it.each(reference.sequentialSampleSizeForDifference)('sequentialSampleSizeForDifference case %#', ({ input, expected }) => {
    expect(Math.abs(sequentialSampleSizeForDifference(input) - expected.usersPerVariant)).toBeLessThanOrEqual(usersTolerance(input.looks));
  });

  it.each(reference.sequentialPower)('sequentialPower case %#', ({ input, expected }) => {
    expect(Math.abs(sequentialPower(input) - expected.power)).toBeLessThanOrEqual(powerTolerance(input.looks));
  });
});

/** 9% baseline fixed in advance, +10% MDE, no guardrails: the plan is 32,130 per variant. */
const CONFIG: ExperimentConfig = twoArmConfig({ guardrails: [], baseline: 0.09 });
const PLANNED = 32130;
const FIXED_HORIZON = 16583;

describe('the planned sample size in the report', () => {
  it('is the sequential plan, with the fixed-horizon size beside it', () => {
    const report = buildExperimentReport({ config: CONFIG, counters: straightLine(14, 10_000, { control: 900, treatment: 900 }) });

    expect(report.sampleSize).toMatchObject({ requiredPerVariant: PLANNED, fixedHorizonPerVariant: FIXED_HORIZON });
    expect(report.sampleSize.progress).toBeCloseTo(10_000 / PLANNED, 12);
    expect(sequentialSampleSize({ baselineRate: 0.09, relativeMde: 0.1, alpha: 0.05, power: 0.8 }).usersPerVariant).toBe(PLANNED);
    expect(sampleSizeForProportions({ baselineRate: 0.09, relativeMde: 0.1, alpha: 0.05, power: 0.8 }).usersPerVariant).toBe(FIXED_HORIZON);
  });

  it('reaches the configured power of an always-valid look exactly at the plan', () => {
    // Observed rates 9.00% and 9.90%, so the standard error is the one the plan assumed.
    const report = buildExperimentReport({ config: CONFIG, counters: straightLine(1, PLANNED, { control: 2892, treatment: 3181 }) });

    expect(report.sampleSize.achievedPower).toBeGreaterThan(0.799);
    expect(report.sampleSize.achievedPower).toBeLessThan(0.801);
  });

  it('splits alpha over the treatment variants, as Holm does at its first step', () => {
    const config = twoArmConfig({
      guardrails: [],
      baseline: 0.09,
      variants: [
        { name: 'control', weight: 1, control: true },
        { name: 'a', weight: 1, control: false },
        { name: 'b', weight: 1, control: false },
      ],
    });

    const report = buildExperimentReport({ config, counters: straightLine(3, 5000, { control: 450, a: 450, b: 450 }) });

    expect(report.sampleSize.requiredPerVariant).toBe(sequentialSampleSize({ baselineRate: 0.09, relativeMde: 0.1, alpha: 0.025, power: 0.8 }).usersPerVariant);
    expect(report.sampleSize.fixedHorizonPerVariant).toBe(FIXED_HORIZON);
  });

  it.each(['mean', 'ratio'] as const)('plans a %s metric from its per-user variance, at the sequential/fixed ratio of the z scale', (kind) => {
    const counters = simulateCounters(
      [
        { variant: 'control', usersPerDay: 400, conversionRate: 0.09, ctr: 0.05 },
        { variant: 'treatment', usersPerDay: 400, conversionRate: 0.09, ctr: 0.05 },
      ],
      3,
      31,
    );

    const { sampleSize } = buildExperimentReport({ config: twoArmConfig({ target_metric: { kind }, guardrails: [] }), counters });

    // Both sizes are sigma^2 / delta^2 times a constant, each rounded up: (z_a/2 + z_b)^2 = 7.849
    // for the fixed test and 15.211 for the always-valid one (scipy: 32,129.9 users x 0.009^2 / 0.171099
    // in the first case of sequential_cases.json).
    const fixedHorizon = sampleSize.fixedHorizonPerVariant as number;
    expect(Math.abs((sampleSize.requiredPerVariant as number) - (15.210625 / 7.848879) * fixedHorizon)).toBeLessThanOrEqual(3);
    expect(fixedHorizon).toBeGreaterThan(100);
  });
});

describe('the stop rule', () => {
  it('does not stop for no effect at the fixed-horizon size with an observed +10% (= MDE) at fixed p = 0.005', () => {
    // The measured defect: 14 daily looks reaching 16,583 users per variant (the old plan),
    // 9.00% -> 9.90%. The always-valid test has not crossed yet; the run must go on.
    const report = buildExperimentReport({ config: CONFIG, counters: straightLine(14, FIXED_HORIZON, { control: 1492, treatment: 1641 }) });

    const comparison = report.comparisons[0];
    expect(comparison.status === 'ok' && comparison.relativeLift).toBeCloseTo(0.1, 2);
    expect(comparison.status === 'ok' && comparison.pValue).toBeGreaterThan(0.004);
    expect(comparison.status === 'ok' && comparison.pValue).toBeLessThan(0.006);
    expect(comparison.alwaysValidPValueAdjusted).toBeGreaterThan(0.05);
    expect(report.decision.decision).not.toBe('stop-no-effect');
    expect(report.decision).toMatchObject({ decision: 'keep-running', reason: expect.stringMatching(/16,583 of the planned 32,130/) });
  });

  it('ships an observed +10% at the planned size', () => {
    const report = buildExperimentReport({ config: CONFIG, counters: straightLine(14, PLANNED, { control: 2892, treatment: 3181 }) });

    expect(report.decision).toMatchObject({ decision: 'ship', winner: 'treatment' });
  });

  it('keeps running past the plan while the always-valid interval still includes +MDE', () => {
    // +5% at the plan: not significant (fixed p = 0.05), and +10% not ruled out either.
    const report = buildExperimentReport({ config: CONFIG, counters: straightLine(14, PLANNED, { control: 2892, treatment: 3037 }) });

    const interval = report.comparisons[0].alwaysValidInterval;
    expect(report.sampleSize.progress).toBe(1);
    expect(interval !== null && interval.low < 0 && interval.high > 0.009).toBe(true);
    expect(report.decision).toMatchObject({ decision: 'keep-running', reason: expect.stringMatching(/still includes a \+10% effect/) });
  });

  it('stops for no effect at the plan once the always-valid interval lies below +MDE', () => {
    const report = buildExperimentReport({ config: CONFIG, counters: straightLine(14, PLANNED, { control: 2892, treatment: 2892 }) });

    const interval = report.comparisons[0].alwaysValidInterval;
    expect(interval !== null && interval.high < 0.009).toBe(true);
    expect(report.decision).toMatchObject({ decision: 'stop-no-effect', reason: expect.stringMatching(/planned 32,130 users per variant/) });
  });

  it('does not stop for no effect before the plan, even when the interval already rules out +MDE', () => {
    const report = buildExperimentReport({ config: CONFIG, counters: straightLine(14, 25_000, { control: 2250, treatment: 2250 }) });

    const interval = report.comparisons[0].alwaysValidInterval;
    expect(interval !== null && interval.high < 0.009).toBe(true);
    expect(report.sampleSize.progress).toBeLessThan(1);
    expect(report.decision.decision).toBe('keep-running');
  });

  it('stops a variant that is significantly worse at any size', () => {
    const report = buildExperimentReport({ config: CONFIG, counters: straightLine(7, 5000, { control: 450, treatment: 300 }) });

    expect(report.sampleSize.progress).toBeLessThan(1);
    expect(report.decision).toMatchObject({ decision: 'stop-no-effect', reason: expect.stringMatching(/significantly worse/) });
  });

  it('stops at the plan when the only variant that could win breaches a guardrail', () => {
    const config = twoArmConfig({ baseline: 0.09, guardrails: [{ metric: 'conversion_rate', max_relative_drop: 0.05 }], target_metric: { kind: 'mean' } });
    const counters = straightLine(14, 40_000, { control: 3600, treatment: 3100 }).map((row) => ({
      ...row,
      value_n: row.exposed_users,
      value_sum: row.exposed_users * (row.variant === 'control' ? 0.09 : 0.1),
      value_sum_sq: row.exposed_users * 0.1,
    }));

    const report = buildExperimentReport({ config, counters });

    expect(report.comparisons[0].alwaysValidPValueAdjusted).toBeLessThan(0.05);
    expect(report.guardrails[0].breached).toBe(true);
    expect(report.sampleSize.progress).toBe(1);
    expect(report.decision.decision).toBe('stop-no-effect');
  });
});

describe('the HTML report', () => {
  it('measures progress against the sequential plan and names the fixed-horizon size', () => {
    const html = renderReportHtml(buildExperimentReport({ config: CONFIG, counters: straightLine(14, FIXED_HORIZON, { control: 1492, treatment: 1641 }) }));

    expect(html).toContain('Progress to the sequential plan (32,130 per variant)');
    expect(html).toContain('16,583 (52%)');
    expect(html).toContain('fixed-horizon test would need 16,583');
  });
});

describe('input checks', () => {
  it.each([
    [{ looks: 0 }, /looks/],
    [{ looks: 2.5 }, /looks/],
    [{ differenceVariancePerUser: 0 }, /differenceVariancePerUser/],
    [{ absoluteMde: 0 }, /absoluteMde/],
    [{ mixtureVariance: -1 }, /mixtureVariance/],
    [{ alpha: 1 }, /alpha/],
    [{ power: 0 }, /power/],
  ])('rejects %j naming the field', (override, message) => {
    const input = { differenceVariancePerUser: 0.17, absoluteMde: 0.009, alpha: 0.05, power: 0.8, ...override };

    expect(() => sequentialSampleSizeForDifference(input)).toThrow(StatsInputError);
    expect(() => sequentialSampleSizeForDifference(input)).toThrow(message);
  });

  it('gives no power without a standard error', () => {
    expect(sequentialPowerForStandardError({ absoluteMde: 0.009, standardError: 0, alpha: 0.05 })).toBe(0);
  });

  it('gains power with more looks at the same size, and loses it with fewer users', () => {
    const design = { differenceVariancePerUser: 0.171099, absoluteMde: 0.009, alpha: 0.05 };

    const one = sequentialPower({ ...design, usersPerVariant: PLANNED, looks: 1 });
    const fourteen = sequentialPower({ ...design, usersPerVariant: PLANNED, looks: 14 });

    expect(one).toBeGreaterThanOrEqual(0.8);
    expect(fourteen).toBeGreaterThan(one);
    expect(sequentialPower({ ...design, usersPerVariant: PLANNED - 1, looks: 1 })).toBeLessThan(0.8);
  });
});
