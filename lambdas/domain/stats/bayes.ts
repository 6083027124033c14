import { requireCount, StatsInputError } from './errors.ts';
import { validateProportionSample, type ProportionSample } from './proportion.ts';
import { insufficientData, ok, type Interval, type StatResult } from './result.ts';
import { betaQuantile, incompleteBeta, logBeta } from './special.ts';

/** A Beta(alpha, beta) distribution over a rate. */
export interface BetaDistribution {
  alpha: number;
  beta: number;
}

/** Uniform Beta(1, 1) prior: integer parameters keep the exact sums below finite. */
export const UNIFORM_PRIOR: BetaDistribution = { alpha: 1, beta: 1 };

/** Result of {@link betaBinomialComparison}. */
export interface BetaBinomialComparison {
  controlPosterior: BetaDistribution;
  treatmentPosterior: BetaDistribution;
  /** Equal-tailed credible intervals of each variant's rate. */
  controlCredibleInterval: Interval;
  treatmentCredibleInterval: Interval;
  /**
   * Equal-tailed credible interval of the difference (treatment rate - control rate), by
   * numerical integration of the two posteriors (no normal approximation).
   */
  differenceCredibleInterval: Interval;
  /** P(treatment rate > control rate), exact. */
  probabilityTreatmentBetter: number;
  /** E[max(control - treatment, 0)]: the rate given up, in expectation, by shipping treatment. */
  expectedLossTreatment: number;
  /** E[max(treatment - control, 0)]: the rate given up by keeping control. */
  expectedLossControl: number;
}

/** Posterior after observing `sample` under `prior`. */
export function betaPosterior(sample: ProportionSample, prior: BetaDistribution = UNIFORM_PRIOR): BetaDistribution {
  return { alpha: prior.alpha + sample.conversions, beta: prior.beta + sample.users - sample.conversions };
}

/**
 * P(X > Y) for X ~ Beta(x.alpha, x.beta), Y ~ Beta(y.alpha, y.beta) with integer x.alpha, by
 * Evan Miller's closed form
 *   sum_{i=0}^{x.alpha-1} B(y.alpha + i, y.beta + x.beta) / ((x.beta + i) B(1 + i, x.beta) B(y.alpha, y.beta)).
 * Consecutive terms differ by the rational factor
 *   r(i) = term(i+1) / term(i) = (y.alpha + i)(x.beta + i) / ((y.alpha + y.beta + x.beta + i)(1 + i)),
 * and r(i) - 1 has the sign of a linear function decreasing in i, so the terms are unimodal.
 * The sum therefore starts at the peak (exact log-gamma form), walks outwards with the factor in
 * log space (re-anchored on the exact form every 512 steps so rounding cannot accumulate), and
 * stops on each side once a term no longer moves the sum at double precision. The cost is about
 * 20 standard deviations of the posterior in terms, instead of x.alpha.
 */
function probabilityGreaterBySum(x: BetaDistribution, y: BetaDistribution): number {
  const exactLogTerm = (i: number): number => logBeta(y.alpha + i, y.beta + x.beta) - Math.log(x.beta + i) - logBeta(1 + i, x.beta) - logBeta(y.alpha, y.beta);
  const logRatio = (i: number): number => Math.log(((y.alpha + i) * (x.beta + i)) / ((y.alpha + y.beta + x.beta + i) * (1 + i)));
  const last = x.alpha - 1;
  // r(i) = 1 where (y.alpha + i)(x.beta + i) = (y.alpha + y.beta + x.beta + i)(1 + i).
  const c = y.alpha + y.beta + x.beta;
  const peak = (y.alpha * x.beta - c) / (c + 1 - y.alpha - x.beta);
  const start = Math.min(last, Math.max(0, Math.floor(peak)));
  const negligible = 1e-17;

  let sum = 0;
  let logTerm = exactLogTerm(start);
  for (let i = start; i <= last; i++) {
    if (i > start) logTerm = (i - start) % 512 === 0 ? exactLogTerm(i) : logTerm + logRatio(i - 1);
    const term = Math.exp(logTerm);
    sum += term;
    if (i > peak && term <= negligible * sum) break;
  }
  logTerm = exactLogTerm(start);
  for (let i = start - 1; i >= 0; i--) {
    logTerm = (start - i) % 512 === 0 ? exactLogTerm(i) : logTerm - logRatio(i);
    const term = Math.exp(logTerm);
    sum += term;
    if (term <= negligible * sum) break;
  }
  return sum;
}

