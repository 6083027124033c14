/**
 * A bandit analysed as a bandit, on hand-made counters: the issue's 3,000 / 7,000 split of a
 * bandit configured 50/50 is no mismatch when the logged allocation explains it, and is one when
 * it does not; SNIPS is the observed rate while the allocation stands still; a bandit whose
 * exposures did not all log their allocation is analysed as a fixed split and says why.
 */
import { describe, expect, it } from 'vitest';
import {
  BANDIT_INVERSE_PROPENSITY_FIELD,
  BANDIT_INVERSE_PROPENSITY_SQ_FIELD,
  BANDIT_LOGGED_EXPOSURES_FIELD,
  expectedExposuresField,
  rewardInversePropensityFields,
} from '../../../lambdas/domain/events/bandit-counters.ts';
import { createExperiment, promoteExperiment } from '../../../lambdas/domain/experiments/lifecycle.ts';
import { ExperimentConflictError } from '../../../lambdas/domain/experiments/errors.ts';
import { banditSampleRatio, buildBanditReport, buildExperimentReport, StatsInputError, type BanditArmSums } from '../../../lambdas/domain/stats/index.ts';
import { analysisFromCounters } from '../../../lambdas/services/experiment-results.ts';
import type { DailyCounter } from '../../../lambdas/storage/counter-store.ts';

const NOW = new Date('2026-03-01T00:00:00Z');
const ARMS = ['control', 'treatment'] as const;

const bandit = createExperiment({
  now: NOW,
  request: {
    id: 'bandit-unit',
    name: 'bandit',
    status: 'running',
    mode: 'bandit',
    variants: [
      { name: 'control', model_id: 'm', model_version: 'a', weight: 0.5, is_control: true },
      { name: 'treatment', model_id: 'm', model_version: 'b', weight: 0.5 },
    ],
    target_metric: { kind: 'click_through' },
    min_sample_size: 100,
  },
});

/**
 * One day of one arm's counter item: `users` exposed while the allocation was `allocation`
 * (logged with each exposure, or not when `logged` is false), `clickers` of them clicked.
 */
function day(date: string, arm: (typeof ARMS)[number], users: number, clickers: number, allocation: Record<string, number>, logged = true): DailyCounter {
  const p = allocation[arm];
  const base: DailyCounter = {
    day: date,
    exposed_users: users,
    clickers,
    impressions: 2 * users,
    clicks: clickers,
    user_clicks_sq_sum: clickers,
    user_impressions_sq_sum: 4 * users,
    user_clicks_impressions_sum: 2 * clickers,
  };
  if (!logged) return base;
  const reward = rewardInversePropensityFields('clickers');
  return {
    ...base,
    [BANDIT_LOGGED_EXPOSURES_FIELD]: users,
    ...Object.fromEntries(ARMS.map((name) => [expectedExposuresField(name), users * allocation[name]])),
    [BANDIT_INVERSE_PROPENSITY_FIELD]: users / p,
    [BANDIT_INVERSE_PROPENSITY_SQ_FIELD]: users / (p * p),
    [reward.sum]: clickers / p,
    [reward.sumSq]: clickers / (p * p),
  };
}

/**
 * The issue's bandit: 50/50 on the first day (1,000 users each), then the allocation moves to
 * 25/75 and 8,000 more users come: 3,000 / 7,000 in all. `logged` is the allocation the
 * exposures of the second day logged (the one in force unless a bug says otherwise).
 */
function issueCounters({ logged = { control: 0.25, treatment: 0.75 }, control = 0.1, treatment = 0.12 } = {}): Record<string, DailyCounter[]> {
  const even = { control: 0.5, treatment: 0.5 };
  return {
    control: [day('2026-03-02', 'control', 1000, 1000 * control, even), day('2026-03-03', 'control', 2000, 2000 * control, logged)],
    treatment: [day('2026-03-02', 'treatment', 1000, 1000 * treatment, even), day('2026-03-03', 'treatment', 6000, 6000 * treatment, logged)],
  };
}

