/**
 * Distribution functions used by the tests. jstat supplies the normal distribution, the
 * chi-square distribution and log-gamma, which agree with scipy to ~1e-12. Its Student t and
 * incomplete beta stop after 100 continued-fraction steps with a 3e-7 tolerance, which is off
 * by 2e-4 at three million degrees of freedom (measured against scipy), so the incomplete beta
 * is evaluated here with a converged Lentz continued fraction, and quantiles are polished with
 * Newton steps from jstat's starting guess.
 */
import jStat from 'jstat';

const CF_EPSILON = 1e-15;
const CF_TINY = 1e-300;
const CF_MAX_ITERATIONS = 50_000;

/** Natural log of the gamma function (Lanczos, absolute error below 3e-10). */
export function logGamma(x: number): number {
  return jStat.gammaln(x);
}

/** Natural log of the beta function B(a, b). */
export function logBeta(a: number, b: number): number {
  return logGamma(a) + logGamma(b) - logGamma(a + b);
}

/**
 * Beyond this |z| jstat's erf loses relative accuracy in the tail (2 % at z = 8, 0 past 19), so
 * the tail comes from the upper regularised gamma function: P(Z < -z) = Q(1/2, z²/2) / 2.
 */
const NORMAL_TAIL_Z = 5;

/** Standard normal cumulative distribution function (tail-accurate: see {@link normalSurvival}). */
export function normalCdf(z: number): number {
  if (z < -NORMAL_TAIL_Z) return normalSurvival(-z);
  if (z > NORMAL_TAIL_Z) return 1 - normalSurvival(z);
  return jStat.normal.cdf(z, 0, 1);
}

/** P(Z > z) for a standard normal Z, with full relative accuracy in the upper tail. */
export function normalSurvival(z: number): number {
  if (z < NORMAL_TAIL_Z) return 1 - normalCdf(z);
  return 0.5 * upperRegularizedGamma(0.5, (z * z) / 2);
}

/** Standard normal density. */
export function normalPdf(z: number): number {
  return Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
}

/** Standard normal quantile (inverse CDF) for 0 < p < 1. */
export function normalQuantile(p: number): number {
  return jStat.normal.inv(p, 0, 1);
}

/** Two-sided p-value of a standard normal statistic. */
export function normalTwoSidedPValue(z: number): number {
  return Math.min(1, 2 * normalSurvival(Math.abs(z)));
}

/**
 * Upper tail P(X > x) of a chi-square distribution with `df` degrees of freedom, from the upper
 * regularised gamma function directly, so a far-tail p-value keeps its digits (1 - CDF would
 * round to 0 below about 1e-16).
 */
export function chiSquareSurvival(x: number, df: number): number {
  if (x <= 0) return 1;
  return Math.min(1, Math.max(0, upperRegularizedGamma(df / 2, x / 2)));
}

/**
 * Q(a, x) = Γ(a, x) / Γ(a): the series of P for x < a + 1 (where Q is not small, so 1 - P
 * keeps its digits), the continued fraction of Q (modified Lentz) beyond.
 */
export function upperRegularizedGamma(a: number, x: number): number {
  if (x <= 0) return 1;
  const logFront = a * Math.log(x) - x - logGamma(a);
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < CF_MAX_ITERATIONS; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * CF_EPSILON) break;
    }
    return 1 - sum * Math.exp(logFront);
  }
  let b = x + 1 - a;
  let c = 1 / CF_TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < CF_MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < CF_TINY) d = CF_TINY;
    c = b + an / c;
    if (Math.abs(c) < CF_TINY) c = CF_TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < CF_EPSILON) break;
  }
  return Math.exp(logFront) * h;
}

/** log of the binomial coefficient C(n, k). */
function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/**
 * Fisher's exact test of a 2 x 2 table, two-sided as scipy.stats.fisher_exact defines it: the
 * probability, under the hypergeometric null with both margins fixed, of every table no more
 * likely than the one observed (relative tolerance 1e-7 for ties). `a` successes of `n1` in the
 * first row, `b` of `n2` in the second.
 */
