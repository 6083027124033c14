/** The stated model behind `bench train --scale`'s extrapolated rows, on made-up measurements. */
import { describe, expect, it } from 'vitest';
import { extrapolateTrainStep, largestWithinLambda, measuredRow, type TrainStepMeasurement } from '../../../cli/commands/bench-train-scale.ts';

/** 1 M ratings, 2 iterations of 1 s each after 3 s of set-up; holdout fit 0.75 x the fit. */
const measured: TrainStepMeasurement = {
  ratings: 1_000_000,
  users: 5_000,
  items: 4_000,
  iterations: 2,
  parse_seconds: 2,
  holdout_fit_seconds: 3.75,
  holdout_evaluate_seconds: 1,
  fit_seconds: 5,
  per_iteration_seconds: 1,
  encode_seconds: 0.5,
  wall_seconds: 20,
  baseline_rss_mb: 100,
  peak_rss_mb: 600,
  heap_used_mb: 50,
  heap_limit_mb: 4096,
  artifact_bytes: 1,
};

describe('extrapolateTrainStep', () => {
  it('scales the set-up and each of the target iterations by the ratings, the evaluation by users x items, memory above the baseline by the ratings', () => {
    const row = extrapolateTrainStep('x', measured, { users: 50_000, items: 8_000, ratings: 10_000_000 }, 25);

    expect(row.fit_seconds).toBeCloseTo((3 + 25 * 1) * 10, 9);
    expect(row.holdout_seconds).toBeCloseTo(280 * 0.75 + 1 * 10 * 2, 9);
    expect(row.parse_seconds).toBeCloseTo(20, 9);
    expect(row.encode_seconds).toBeCloseTo(5, 9);
    expect(row.total_seconds).toBeCloseTo(280 + 230 + 20 + 5, 9);
    expect(row.peak_rss_mb).toBeCloseTo(100 + 500 * 10, 9);
    expect(row).toMatchObject({ mode: 'extrapolated', fits_lambda: true });
  });

  it('says a size does not fit when it passes 15 minutes or 10,240 MB', () => {
    expect(extrapolateTrainStep('t', measured, { users: 5_000, items: 4_000, ratings: 20_000_000 }).fits_lambda).toBe(false);
    expect(measuredRow('m', { ...measured, peak_rss_mb: 10_241 }).fits_lambda).toBe(false);
  });
});

describe('largestWithinLambda', () => {
  it('takes the tighter of the time and memory limits at the row shape', () => {
    const row = measuredRow('m', measured);

    expect(row.total_seconds).toBeCloseTo(12.25, 9);
    // Time: 900 / 12.25 x 1 M = 73.5 M ratings; memory: (10,240 - 100) / 500 x 1 M = 20.3 M.
    expect(largestWithinLambda(row, 100)).toEqual({ ratings: 20_280_000, bound: 'memory' });
  });
});
