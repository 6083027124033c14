/**
 * The engine against values computed independently with scipy / numpy
 * (test/reference/stats/make_cases.py writes test/reference/stats/cases.json).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  achievedPowerForProportions,
  betaBinomialComparison,
  betaQuantile,
  chiSquareSurvival,
  ctrByPosition,
  holmAdjust,
  inversePropensityEstimate,
  ipsSufficientStatistics,
  mixtureSprtLook,
  ratioMetricTest,
  sampleRatioMismatch,
  sampleSizeForProportions,
  studentTCdf,
  studentTQuantile,
  twoProportionZTest,
  welchTTest,
  type LoggedDecision,
  type StatResult,
} from '../../../lambdas/domain/stats/index.ts';

interface Case<Input, Expected = Record<string, number>> {
  input: Input;
  expected: Expected;
}
type Point<Keys extends string> = Record<Keys | 'expected', number>;

/** The shape make_cases.py writes. */
interface CaseFile {
  twoProportionZTest: Case<Parameters<typeof twoProportionZTest>[0]>[];
  welchTTest: Case<Parameters<typeof welchTTest>[0]>[];
  betaBinomial: Case<Parameters<typeof betaBinomialComparison>[0]>[];
  sampleRatioMismatch: Case<{ observed: number[]; weights: number[] }, { chiSquare: number; pValue: number; flagged: boolean }>[];
  power: Case<Parameters<typeof sampleSizeForProportions>[0] & { controlUsers: number; treatmentUsers: number }>[];
  mixtureSprt: Case<{ difference: number; variance: number; mixtureVariance: number; alpha: number }>[];
  holm: Case<{ pValues: number[] }, { adjusted: number[] }>[];
  ratioMetricTest: Case<Parameters<typeof ratioMetricTest>[0]>[];
  wilson: Case<{ impressions: number; clicks: number; confidenceLevel: number }>[];
  ips: Case<{ decisions: LoggedDecision[]; confidenceLevel: number }>[];
  special: {
    studentTCdf: Point<'x' | 'df'>[];
    studentTQuantile: Point<'p' | 'df'>[];
    betaQuantile: Point<'p' | 'a' | 'b'>[];
    chiSquareSurvival: Point<'x' | 'df'>[];
  };
}

const cases = JSON.parse(readFileSync(new URL('../../reference/stats/cases.json', import.meta.url), 'utf8')) as CaseFile;

const TOLERANCE = 1e-6;

/** Absolute tolerance 1e-6, relative for magnitudes above one (chi-square statistics, df). */
function expectClose(actual: number | null | undefined, expected: number, label: string): void {
  expect(actual, label).toBeTypeOf('number');
  const scale = Math.max(1, Math.abs(expected));
  expect(Math.abs((actual as number) - expected), `${label}: ${actual} vs ${expected}`).toBeLessThanOrEqual(TOLERANCE * scale);
}

function okOrFail<T>(result: StatResult<T>): T {
  if (result.status !== 'ok') throw new Error(`unexpected insufficient data: ${result.reason}`);
  return result;
}

describe('two-proportion z-test matches scipy', () => {
  it.each(cases.twoProportionZTest)('case %#', ({ input, expected }) => {
    const result = okOrFail(twoProportionZTest(input));

    expectClose(result.zScore, expected.zScore, 'zScore');
    expectClose(result.pValue, expected.pValue, 'pValue');
    expectClose(result.differenceInterval.low, expected.ciLow, 'ciLow');
    expectClose(result.differenceInterval.high, expected.ciHigh, 'ciHigh');
    expectClose(result.relativeLift, expected.lift, 'lift');
    expectClose(result.relativeLiftInterval?.low, expected.liftLow, 'liftLow');
    expectClose(result.relativeLiftInterval?.high, expected.liftHigh, 'liftHigh');
  });
});

describe("Welch's t-test from sufficient statistics matches scipy.stats.ttest_ind on the raw data", () => {
  it.each(cases.welchTTest)('case %#', ({ input, expected }) => {
    const result = okOrFail(welchTTest(input));

    expectClose(result.tStatistic, expected.tStatistic, 'tStatistic');
    expectClose(result.degreesOfFreedom, expected.degreesOfFreedom, 'df');
    expectClose(result.pValue, expected.pValue, 'pValue');
    expectClose(result.differenceInterval.low, expected.ciLow, 'ciLow');
    expectClose(result.differenceInterval.high, expected.ciHigh, 'ciHigh');
    expectClose(result.relativeLift, expected.lift, 'lift');
    expectClose(result.relativeLiftInterval?.low, expected.liftLow, 'liftLow');
    expectClose(result.relativeLiftInterval?.high, expected.liftHigh, 'liftHigh');
  });
});

describe('Beta-Binomial comparison matches numerical integration', () => {
  it.each(cases.betaBinomial)('case %#', ({ input, expected }) => {
    const result = okOrFail(betaBinomialComparison(input));

    expectClose(result.probabilityTreatmentBetter, expected.probabilityTreatmentBetter, 'probabilityTreatmentBetter');
    expectClose(result.expectedLossTreatment, expected.expectedLossTreatment, 'expectedLossTreatment');
    expectClose(result.expectedLossControl, expected.expectedLossControl, 'expectedLossControl');
    expectClose(result.controlCredibleInterval.low, expected.controlLow, 'controlLow');
    expectClose(result.controlCredibleInterval.high, expected.controlHigh, 'controlHigh');
    expectClose(result.treatmentCredibleInterval.low, expected.treatmentLow, 'treatmentLow');
    expectClose(result.treatmentCredibleInterval.high, expected.treatmentHigh, 'treatmentHigh');
  });
});