/**
 * P(X > Y) for two Beta distributions with integer parameters, exact to rounding. Of the four
 * equivalent closed forms (summing over X's alpha, Y's alpha, or the betas after the mirror
 * p -> 1 - p) the one with the fewest terms is used, so the cost is set by the smallest count.
 */
export function probabilityBetaGreater(x: BetaDistribution, y: BetaDistribution): number {
  for (const [field, value] of [
    ['x.alpha', x.alpha],
    ['x.beta', x.beta],
    ['y.alpha', y.alpha],
    ['y.beta', y.beta],
  ] as const) {
    requireCount(field, value);
    if (value < 1) throw new StatsInputError(field, 'must be at least 1');
  }
  const smallest = Math.min(x.alpha, y.alpha, x.beta, y.beta);
  let probability: number;
  if (smallest === x.alpha) probability = probabilityGreaterBySum(x, y);
  else if (smallest === y.alpha) probability = 1 - probabilityGreaterBySum(y, x);
  // Mirror: X > Y  <=>  1 - X < 1 - Y, and 1 - X ~ Beta(x.beta, x.alpha).
  else if (smallest === y.beta) probability = probabilityGreaterBySum({ alpha: y.beta, beta: y.alpha }, { alpha: x.beta, beta: x.alpha });
  else probability = 1 - probabilityGreaterBySum({ alpha: x.beta, beta: x.alpha }, { alpha: y.beta, beta: y.alpha });
  return Math.min(1, Math.max(0, probability));
}

/**
 * E[max(Y - X, 0)] for independent Beta variables, in closed form: with Y+ ~ Beta(y.alpha + 1,
 * y.beta) and X+ likewise, E[Y 1(Y > X)] = mean(Y) P(Y+ > X), so the loss is
 * mean(Y) P(Y+ > X) - mean(X) P(Y > X+).
 */
export function expectedShortfall(x: BetaDistribution, y: BetaDistribution): number {
  const meanX = x.alpha / (x.alpha + x.beta);
  const meanY = y.alpha / (y.alpha + y.beta);
  const yPlus = { alpha: y.alpha + 1, beta: y.beta };
  const xPlus = { alpha: x.alpha + 1, beta: x.beta };
  return Math.max(0, meanY * probabilityBetaGreater(yPlus, x) - meanX * probabilityBetaGreater(y, xPlus));
}

/** Equal-tailed credible interval of a Beta distribution. */
export function betaCredibleInterval(distribution: BetaDistribution, credibility: number): Interval {
  const tail = (1 - credibility) / 2;
  return {
    low: betaQuantile(tail, distribution.alpha, distribution.beta),
    high: betaQuantile(1 - tail, distribution.alpha, distribution.beta),
  };
}

/** Nodes and weights of 24-point Gauss-Legendre quadrature on [-1, 1] (Newton on P_24). */
const GAUSS_LEGENDRE = (() => {
  const n = 24;
  const nodes: number[] = [];
  const weights: number[] = [];
  for (let i = 1; i <= n; i++) {
    let x = Math.cos((Math.PI * (i - 0.25)) / (n + 0.5));
    let derivative = 0;
    for (let step = 0; step < 100; step++) {
      let p0 = 1;
      let p1 = x;
      for (let k = 2; k <= n; k++) [p0, p1] = [p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k];
      derivative = (n * (x * p1 - p0)) / (x * x - 1);
      const change = p1 / derivative;
      x -= change;
      if (Math.abs(change) < 1e-16) break;
    }
    nodes.push(x);
    weights.push(2 / ((1 - x * x) * derivative * derivative));
  }
  return { nodes, weights };
})();

