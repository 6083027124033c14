/**
 * `abrec power`: users per variant needed to detect a relative change in a conversion rate, for
 * a single fixed-horizon test and for the always-valid (sequential) test the reports decide with.
 */
import { numberOption, parseCommandArgs, UsageError, type CliCommand, type CliIO } from '../command.ts';
import { sampleSizeForProportions, sequentialSampleSize, StatsInputError, type SampleSizePlan } from '../../lambdas/domain/stats/index.ts';

const HELP = `Usage:
  abrec power --baseline RATE --mde REL [--alpha 0.05] [--power 0.8] [--looks K] [--json]

Users per variant, rounded up, two ways:
  fixed horizon  a two-sided two-proportion z-test read ONCE at that size (pooled variance under
                 the null, unpooled under the alternative, no continuity correction);
  sequential     the always-valid mSPRT the experiment reports decide with (tau = mde x
                 baseline), read as often as you like. This is the size the report plans for:
                 by default it counts the final look only, so it holds for any schedule; with
                 --looks K it is exact for K equally spaced looks (e.g. 14 for two weeks of
                 daily reports), which needs fewer users.

Options:
  --baseline RATE   control conversion rate, strictly between 0 and 1 (e.g. 0.09)
  --mde REL         minimum detectable effect relative to baseline (0.1 = +10%; may be negative)
  --alpha A         two-sided significance level (default 0.05)
  --power P         target power (default 0.8)
  --looks K         equally spaced looks the sequential size counts (default 1: final look only)
  --json            print one JSON object on the last line of stdout

Example: abrec power --baseline 0.09 --mde 0.1 --alpha 0.05 --power 0.8 --json
  -> {"users_per_variant":16583,"sequential_users_per_variant":32130,...}`;

export const powerCommand: CliCommand = {
  path: ['power'],
  summary: 'Sample size per variant for a conversion-rate experiment (fixed-horizon and sequential)',
  help: HELP,
  async run(argv: string[], io: CliIO): Promise<number> {
    const values = parseCommandArgs(argv, {
      baseline: { type: 'string' },
      mde: { type: 'string' },
      alpha: { type: 'string' },
      power: { type: 'string' },
      looks: { type: 'string' },
      json: { type: 'boolean', default: false },
    });
    const input = {
      baselineRate: numberOption(values.baseline, '--baseline'),
      relativeMde: numberOption(values.mde, '--mde'),
      alpha: numberOption(values.alpha, '--alpha', 0.05),
      power: numberOption(values.power, '--power', 0.8),
    };
    const looks = numberOption(values.looks, '--looks', 1);
    let plan: SampleSizePlan;
    let sequential: SampleSizePlan;
    try {
      plan = sampleSizeForProportions(input);
      sequential = sequentialSampleSize({ ...input, looks });
    } catch (error) {
      if (error instanceof StatsInputError) throw new UsageError(`--${error.message}`);
      throw error;
    }
    const schedule = looks === 1 ? 'final look only, holds for any number of looks' : `${looks} equally spaced looks`;
    const result = {
      users_per_variant: plan.usersPerVariant,
      sequential_users_per_variant: sequential.usersPerVariant,
      sequential_looks: looks,
      baseline: plan.baselineRate,
      mde: input.relativeMde,
      treatment_rate: plan.treatmentRate,
      absolute_mde: plan.absoluteMde,
      alpha: input.alpha,
      power: input.power,
      method: 'two-proportion z-test, pooled null / unpooled alternative variance',
      sequential_method: `always-valid mSPRT, tau = mde x baseline, ${schedule}`,
    };
    io.stdout(
      `${plan.usersPerVariant} users per variant to detect ${plan.baselineRate} -> ${plan.treatmentRate.toPrecision(6)} ` +
        `(alpha ${input.alpha}, power ${input.power}) with a fixed-horizon test read once\n` +
        `${sequential.usersPerVariant} users per variant with the always-valid test the reports decide with (${schedule})\n`,
    );
    if (values.json) io.stdout(`${JSON.stringify(result)}\n`);
    return 0;
  },
};
