/**
 * CUPED against numpy (test/reference/stats/make_cuped_cases.py): raw simulated users, each with a
 * pre-exposure covariate, are written through the service's counter arithmetic (the exposure,
 * then every event's increments from the user's running totals, capped as the experiment
 * declares), and the variance-reduction section computed from the sums must equal what numpy
 * computes from the raw per-user data: θ, the adjusted estimates and their intervals, the
 * p-values and the variance reduction, for proportions, user-level means and the ratio.
 */
import { readFileSync } from 'node:fs';
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
import { createExperiment } from '../../../lambdas/domain/experiments/lifecycle.ts';
import type { Experiment } from '../../../lambdas/domain/experiments/model.ts';
import { varianceReductionReport, type CupedMetric } from '../../../lambdas/services/variance-reduction.ts';

interface RawUser {
  x: number;
  impressions: number;
  clicks: number;
  purchases_cents: number[];
  watches_ms: number[];
}
interface Expected {
  theta: number;
  covariateMean: number;
  correlation: number;
  arms: { variant: string; estimate: number; intervalLow: number; adjustedEstimate: number; adjustedIntervalHigh: number }[];
  comparisons: {
    variant: string;
    difference: number;
    standardError: number;
    pValue: number;
    adjustedDifference: number;
    adjustedStandardError: number;
    adjustedPValue: number;
    varianceReduction: number;
  }[];
}
interface Case {
  seed: number;
  caps: { clicks: number; impressions: number; purchases: number; revenue_cents: number; watch_ms: number };
  confidenceLevel: number;
  arms: { name: string; users: RawUser[] }[];
  expected: Record<CupedMetric, Expected>;
}

const { cases } = JSON.parse(readFileSync(new URL('../../reference/stats/cuped_cases.json', import.meta.url), 'utf8')) as { cases: Case[] };
const DAY = '2026-12-01';

function experimentOf(c: Case): Experiment {
  const weights = c.arms.length === 2 ? [0.5, 0.5] : [0.34, 0.33, 0.33];
  return createExperiment({
    now: new Date('2026-11-30T00:00:00Z'),
    request: {
      id: `cuped-${c.seed}`,
      name: 'cuped reference',
      status: 'running',
      variants: c.arms.map((arm, i) => ({ name: arm.name, model_id: 'm', model_version: 'v', weight: weights[i], is_control: i === 0 })),
      target_metric: { kind: 'click_through' },
      caps: {
        clicks: c.caps.clicks,
        impressions: c.caps.impressions,
        purchases: c.caps.purchases,
        revenue: c.caps.revenue_cents / 100,
        watch_time_seconds: c.caps.watch_ms / 1000,
      },
    },
  });
}

/** One day's counters of an arm, written event by event as the events path writes them. */
function countersOf(experiment: Experiment, users: RawUser[]): Increments {
  const caps = userCapsOf(experiment);
  const row: Increments = {};
  for (const user of users) {
    addIncrements(row, exposureIncrements(user.x));
    const events: [EventType, number?][] = [
      ...Array.from({ length: user.impressions }, (): [EventType] => ['impression']),
      ...Array.from({ length: user.clicks }, (): [EventType] => ['click']),
      ...user.purchases_cents.map((cents): [EventType, number] => ['purchase', cents / 100]),
      ...user.watches_ms.map((ms): [EventType, number] => ['watch_time', ms / 1000]),
    ];
    let totals: UserTotals = ZERO_TOTALS;
    for (const [event_type, value] of events) {
      const after = addTotals(totals, userTotalsDelta({ event_type, value }));
      addIncrements(row, { ...counterIncrements({ event_type, value, fallback: null }), ...userStatIncrements(totals, after, caps, user.x) });
      totals = after;
    }
  }
  return row;
}

const close = (actual: number, expected: number) => expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(expected)));

describe.each(cases.map((c) => [c.seed, c] as const))('CUPED against numpy on raw per-user data (seed %s)', (_, c) => {
  const experiment = experimentOf(c);
  const rows = Object.fromEntries(c.arms.map((arm) => [arm.name, [{ day: DAY, ...countersOf(experiment, arm.users) }]]));
  const report = varianceReductionReport(experiment, rows, { through: DAY, confidenceLevel: c.confidenceLevel });

  it.each(Object.keys(c.expected) as CupedMetric[])('%s: θ, adjusted estimates and intervals, p-values and the variance reduction', (metric) => {
    // Prepare
    const expected = c.expected[metric];

    // Act
    expect(report.status).toBe('ok');
    const result = report.status === 'ok' ? report.metrics.find((m) => m.metric === metric)?.result : undefined;

    // Assess
    expect(result?.status).toBe('ok');
    if (result?.status !== 'ok') return;
    close(result.theta, expected.theta);
    close(result.covariateMean, expected.covariateMean);
    close(result.correlation, expected.correlation);
    expected.arms.forEach((arm, i) => {
      expect(result.arms[i].variant).toBe(arm.variant);
      close(result.arms[i].estimate, arm.estimate);
      close(result.arms[i].interval.low, arm.intervalLow);
      close(result.arms[i].adjustedEstimate, arm.adjustedEstimate);
      close(result.arms[i].adjustedInterval.high, arm.adjustedIntervalHigh);
    });
    expected.comparisons.forEach((comparison, i) => {
      const actual = result.comparisons[i];
      expect(actual.variant).toBe(comparison.variant);
      close(actual.difference, comparison.difference);
      close(actual.standardError, comparison.standardError);
      close(actual.pValue, comparison.pValue);
      close(actual.adjustedDifference, comparison.adjustedDifference);
      close(actual.adjustedStandardError, comparison.adjustedStandardError);
      close(actual.adjustedPValue, comparison.adjustedPValue);
      close(actual.varianceReduction, comparison.varianceReduction);
    });
  });

  it('marks click-through the target and gives the always-valid p-values of its plain and adjusted differences', () => {
    const target = report.status === 'ok' ? report.metrics.find((m) => m.target) : undefined;
    expect(target?.metric).toBe('click_through');
    expect(target?.sequential).toHaveLength(c.arms.length - 1);
  });
});