const betaCdf = (x: number, d: BetaDistribution) => (x <= 0 ? 0 : x >= 1 ? 1 : incompleteBeta(x, d.alpha, d.beta));
const betaLogDensity = (x: number, d: BetaDistribution) => (d.alpha - 1) * Math.log(x) + (d.beta - 1) * Math.log1p(-x) - logBeta(d.alpha, d.beta);

/**
 * P(X - Y <= d) = ∫ f_Y(y) F_X(y + d) dy for independent Beta variables, over Y's central
 * 1 - 1e-12. F_X(y + d) is 0 below y = -d and 1 above y = 1 - d, with a kink at each: the part
 * above is F_Y's mass there, and only the smooth part between is integrated (composite
 * Gauss-Legendre, 16 panels of 24 points).
 */
function betaDifferenceCdf(d: number, x: BetaDistribution, y: BetaDistribution, support: { low: number; high: number }): number {
  const low = Math.max(support.low, -d);
  const high = Math.min(support.high, 1 - d);
  const saturated = 1 - d < support.high ? betaCdf(support.high, y) - betaCdf(Math.max(support.low, 1 - d), y) : 0;
  if (!(high > low)) return Math.min(1, Math.max(0, saturated));
  const panels = 16;
  const width = (high - low) / panels;
  let total = saturated;
  for (let panel = 0; panel < panels; panel++) {
    const centre = low + (panel + 0.5) * width;
    GAUSS_LEGENDRE.nodes.forEach((node, i) => {
      const point = centre + (node * width) / 2;
      total += ((GAUSS_LEGENDRE.weights[i] * width) / 2) * Math.exp(betaLogDensity(point, y)) * betaCdf(point + d, x);
    });
  }
  return Math.min(1, Math.max(0, total));
}

/**
 * Equal-tailed credible interval of X - Y for independent Beta variables: each bound solves
 * P(X - Y <= d) = tail by bisection on [-1, 1] (to 1e-12).
 */
export function betaDifferenceCredibleInterval(x: BetaDistribution, y: BetaDistribution, credibility: number): Interval {
  const support = { low: betaQuantile(5e-13, y.alpha, y.beta), high: betaQuantile(1 - 5e-13, y.alpha, y.beta) };
  const solve = (target: number) => {
    let low = -1;
    let high = 1;
    while (high - low > 1e-12) {
      const middle = (low + high) / 2;
      if (betaDifferenceCdf(middle, x, y, support) < target) low = middle;
      else high = middle;
    }
    return (low + high) / 2;
  };
  const tail = (1 - credibility) / 2;
  return { low: solve(tail), high: solve(1 - tail) };
}

/**
 * Bayesian Beta-Binomial comparison of two proportions: posteriors, credible intervals, the
 * exact probability that treatment beats control, and the expected loss of either choice.
 */
export function betaBinomialComparison({
  control,
  treatment,
  credibility,
  prior = UNIFORM_PRIOR,
}: {
  control: ProportionSample;
  treatment: ProportionSample;
  credibility: number;
  prior?: BetaDistribution;
}): StatResult<BetaBinomialComparison> {
  validateProportionSample('control', control);
  validateProportionSample('treatment', treatment);
  if (control.users < 1 || treatment.users < 1) return insufficientData('each variant needs at least 1 user');
  const controlPosterior = betaPosterior(control, prior);
  const treatmentPosterior = betaPosterior(treatment, prior);
  return ok({
    controlPosterior,
    treatmentPosterior,
    controlCredibleInterval: betaCredibleInterval(controlPosterior, credibility),
    treatmentCredibleInterval: betaCredibleInterval(treatmentPosterior, credibility),
    differenceCredibleInterval: betaDifferenceCredibleInterval(treatmentPosterior, controlPosterior, credibility),
    probabilityTreatmentBetter: probabilityBetaGreater(treatmentPosterior, controlPosterior),
    expectedLossTreatment: expectedShortfall(treatmentPosterior, controlPosterior),
    expectedLossControl: expectedShortfall(controlPosterior, treatmentPosterior),
  });
}
