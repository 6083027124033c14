/**
 * The always-valid sign test may be read every day: under no preference its false-positive
 * rate over 14 daily looks stays at or below alpha, while the fixed-horizon sign test read the
 * same way is inflated. Seeded simulation, same spirit as the A/A tests of the stats engine.
 */
import { describe, expect, it } from 'vitest';
import { alwaysValidSignTest, signTest } from '../../../lambdas/domain/experiments/interleaving.ts';
import { mulberry32 } from '../../../lambdas/domain/recommenders/data/random.ts';

const EXPERIMENTS = 2000;
const DAYS = 14;
const DECISIVE_PER_DAY = 40;
const ALPHA = 0.05;

function simulate(preferenceForB: number, seed: number) {
  const random = mulberry32(seed);
  let sequentialHits = 0;
  let naiveHits = 0;
  for (let e = 0; e < EXPERIMENTS; e++) {
    let a = 0;
    let b = 0;
    const looks: { wins_a: number; wins_b: number }[] = [];
    let naive = false;
    for (let d = 0; d < DAYS; d++) {
      for (let i = 0; i < DECISIVE_PER_DAY; i++) {
        if (random() < preferenceForB) b++;
        else a++;
      }
      looks.push({ wins_a: a, wins_b: b });
      if (signTest({ wins_a: a, wins_b: b, alpha: ALPHA }).preferred !== 'none') naive = true;
    }
    const p = alwaysValidSignTest(looks);
    if (p[p.length - 1] < ALPHA) sequentialHits++;
    if (naive) naiveHits++;
  }
  return { sequential: sequentialHits / EXPERIMENTS, naive: naiveHits / EXPERIMENTS };
}

describe('the always-valid sign test under daily looks', () => {
  it('keeps the false-positive rate of 14 daily looks at or below alpha, unlike the fixed-horizon test', () => {
    const { sequential, naive } = simulate(0.5, 11);

    // Upper edge of a 99.9 % binomial band around alpha for 2,000 experiments.
    const band = ALPHA + 3.29 * Math.sqrt((ALPHA * (1 - ALPHA)) / EXPERIMENTS);
    expect(sequential).toBeLessThanOrEqual(band);
    expect(naive).toBeGreaterThan(band);
  });

  it('still finds a real preference within two weeks', () => {
    const { sequential } = simulate(0.6, 12);

    expect(sequential).toBeGreaterThan(0.8);
  });

  it('never rises from one look to the next (a running minimum)', () => {
    const p = alwaysValidSignTest([
      { wins_a: 10, wins_b: 30 },
      { wins_a: 30, wins_b: 32 },
      { wins_a: 60, wins_b: 62 },
    ]);

    expect(p[1]).toBeLessThanOrEqual(p[0]);
    expect(p[2]).toBeLessThanOrEqual(p[1]);
  });
});
