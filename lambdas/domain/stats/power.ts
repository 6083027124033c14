import { requireCount, requireOpenUnit, StatsInputError } from './errors.ts';
import { mixtureSprtHalfWidth } from './sequential.ts';
import { normalCdf, normalPdf, normalQuantile } from './special.ts';

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
    (zAlpha * Math.sqrt(2 * meanRate * (1 - meanRate)) + zBeta * Math.sqrt(baselineRate * (1 - baselineRate) + treatmentRate * (1 - treatmentRate))) ** 2 /
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
  const alternativeSe = Math.sqrt((baselineRate * (1 - baselineRate)) / controlUsers + (treatmentRate * (1 - treatmentRate)) / treatmentUsers);
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
export function achievedPowerForStandardError({ absoluteMde, standardError, alpha }: { absoluteMde: number; standardError: number; alpha: number }): number {
  requireOpenUnit('alpha', alpha);
  if (!(standardError > 0) || !Number.isFinite(standardError)) return 0;
  const zAlpha = normalQuantile(1 - alpha / 2);
  const shift = Math.abs(absoluteMde) / standardError;
  return normalCdf(shift - zAlpha) + normalCdf(-shift - zAlpha);
}

/**
 * A sequential (mSPRT) design on the difference scale, as the report runs it: the difference
 * estimate after n users per variant has variance `differenceVariancePerUser / n`, and the test
 * is {@link mixtureSprtLook}'s with mixture variance tau^2 at level alpha.
 */
export interface SequentialDesign {
  /**
   * sigma^2 with Var(difference) = sigma^2 / n for n users per variant: p1 (1 - p1) + p2 (1 - p2)
   * for a proportion (the unpooled variance the report plugs in), 2 s^2 for a mean or for a
   * ratio's per-user linearised variance s^2.
   */
  differenceVariancePerUser: number;
  /** The effect to detect, absolute (treatment - control); its sign is ignored. */
  absoluteMde: number;
  /** tau^2 of the mixture; default absoluteMde^2, as the report sets it. */
  mixtureVariance?: number;
  /** Level of the always-valid test (after any multiplicity split). */
  alpha: number;
  /**
   * Looks counted, equally spaced in users, the last at the full size. 1 (the default) counts
   * the final look only: looking more often only adds chances to cross, so a size planned with
   * looks = 1 reaches the power under ANY schedule that includes a look at that size.
   */
  looks?: number;
}

/** Grid step, in standard deviations, of the recursive integration. */
const GRID_STEP = 0.05;
/** Standard deviations kept either side of the mean of each look's statistic. */
const GRID_REACH = 9;

function checkedDesign(design: SequentialDesign): { sigma2: number; theta: number; tau2: number; alpha: number; looks: number } {
  const { differenceVariancePerUser: sigma2, absoluteMde, alpha, looks = 1 } = design;
  if (!(Number.isFinite(sigma2) && sigma2 > 0)) {
    throw new StatsInputError('differenceVariancePerUser', `must be a finite number > 0, got ${String(sigma2)}`);
  }
  if (!(Number.isFinite(absoluteMde) && absoluteMde !== 0)) {
    throw new StatsInputError('absoluteMde', `must be a non-zero finite number, got ${String(absoluteMde)}`);
  }
  const tau2 = design.mixtureVariance ?? absoluteMde * absoluteMde;
  if (!(Number.isFinite(tau2) && tau2 > 0)) throw new StatsInputError('mixtureVariance', `must be a finite number > 0, got ${String(tau2)}`);
  requireOpenUnit('alpha', alpha);
  if (!(Number.isInteger(looks) && looks >= 1 && looks <= 1000)) throw new StatsInputError('looks', `must be an integer from 1 to 1000, got ${String(looks)}`);
  return { sigma2, theta: Math.abs(absoluteMde), tau2, alpha, looks };
}

/** Simpson weights times the step for an odd number of equally spaced points. */
function simpsonWeights(points: number, step: number): Float64Array {
  const weights = new Float64Array(points);
  for (let i = 0; i < points; i++) weights[i] = ((i === 0 || i === points - 1 ? 1 : i % 2 === 1 ? 4 : 2) * step) / 3;
  return weights;
}

