/**
 * A/A simulations (seeded): with no true difference, each procedure must reject about as often
 * as its alpha promises, and no more.
 */
import { describe, expect, it } from 'vitest';
import {
  alwaysValidSequence,
  ratioMetricTest,
  sampleRatioMismatch,
  twoProportionZTest,
  welchTTest,
  type RatioSample,
} from '../../../lambdas/domain/stats/index.ts';
import { binomialBand, seededRandom } from './simulation.ts';

const ALPHA = 0.05;
const EXPERIMENTS = 4000;
/** 99.9% band of the number of false positives when the true rate is alpha. */
const BAND = binomialBand(EXPERIMENTS, ALPHA, 0.999);

function rejects(result: { status: string; pValue?: number }): boolean {
  return result.status === 'ok' && (result.pValue as number) < ALPHA;
}

describe('A/A false-positive rate, single look', () => {
  it('two-proportion z-test rejects within the binomial band around alpha', () => {
    const random = seededRandom(101);
    let falsePositives = 0;

    for (let e = 0; e < EXPERIMENTS; e++) {
      const control = { users: 10_000, conversions: random.binomial(10_000, 0.09) };
      const treatment = { users: 10_000, conversions: random.binomial(10_000, 0.09) };
      if (rejects(twoProportionZTest({ control, treatment, confidenceLevel: 1 - ALPHA }))) falsePositives += 1;
    }

    expect(falsePositives).toBeGreaterThanOrEqual(BAND.low);
    expect(falsePositives).toBeLessThanOrEqual(BAND.high);
  });

  it("Welch's t-test with small unequal groups and unequal variances rejects within the band", () => {
    const random = seededRandom(202);
    let falsePositives = 0;
    const sample = (n: number, sd: number): { n: number; sum: number; sumSq: number } => {
      let sum = 0;
      let sumSq = 0;
      for (let i = 0; i < n; i++) {
        const value = 5 + sd * random.normal();
        sum += value;
        sumSq += value * value;
      }
      return { n, sum, sumSq };
    };

    for (let e = 0; e < EXPERIMENTS; e++) {
      if (rejects(welchTTest({ control: sample(8, 1), treatment: sample(15, 3), confidenceLevel: 1 - ALPHA }))) falsePositives += 1;
    }

    expect(falsePositives).toBeGreaterThanOrEqual(BAND.low);
    expect(falsePositives).toBeLessThanOrEqual(BAND.high);
  });
});

describe('A/A false-positive rate with 14 daily looks', () => {
  const DAYS = 14;
  const USERS_PER_DAY = 1000;
  const RATE = 0.1;
  // tau^2 = (planned absolute MDE)^2, 10% relative on a 10% baseline.
  const MIXTURE_VARIANCE = (RATE * 0.1) ** 2;

  function simulate(seed: number): { sequential: number; naive: number } {
    const random = seededRandom(seed);
    let sequential = 0;
    let naive = 0;
    for (let e = 0; e < EXPERIMENTS; e++) {
      const control = { users: 0, conversions: 0 };
      const treatment = { users: 0, conversions: 0 };
      const looks: { difference: number; variance: number }[] = [];
      let naiveRejected = false;
      for (let day = 0; day < DAYS; day++) {
        control.users += USERS_PER_DAY;
        control.conversions += random.binomial(USERS_PER_DAY, RATE);
        treatment.users += USERS_PER_DAY;
        treatment.conversions += random.binomial(USERS_PER_DAY, RATE);
        const test = twoProportionZTest({ control, treatment, confidenceLevel: 1 - ALPHA });
        if (test.status !== 'ok') continue;
        naiveRejected ||= test.pValue < ALPHA;
        looks.push({ difference: test.difference, variance: test.standardErrorUnpooled ** 2 });
      }
      const path = alwaysValidSequence(looks, MIXTURE_VARIANCE, ALPHA);
      if (path.some((point) => point.pValue <= ALPHA)) sequential += 1;
      if (naiveRejected) naive += 1;
    }
    return { sequential, naive };
  }

  const counts = simulate(303);

  it('mSPRT always-valid p-values reject no more often than alpha allows', () => {
    expect(counts.sequential).toBeLessThanOrEqual(BAND.high);
  });

  it('the naive z-test repeated daily is visibly inflated (above the band, over twice alpha)', () => {
    expect(counts.naive).toBeGreaterThan(BAND.high);
    expect(counts.naive / EXPERIMENTS).toBeGreaterThan(2 * ALPHA);
  });
});

