import { betaBinomialComparison } from './bayes.ts';
import { requireCount, StatsInputError } from './errors.ts';
import { holmAdjust } from './holm.ts';
import { twoProportionZTest, validateProportionSample, type ProportionSample } from './proportion.ts';
import { ratioMetricTest, validateRatioSample, type RatioSample } from './ratio.ts';
import { fisherExactTwoSided, normalCdf, normalPdf } from './special.ts';
import { zCriticalFor } from './lift.ts';
import { sampleRatioMismatch, type SampleRatioMismatch } from './srm.ts';
import { insufficientData, type InsufficientData, type Interval, type StatResult } from './result.ts';
import { validateMeanSample, welchTTest, type MeanSample } from './welch.ts';

/** What the target metric is: a rate per user, a mean of a value, or a user-level ratio. */
export type MetricKind = 'proportion' | 'mean' | 'ratio';

/** Name, configured weight, control flag and assigned users of a variant. */
export interface VariantMeta {
  name: string;
  weight: number;
  isControl: boolean;
  /** Users assigned (for the sample ratio mismatch check). */
  users: number;
}

/** Variants with the sample that matches the metric kind. */
export type ComparisonInput =
  | { metric: 'proportion'; confidenceLevel: number; variants: (VariantMeta & { sample: ProportionSample })[] }
  | { metric: 'mean'; confidenceLevel: number; variants: (VariantMeta & { sample: MeanSample })[] }
  | { metric: 'ratio'; confidenceLevel: number; variants: (VariantMeta & { sample: RatioSample })[] };

/** Which frequentist test produced a comparison. */
/**
 * Which frequentist test produced a comparison. A proportion with an arm at zero conversions
 * (or at every user converting) gets Fisher's exact test: the z-test's variance of that arm is
 * zero there, and its p-value cannot be trusted.
 */
export type TestName = 'two-proportion-z' | 'fisher-exact' | 'welch-t' | 'delta-method-z';

/** One non-control variant against control. */
export interface VariantComparisonResult {
  status: 'ok';
  variant: string;
  test: TestName;
  controlEstimate: number;
  treatmentEstimate: number;
  difference: number;
  /** z score, or Welch t statistic when `test` is 'welch-t'. */
  statistic: number;
  /** Welch-Satterthwaite df for the t-test, null for z-tests. */
  degreesOfFreedom: number | null;
  pValue: number;
  /** Holm-adjusted over all non-control variants. */
  pValueAdjusted: number;
  /** Interval of the difference at the configured confidence level. */
  differenceInterval: Interval;
  relativeLift: number | null;
  relativeLiftInterval: Interval | null;
  /** Unpooled standard error of the difference (feeds the sequential test and power). */
  standardError: number;
  /** P(treatment better than control): the chance to win on the absolute difference (= chanceToWin.absolute). */
  probabilityBetter: number;
  /**
   * Chance to win, labelled by scale: `absolute` = P(treatment - control > 0), `relative` =
   * P(treatment / control - 1 > 0). Equal under the exact Beta-Binomial posterior; under the
   * normal approximations the relative one uses the log-ratio (delta method) and is null when
   * the control estimate is not positive.
   */
  chanceToWin: { absolute: number; relative: number | null };
  /** Credible interval of the difference at the configured level (exact for Beta-Binomial). */
  credibleInterval: Interval;
  /** Expected shortfall of shipping this variant, in metric units. */
  expectedLoss: number;
  /**
   * 'beta-binomial-exact' for proportions (uniform prior); otherwise a flat-prior normal
   * posterior of the difference, D ~ N(difference, standardError^2).
   */
  bayesMethod: 'beta-binomial-exact' | 'normal-approximation';
}

/** A comparison that could not be computed. */
export type VariantComparison = VariantComparisonResult | (InsufficientData & { variant: string });

/** Result of {@link compareVariants}. */
export interface ComparisonOutput {
  control: string;
  srm: StatResult<SampleRatioMismatch>;
  comparisons: VariantComparison[];
}