/** An odd number of equally spaced points covering [low, high]. */
function gridOver(low: number, high: number): Float64Array {
  let intervals = Math.max(2, Math.ceil((high - low) / GRID_STEP));
  intervals += intervals % 2;
  const grid = new Float64Array(intervals + 1);
  for (let i = 0; i <= intervals; i++) grid[i] = low + ((high - low) * i) / intervals;
  return grid;
}

function powerOf(sigma2: number, theta: number, tau2: number, alpha: number, looks: number, usersPerVariant: number): number {
  // Standardised statistic Z_k = D_k / sqrt(V_k): mean theta a_k with a_k = sqrt(n_k / sigma^2),
  // crossing at b_k = h(V_k) / sqrt(V_k). S_k = a_k Z_k has independent N(theta d, d) increments
  // over information d = a_k^2 - a_{k-1}^2, which gives the recursion of Armitage, McPherson and
  // Rowe (1969) as laid out by Jennison and Turnbull (2000, ch. 19): carry the density of Z_k
  // on the paths that have not crossed yet, add each look's upward crossing probability.
  const information = (k: number): number => (usersPerVariant * k) / looks / sigma2;
  const boundary = (k: number): number => {
    const variance = 1 / information(k);
    return mixtureSprtHalfWidth(variance, tau2, alpha) / Math.sqrt(variance);
  };
  let crossed = normalCdf(theta * Math.sqrt(information(1)) - boundary(1));
  if (looks === 1) return crossed;
  const range = (k: number): [number, number] => {
    const mean = theta * Math.sqrt(information(k));
    const b = boundary(k);
    return [Math.max(-b, mean - GRID_REACH), Math.min(b, mean + GRID_REACH)];
  };
  let [low, high] = range(1);
  if (!(low < high)) return crossed;
  let grid = gridOver(low, high);
  let density = grid.map((z) => normalPdf(z - theta * Math.sqrt(information(1))));
  for (let k = 2; k <= looks; k++) {
    const before = Math.sqrt(information(k - 1));
    const now = Math.sqrt(information(k));
    const step = information(k) - information(k - 1);
    const spread = Math.sqrt(step);
    const weighted = simpsonWeights(grid.length, grid[1] - grid[0]).map((w, i) => w * density[i]);
    const shift = grid.map((z) => z * before + theta * step);
    const b = boundary(k);
    for (let i = 0; i < grid.length; i++) crossed += weighted[i] * normalCdf((shift[i] - b * now) / spread);
    [low, high] = range(k);
    if (!(low < high)) break;
    const next = gridOver(low, high);
    density = next.map((z) => {
      let sum = 0;
      for (let i = 0; i < grid.length; i++) sum += weighted[i] * normalPdf((z * now - shift[i]) / spread);
      return (sum * now) / spread;
    });
    grid = next;
  }
  return Math.min(1, crossed);
}

/**
 * Probability that the always-valid test rejects in the direction of the effect by the last of
 * `looks` equally spaced looks, when the true difference is the MDE and n users per variant
 * are reached at the last look. One look is a normal tail; several are integrated recursively
 * (agrees with scipy's multivariate normal CDF to about 1e-6, see
 * test/reference/stats/make_sequential_cases.py). Paths that first cross the opposite boundary
 * are not counted; at effects the size planned for they carry under 1e-6.
 */
export function sequentialPower(input: SequentialDesign & { usersPerVariant: number }): number {
  const { sigma2, theta, tau2, alpha, looks } = checkedDesign(input);
  if (!(Number.isFinite(input.usersPerVariant) && input.usersPerVariant > 0)) {
    throw new StatsInputError('usersPerVariant', `must be a finite number > 0, got ${String(input.usersPerVariant)}`);
  }
  return powerOf(sigma2, theta, tau2, alpha, looks, input.usersPerVariant);
}

