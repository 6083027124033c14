/**
 * Seeded pseudo-random numbers for model training. Every model draws from these instead of
 * Math.random so that the same data, settings and seed give bit-identical factors.
 */

/** A seeded generator of uniform numbers in [0, 1) plus the draws the models need. */
export interface SeededRandom {
  /** Uniform in [0, 1). */
  next: () => number;
  /** Uniform integer in [0, n). */
  nextInt: (n: number) => number;
  /** Standard normal N(0, 1). */
  nextGaussian: () => number;
}

/**
 * Creates a generator from an integer seed (sfc32 seeded through splitmix32): fast, 128-bit
 * state, and good enough statistically for initialisation and shuffling.
 */
export function createRandom(seed: number): SeededRandom {
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
  // Discard the first outputs, which still correlate with the seed.
  for (let i = 0; i < 12; i++) nextUint32();
  const next = (): number => nextUint32() / 4294967296;
  let spare: number | undefined;
  return {
    next,
    nextInt: (n) => Math.floor(next() * n),
    nextGaussian: () => {
      // Box-Muller, keeping the second draw for the next call.
      if (spare !== undefined) {
        const value = spare;
        spare = undefined;
        return value;
      }
      let u = 0;
      while (u === 0) u = next();
      const v = next();
      const radius = Math.sqrt(-2 * Math.log(u));
      spare = radius * Math.sin(2 * Math.PI * v);
      return radius * Math.cos(2 * Math.PI * v);
    },
  };
}

/** Shuffles `values` in place (Fisher-Yates) and returns it. */
export function shuffleInPlace<T extends { length: number; [index: number]: number }>(values: T, random: SeededRandom): T {
  for (let i = values.length - 1; i > 0; i--) {
    const j = random.nextInt(i + 1);
    const tmp = values[i];
    values[i] = values[j];
    values[j] = tmp;
  }
  return values;
}

/** A permutation of 0..n-1 drawn with `random`. */
export function randomPermutation(n: number, random: SeededRandom): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return shuffleInPlace(order, random);
}

/** Fills `target` with N(mean, std) draws. */
export function fillGaussian(target: Float64Array, random: SeededRandom, mean: number, std: number): Float64Array {
  for (let i = 0; i < target.length; i++) target[i] = mean + std * random.nextGaussian();
  return target;
}