/** Validates names, weights and the single control; returns the control's index. */
export function validateVariantMeta(variants: VariantMeta[]): number {
  if (variants.length < 2) throw new StatsInputError('variants', `needs at least 2 variants, got ${variants.length}`);
  const seen = new Set<string>();
  variants.forEach((variant, i) => {
    if (typeof variant.name !== 'string' || variant.name.length === 0) {
      throw new StatsInputError(`variants[${i}].name`, 'must be a non-empty string');
    }
    if (seen.has(variant.name)) throw new StatsInputError(`variants[${i}].name`, `duplicate variant name '${variant.name}'`);
    seen.add(variant.name);
    if (!(typeof variant.weight === 'number' && Number.isFinite(variant.weight) && variant.weight > 0)) {
      throw new StatsInputError(`variants[${i}].weight`, `must be a finite number > 0, got ${String(variant.weight)}`);
    }
    requireCount(`variants[${i}].users`, variant.users);
  });
  const controls = variants.filter((variant) => variant.isControl);
  if (controls.length !== 1) {
    throw new StatsInputError('variants', `needs exactly one control variant, got ${controls.length}`);
  }
  return variants.findIndex((variant) => variant.isControl);
}

/** Validates every variant's sample so errors name `variants[i]`, not just control/treatment. */
function validateSamples(input: ComparisonInput): void {
  switch (input.metric) {
    case 'proportion':
      input.variants.forEach((variant, i) => {
        validateProportionSample(`variants[${i}]`, variant.sample);
      });
      return;
    case 'mean':
      input.variants.forEach((variant, i) => {
        validateMeanSample(`variants[${i}]`, variant.sample);
      });
      return;
    case 'ratio':
      input.variants.forEach((variant, i) => {
        validateRatioSample(`variants[${i}]`, variant.sample);
      });
      return;
    default: {
      const unknown: never = input;
      throw new StatsInputError('metric.type', `unknown metric kind ${JSON.stringify(unknown)}`);
    }
  }
}

/** The relative chance to win from a log-scale lift interval (delta method): P(log(1 + lift) > 0). */
function relativeChanceToWin(relativeLift: number | null, interval: Interval | null, confidenceLevel: number): number | null {
  if (relativeLift === null || interval === null || !(interval.low > -1)) return null;
  const standardError = (Math.log1p(interval.high) - Math.log1p(interval.low)) / (2 * zCriticalFor(confidenceLevel));
  return standardError > 0 ? normalCdf(Math.log1p(relativeLift) / standardError) : null;
}

/** Flat-prior normal posterior of the difference, D ~ N(difference, standardError²). */
function normalPosterior(
  difference: number,
  standardError: number,
  lift: { relativeLift: number | null; relativeLiftInterval: Interval | null },
  confidenceLevel: number,
): Pick<VariantComparisonResult, 'probabilityBetter' | 'expectedLoss' | 'chanceToWin' | 'credibleInterval'> {
  const ratio = difference / standardError;
  const z = zCriticalFor(confidenceLevel);
  return {
    probabilityBetter: normalCdf(ratio),
    expectedLoss: Math.max(0, standardError * normalPdf(ratio) - difference * normalCdf(-ratio)),
    chanceToWin: { absolute: normalCdf(ratio), relative: relativeChanceToWin(lift.relativeLift, lift.relativeLiftInterval, confidenceLevel) },
    credibleInterval: { low: difference - z * standardError, high: difference + z * standardError },
  };
}

type Unadjusted = Omit<VariantComparisonResult, 'pValueAdjusted'> | (InsufficientData & { variant: string });

