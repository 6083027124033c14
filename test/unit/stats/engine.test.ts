/**
 * Behaviour of the engine at its edges: defined results instead of NaN/Infinity, input errors
 * that name the field, and the invariants the formulas promise.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  alwaysValidSequence,
  betaBinomialComparison,
  catalogueCoverage,
  compareVariants,
  ctrByPosition,
  holmAdjust,
  inversePropensityEstimate,
  ipsSufficientStatistics,
  meanReciprocalRank,
  mixtureSprtLook,
  probabilityBetaGreater,
  ratioMetricTest,
  sampleRatioMismatch,
  sampleSizeForProportions,
  StatsInputError,
  twoProportionZTest,
  welchTTest,
  type ComparisonInput,
} from '../../../lambdas/domain/stats/index.ts';

/** Every number reachable from `value` is finite. */
function allFinite(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(allFinite);
  if (value !== null && typeof value === 'object') return Object.values(value).every(allFinite);
  return true;
}

const CONFIDENCE = 0.95;

describe('two-proportion z-test', () => {
  it('returns insufficient-data when a variant has a single user', () => {
    const result = twoProportionZTest({ control: { users: 1, conversions: 0 }, treatment: { users: 100, conversions: 5 }, confidenceLevel: CONFIDENCE });

    expect(result).toEqual({ status: 'insufficient-data', reason: expect.stringContaining('at least 2 users') });
  });

  it('returns insufficient-data when nobody converted in either variant', () => {
    const result = twoProportionZTest({ control: { users: 500, conversions: 0 }, treatment: { users: 500, conversions: 0 }, confidenceLevel: CONFIDENCE });

    expect(result.status).toBe('insufficient-data');
  });

  it('gives a finite test but a null lift when control never converted', () => {
    const result = twoProportionZTest({ control: { users: 500, conversions: 0 }, treatment: { users: 500, conversions: 9 }, confidenceLevel: CONFIDENCE });

    expect(result).toMatchObject({ status: 'ok', relativeLift: null, relativeLiftInterval: null });
    expect(allFinite(result)).toBe(true);
  });

  it('rejects conversions above users, naming the field', () => {
    const run = (): unknown =>
      twoProportionZTest({ control: { users: 10, conversions: 11 }, treatment: { users: 10, conversions: 1 }, confidenceLevel: CONFIDENCE });

    expect(run).toThrow(StatsInputError);
    expect(run).toThrow(/control\.conversions/);
  });

  it('rejects a confidence level outside (0, 1), naming it', () => {
    expect(() => twoProportionZTest({ control: { users: 10, conversions: 1 }, treatment: { users: 10, conversions: 2 }, confidenceLevel: 95 })).toThrow(
      /confidence_level/,
    );
  });
});

describe("Welch's t-test", () => {
  it('returns insufficient-data for n = 1', () => {
    const result = welchTTest({ control: { n: 1, sum: 3, sumSq: 9 }, treatment: { n: 10, sum: 30, sumSq: 100 }, confidenceLevel: CONFIDENCE });

    expect(result.status).toBe('insufficient-data');
  });

  it('returns insufficient-data when both variants have zero variance', () => {
    const result = welchTTest({ control: { n: 5, sum: 10, sumSq: 20 }, treatment: { n: 5, sum: 15, sumSq: 45 }, confidenceLevel: CONFIDENCE });

    expect(result).toEqual({ status: 'insufficient-data', reason: 'zero variance in both variants' });
  });

  it('treats constant values whose variance is only rounding error as zero variance', () => {
    // 0.1 is not exact in binary, so sum and sum of squares carry rounding that would
    // otherwise show up as a tiny variance and an absurd t statistic.
    const constant = { n: 1000, sum: 0, sumSq: 0 };
    for (let i = 0; i < 1000; i++) {
      constant.sum += 0.1;
      constant.sumSq += 0.1 * 0.1;
    }
    const shifted = { n: 1000, sum: constant.sum + 1e-9, sumSq: constant.sumSq };

    expect(welchTTest({ control: constant, treatment: shifted, confidenceLevel: CONFIDENCE }).status).toBe('insufficient-data');
  });

  it('stays finite when only one variant has zero variance', () => {
    const result = welchTTest({ control: { n: 5, sum: 10, sumSq: 20 }, treatment: { n: 6, sum: 15, sumSq: 45 }, confidenceLevel: CONFIDENCE });

    expect(result.status).toBe('ok');
    expect(allFinite(result)).toBe(true);
  });
});

