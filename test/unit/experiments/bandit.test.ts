import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ArmCounters } from '../../../lambdas/domain/experiments/index.ts';
import { mulberry32 } from '../../../lambdas/domain/recommenders/data/random.ts';
import {
  applyMinimumShare,
  banditAllocationFor,
  chooseFromAllocation,
  ExperimentValidationError,
  probabilityOfBeingBest,
  resolveAssignment,
  thompsonAllocation,
} from '../../../lambdas/domain/experiments/index.ts';
import { runningExperiment, userIds } from './fixtures/experiments.ts';

const round = (x: number, digits = 4) => Number(x.toFixed(digits));

describe('probabilityOfBeingBest', () => {
  it.each([
    // Reference values: 4,000,000 NumPy Beta draws per case (reference only, not run here).
    [
      'equal flat priors',
      [
        [1, 1],
        [1, 1],
      ],
      [0.5, 0.5],
    ],
    [
      'Beta(2,1) vs Beta(1,2), exactly 5/6',
      [
        [2, 1],
        [1, 2],
      ],
      [0.8333, 0.1667],
    ],
    [
      '10% vs 20% of 100',
      [
        [11, 91],
        [21, 81],
      ],
      [0.0247, 0.9753],
    ],
    [
      'three close arms',
      [
        [50, 950],
        [60, 940],
        [55, 945],
      ],
      [0.1002, 0.622, 0.2777],
    ],
    [
      'large counters',
      [
        [1001, 99001],
        [1101, 98901],
      ],
      [0.0141, 0.9859],
    ],
  ])('matches Monte Carlo for %s', (_, parameters, expected) => {
    // Act
    const probabilities = probabilityOfBeingBest(parameters.map(([alpha, beta]) => ({ alpha, beta })));

    // Assess
    probabilities.forEach((p, i) => {
      expect(p).toBeCloseTo(expected[i], 3);
    });
  });

  it('returns probabilities that sum to 1', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 5000 })), { minLength: 2, maxLength: 5 }), (arms) => {
        const probabilities = probabilityOfBeingBest(arms.map(([s, f]) => ({ alpha: 1 + s, beta: 1 + f })));
        const sum = probabilities.reduce((a, b) => a + b, 0);
        return Math.abs(sum - 1) < 1e-12 && probabilities.every((p) => Number.isFinite(p) && p >= 0);
      }),
      { seed: 71, numRuns: 60 },
    );
  });
});

describe('applyMinimumShare', () => {
  it('raises every arm to the floor while keeping the sum at 1', () => {
    expect(applyMinimumShare([1, 0, 0], 0.1).map((p) => round(p))).toEqual([0.8, 0.1, 0.1]);
  });

  it('rejects a floor that three arms cannot all get', () => {
    expect(() => applyMinimumShare([0.5, 0.25, 0.25], 0.4)).toThrowError(ExperimentValidationError);
  });
});