/**
 * Users per variant at which the always-valid (mSPRT) test reaches `power` against the MDE:
 * the smallest n with {@link sequentialPower} >= power, solved by bisection and rounded up.
 * Power grows with n here (the boundary grows like sqrt(log n) on the z scale, the drift like
 * sqrt(n)), so the bisection is well posed.
 *
 * With the default looks = 1 only the final look counts, P(D_n >= h(V_n)) = power, i.e.
 *   theta / sqrt(V_n) - h(V_n) / sqrt(V_n) = z_power,  V_n = sigma^2 / n,
 * GrowthBook's choice for its sequential power too. It is conservative for daily looks: for a 9%
 * baseline, +10%, alpha 0.05, power 0.8 it plans 32,130 users per variant (1.94 x the
 * fixed-horizon 16,583), where 14 equally spaced looks need 29,204 (1.76 x) and reach 0.845 at
 * 32,130. The report uses looks = 1 because it cannot know how many days an experiment will
 * run, and the final-look size holds for any schedule.
 */
export function sequentialSampleSizeForDifference(input: SequentialDesign & { power: number }): number {
  const { sigma2, theta, tau2, alpha, looks } = checkedDesign(input);
  requireOpenUnit('power', input.power);
  const reaches = (n: number): boolean => powerOf(sigma2, theta, tau2, alpha, looks, n) >= input.power;
  // Start from the fixed-horizon size, which the sequential test can never beat at one look.
  let high = (sigma2 * (normalQuantile(1 - alpha / 2) + normalQuantile(input.power)) ** 2) / theta ** 2;
  let low = high / 4;
  while (!reaches(high)) {
    low = high;
    high *= 2;
    if (high > 1e15) throw new StatsInputError('power', `cannot be reached by the sequential test (power ${input.power})`);
  }
  while (low >= 1 && reaches(low)) low /= 2;
  // Bisection over whole users: below stays short of the power, above reaches it.
  let below = low >= 1 ? Math.floor(low) : 0;
  let above = Math.ceil(high);
  while (above - below > 1) {
    const middle = Math.floor((below + above) / 2);
    if (reaches(middle)) above = middle;
    else below = middle;
  }
  return above;
}

/**
 * Users per variant for the sequential plan of a conversion rate (or any per-user 0/1 metric):
 * {@link sequentialSampleSizeForDifference} with sigma^2 = p1 (1 - p1) + p2 (1 - p2),
 * p2 = baseline (1 + mde), tau = baseline x mde, as the report applies the mSPRT. `looks`
 * as in {@link SequentialDesign} (default 1: the final look only, valid for any schedule).
 * For a ratio metric such as CTR with users as the unit, the per-user variance is not
 * p (1 - p): use {@link sequentialSampleSizeForDifference} with the linearised variance.
 */
export function sequentialSampleSize(input: ProportionPowerInput & { looks?: number }): SampleSizePlan {
  const { baselineRate, relativeMde, alpha, power, looks } = input;
  const treatmentRate = treatmentRateFor(baselineRate, relativeMde);
  const absoluteMde = treatmentRate - baselineRate;
  const usersPerVariant = sequentialSampleSizeForDifference({
    differenceVariancePerUser: baselineRate * (1 - baselineRate) + treatmentRate * (1 - treatmentRate),
    absoluteMde,
    alpha,
    power,
    looks,
  });
  return { usersPerVariant, baselineRate, treatmentRate, absoluteMde };
}

/**
 * Power of one always-valid look against `absoluteMde` when the difference has standard error
 * `standardError` now: P(D >= h(SE^2)) for D ~ N(mde, SE^2), the final-look power of
 * {@link sequentialPower} at the current size. Reaches the planned power when the planned size
 * is reached.
 */
export function sequentialPowerForStandardError({
  absoluteMde,
  standardError,
  mixtureVariance,
  alpha,
}: {
  absoluteMde: number;
  standardError: number;
  /** tau^2; default absoluteMde^2. */
  mixtureVariance?: number;
  alpha: number;
}): number {
  const { theta, tau2 } = checkedDesign({ differenceVariancePerUser: 1, absoluteMde, mixtureVariance, alpha });
  if (!(standardError > 0) || !Number.isFinite(standardError)) return 0;
  const variance = standardError * standardError;
  return normalCdf((theta - mixtureSprtHalfWidth(variance, tau2, alpha)) / standardError);
}