describe('Beta-Binomial', () => {
  it('gives probability one half for identical data', () => {
    const result = betaBinomialComparison({ control: { users: 1000, conversions: 90 }, treatment: { users: 1000, conversions: 90 }, credibility: CONFIDENCE });

    expect(result.status === 'ok' && result.probabilityTreatmentBetter).toBeCloseTo(0.5, 9);
  });

  it('makes P(X > Y) and P(Y > X) sum to one whichever closed form is chosen', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 1, max: 400 }),
        (a1, b1, a2, b2) => {
          const x = { alpha: a1, beta: b1 };
          const y = { alpha: a2, beta: b2 };
          return Math.abs(probabilityBetaGreater(x, y) + probabilityBetaGreater(y, x) - 1) < 1e-9;
        },
      ),
      { seed: 42, numRuns: 300 },
    );
  });

  it('returns insufficient-data for a variant without users', () => {
    const result = betaBinomialComparison({ control: { users: 0, conversions: 0 }, treatment: { users: 10, conversions: 1 }, credibility: CONFIDENCE });

    expect(result.status).toBe('insufficient-data');
  });

  it('stays exact and finite at a hundred million users per variant', () => {
    const result = betaBinomialComparison({
      control: { users: 1e8, conversions: 9e6 },
      treatment: { users: 1e8, conversions: 9.01e6 },
      credibility: CONFIDENCE,
    });

    expect(result.status).toBe('ok');
    expect(allFinite(result)).toBe(true);
    // z = 0.001 / sqrt(2 * 0.09 * 0.91 / 1e8) = 2.4717, so P(better) is about Phi(2.47).
    expect(result.status === 'ok' && result.probabilityTreatmentBetter).toBeCloseTo(0.99328, 4);
  });
});

describe('user-level ratio metric', () => {
  it('returns insufficient-data when a variant has no impressions', () => {
    const empty = { users: 50, sumX: 0, sumY: 0, sumX2: 0, sumY2: 0, sumXY: 0 };
    const some = { users: 50, sumX: 10, sumY: 400, sumX2: 14, sumY2: 3400, sumXY: 90 };

    expect(ratioMetricTest({ control: empty, treatment: some, confidenceLevel: CONFIDENCE })).toMatchObject({
      status: 'insufficient-data',
      reason: expect.stringContaining('impressions'),
    });
  });

  it('returns insufficient-data for a single user', () => {
    const one = { users: 1, sumX: 1, sumY: 10, sumX2: 1, sumY2: 100, sumXY: 10 };
    const some = { users: 50, sumX: 10, sumY: 400, sumX2: 14, sumY2: 3400, sumXY: 90 };

    expect(ratioMetricTest({ control: one, treatment: some, confidenceLevel: CONFIDENCE }).status).toBe('insufficient-data');
  });

  it('rejects second moments that no data could produce, naming the field', () => {
    const impossible = { users: 10, sumX: 10, sumY: 100, sumX2: 1, sumY2: 1000, sumXY: 100 };
    const some = { users: 50, sumX: 10, sumY: 400, sumX2: 14, sumY2: 3400, sumXY: 90 };

    expect(() => ratioMetricTest({ control: impossible, treatment: some, confidenceLevel: CONFIDENCE })).toThrow(/control\.sum_x2/);
  });
});

