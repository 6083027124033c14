/**
 * A bandit analysed as a bandit, against numpy / scipy computed from raw logged data
 * (test/reference/stats/make_bandit_ips.py): the raw log (each exposed user with the allocation
 * in force at assignment, the arm drawn and the user's visits) goes through the service's own
 * counter increments (the exposure with its allocation, every event's user totals and reward
 * sums, on the day it happens), and the analysis of those additive counters must give the
 * reference's sample-ratio check, IPS and SNIPS per arm, and SNIPS comparisons, per day.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { banditExposureIncrements, banditRewardIncrements } from '../../../lambdas/domain/events/bandit-counters.ts';
import {
  addIncrements,
  addTotals,
  userStatIncrements,
  userTotalsDelta,
  ZERO_TOTALS,
  type Increments,
  type UserTotals,
} from '../../../lambdas/domain/events/counters.ts';
import { counterIncrements, type AcceptedEvent } from '../../../lambdas/domain/events/event.ts';
import { createExperiment } from '../../../lambdas/domain/experiments/lifecycle.ts';
import type { BanditReport, Interval } from '../../../lambdas/domain/stats/index.ts';
import { analysisFromCounters } from '../../../lambdas/services/experiment-results.ts';
import type { DailyCounter } from '../../../lambdas/storage/counter-store.ts';

type Visit = [day: number, impressions: number, clicks: number, purchases: number];

interface ReferenceCase {
  name: string;
  target: 'click_through' | 'conversion';
  variants: string[];
  days: number;
  confidenceLevel: number;
  mde: number;
  allocations: number[][];
  users: [day: number, arm: number, allocation: number, visits: Visit[]][];
  expected: {
    totalExposures: number;
    srm: { chiSquare: number; pValue: number; degreesOfFreedom: number };
    arms: {
      name: string;
      exposedUsers: number;
      expectedExposures: number;
      successes: number;
      observedRate: number;
      ips: number;
      ipsInterval: Interval;
      snips: number;
      snipsInterval: Interval;
      effectiveSampleSize: number;
    }[];
    comparisons: {
      variant: string;
      controlEstimate: number;
      treatmentEstimate: number;
      difference: number;
      standardError: number;
      differenceInterval: Interval;
      zScore: number;
      pValue: number;
      relativeLift: number;
      relativeLiftInterval: Interval;
      ipsDifference: number;
      ipsDifferenceInterval: Interval;
      alwaysValidPValue: number;
      alwaysValidPValueAdjusted: number;
      alwaysValidInterval: Interval;
    }[];
    timeline: { srmPValue: number }[];
  };
}

const reference = JSON.parse(readFileSync(new URL('../../reference/stats/bandit_ips.json', import.meta.url), 'utf8')) as { cases: ReferenceCase[] };

const FIRST_DAY_MS = Date.parse('2026-03-02T00:00:00Z');
const dayOf = (d: number) => new Date(FIRST_DAY_MS + d * 86_400_000).toISOString().slice(0, 10);

/** The daily counters the service writes for this raw log, with its own increments. */
function countersFromLog(c: ReferenceCase): Record<string, DailyCounter[]> {
  const counters = new Map<string, Map<string, Increments>>();
  const add = (variant: string, day: number, increments: Increments) => {
    const days = counters.get(variant) ?? new Map<string, Increments>();
    counters.set(variant, days);
    const row = days.get(dayOf(day)) ?? {};
    days.set(dayOf(day), row);
    addIncrements(row, increments);
  };
  c.users.forEach(([day, armIndex, allocationIndex, visits]) => {
    const arm = c.variants[armIndex];
    const shares = c.allocations[allocationIndex];
    const allocation = Object.fromEntries(c.variants.map((name, i) => [name, shares[i]]));
    const propensity = shares[armIndex];
    add(arm, day, { exposed_users: 1, ...banditExposureIncrements({ allocation, propensity }) });
    let totals: UserTotals = ZERO_TOTALS;
    const count = (visitDay: number, event: Pick<AcceptedEvent, 'event_type' | 'value' | 'fallback'>) => {
      const after = addTotals(totals, userTotalsDelta(event));
      add(arm, visitDay, { ...counterIncrements(event), ...userStatIncrements(totals, after) });
      add(arm, visitDay, banditRewardIncrements(totals, after, propensity));
      totals = after;
    };
    for (const [visitDay, impressions, clicks, purchases] of visits) {
      for (let i = 0; i < impressions; i++) count(visitDay, { event_type: 'impression', fallback: null });
      for (let i = 0; i < clicks; i++) count(visitDay, { event_type: 'click' });
      for (let i = 0; i < purchases; i++) count(visitDay, { event_type: 'purchase', value: 10 });
    }
  });
  return Object.fromEntries(
    [...counters].map(([variant, days]) => [variant, [...days].sort(([a], [b]) => a.localeCompare(b)).map(([day, row]) => ({ day, ...row }))]),
  );
}