describe('thompsonAllocation', () => {
  it('gives every arm at least the minimum share and sums to 1', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 2000 })), { minLength: 2, maxLength: 4 }),
        fc.double({ min: 0, max: 0.25, noNaN: true }),
        (arms, minShare) => {
          const names = arms.map((_, i) => `arm-${i}`);
          const counters: ArmCounters = Object.fromEntries(arms.map(([s, f], i) => [names[i], { successes: s, trials: s + f }]));
          const allocation = Object.values(thompsonAllocation({ arms: names, counters, minShare }));
          const sum = allocation.reduce((a, b) => a + b, 0);
          return Math.abs(sum - 1) < 1e-9 && allocation.every((p) => p >= minShare - 1e-12);
        },
      ),
      { seed: 81, numRuns: 40 },
    );
  });

  it('is identical for the same counter snapshot', () => {
    // Prepare
    const input = { arms: ['a', 'b'], counters: { a: { successes: 12, trials: 100 }, b: { successes: 15, trials: 100 } }, minShare: 0.05 };

    // Act
    const twice = [thompsonAllocation(input), thompsonAllocation(input)];

    // Assess
    expect(twice[0]).toEqual(twice[1]);
  });

  it('splits evenly when there is no data yet', () => {
    // Act
    const allocation = thompsonAllocation({ arms: ['a', 'b', 'c'], counters: {}, minShare: 0.05 });

    // Assess
    expect(Object.values(allocation).map((p) => round(p))).toEqual([0.3333, 0.3333, 0.3333]);
  });

  it('answers 400 naming the counter when successes exceed trials', () => {
    // Act
    const act = () => thompsonAllocation({ arms: ['a', 'b'], counters: { a: { successes: 5, trials: 4 } }, minShare: 0 });

    // Assess
    expect(act).toThrowError('counters.a.successes: must be <= trials (4)');
  });

  it('converges to the better arm in a simulation and keeps the floor for the others', () => {
    // Prepare: true click rates 4%, 6% and 9%; 30 rounds of 400 new users each
    const rates: Record<string, number> = { control: 0.04, 'treatment-1': 0.06, 'treatment-2': 0.09 };
    const experiment = runningExperiment([0.4, 0.3, 0.3], { mode: 'bandit', bandit: { min_share: 0.05 } });
    const arms = experiment.variants.map((v) => v.name);
    const counters: Record<string, { successes: number; trials: number }> = Object.fromEntries(arms.map((a) => [a, { successes: 0, trials: 0 }]));
    const outcome = mulberry32(2026);
    let allocation = thompsonAllocation({ arms, counters, minShare: 0.05 });

    // Act
    for (let roundIndex = 0; roundIndex < 30; roundIndex++) {
      allocation = thompsonAllocation({ arms, counters, minShare: 0.05 });
      for (const userId of userIds(400, `round-${roundIndex}-user-`)) {
        const { variant } = resolveAssignment({ experiment, userId, banditAllocation: allocation });
        counters[variant].trials++;
        if (outcome() < rates[variant]) counters[variant].successes++;
      }
    }
    allocation = thompsonAllocation({ arms, counters, minShare: 0.05 });

    // Assess
    expect(allocation['treatment-2']).toBeGreaterThan(0.85);
    expect(Math.min(...Object.values(allocation))).toBeGreaterThanOrEqual(0.05);
    expect(counters['treatment-2'].trials).toBeGreaterThan(counters.control.trials + counters['treatment-1'].trials);
  });
});

describe('banditAllocationFor', () => {
  it('allocates over the active arms with the experiment’s minimum share', () => {
    // Prepare
    const experiment = runningExperiment([0.5, 0.5], { mode: 'bandit', bandit: { min_share: 0.1 } });

    // Act
    const allocation = banditAllocationFor({
      experiment,
      counters: { control: { successes: 0, trials: 1000 }, 'treatment-1': { successes: 500, trials: 1000 } },
    });

    // Assess
    expect(Object.keys(allocation)).toEqual(['control', 'treatment-1']);
    expect(round(allocation.control)).toBe(0.1);
  });
});

describe('chooseFromAllocation', () => {
  it('maps draws onto cumulative probabilities and returns the propensity', () => {
    // Prepare
    const allocation = { a: 0.25, b: 0.75 };

    // Act
    const picks = [0, 0.2499, 0.25, 0.9999].map((draw) => chooseFromAllocation({ allocation, draw }));

    // Assess
    expect(picks).toEqual([
      { arm: 'a', propensity: 0.25 },
      { arm: 'a', propensity: 0.25 },
      { arm: 'b', propensity: 0.75 },
      { arm: 'b', propensity: 0.75 },
    ]);
  });

  it('never picks an arm of probability 0', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (draw) => chooseFromAllocation({ allocation: { a: 0, b: 1, c: 0 }, draw }).arm === 'b',
      ),
      { seed: 91, numRuns: 200 },
    );
  });
});