describe('sample ratio mismatch', () => {
  it('returns insufficient-data when no users were observed', () => {
    expect(sampleRatioMismatch({ observed: [0, 0], weights: [1, 1] }).status).toBe('insufficient-data');
  });

  it('rejects a zero weight, naming it', () => {
    expect(() => sampleRatioMismatch({ observed: [10, 10], weights: [1, 0] })).toThrow(/weights\[1\]/);
  });

  it('treats weights 1:1 and 0.5:0.5 the same', () => {
    const a = sampleRatioMismatch({ observed: [5100, 4900], weights: [1, 1] });
    const b = sampleRatioMismatch({ observed: [5100, 4900], weights: [0.5, 0.5] });

    expect(a).toEqual({ ...b });
  });
});

describe('power', () => {
  it('needs 16,583 users per variant for 9% baseline, +10%, alpha 0.05, power 0.8', () => {
    expect(sampleSizeForProportions({ baselineRate: 0.09, relativeMde: 0.1, alpha: 0.05, power: 0.8 }).usersPerVariant).toBe(16583);
  });

  it('rejects a baseline outside (0, 1), naming it', () => {
    expect(() => sampleSizeForProportions({ baselineRate: 9, relativeMde: 0.1, alpha: 0.05, power: 0.8 })).toThrow(/baseline/);
  });

  it('rejects an MDE that pushes the treatment rate past 1, naming it', () => {
    expect(() => sampleSizeForProportions({ baselineRate: 0.6, relativeMde: 1, alpha: 0.05, power: 0.8 })).toThrow(/^mde/);
  });
});

describe('mSPRT', () => {
  it('returns insufficient-data for a look without variance', () => {
    expect(mixtureSprtLook({ difference: 0.01, variance: 0 }, 1e-4, 0.05).status).toBe('insufficient-data');
  });

  it('never lets the always-valid p-value rise or the confidence sequence widen', () => {
    const random = (i: number): number => Math.sin(i * 12.9898) * 0.004;
    const looks = Array.from({ length: 30 }, (_, i) => ({ difference: 0.002 + random(i), variance: 1e-4 / (i + 1) }));

    const path = alwaysValidSequence(looks, 1e-4, 0.05);

    for (let i = 1; i < path.length; i++) {
      expect(path[i].pValue).toBeLessThanOrEqual(path[i - 1].pValue);
      const [before, now] = [path[i - 1].interval, path[i].interval];
      expect(now!.high - now!.low).toBeLessThanOrEqual(before!.high - before!.low);
    }
  });
});

describe('Holm correction', () => {
  it('never lowers a p-value and keeps the order of the raw p-values', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 8 }), (pValues) => {
        const adjusted = holmAdjust(pValues);
        return pValues.every((p, i) => adjusted[i] >= p && adjusted[i] <= 1 && pValues.every((q, j) => !(p < q) || adjusted[i] <= adjusted[j]));
      }),
      { seed: 7, numRuns: 300 },
    );
  });
});

describe('online ranking metrics', () => {
  it('reports insufficient-data for a position without impressions and a rate elsewhere', () => {
    const [top, second] = ctrByPosition(
      [
        { impressions: 1000, clicks: 80 },
        { impressions: 0, clicks: 0 },
      ],
      CONFIDENCE,
    );

    expect(top).toMatchObject({ position: 1, status: 'ok', ctr: 0.08 });
    expect(second).toMatchObject({ position: 2, status: 'insufficient-data' });
  });

  it('computes MRR and coverage, and insufficient-data when nothing was served', () => {
    expect(meanReciprocalRank({ lists: 200, reciprocalRankSum: 50 })).toEqual({ status: 'ok', mrr: 0.25 });
    expect(meanReciprocalRank({ lists: 0, reciprocalRankSum: 0 }).status).toBe('insufficient-data');
    expect(catalogueCoverage({ distinctItemsRecommended: 250, catalogueSize: 1000 })).toEqual({ status: 'ok', coverage: 0.25 });
  });

  it('gives identical IPS and SNIPS when the target policy is the logging policy', () => {
    const decisions = Array.from({ length: 100 }, (_, i) => ({ reward: i % 3 === 0 ? 1 : 0, propensity: 0.25, targetProbability: 0.25 }));

    const result = inversePropensityEstimate(ipsSufficientStatistics(decisions), CONFIDENCE);

    expect(result).toMatchObject({ status: 'ok', ips: 0.34, snips: 0.34, effectiveSampleSize: 100 });
  });

  it('returns insufficient-data when the target policy never takes a logged action', () => {
    const decisions = [1, 2, 3].map(() => ({ reward: 1, propensity: 0.5, targetProbability: 0 }));

    expect(inversePropensityEstimate(ipsSufficientStatistics(decisions), CONFIDENCE).status).toBe('insufficient-data');
  });
});

