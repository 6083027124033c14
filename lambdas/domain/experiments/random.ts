/**
 * A small seeded pseudo-random generator. Domain code never calls Math.random: every
 * random-looking choice (interleaving coin flips, simulations) must be reproducible from
 * its seed.
 */

/** Returns numbers uniform in [0, 1). */
export type RandomSource = () => number;

/**
 * Mulberry32 (Tommy Ettinger): 32-bit state, period 2^32, good enough for coin flips and
 * simulations, and trivially portable to other languages.
 */
export function mulberry32(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
