/**
 * Seeded random numbers for the simulation tests (never Math.random): a small counter-based
 * generator (sfc32) and the samplers the A/A simulations need.
 */
import { logGamma } from '../../../lambdas/domain/stats/index.ts';

/** A seeded source of uniform numbers in [0, 1) and the derived samplers. */
export interface SeededRandom {
  uniform: () => number;
  normal: () => number;
  binomial: (n: number, p: number) => number;
  poisson: (mean: number) => number;
}

/** sfc32 seeded through splitmix32, so nearby seeds give unrelated streams. */
export function seededRandom(seed: number): SeededRandom {
  let s = seed >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const uniform = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  for (let i = 0; i < 12; i++) uniform();

  const normal = (): number => {
    // Box-Muller; 1 - u keeps the logarithm finite.
    const u = 1 - uniform();
    const v = uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };

  const binomial = (n: number, p: number): number => {
    if (n === 0 || p === 0) return 0;
    if (p === 1) return n;
    // Inversion by sequential search is exact and fast while n p is small; beyond that the
    // normal approximation (continuity-corrected, clamped) is far inside what the tests resolve.
    if (n * Math.min(p, 1 - p) > 400) {
      const draw = Math.round(n * p + Math.sqrt(n * p * (1 - p)) * normal());
      return Math.min(n, Math.max(0, draw));
    }
    if (p > 0.5) return n - binomial(n, 1 - p);
    let k = 0;
    let probability = Math.exp(n * Math.log1p(-p));
    let cumulative = probability;
    const u = uniform();
    while (u > cumulative && k < n) {
      probability *= ((n - k) / (k + 1)) * (p / (1 - p));
      k += 1;
      cumulative += probability;
    }
    return k;
  };

  const poisson = (mean: number): number => {
    let k = 0;
    let probability = Math.exp(-mean);
    let cumulative = probability;
    const u = uniform();
    while (u > cumulative && k < 10_000) {
      k += 1;
      probability *= mean / k;
      cumulative += probability;
    }
    return k;
  };

  return { uniform, normal, binomial, poisson };
}

/**
 * Central interval [low, high] holding `coverage` of Binomial(n, p), from the exact pmf: the
 * band a false-positive count must fall in when the true rate is p.
 */
export function binomialBand(n: number, p: number, coverage: number): { low: number; high: number } {
  const pmf = (k: number): number => Math.exp(logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1) + k * Math.log(p) + (n - k) * Math.log1p(-p));
  const tail = (1 - coverage) / 2;
  let cumulative = 0;
  let low = 0;
  for (let k = 0; k <= n; k++) {
    cumulative += pmf(k);
    if (cumulative > tail) {
      low = k;
      break;
    }
  }
  cumulative = 0;
  let high = n;
  for (let k = n; k >= 0; k--) {
    cumulative += pmf(k);
    if (cumulative > tail) {
      high = k;
      break;
    }
  }
  return { low, high };
}