describe('compareVariants', () => {
  const variant = (
    name: string,
    users: number,
    conversions: number,
    isControl = false,
  ): ComparisonInput['variants'][number] & { sample: { users: number; conversions: number } } => ({
    name,
    weight: 1,
    isControl,
    users,
    sample: { users, conversions },
  });

  it('Holm-adjusts the p-values of several treatments against one control', () => {
    const output = compareVariants({
      metric: 'proportion',
      confidenceLevel: CONFIDENCE,
      variants: [variant('control', 5000, 450, true), variant('b', 5000, 520), variant('c', 5000, 470), variant('d', 5000, 455)],
    });

    const ok = output.comparisons.filter((c) => c.status === 'ok');
    expect(ok).toHaveLength(3);
    const raw = ok.map((c) => c.pValue);
    expect(ok.map((c) => c.pValueAdjusted)).toEqual(holmAdjust(raw));
  });

  it('counts a variant without enough data as p = 1 in the Holm family', () => {
    const output = compareVariants({
      metric: 'proportion',
      confidenceLevel: CONFIDENCE,
      variants: [variant('control', 5000, 450, true), variant('b', 5000, 520), variant('empty', 0, 0)],
    });

    const b = output.comparisons.find((c) => c.variant === 'b');
    expect(b?.status === 'ok' && b.pValueAdjusted).toBeCloseTo(2 * (b?.status === 'ok' ? b.pValue : 0), 12);
    expect(output.comparisons.find((c) => c.variant === 'empty')?.status).toBe('insufficient-data');
  });

  it('rejects two controls', () => {
    expect(() =>
      compareVariants({ metric: 'proportion', confidenceLevel: CONFIDENCE, variants: [variant('a', 10, 1, true), variant('b', 10, 1, true)] }),
    ).toThrow(/exactly one control/);
  });

  it('never produces NaN or Infinity, whatever the counts', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.double({ min: 0, max: 1, noNaN: true })), { minLength: 2, maxLength: 4 }), (arms) => {
        const variants = arms.map(([users, rate], i) => variant(`v${i}`, users, Math.floor(users * rate), i === 0));
        const output = compareVariants({ metric: 'proportion', confidenceLevel: CONFIDENCE, variants });
        return allFinite(output) && JSON.stringify(output).match(/NaN|Infinity/) === null;
      }),
      { seed: 11, numRuns: 200 },
    );
  });

  it('never produces NaN or Infinity for means, including n of 0 and 1 and constant values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.double({ min: -100, max: 100, noNaN: true }), fc.double({ min: 0, max: 20, noNaN: true })), {
          minLength: 2,
          maxLength: 3,
        }),
        (arms) => {
          const variants = arms.map(([n, mean, spread], i) => ({
            name: `v${i}`,
            weight: 1,
            isControl: i === 0,
            users: n,
            // Half the values at mean - spread, half at mean + spread.
            sample: { n, sum: n * mean, sumSq: n * (mean * mean + spread * spread) },
          }));
          return allFinite(compareVariants({ metric: 'mean', confidenceLevel: CONFIDENCE, variants }));
        },
      ),
      { seed: 12, numRuns: 200 },
    );
  });
});
