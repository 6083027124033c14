/**
 * The engine's edges against scipy (test/reference/stats/make_edge_cases.py writes
 * test/reference/stats/edge_cases.json): far-tail p-values from survival functions, Fisher's
 * exact test for an arm without conversions, the credible interval of a difference of Beta
 * posteriors; and the inputs no data can produce, refused.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { betaDifferenceCredibleInterval } from '../../../lambdas/domain/stats/bayes.ts';
import { compareVariants } from '../../../lambdas/domain/stats/compare.ts';
import { StatsInputError } from '../../../lambdas/domain/stats/errors.ts';
import { chiSquareSurvival, fisherExactTwoSided, normalTwoSidedPValue, studentTTwoSidedPValue } from '../../../lambdas/domain/stats/special.ts';
import { welchTTest } from '../../../lambdas/domain/stats/welch.ts';

interface EdgeCases {
  normalTwoSided: { z: number; expected: number }[];
  chiSquareSurvival: { x: number; df: number; expected: number }[];
  studentTTwoSided: { t: number; df: number; expected: number }[];
  fisherExact: { a: number; n1: number; b: number; n2: number; expected: number }[];
  betaDifferenceInterval: { x: [number, number]; y: [number, number]; credibility: number; expected: [number, number] }[];
}

const cases = JSON.parse(readFileSync(new URL('../../reference/stats/edge_cases.json', import.meta.url), 'utf8')) as EdgeCases;
const relative = (actual: number, expected: number) => Math.abs(actual - expected) / expected;

describe('far-tail p-values come from survival functions', () => {
  it.each(cases.normalTwoSided)('two-sided normal p at z = $z matches scipy to 1e-9 relative', ({ z, expected }) => {
    expect(relative(normalTwoSidedPValue(z), expected)).toBeLessThan(1e-9);
  });

  it.each(cases.chiSquareSurvival)('chi-square survival at x = $x, df = $df matches scipy to 1e-9 relative', ({ x, df, expected }) => {
    expect(relative(chiSquareSurvival(x, df), expected)).toBeLessThan(1e-9);
  });

  it.each(cases.studentTTwoSided)('two-sided t p at t = $t, df = $df matches scipy to 1e-9 relative', ({ t, df, expected }) => {
    expect(relative(studentTTwoSidedPValue(t, df), expected)).toBeLessThan(1e-9);
  });
});

describe("Fisher's exact test", () => {
  it.each(cases.fisherExact)('$a / $n1 against $b / $n2 matches scipy.stats.fisher_exact', ({ a, n1, b, n2, expected }) => {
    expect(fisherExactTwoSided(a, n1, b, n2)).toBeCloseTo(expected, 9);
  });

  it('replaces the z-test for a proportion whose arm has no conversion', () => {
    // Prepare
    const variants = [
      { name: 'control', weight: 1, isControl: true, users: 5000, sample: { users: 5000, conversions: 0 } },
      { name: 'treatment', weight: 1, isControl: false, users: 5000, sample: { users: 5000, conversions: 12 } },
    ];

    // Act
    const [comparison] = compareVariants({ metric: 'proportion', confidenceLevel: 0.95, variants }).comparisons;

    // Assess
    expect(comparison).toMatchObject({ status: 'ok', test: 'fisher-exact' });
    const expected = cases.fisherExact.find((c) => c.a === 0 && c.n1 === 5000)!.expected;
    expect(comparison.status === 'ok' && comparison.pValue).toBeCloseTo(expected, 9);
  });

  it('says "not enough data" when neither arm has a conversion', () => {
    const variants = [
      { name: 'control', weight: 1, isControl: true, users: 800, sample: { users: 800, conversions: 0 } },
      { name: 'treatment', weight: 1, isControl: false, users: 800, sample: { users: 800, conversions: 0 } },
    ];
    expect(compareVariants({ metric: 'proportion', confidenceLevel: 0.95, variants }).comparisons[0]).toMatchObject({
      status: 'insufficient-data',
      reason: expect.stringContaining('no conversions'),
    });
  });
});

describe('the credible interval of a difference of Beta posteriors', () => {
  it.each(cases.betaDifferenceInterval)('Beta$x - Beta$y at $credibility matches scipy quadrature to 1e-8', ({ x, y, credibility, expected }) => {
    // Act
    const interval = betaDifferenceCredibleInterval({ alpha: x[0], beta: x[1] }, { alpha: y[0], beta: y[1] }, credibility);

    // Assess
    expect(interval.low).toBeCloseTo(expected[0], 8);
    expect(interval.high).toBeCloseTo(expected[1], 8);
  });

  it('is reported with both chance-to-win scales, labelled, for a proportion', () => {
    // Prepare
    const variants = [
      { name: 'control', weight: 1, isControl: true, users: 1000, sample: { users: 1000, conversions: 100 } },
      { name: 'treatment', weight: 1, isControl: false, users: 1000, sample: { users: 1000, conversions: 120 } },
    ];

    // Act
    const [comparison] = compareVariants({ metric: 'proportion', confidenceLevel: 0.95, variants }).comparisons;

    // Assess: posteriors Beta(121, 881) and Beta(101, 901), uniform prior
    if (comparison.status !== 'ok') throw new Error(comparison.reason);
    const reference = betaDifferenceCredibleInterval({ alpha: 121, beta: 881 }, { alpha: 101, beta: 901 }, 0.95);
    expect(comparison.credibleInterval).toEqual(reference);
    expect(comparison.chanceToWin).toEqual({ absolute: comparison.probabilityBetter, relative: comparison.probabilityBetter });
  });

  it('labels the relative chance to win apart from the absolute one under the normal approximation', () => {
    // Prepare: a mean metric (Welch), control mean 10, treatment mean 10.5
    const variants = [
      { name: 'control', weight: 1, isControl: true, users: 400, sample: { n: 400, sum: 4000, sumSq: 400 * (100 + 16) } },
      { name: 'treatment', weight: 1, isControl: false, users: 400, sample: { n: 400, sum: 4200, sumSq: 400 * (110.25 + 16) } },
    ];

    // Act
    const [comparison] = compareVariants({ metric: 'mean', confidenceLevel: 0.95, variants }).comparisons;

    // Assess
    if (comparison.status !== 'ok') throw new Error(comparison.reason);
    expect(comparison.chanceToWin.absolute).toBe(comparison.probabilityBetter);
    expect(comparison.chanceToWin.relative).toBeGreaterThan(0.9);
    expect(comparison.chanceToWin.relative).not.toBe(comparison.chanceToWin.absolute);
    expect(comparison.credibleInterval.low).toBeLessThan(0.5);
    expect(comparison.credibleInterval.high).toBeGreaterThan(0.5);
  });
});

describe('inputs no data can produce', () => {
  it('refuses a mean sample with sum of squares below sum²/n, naming the field', () => {
    // Prepare: 10 values summing to 100 need Σx² ≥ 1,000
    const corrupt = { n: 10, sum: 100, sumSq: 900 };
    const fine = { n: 10, sum: 100, sumSq: 1100 };

    // Act
    const act = () => welchTTest({ control: corrupt, treatment: fine, confidenceLevel: 0.95 });

    // Assess
    expect(act).toThrow(StatsInputError);
    expect(act).toThrow(/control\.sum_sq/);
  });

  it('refuses a mean sample with no observations but non-zero sums', () => {
    expect(() => welchTTest({ control: { n: 0, sum: 5, sumSq: 25 }, treatment: { n: 10, sum: 100, sumSq: 1100 }, confidenceLevel: 0.95 })).toThrow(
      /control\.n/,
    );
  });
});
