/**
 * `abrec bench simulate` end to end on a small configuration: it plans from a pilot's report,
 * runs the seeds of both scenarios and prints the rates with their intervals. The figures
 * themselves are the benchmark's to print (npm run bench:simulate), not this test's to time.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main.ts';
import { binomialUpper, wilson } from '../../simulator/bench.ts';
import { recordingIO } from '../helpers/cli-io.ts';

describe('abrec bench simulate', () => {
  it('plans from the pilot, runs every seed of both scenarios and reports ship rates with their bands', async () => {
    // Act
    const io = recordingIO();
    const code = await runCli(['bench', 'simulate', '--seeds', '3', '--lift-seeds', '2', '--days', '3', '--mde', '0.5', '--json'], io);

    // Assess
    expect(code, io.stderrText()).toBe(0);
    const result = io.lastJson() as {
      planned_users_per_variant: number;
      population: number;
      aa: { runs: number; ships: number; decisions: Record<string, number>; mean_exposed_per_variant: number; allowed_by_binomial_band: number };
      planted_lift: { runs: number; ships: number; lift: number; mean_exposed_per_variant: number };
    };
    expect(result.aa.runs).toBe(3);
    expect(result.planted_lift).toMatchObject({ runs: 2, lift: 0.5 });
    expect(Object.values(result.aa.decisions).reduce((a, b) => a + b, 0)).toBe(3);
    expect(result.planned_users_per_variant).toBeGreaterThan(0);
    // The runs expose about the planned number of users per arm.
    expect(result.aa.mean_exposed_per_variant / result.planned_users_per_variant).toBeGreaterThan(0.95);
    expect(result.aa.mean_exposed_per_variant / result.planned_users_per_variant).toBeLessThan(1.1);
    expect(result.aa.allowed_by_binomial_band).toBe(binomialUpper(3, 0.05));
    expect(io.stderrText()).toMatch(/pilot on \d+ users: control click-through 0\.\d+, plan \d+ users per variant/);
  }, 180_000);
});

describe('the bench statistics', () => {
  it('bounds the ships an honest alpha allows by the binomial quantile (scipy.stats.binom.ppf(0.975, n, 0.05))', () => {
    // python3 -c "from scipy.stats import binom; print([int(binom.ppf(0.975, n, 0.05)) for n in (20, 40, 100, 400)])"
    expect([20, 40, 100, 400].map((n) => binomialUpper(n, 0.05))).toEqual([3, 5, 10, 29]);
  });

  it('gives the Wilson interval of a rate, as scipy does', () => {
    // python3 -c "from scipy.stats import binomtest; [print(binomtest(k, n).proportion_ci(method='wilson')) for k, n in ((32, 40), (75, 100))]"
    expect(wilson(32, 40).low).toBeCloseTo(0.6524269365360051, 12);
    expect(wilson(32, 40).high).toBeCloseTo(0.8950001027456229, 12);
    expect(wilson(75, 100).low).toBeCloseTo(0.656955364519384, 12);
    expect(wilson(75, 100).high).toBeCloseTo(0.8245478863771232, 12);
  });
});
