/**
 * A ramp changes the split for new users only (assignments are sticky), so the sample ratio
 * check must expect the exposures the weight history implies, not the current weights.
 */
import { describe, expect, it } from 'vitest';
import { twoArmExperiment } from '../../../lambdas/services/synthetic-counters.ts';
import { rampExperiment } from '../../../lambdas/domain/experiments/lifecycle.ts';
import { expectedExposureShares } from '../../../lambdas/services/analysis-input.ts';
import { analysisFromCounters } from '../../../lambdas/services/experiment-results.ts';
import type { DailyCounter } from '../../../lambdas/storage/counter-store.ts';

const START = new Date('2026-11-01T00:00:00Z');
const NAMES = ['control', 'treatment'];

function running() {
  return twoArmExperiment('ramped', { now: START, start_time: START.toISOString(), target_metric: { kind: 'conversion' }, min_sample_size: 100 });
}

const day = (d: number) => new Date(START.getTime() + d * 86_400_000).toISOString().slice(0, 10);

describe('expected exposure shares', () => {
  it('are the current weights without a history', () => {
    expect(expectedExposureShares(undefined, [{ day: day(0), exposed: 100 }], NAMES, { control: 0.3, treatment: 0.7 })).toEqual({
      control: 0.3,
      treatment: 0.7,
    });
  });

  it("weigh each day's exposures by the split in effect, splitting the day of a ramp by time", () => {
    const history = [
      { effective_from: START.toISOString(), weights: { control: 0.5, treatment: 0.5 } },
      { effective_from: `${day(1)}T12:00:00.000Z`, weights: { control: 0.8, treatment: 0.2 } },
    ];

    const shares = expectedExposureShares(
      history,
      [0, 1, 2].map((d) => ({ day: day(d), exposed: 1000 })),
      NAMES,
      { control: 0.8, treatment: 0.2 },
    );

    // day 0: 500 control; day 1: half a day at 0.5 and half at 0.8 = 650; day 2: 800
    expect(shares.control).toBeCloseTo((500 + 650 + 800) / 3000, 12);
    expect(shares.control + shares.treatment).toBeCloseTo(1, 12);
  });
});

describe('the sample ratio check after a ramp', () => {
  it('records the split over time on every ramp', () => {
    const ramped = rampExperiment(running(), { request: { weights: { control: 0.8, treatment: 0.2 } }, now: new Date(`${day(3)}T00:00:00Z`) });

    expect(ramped.weight_history).toEqual([
      { effective_from: START.toISOString(), weights: { control: 0.5, treatment: 0.5 } },
      { effective_from: `${day(3)}T00:00:00.000Z`, weights: { control: 0.8, treatment: 0.2 } },
    ]);
  });

  it('does not flag exposures that followed the ramp, which the current weights alone would', () => {
    // Prepare: three days at 50/50 then three at 80/20, 2,000 new users a day, exactly on split
    const ramped = rampExperiment(running(), { request: { weights: { control: 0.8, treatment: 0.2 } }, now: new Date(`${day(3)}T00:00:00Z`) });
    const counters: Record<string, DailyCounter[]> = { control: [], treatment: [] };
    for (let d = 0; d < 6; d++) {
      const controlShare = d < 3 ? 0.5 : 0.8;
      counters.control.push({ day: day(d), exposed_users: 2000 * controlShare, converters: 100 * controlShare });
      counters.treatment.push({ day: day(d), exposed_users: 2000 * (1 - controlShare), converters: 100 * (1 - controlShare) });
    }
    const unrecorded = { ...ramped, weight_history: undefined };

    // Act
    const withHistory = analysisFromCounters(ramped, counters, { day: day(5) });
    const withCurrentWeightsOnly = analysisFromCounters(unrecorded, counters, { day: day(5) });

    // Assess
    expect(withHistory.promotion.srm_flagged).toBe(false);
    expect(withHistory.decision).not.toBe('investigate-srm');
    expect(withCurrentWeightsOnly.promotion.srm_flagged).toBe(true);
    expect(withCurrentWeightsOnly.decision).toBe('investigate-srm');
  });
});
