/**
 * The generator the models draw from (sfc32 and normalStream in data/random.ts). Pinned
 * outputs: changing the generator would silently change every trained model for a seed.
 */
import { describe, expect, it } from 'vitest';
import { fillGaussian, normalStream, sfc32 } from '../../../../lambdas/domain/recommenders/data/random.ts';

describe('sfc32', () => {
  it('yields the pinned sequence for seed 42', () => {
    // prepare
    const random = sfc32(42);
    // act
    const words = [random(), random(), random()].map((value) => value * 2 ** 32);
    // assess
    expect(words).toEqual([1028872839, 2516511472, 400437680]);
  });

  it('stays within [0, 1)', () => {
    // prepare
    const random = sfc32(-3);
    // act
    const values = Array.from({ length: 10_000 }, () => random());
    // assess
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
  });

  it('rejects a fractional seed', () => {
    // act
    const act = (): unknown => sfc32(0.5);
    // assess
    expect(act).toThrow(/seed must be an integer/);
  });
});

describe('normalStream', () => {
  it('yields the pinned draws for seed 7', () => {
    // prepare
    const normal = normalStream(sfc32(7));
    // act
    const draws = [normal(), normal(), normal()];
    // assess
    expect(draws).toEqual([-1.161315926047374, 1.3854012029150402, 0.3256872397238575]);
  });

  it('uses both halves of a Box-Muller pair: two draws per two uniforms', () => {
    // prepare
    let uniforms = 0;
    const counting = sfc32(1);
    const normal = normalStream(() => {
      uniforms++;
      return counting();
    });
    // act
    for (let i = 0; i < 10; i++) normal();
    // assess
    expect(uniforms).toBe(10);
  });

  it('fills an array with draws of the requested mean and spread', () => {
    // prepare
    const target = new Float64Array(20_000);
    // act
    fillGaussian(target, normalStream(sfc32(3)), 2, 0.5);
    // assess
    const mean = target.reduce((sum, x) => sum + x, 0) / target.length;
    const variance = target.reduce((sum, x) => sum + (x - mean) ** 2, 0) / target.length;
    expect(mean).toBeCloseTo(2, 1);
    expect(Math.sqrt(variance)).toBeCloseTo(0.5, 1);
  });
});