describe('user-level ratio metric under within-user correlation', () => {
  // Users differ in click propensity, so impressions of one user are correlated: treating each
  // impression as independent understates the variance; the delta method does not.
  function variantSample(random: ReturnType<typeof seededRandom>, users: number): { sample: RatioSample; clicks: number; impressions: number } {
    const sample: RatioSample = { users, sumX: 0, sumY: 0, sumX2: 0, sumY2: 0, sumXY: 0 };
    for (let u = 0; u < users; u++) {
      const impressions = 1 + random.poisson(9);
      const propensity = random.uniform() < 0.2 ? 0.3 : 0.02;
      const clicks = random.binomial(impressions, propensity);
      sample.sumX += clicks;
      sample.sumY += impressions;
      sample.sumX2 += clicks * clicks;
      sample.sumY2 += impressions * impressions;
      sample.sumXY += clicks * impressions;
    }
    return { sample, clicks: sample.sumX, impressions: sample.sumY };
  }

  const random = seededRandom(404);
  let deltaRejections = 0;
  let impressionLevelRejections = 0;
  const experiments = 1500;
  for (let e = 0; e < experiments; e++) {
    const a = variantSample(random, 400);
    const b = variantSample(random, 400);
    if (rejects(ratioMetricTest({ control: a.sample, treatment: b.sample, confidenceLevel: 1 - ALPHA }))) deltaRejections += 1;
    const naive = twoProportionZTest({
      control: { users: a.impressions, conversions: a.clicks },
      treatment: { users: b.impressions, conversions: b.clicks },
      confidenceLevel: 1 - ALPHA,
    });
    if (rejects(naive)) impressionLevelRejections += 1;
  }
  const band = binomialBand(experiments, ALPHA, 0.999);

  it('the delta method keeps the false-positive rate within the band', () => {
    expect(deltaRejections).toBeGreaterThanOrEqual(band.low);
    expect(deltaRejections).toBeLessThanOrEqual(band.high);
  });

  it('an impression-level z-test on the same data is inflated above the band', () => {
    expect(impressionLevelRejections).toBeGreaterThan(band.high);
  });
});

describe('sample ratio mismatch', () => {
  it('does not flag 5,100 / 4,900 against 50/50 (p = 0.0455 > 0.001)', () => {
    const result = sampleRatioMismatch({ observed: [5100, 4900], weights: [0.5, 0.5] });

    expect(result).toMatchObject({ status: 'ok', flagged: false });
    expect(result.status === 'ok' && result.pValue).toBeCloseTo(0.0455, 4);
  });

  it('flags 5,100 / 4,900 when the configured split was 45/55', () => {
    const result = sampleRatioMismatch({ observed: [5100, 4900], weights: [0.45, 0.55] });

    expect(result).toMatchObject({ status: 'ok', flagged: true });
  });

  it('flags 5,200 / 4,800 against 50/50 (p = 6.3e-5)', () => {
    const result = sampleRatioMismatch({ observed: [5200, 4800], weights: [0.5, 0.5] });

    expect(result).toMatchObject({ status: 'ok', flagged: true });
  });

  it('flags a correct 50/50 assignment about 0.1% of the time', () => {
    const random = seededRandom(505);
    const runs = 20_000;
    let flags = 0;

    for (let r = 0; r < runs; r++) {
      const control = random.binomial(10_000, 0.5);
      const result = sampleRatioMismatch({ observed: [control, 10_000 - control], weights: [0.5, 0.5] });
      if (result.status === 'ok' && result.flagged) flags += 1;
    }

    const band = binomialBand(runs, 0.001, 0.999);
    expect(flags).toBeGreaterThanOrEqual(band.low);
    expect(flags).toBeLessThanOrEqual(band.high);
  });

  it('flags a broken 51/49 assignment at 200,000 users in nearly every run', () => {
    const random = seededRandom(606);
    const runs = 500;
    let flags = 0;

    for (let r = 0; r < runs; r++) {
      const control = random.binomial(200_000, 0.51);
      const result = sampleRatioMismatch({ observed: [control, 200_000 - control], weights: [0.5, 0.5] });
      if (result.status === 'ok' && result.flagged) flags += 1;
    }

    expect(flags / runs).toBeGreaterThan(0.99);
  });
});
