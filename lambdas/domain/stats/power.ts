import { requireCount, requireOpenUnit, StatsInputError } from './errors.ts';
import { normalCdf, normalQuantile } from './special.ts';

/** Inputs of the proportion power calculation; the MDE is relative to the baseline. */
export interface ProportionPowerInput {
  /** Control conversion rate, 0 < baseline < 1. */
  baselineRate: number;
  /** Minimum detectable effect relative to baseline, e.g. 0.1 for +10%. */
  relativeMde: number;
  /** Two-sided significance level. */
  alpha: number;
  /** Target power (1 - beta). */
  power: number;
}

/** Result of {@link sampleSizeForProportions}. */
export interface SampleSizePlan {
  usersPerVariant: number;
  baselineRate: number;
  treatmentRate: number;
  absoluteMde: number;
}

function treatmentRateFor(baselineRate: number, relativeMde: number): number {
  requireOpenUnit('baseline', baselineRate);
  if (!(Number.isFinite(relativeMde) && relativeMde !== 0)) {
    throw new StatsInputError('mde', `must be a non-zero finite number, got ${String(relativeMde)}`);
  }
  const treatmentRate = baselineRate * (1 + relativeMde);
  if (!(treatmentRate > 0 && treatmentRate < 1)) {
    throw new StatsInputError('mde', `baseline * (1 + mde) = ${treatmentRate} must lie strictly between 0 and 1`);
  }
  return treatmentRate;
}

/**
 * Users per variant for a two-sided two-proportion z-test, by the classic formula (Fleiss,
 * without continuity correction) that matches how the test is run: the null spread uses the
 * pooled rate p = (p1 + p2) / 2, the alternative spread the unpooled rates:
 *   n = (z_{1-a/2} sqrt(2 p (1-p)) + z_{1-b} sqrt(p1 (1-p1) + p2 (1-p2)))^2 / (p2 - p1)^2,
 * rounded up. For baseline 0.09, +10%, alpha 0.05, power 0.8 this gives 16,583 users per
 * variant (n = 16,582.2). The alternatives differ by a few users: unpooled variance under both
 * hypotheses gives 16,580, and Cohen's h solved with statsmodels' NormalIndPower gives 16,575
 * (it works on the arcsine scale, where the variance no longer depends on the rate). The
 * pooled/unpooled form is kept because it is the variance the z-test itself uses under H0.
 */
export function sampleSizeForProportions(input: ProportionPowerInput): SampleSizePlan {
  const { baselineRate, relativeMde, alpha, power } = input;
  const treatmentRate = treatmentRateFor(baselineRate, relativeMde);
  requireOpenUnit('alpha', alpha);
  requireOpenUnit('power', power);
  const zAlpha = normalQuantile(1 - alpha / 2);
  const zBeta = normalQuantile(power);
  const meanRate = (baselineRate + treatmentRate) / 2;
  const absoluteMde = treatmentRate - baselineRate;
  const n =
    (zAlpha * Math.sqrt(2 * meanRate * (1 - meanRate)) +
      zBeta * Math.sqrt(baselineRate * (1 - baselineRate) + treatmentRate * (1 - treatmentRate))) ** 2 /
    absoluteMde ** 2;
  // The guard keeps an exact integer that floating point nudged up from rounding to n + 1.
  return { usersPerVariant: Math.ceil(n - 1e-9), baselineRate, treatmentRate, absoluteMde };
}

/**
 * Power reached so far against the planned effect (never the observed one, whose "power" says
 * nothing new): both tails of the two-sided test under the same pooled-null / unpooled-
 * alternative normal approximation as {@link sampleSizeForProportions}.
 */
export function achievedPowerForProportions({
  baselineRate,
  relativeMde,
  alpha,
  controlUsers,
  treatmentUsers,
}: Omit<ProportionPowerInput, 'power'> & { controlUsers: number; treatmentUsers: number }): number {
  const treatmentRate = treatmentRateFor(baselineRate, relativeMde);
  requireOpenUnit('alpha', alpha);
  requireCount('controlUsers', controlUsers);
  requireCount('treatmentUsers', treatmentUsers);
  if (controlUsers === 0 || treatmentUsers === 0) return 0;
  const zAlpha = normalQuantile(1 - alpha / 2);
  // Users are split as observed, so the pooled rate is weighted by them.
  const pooledRate = (baselineRate * controlUsers + treatmentRate * treatmentUsers) / (controlUsers + treatmentUsers);
  const nullSe = Math.sqrt(pooledRate * (1 - pooledRate) * (1 / controlUsers + 1 / treatmentUsers));
  const alternativeSe = Math.sqrt(
    (baselineRate * (1 - baselineRate)) / controlUsers + (treatmentRate * (1 - treatmentRate)) / treatmentUsers,
  );
  const effect = Math.abs(treatmentRate - baselineRate);
  return normalCdf((effect - zAlpha * nullSe) / alternativeSe) + normalCdf((-effect - zAlpha * nullSe) / alternativeSe);
}

/**
 * Observations per variant to detect an absolute difference `absoluteMde` in a mean with
 * common standard deviation `standardDeviation` (two-sided z approximation):
 *   n = 2 sigma^2 (z_{1-a/2} + z_{1-b})^2 / delta^2, rounded up.
 */
export function sampleSizeForMeans({
  standardDeviation,
  absoluteMde,
  alpha,
  power,
}: {
  standardDeviation: number;
  absoluteMde: number;
  alpha: number;
  power: number;
}): number {
  if (!(Number.isFinite(standardDeviation) && standardDeviation > 0)) {
    throw new StatsInputError('standardDeviation', `must be > 0, got ${String(standardDeviation)}`);
  }
  if (!(Number.isFinite(absoluteMde) && absoluteMde !== 0)) {
    throw new StatsInputError('absoluteMde', `must be a non-zero finite number, got ${String(absoluteMde)}`);
  }
  requireOpenUnit('alpha', alpha);
  requireOpenUnit('power', power);
  const z = normalQuantile(1 - alpha / 2) + normalQuantile(power);
  return Math.ceil((2 * standardDeviation ** 2 * z ** 2) / absoluteMde ** 2 - 1e-9);
}

/** Power against `absoluteMde` of a two-sided z-test whose difference has standard error `standardError`. */
export function achievedPowerForStandardError({
  absoluteMde,
  standardError,
  alpha,
}: {
  absoluteMde: number;
  standardError: number;
  alpha: number;
}): number {
  requireOpenUnit('alpha', alpha);
  if (!(standardError > 0) || !Number.isFinite(standardError)) return 0;
  const zAlpha = normalQuantile(1 - alpha / 2);
  const shift = Math.abs(absoluteMde) / standardError;
  return normalCdf(shift - zAlpha) + normalCdf(-shift - zAlpha);
}