export function fisherExactTwoSided(a: number, n1: number, b: number, n2: number): number {
  const successes = a + b;
  const total = n1 + n2;
  const low = Math.max(0, successes - n2);
  const high = Math.min(n1, successes);
  const logPmf = (k: number) => logChoose(n1, k) + logChoose(n2, successes - k) - logChoose(total, successes);
  const observed = logPmf(a);
  const cutoff = observed + Math.log1p(1e-7);
  let p = 0;
  for (let k = low; k <= high; k++) {
    const lp = logPmf(k);
    if (lp <= cutoff) p += Math.exp(lp);
  }
  return Math.min(1, p);
}

/** Continued fraction of the incomplete beta function (modified Lentz), converged to 1e-15. */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < CF_TINY) d = CF_TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= CF_MAX_ITERATIONS; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < CF_TINY) d = CF_TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < CF_TINY) c = CF_TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < CF_TINY) d = CF_TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < CF_TINY) c = CF_TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < CF_EPSILON) return h;
  }
  return h;
}

/**
 * Regularised incomplete beta I_x(a, b). `y` is 1 - x, passed separately by callers that know
 * it more precisely than `1 - x` would give (the Student t tail).
 */
export function incompleteBeta(x: number, a: number, b: number, y: number = 1 - x): number {
  if (x <= 0) return 0;
  if (y <= 0) return 1;
  const logFront = a * Math.log(x) + b * Math.log(y) - logBeta(a, b);
  if (x < (a + 1) / (a + b + 2)) {
    return (Math.exp(logFront) * betaContinuedFraction(x, a, b)) / a;
  }
  return 1 - (Math.exp(logFront) * betaContinuedFraction(y, b, a)) / b;
}

/** Student t cumulative distribution function. */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5, (t * t) / (df + t * t));
  return t < 0 ? tail : 1 - tail;
}

/** Two-sided p-value of a Student t statistic. */
export function studentTTwoSidedPValue(t: number, df: number): number {
  const x = df / (df + t * t);
  return Math.min(1, incompleteBeta(x, df / 2, 0.5, (t * t) / (df + t * t)));
}

function studentTPdf(t: number, df: number): number {
  const logDensity = logGamma((df + 1) / 2) - logGamma(df / 2) - 0.5 * Math.log(df * Math.PI) - ((df + 1) / 2) * Math.log1p((t * t) / df);
  return Math.exp(logDensity);
}

/** Student t quantile for 0 < p < 1 (jstat's guess refined by Newton steps). */
export function studentTQuantile(p: number, df: number): number {
  let t = jStat.studentt.inv(p, df);
  if (!Number.isFinite(t)) t = normalQuantile(p);
  for (let step = 0; step < 8; step++) {
    const change = (studentTCdf(t, df) - p) / studentTPdf(t, df);
    t -= change;
    if (Math.abs(change) < 1e-13 * Math.max(1, Math.abs(t))) break;
  }
  return t;
}

/** Beta distribution quantile for 0 < p < 1 (bracketed Newton from jstat's guess). */
export function betaQuantile(p: number, a: number, b: number): number {
  let low = 0;
  let high = 1;
  let x = jStat.ibetainv(p, a, b);
  if (!(x > 0 && x < 1)) x = a / (a + b);
  const logNorm = logBeta(a, b);
  for (let step = 0; step < 100; step++) {
    const error = incompleteBeta(x, a, b) - p;
    if (error > 0) high = x;
    else low = x;
    const density = Math.exp((a - 1) * Math.log(x) + (b - 1) * Math.log1p(-x) - logNorm);
    let next = x - error / density;
    // Newton can overshoot in the tails; fall back to bisection inside the bracket.
    if (!(next > low && next < high)) next = (low + high) / 2;
    if (Math.abs(next - x) < 1e-15 * Math.max(x, 1e-300)) return next;
    x = next;
  }
  return x;
}