/** |actual − expected| within a relative 1e-7 (absolute 1e-12 near zero). */
function close(actual: number | null | undefined, expected: number, what: string): void {
  expect(actual, what).not.toBeNull();
  expect(Math.abs((actual as number) - expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(1e-7 * Math.abs(expected) + 1e-12);
}

function closeInterval(actual: Interval | null | undefined, expected: Interval, what: string): void {
  close(actual?.low, expected.low, `${what}.low`);
  close(actual?.high, expected.high, `${what}.high`);
}

describe.each(reference.cases)('a bandit from raw logged data: $name', (c) => {
  const experiment = createExperiment({
    now: new Date(FIRST_DAY_MS - 3_600_000),
    request: {
      id: 'bandit-reference',
      name: c.name,
      status: 'running',
      mode: 'bandit',
      variants: c.variants.map((name, i) => ({ name, model_id: 'm', model_version: 'v', weight: 1 / c.variants.length, is_control: i === 0 })),
      target_metric: { kind: c.target },
      min_sample_size: 100,
      minimum_detectable_effect: c.mde,
      confidence_level: c.confidenceLevel,
    },
  });
  const analysis = analysisFromCounters(experiment, countersFromLog(c), { day: dayOf(c.days - 1) });
  const bandit = analysis.report?.bandit as Extract<BanditReport, { status: 'ok' }>;
  const expected = c.expected;

  it('checks the split against the allocation in force, as scipy chisquare does, every day', () => {
    expect(bandit.status).toBe('ok');
    expect(bandit.totalExposures).toBe(expected.totalExposures);
    if (bandit.srm.status !== 'ok') throw new Error(bandit.srm.reason);
    close(bandit.srm.chiSquare, expected.srm.chiSquare, 'chi-square');
    close(bandit.srm.pValue, expected.srm.pValue, 'p');
    expect(bandit.srm.degreesOfFreedom).toBe(expected.srm.degreesOfFreedom);
    expect(analysis.report?.srm).toEqual(bandit.srm);
    expected.timeline.forEach((point, d) => {
      close(analysis.report?.timeline[d].srmPValue, point.srmPValue, `timeline[${d}].srmPValue`);
    });
  });

  it('estimates each arm by IPS and SNIPS with their intervals, beside the observed rate', () => {
    expected.arms.forEach((want, a) => {
      const arm = bandit.arms[a];
      expect(arm).toMatchObject({ name: want.name, exposedUsers: want.exposedUsers, successes: want.successes, reason: null });
      close(arm.expectedExposures, want.expectedExposures, `${want.name}.expectedExposures`);
      close(arm.observedRate, want.observedRate, `${want.name}.observedRate`);
      close(arm.ips, want.ips, `${want.name}.ips`);
      closeInterval(arm.ipsInterval, want.ipsInterval, `${want.name}.ipsInterval`);
      close(arm.snips, want.snips, `${want.name}.snips`);
      closeInterval(arm.snipsInterval, want.snipsInterval, `${want.name}.snipsInterval`);
      close(arm.effectiveSampleSize, want.effectiveSampleSize, `${want.name}.effectiveSampleSize`);
    });
  });

  it('compares each arm with the control on SNIPS, fixed-horizon and always valid (Holm), and on IPS', () => {
    expected.comparisons.forEach((want, k) => {
      const comparison = bandit.comparisons[k];
      if (comparison.status !== 'ok') throw new Error(comparison.reason);
      expect(comparison.variant).toBe(want.variant);
      for (const key of [
        'controlEstimate',
        'treatmentEstimate',
        'difference',
        'standardError',
        'zScore',
        'pValue',
        'relativeLift',
        'ipsDifference',
        'alwaysValidPValue',
        'alwaysValidPValueAdjusted',
      ] as const) {
        close(comparison[key], want[key], `${want.variant}.${key}`);
      }
      for (const key of ['differenceInterval', 'relativeLiftInterval', 'ipsDifferenceInterval', 'alwaysValidInterval'] as const)
        closeInterval(comparison[key], want[key], `${want.variant}.${key}`);
    });
  });

  it('decides on the SNIPS comparisons, with no sample-ratio alarm', () => {
    const best = expected.comparisons
      .filter((cmp) => cmp.alwaysValidPValueAdjusted <= 1 - c.confidenceLevel && cmp.difference > 0)
      .sort((a, b) => b.difference - a.difference)[0];
    expect(analysis.promotion.srm_flagged).toBe(false);
    if (best === undefined) expect(analysis.decision).toBe('keep-running');
    else expect({ decision: analysis.decision, winner: analysis.winner }).toEqual({ decision: 'ship', winner: best.variant });
  });
});
