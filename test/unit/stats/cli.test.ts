/**
 * `abrec analyze` and `abrec power`, run in-process with a fake CliIO.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { twoArmExperiment } from '../../../lambdas/services/synthetic-counters.ts';
import { UsageError } from '../../../cli/command.ts';
import { analyzeCommand, createAnalyzeCommand } from '../../../cli/commands/analyze.ts';
import { powerCommand } from '../../../cli/commands/power.ts';
import { analysisFromCounters } from '../../../lambdas/services/experiment-results.ts';
import { syntheticDailyCounters } from '../../../lambdas/services/synthetic-counters.ts';
import { recordingIO } from '../../helpers/cli-io.ts';
import type { DailyCounter } from '../../../lambdas/storage/counter-store.ts';

function fakeIo(stdin = '') {
  const io = recordingIO({ stdin });
  return Object.assign(io, { out: io.stdoutText });
}

const ISSUE_EXAMPLE = {
  metric: { type: 'proportion' },
  confidence_level: 0.95,
  variants: [
    { name: 'control', weight: 0.5, users: 5000, conversions: 450 },
    { name: 'treatment', weight: 0.5, users: 5000, conversions: 520 },
  ],
};

describe('abrec analyze --input', () => {
  it('prints srm_p_value and the per-variant fields for the issue example from stdin', async () => {
    const io = fakeIo(JSON.stringify(ISSUE_EXAMPLE));

    const code = await analyzeCommand.run(['--input', '-', '--json'], io);

    expect(code).toBe(0);
    const result = io.lastJson();
    expect(result.srm_p_value).toBe(1);
    const [treatment] = result.results as Record<string, number | string | null>[];
    expect(treatment).toMatchObject({ variant: 'treatment', df: null });
    expect(Object.keys(treatment)).toEqual(
      expect.arrayContaining(['variant', 'z_score', 'df', 'p_value', 'p_value_adjusted', 'ci_low', 'ci_high', 'lift', 'prob_better', 'expected_loss']),
    );
    // scipy: z = 2.3652023, p = 0.0180202; P(better) by quadrature 0.99098133.
    expect(treatment.z_score as number).toBeCloseTo(2.3652023, 6);
    expect(treatment.p_value as number).toBeCloseTo(0.0180202, 6);
    expect(treatment.prob_better as number).toBeCloseTo(0.99098133, 7);
  });

  it('reads a file and reports t_stat and df for a mean metric', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'abrec-analyze-'));
    const file = join(dir, 'mean.json');
    writeFileSync(
      file,
      JSON.stringify({
        metric: { type: 'mean' },
        variants: [
          { name: 'control', weight: 1, n: 40, sum: 140, sum_sq: 530 },
          { name: 'b', weight: 1, n: 44, sum: 170, sum_sq: 700 },
        ],
      }),
    );
    const io = fakeIo();

    await analyzeCommand.run(['--input', file, '--json'], io);

    const [b] = io.lastJson().results as Record<string, unknown>[];
    expect(b).toMatchObject({ variant: 'b', status: 'ok' });
    expect(b.t_stat).toBeTypeOf('number');
    expect(b.df).toBeTypeOf('number');
    expect(b).not.toHaveProperty('z_score');
  });

  it('prints nulls with a reason, never NaN, when a variant has one observation', async () => {
    const io = fakeIo(
      JSON.stringify({
        metric: { type: 'mean' },
        variants: [
          { name: 'control', weight: 1, n: 1, sum: 3, sum_sq: 9 },
          { name: 'b', weight: 1, n: 10, sum: 30, sum_sq: 100 },
        ],
      }),
    );

    await analyzeCommand.run(['--input', '-', '--json'], io);

    expect(io.out()).not.toMatch(/NaN|Infinity/);
    expect((io.lastJson().results as unknown[])[0]).toMatchObject({ status: 'insufficient-data', p_value: null, t_stat: null });
  });

  it('picks the variant flagged control: true over the name "control"', async () => {
    const io = fakeIo(JSON.stringify({ ...ISSUE_EXAMPLE, variants: [ISSUE_EXAMPLE.variants[0], { ...ISSUE_EXAMPLE.variants[1], control: true }] }));

    await analyzeCommand.run(['--input', '-', '--json'], io);

    expect(io.lastJson().control).toBe('treatment');
  });

  it.each([
    [{ ...ISSUE_EXAMPLE, variants: [ISSUE_EXAMPLE.variants[0], { ...ISSUE_EXAMPLE.variants[1], conversions: -1 }] }, /variants\[1\]\.conversions/],
    [
      { ...ISSUE_EXAMPLE, variants: [ISSUE_EXAMPLE.variants[0], { ...ISSUE_EXAMPLE.variants[1], conversions: 6000 }] },
      /variants\[1\]\.conversions: 6000 exceeds users/,
    ],
    [{ ...ISSUE_EXAMPLE, metric: { type: 'median' } }, /metric\.type/],
    [{ ...ISSUE_EXAMPLE, confidence_level: 95 }, /confidence_level/],
    [{ ...ISSUE_EXAMPLE, variants: [ISSUE_EXAMPLE.variants[0], { ...ISSUE_EXAMPLE.variants[1], weight: 0 }] }, /variants\[1\]\.weight/],
    [{ ...ISSUE_EXAMPLE, variants: [ISSUE_EXAMPLE.variants[0]] }, /variants/],
  ])('rejects bad input with a usage error naming the field (%#)', async (input, message) => {
    await expect(analyzeCommand.run(['--input', '-'], fakeIo(JSON.stringify(input)))).rejects.toThrow(message);
  });

  it('rejects input that is not JSON', async () => {
    await expect(analyzeCommand.run(['--input', '-'], fakeIo('{"metric":'))).rejects.toThrow(/stdin: not valid JSON/);
  });

  it('rejects a missing file, naming it', async () => {
    await expect(analyzeCommand.run(['--input', '/nonexistent/aggregates.json'], fakeIo())).rejects.toThrow(/\/nonexistent\/aggregates\.json/);
  });

  it('requires exactly one of --input and --experiment', async () => {
    await expect(analyzeCommand.run([], fakeIo())).rejects.toThrow(UsageError);
  });
});

describe('abrec analyze --experiment', () => {
  it('prints the decision of the analysis document the service returns', async () => {
    const experiment = twoArmExperiment('exp-42', { now: new Date('2026-11-01T00:00:00Z'), target_metric: { kind: 'conversion' } });
    const counters: Record<string, DailyCounter[]> = {};
    const arms = [
      { variant: 'control', users: 20_000, ctr: 0.05, conversionRate: 0.09 },
      { variant: 'treatment', users: 20_000, ctr: 0.05, conversionRate: 0.105 },
    ];
    for (const row of syntheticDailyCounters({ arms, days: 14, firstDay: '2026-11-01' })) {
      (counters[row.variant] ??= []).push({ day: row.day, ...(row.increments as Record<string, number>) });
    }
    const asked: string[] = [];
    const command = createAnalyzeCommand({
      fetchAnalysis: async (id) => {
        asked.push(id);
        return analysisFromCounters(experiment, counters, { day: '2026-11-14' });
      },
    });
    const io = fakeIo();

    await command.run(['--experiment', 'exp-42', '--json'], io);

    expect(asked).toEqual(['exp-42']);
    expect(io.lastJson()).toMatchObject({ experiment_id: 'exp-42', decision: 'ship' });
  });
});

describe('abrec power', () => {
  it('prints 16,583 users per variant for the issue example', async () => {
    const io = fakeIo();

    await powerCommand.run(['--baseline', '0.09', '--mde', '0.1', '--alpha', '0.05', '--power', '0.8', '--json'], io);

    expect(io.lastJson()).toMatchObject({ users_per_variant: 16583 });
  });

  it('prints the sequential plan the reports use beside the fixed-horizon size', async () => {
    const io = fakeIo();

    await powerCommand.run(['--baseline', '0.09', '--mde', '0.1', '--json'], io);

    expect(io.lastJson()).toMatchObject({ users_per_variant: 16583, sequential_users_per_variant: 32130, sequential_looks: 1 });
    expect(io.stdoutText()).toMatch(/16583 users per variant .* fixed-horizon[\s\S]*32130 users per variant with the always-valid test/);
  });

  it('counts --looks equally spaced looks for the sequential size', async () => {
    const io = fakeIo();

    await powerCommand.run(['--baseline', '0.09', '--mde', '0.1', '--looks', '14', '--json'], io);

    expect(io.lastJson()).toMatchObject({ users_per_variant: 16583, sequential_users_per_variant: 29204, sequential_looks: 14 });
  });

  it('defaults alpha to 0.05 and power to 0.8', async () => {
    const io = fakeIo();

    await powerCommand.run(['--baseline', '0.09', '--mde', '0.1', '--json'], io);

    expect(io.lastJson()).toMatchObject({ users_per_variant: 16583, alpha: 0.05, power: 0.8 });
  });

  it.each([
    [['--mde', '0.1'], /--baseline is required/],
    [['--baseline', 'abc', '--mde', '0.1'], /--baseline must be a number/],
    [['--baseline', '1.5', '--mde', '0.1'], /--baseline/],
    [['--baseline', '0.09', '--mde', '0'], /--mde/],
    [['--baseline', '0.09', '--mde', '0.1', '--power', '2'], /--power/],
    [['--baseline', '0.09', '--mde', '0.1', '--looks', '0'], /--looks/],
    [['--baseline', '0.09', '--mde', '0.1', '--bogus', '1'], UsageError],
  ])('rejects %j with a usage error naming the option', async (argv, message) => {
    await expect(powerCommand.run(argv, fakeIo())).rejects.toThrow(message);
  });
});