describe('a bandit configured 50/50 that moved its users to 3,000 / 7,000', () => {
  it('is no sample ratio mismatch against the allocation in force, and the configured split is not used', () => {
    // Act
    const analysis = analysisFromCounters(bandit, issueCounters(), { day: '2026-03-03' });

    // Assess
    const report = analysis.report!;
    expect(report.bandit).toMatchObject({ status: 'ok', totalExposures: 10_000 });
    expect(report.srm).toMatchObject({ status: 'ok', flagged: false, expected: [3000, 7000], expectedShares: [0.3, 0.7] });
    expect(report.timeline.map((point) => point.srmPValue)).toEqual([1, 1]);
    expect(analysis.decision).not.toBe('investigate-srm');
    expect(analysis.promotion).toMatchObject({ srm_flagged: false, srm_reference: 'allocation-in-force' });
  });

  it('estimates each arm from the propensities: SNIPS is the allocation-weighted rate, IPS its unbiased twin', () => {
    // Act
    const report = analysisFromCounters(bandit, issueCounters({ control: 0.1, treatment: 0.12 }), { day: '2026-03-03' }).report!;

    // Assess: Σ r/p ÷ Σ 1/p and Σ r/p ÷ N, by hand
    const section = report.bandit!;
    if (section.status !== 'ok') throw new Error(section.reason);
    const [control, treatment] = section.arms;
    expect(control.snips).toBeCloseTo((100 / 0.5 + 200 / 0.25) / (1000 / 0.5 + 2000 / 0.25), 12);
    expect(treatment.snips).toBeCloseTo((120 / 0.5 + 720 / 0.75) / (1000 / 0.5 + 6000 / 0.75), 12);
    expect(control.ips).toBeCloseTo((100 / 0.5 + 200 / 0.25) / 10_000, 12);
    expect(control.observedRate).toBeCloseTo(0.1, 12);
    expect(section.comparisons[0]).toMatchObject({ status: 'ok', variant: 'treatment' });
  });

  it('is a mismatch when the allocation logged does not explain the split, and cannot be promoted without force', () => {
    // Prepare: the second day's exposures logged 50/50 while 25/75 was served
    const analysis = analysisFromCounters(bandit, issueCounters({ logged: { control: 0.5, treatment: 0.5 } }), { day: '2026-03-03' });

    // Act
    const promote = () => promoteExperiment(bandit, { now: NOW, winner: 'treatment', analysis: analysis.promotion });

    // Assess
    expect(analysis.report!.srm).toMatchObject({ status: 'ok', flagged: true });
    expect(analysis.decision).toBe('investigate-srm');
    expect(analysis.decision_reason).toContain('sample ratio mismatch against the allocation in force');
    expect(promote).toThrowError(ExperimentConflictError);
    expect(promote).toThrowError(/sample ratio mismatch is flagged against the allocation in force/);
  });

  it('is analysed as a fixed split, saying why, when exposures were counted before the allocation was logged', () => {
    // Prepare: the first day's exposures predate the logging
    const counters = issueCounters();
    counters.control[0] = day('2026-03-02', 'control', 1000, 100, {}, false);
    counters.treatment[0] = day('2026-03-02', 'treatment', 1000, 120, {}, false);

    // Act
    const analysis = analysisFromCounters(bandit, counters, { day: '2026-03-03' });

    // Assess: the configured 50/50 is the reference, and 3,000 / 7,000 is flagged against it, as before
    expect(analysis.report!.bandit).toEqual({
      status: 'not-recorded',
      reason: expect.stringContaining('only 8000 of 10000 exposures logged their allocation'),
    });
    expect(analysis.report!.srm).toMatchObject({ status: 'ok', flagged: true, expectedShares: [0.5, 0.5] });
    expect(analysis.promotion).toEqual({ significant: false, srm_flagged: true });
  });
});

describe('banditSampleRatio', () => {
  const arm = (name: string, exposedUsers: number, expectedExposures: number): BanditArmSums => ({
    name,
    isControl: name === 'control',
    exposedUsers,
    expectedExposures,
    successes: 0,
    inversePropensitySum: 0,
    inversePropensitySqSum: 0,
    rewardInversePropensitySum: 0,
    rewardInversePropensitySqSum: 0,
  });

  it('flags users in an arm the allocation never served', () => {
    const srm = banditSampleRatio([arm('control', 990, 1000), arm('treatment', 10, 0)]);
    expect(srm).toMatchObject({ status: 'ok', flagged: true, pValue: 0 });
  });

  it('has nothing to say before any allocation is logged', () => {
    expect(banditSampleRatio([arm('control', 0, 0), arm('treatment', 0, 0)])).toMatchObject({ status: 'insufficient-data' });
  });
});

describe('buildBanditReport', () => {
  it('gives the observed rate as SNIPS while the allocation stands still', () => {
    // Prepare: 40 % to the control all along, 12 % and 15 % clicking
    const sums = (name: string, users: number, clickers: number, p: number): BanditArmSums => ({
      name,
      isControl: name === 'control',
      exposedUsers: users,
      expectedExposures: 0,
      successes: clickers,
      inversePropensitySum: users / p,
      inversePropensitySqSum: users / p / p,
      rewardInversePropensitySum: clickers / p,
      rewardInversePropensitySqSum: clickers / p / p,
    });

    // Act
    const report = buildBanditReport({
      looks: [{ day: '2026-03-02', arms: [sums('control', 400, 48, 0.4), sums('treatment', 600, 90, 0.6)] }],
      reward: 'clicked',
      confidenceLevel: 0.95,
      mde: 0.1,
    });

    // Assess
    if (report.status !== 'ok') throw new Error(report.reason);
    expect(report.arms[0].snips).toBeCloseTo(0.12, 12);
    expect(report.arms[1].snips).toBeCloseTo(0.15, 12);
  });

  it("refuses looks that do not match the report's days, naming the field", () => {
    expect(() =>
      buildExperimentReport({
        config: {
          experiment_id: 'x',
          variants: [
            { name: 'control', weight: 0.5, control: true },
            { name: 'treatment', weight: 0.5, control: false },
          ],
          target_metric: { kind: 'proportion' },
          confidence_level: 0.95,
          min_sample_size: 1,
          mde: 0.1,
          guardrails: [],
        },
        counters: [
          {
            day: '2026-03-02',
            variant: 'control',
            exposed_users: 10,
            impressions: 0,
            clicks: 0,
            conversions: 1,
            value_n: 0,
            value_sum: 0,
            value_sum_sq: 0,
            user_clicks_sq_sum: 0,
            user_impressions_sq_sum: 0,
            user_clicks_impressions_sum: 0,
          },
          {
            day: '2026-03-02',
            variant: 'treatment',
            exposed_users: 10,
            impressions: 0,
            clicks: 0,
            conversions: 1,
            value_n: 0,
            value_sum: 0,
            value_sum_sq: 0,
            user_clicks_sq_sum: 0,
            user_impressions_sq_sum: 0,
            user_clicks_impressions_sum: 0,
          },
        ],
        bandit: { status: 'ok', reward: 'clicked', looks: [] },
      }),
    ).toThrowError(new StatsInputError('bandit.looks', 'must have one look per day of the counters (2026-03-02), got '));
  });
});
