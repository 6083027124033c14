/**
 * Seeded pseudo-random numbers for everything that must be reproducible: data generation,
 * shuffles, splits and model initialisation. Never use Math.random in tested code.
 */

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

function assertSeed(seed: number): void {
  if (!Number.isInteger(seed)) {
    throw new Error(`seed must be an integer, got ${seed}`);
  }
}

/**
 * mulberry32: a tiny 32-bit generator with a full 2^32 period, plenty for shuffles and
 * synthetic data. The same seed always yields the same sequence.
 * @param seed any integer; it is reduced modulo 2^32.
 */
export function mulberry32(seed: number): Random {
  assertSeed(seed);
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Derives an independent seed for a named sub-stream (e.g. one per user or per purpose),
 * so adding draws to one stream never shifts the numbers of another. A splitmix32-style mix.
 */
export function deriveSeed(seed: number, stream: number): number {
  assertSeed(seed);
  let h = (seed >>> 0) ^ Math.imul((stream >>> 0) + 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A uniform integer in [0, n). */
export function randomInt(rng: Random, n: number): number {
  return Math.floor(rng() * n);
}

/** A standard normal draw (Box–Muller); uses two uniforms per call, deliberately without caching. */
export function standardNormal(rng: Random): number {
  const u = 1 - rng(); // (0, 1]: keeps log finite
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** In-place Fisher–Yates shuffle of `values[start, end)`; returns `values`. */
export function shuffleInPlace<T extends { length: number; [index: number]: unknown }>(values: T, rng: Random, start = 0, end = values.length): T {
  for (let i = end - 1; i > start; i--) {
    const j = start + randomInt(rng, i - start + 1);
    const tmp = values[i];
    values[i] = values[j];
    values[j] = tmp;
  }
  return values;
}

/** A seeded random permutation of 0..n-1. */
export function randomPermutation(n: number, rng: Random): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return shuffleInPlace(order, rng);
}

/**
 * sfc32 seeded through splitmix32, with the first outputs discarded: a 128-bit state that
 * stays well mixed over the millions of draws model training makes (BPR samples, SGD
 * shuffles). The models use it; changing it would change every trained model for a seed.
 * @param seed any integer; it is reduced modulo 2^32.
 */
export function sfc32(seed: number): Random {
  assertSeed(seed);
  let s = seed >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const nextUint32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t;
  };
  // The first outputs still correlate with the seed.
  for (let i = 0; i < 12; i++) nextUint32();
  return () => nextUint32() / 4294967296;
}

/**
 * A stream of standard normal draws that uses both halves of each Box–Muller pair (cosine,
 * then sine), so half the uniforms of `standardNormal`; the pending half is state, which is
 * why this is a stream rather than a function of `rng`.
 */
export function normalStream(rng: Random): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    let u = 0;
    while (u === 0) u = rng(); // (0, 1): keeps log finite
    const v = rng();
    const radius = Math.sqrt(-2 * Math.log(u));
    spare = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  };
}

/** Fills `target` with N(mean, std) draws from `normal` (e.g. a `normalStream`); returns it. */
export function fillGaussian(target: Float64Array, normal: () => number, mean: number, std: number): Float64Array {
  for (let i = 0; i < target.length; i++) target[i] = mean + std * normal();
  return target;
}
