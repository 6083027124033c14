/**
 * `abrec power`: users per variant needed to detect a relative change in a conversion rate.
 */
import { parseArgs } from 'node:util';
import { UsageError, type CliCommand, type CliIO } from '../command.ts';
import { sampleSizeForProportions, StatsInputError } from '../../lambdas/domain/stats/index.ts';

const HELP = `Usage:
  abrec power --baseline RATE --mde REL [--alpha 0.05] [--power 0.8] [--json]

Users per variant for a two-sided two-proportion z-test (pooled variance under the null,
unpooled under the alternative, no continuity correction), rounded up.

Options:
  --baseline RATE   control conversion rate, strictly between 0 and 1 (e.g. 0.09)
  --mde REL         minimum detectable effect relative to baseline (0.1 = +10%; may be negative)
  --alpha A         two-sided significance level (default 0.05)
  --power P         target power (default 0.8)
  --json            print one JSON object on the last line of stdout

Example: abrec power --baseline 0.09 --mde 0.1 --alpha 0.05 --power 0.8 --json
  -> {"users_per_variant":16583,...}`;

/** Parses a required or defaulted number option; anything else is a usage error naming it. */
function numberOption(raw: string | undefined, name: string, fallback?: number): number {
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`${name} is required`);
    return fallback;
  }
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value)) throw new UsageError(`${name} must be a number, got '${raw}'`);
  return value;
}

export const powerCommand: CliCommand = {
  path: ['power'],
  summary: 'Sample size per variant for a conversion-rate experiment',
  help: HELP,
  async run(argv: string[], io: CliIO): Promise<number> {
    let values;
    try {
      values = parseArgs({
        args: argv,
        options: {
          baseline: { type: 'string' },
          mde: { type: 'string' },
          alpha: { type: 'string' },
          power: { type: 'string' },
          json: { type: 'boolean', default: false },
        },
        strict: true,
        allowPositionals: false,
      }).values;
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const input = {
      baselineRate: numberOption(values.baseline, '--baseline'),
      relativeMde: numberOption(values.mde, '--mde'),
      alpha: numberOption(values.alpha, '--alpha', 0.05),
      power: numberOption(values.power, '--power', 0.8),
    };
    let plan;
    try {
      plan = sampleSizeForProportions(input);
    } catch (error) {
      if (error instanceof StatsInputError) throw new UsageError(`--${error.message}`);
      throw error;
    }
    const result = {
      users_per_variant: plan.usersPerVariant,
      baseline: plan.baselineRate,
      mde: input.relativeMde,
      treatment_rate: plan.treatmentRate,
      absolute_mde: plan.absoluteMde,
      alpha: input.alpha,
      power: input.power,
      method: 'two-proportion z-test, pooled null / unpooled alternative variance',
    };
    io.stdout(
      `${plan.usersPerVariant} users per variant to detect ${plan.baselineRate} -> ${plan.treatmentRate.toPrecision(6)} ` +
        `(alpha ${input.alpha}, power ${input.power})\n`,
    );
    if (values.json) io.stdout(`${JSON.stringify(result)}\n`);
    return 0;
  },
};