function compareOne(input: ComparisonInput, controlIndex: number, treatmentIndex: number, bayes: boolean): Unadjusted {
  const { confidenceLevel } = input;
  const variant = input.variants[treatmentIndex].name;
  switch (input.metric) {
    case 'proportion': {
      const control = input.variants[controlIndex].sample;
      const treatment = input.variants[treatmentIndex].sample;
      if (control.conversions === 0 && treatment.conversions === 0) return { ...insufficientData('no conversions in either variant yet'), variant };
      const test = twoProportionZTest({ control, treatment, confidenceLevel });
      if (test.status !== 'ok') return { ...test, variant };
      const posterior = bayes ? betaBinomialComparison({ control, treatment, credibility: confidenceLevel }) : null;
      if (posterior !== null && posterior.status !== 'ok') return { ...posterior, variant };
      const degenerate = [control, treatment].some((arm) => arm.conversions === 0 || arm.conversions === arm.users);
      return {
        status: 'ok',
        variant,
        test: degenerate ? 'fisher-exact' : 'two-proportion-z',
        controlEstimate: test.controlRate,
        treatmentEstimate: test.treatmentRate,
        difference: test.difference,
        statistic: test.zScore,
        degreesOfFreedom: null,
        pValue: degenerate ? fisherExactTwoSided(treatment.conversions, treatment.users, control.conversions, control.users) : test.pValue,
        differenceInterval: test.differenceInterval,
        relativeLift: test.relativeLift,
        relativeLiftInterval: test.relativeLiftInterval,
        standardError: test.standardErrorUnpooled,
        ...(posterior === null
          ? { ...normalPosterior(test.difference, test.standardErrorUnpooled, test, confidenceLevel), bayesMethod: 'normal-approximation' as const }
          : {
              probabilityBetter: posterior.probabilityTreatmentBetter,
              expectedLoss: posterior.expectedLossTreatment,
              // P(T > C) is P(T / C - 1 > 0) too: one number on both scales.
              chanceToWin: { absolute: posterior.probabilityTreatmentBetter, relative: posterior.probabilityTreatmentBetter },
              credibleInterval: posterior.differenceCredibleInterval,
              bayesMethod: 'beta-binomial-exact' as const,
            }),
      };
    }
    case 'mean': {
      const test = welchTTest({ control: input.variants[controlIndex].sample, treatment: input.variants[treatmentIndex].sample, confidenceLevel });
      if (test.status !== 'ok') return { ...test, variant };
      const standardError = Math.sqrt(
        test.controlVariance / input.variants[controlIndex].sample.n + test.treatmentVariance / input.variants[treatmentIndex].sample.n,
      );
      return {
        status: 'ok',
        variant,
        test: 'welch-t',
        controlEstimate: test.controlMean,
        treatmentEstimate: test.treatmentMean,
        difference: test.difference,
        statistic: test.tStatistic,
        degreesOfFreedom: test.degreesOfFreedom,
        pValue: test.pValue,
        differenceInterval: test.differenceInterval,
        relativeLift: test.relativeLift,
        relativeLiftInterval: test.relativeLiftInterval,
        standardError,
        ...normalPosterior(test.difference, standardError, test, confidenceLevel),
        bayesMethod: 'normal-approximation',
      };
    }
    case 'ratio': {
      const test = ratioMetricTest({ control: input.variants[controlIndex].sample, treatment: input.variants[treatmentIndex].sample, confidenceLevel });
      if (test.status !== 'ok') return { ...test, variant };
      return {
        status: 'ok',
        variant,
        test: 'delta-method-z',
        controlEstimate: test.controlRatio,
        treatmentEstimate: test.treatmentRatio,
        difference: test.difference,
        statistic: test.zScore,
        degreesOfFreedom: null,
        pValue: test.pValue,
        differenceInterval: test.differenceInterval,
        relativeLift: test.relativeLift,
        relativeLiftInterval: test.relativeLiftInterval,
        standardError: test.standardError,
        ...normalPosterior(test.difference, test.standardError, test, confidenceLevel),
        bayesMethod: 'normal-approximation',
      };
    }
    default: {
      const unknown: never = input;
      throw new StatsInputError('metric.type', `unknown metric kind ${JSON.stringify(unknown)}`);
    }
  }
}

/**
 * Every non-control variant against control, with Holm-adjusted p-values across them and the
 * sample ratio mismatch check. Variants without enough data count as p = 1 in the Holm family,
 * which keeps the correction conservative rather than shrinking the family. With
 * `bayes: false` proportions skip the exact Beta-Binomial sums and report the normal
 * approximation instead (used for the per-day timeline, where only the tests matter).
 */
export function compareVariants(input: ComparisonInput, { bayes = true }: { bayes?: boolean } = {}): ComparisonOutput {
  const controlIndex = validateVariantMeta(input.variants);
  validateSamples(input);
  const srm = sampleRatioMismatch({
    observed: input.variants.map((variant) => variant.users),
    weights: input.variants.map((variant) => variant.weight),
  });
  const raw = input.variants.flatMap((_, index) => (index === controlIndex ? [] : [compareOne(input, controlIndex, index, bayes)]));
  const adjusted = holmAdjust(raw.map((result) => (result.status === 'ok' ? result.pValue : 1)));
  const comparisons = raw.map((result, i): VariantComparison => (result.status === 'ok' ? { ...result, pValueAdjusted: adjusted[i] } : result));
  return { control: input.variants[controlIndex].name, srm, comparisons };
}