describe('sample ratio mismatch matches scipy.stats.chisquare', () => {
  it.each(cases.sampleRatioMismatch)('case %#', ({ input, expected }) => {
    const result = okOrFail(sampleRatioMismatch(input));

    expectClose(result.chiSquare, expected.chiSquare, 'chiSquare');
    expectClose(result.pValue, expected.pValue, 'pValue');
    expect(result.flagged).toBe(expected.flagged);
  });
});

describe('power calculations match the reference formula', () => {
  it.each(cases.power)('case %#', ({ input, expected }) => {
    const plan = sampleSizeForProportions(input);
    const achieved = achievedPowerForProportions(input);

    expect(plan.usersPerVariant).toBe(expected.usersPerVariant);
    expectClose(achieved, expected.achievedPower, 'achievedPower');
  });
});

describe('mSPRT look matches the mixture likelihood ratio integrated numerically', () => {
  it.each(cases.mixtureSprt)('case %#', ({ input, expected }) => {
    const result = okOrFail(mixtureSprtLook({ difference: input.difference, variance: input.variance }, input.mixtureVariance, input.alpha));

    expectClose(result.logLikelihoodRatio, expected.logLikelihoodRatio, 'logLikelihoodRatio');
    expectClose(result.pValueAtLook, expected.pValueAtLook, 'pValueAtLook');
    expectClose(result.interval.low, expected.ciLow, 'ciLow');
    expectClose(result.interval.high, expected.ciHigh, 'ciHigh');
  });
});

describe('Holm adjustment matches the step-down definition', () => {
  it.each(cases.holm)('case %#', ({ input, expected }) => {
    const adjusted = holmAdjust(input.pValues);

    expected.adjusted.forEach((value, i) => {
      expectClose(adjusted[i], value, `adjusted[${i}]`);
    });
  });
});

describe('user-level ratio metric (delta method) matches the raw per-user data', () => {
  it.each(cases.ratioMetricTest)('case %#', ({ input, expected }) => {
    const result = okOrFail(ratioMetricTest(input));

    expectClose(result.controlRatio, expected.controlRatio, 'controlRatio');
    expectClose(result.treatmentRatio, expected.treatmentRatio, 'treatmentRatio');
    expectClose(result.zScore, expected.zScore, 'zScore');
    expectClose(result.pValue, expected.pValue, 'pValue');
    expectClose(result.differenceInterval.low, expected.ciLow, 'ciLow');
    expectClose(result.differenceInterval.high, expected.ciHigh, 'ciHigh');
    expectClose(result.relativeLift, expected.lift, 'lift');
    expectClose(result.relativeLiftInterval?.low, expected.liftLow, 'liftLow');
    expectClose(result.relativeLiftInterval?.high, expected.liftHigh, 'liftHigh');
  });
});

describe('CTR by position Wilson interval matches scipy binomtest', () => {
  it.each(cases.wilson)('case %#', ({ input, expected }) => {
    const [position] = ctrByPosition([{ impressions: input.impressions, clicks: input.clicks }], input.confidenceLevel);
    const result = okOrFail(position);

    expectClose(result.ctr, expected.ctr, 'ctr');
    expectClose(result.interval.low, expected.low, 'low');
    expectClose(result.interval.high, expected.high, 'high');
  });
});

describe('IPS and self-normalised IPS match the raw logged data', () => {
  it.each(cases.ips)('case %#', ({ input, expected }) => {
    const result = okOrFail(inversePropensityEstimate(ipsSufficientStatistics(input.decisions), input.confidenceLevel));

    expectClose(result.ips, expected.ips, 'ips');
    expectClose(result.ipsInterval.low, expected.ipsLow, 'ipsLow');
    expectClose(result.ipsInterval.high, expected.ipsHigh, 'ipsHigh');
    expectClose(result.snips, expected.snips, 'snips');
    expectClose(result.snipsInterval.low, expected.snipsLow, 'snipsLow');
    expectClose(result.snipsInterval.high, expected.snipsHigh, 'snipsHigh');
    expectClose(result.effectiveSampleSize, expected.effectiveSampleSize, 'effectiveSampleSize');
  });
});

describe('distribution functions match scipy', () => {
  it.each(cases.special.studentTCdf)('Student t cdf at x=$x, df=$df', ({ x, df, expected }) => {
    expectClose(studentTCdf(x, df), expected, 'cdf');
  });
  it.each(cases.special.studentTQuantile)('Student t quantile at p=$p, df=$df', ({ p, df, expected }) => {
    expectClose(studentTQuantile(p, df), expected, 'quantile');
  });
  it.each(cases.special.betaQuantile)('Beta quantile at p=$p, a=$a, b=$b', ({ p, a, b, expected }) => {
    expectClose(betaQuantile(p, a, b), expected, 'quantile');
  });
  it.each(cases.special.chiSquareSurvival)('chi-square survival at x=$x, df=$df', ({ x, df, expected }) => {
    expectClose(chiSquareSurvival(x, df), expected, 'sf');
  });
});
