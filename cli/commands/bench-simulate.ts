/**
 * `abrec bench simulate` (npm run bench:simulate): the false-positive rate of A/A runs and the
 * ship rate of runs with a planted MDE-sized lift, at the planned number of users, over many
 * seeds, through the in-process simulation target (simulator/bench.ts).
 */
import { aaExperiment, binomialUpper, planRuns, shipped, simulateOnce, wilson, type RunOutcome } from '../../simulator/bench.ts';
import { numberOption, parseCommandArgs, type CliCommand } from '../command.ts';
import { progressBar } from '../progress.ts';

const alphaOf = (experiment: { confidence_level: number }) => Number((1 - experiment.confidence_level).toPrecision(12));

/**
 * CUPED on the target over the runs (the report's varianceReduction section): the mean share of
 * the difference's variance the covariate removed, and how often the single-look test of the plain
 * and of the adjusted difference rejects at alpha (in A/A runs: false positives).
 */
function cupedSummary(outcomes: RunOutcome[], alpha: number) {
  const comparisons = outcomes.flatMap((o) => {
    const section = o.analysis.variance_reduction;
    const target = section?.status === 'ok' ? section.metrics.find((m) => m.target) : undefined;
    return target?.result.status === 'ok' ? [target.result.comparisons[0]] : [];
  });
  return {
    runs: comparisons.length,
    mean_variance_reduction: comparisons.reduce((sum, c) => sum + c.varianceReduction, 0) / Math.max(1, comparisons.length),
    plain_rejections: comparisons.filter((c) => c.pValue < alpha).length,
    cuped_rejections: comparisons.filter((c) => c.adjustedPValue < alpha).length,
  };
}

export const benchSimulateCommand: CliCommand = {
  path: ['bench', 'simulate'],
  summary: 'Decision quality: A/A false-positive rate and MDE ship rate over many simulated experiments',
  help: `Usage: abrec bench simulate [--seeds N] [--lift-seeds N] [--days D] [--mde X] [--json]

Plans an A/A experiment of the default shape (click-through, MDE 10 %, alpha 0.05, 14 daily
looks): a MovieLens-like population is generated and its model trained on the 75 % part; a
pilot run on it reads the planned users per variant from its report; then, with as many users
as expose the plan in each arm,
seeds are simulated: A/A (both arms the same model; each seed its own split of the users)
and with a planted lift equal to the MDE on the treatment. Prints the share that ship in
each, with the binomial band an honest alpha allows and the Wilson interval of the power
(more lift seeds by default: the plan's power is about 85 %, and 40 runs could not tell that
from 80 %). Runs the service's own assignment,
top-N, counter arithmetic and analysis in process, without a server.

Options:
  --seeds N       A/A seeds (default 40)
  --lift-seeds N  seeds with the planted lift (default 100)
  --days D        simulated days (default 14)
  --mde X         relative minimum detectable effect, also the planted lift (default 0.1)
  --json          print the result as JSON

Example:
  npm run bench:simulate -- --json`,
  run: async (argv, io) => {
    const values = parseCommandArgs(argv, {
      seeds: { type: 'string' },
      'lift-seeds': { type: 'string' },
      days: { type: 'string' },
      mde: { type: 'string' },
      json: { type: 'boolean' },
    });
    const seeds = numberOption(values.seeds, '--seeds', 40, { integer: true, min: 1 });
    const liftSeeds = numberOption(values['lift-seeds'], '--lift-seeds', 100, { integer: true, min: 1 });
    const days = numberOption(values.days, '--days', 14, { integer: true, min: 1 });
    const mde = numberOption(values.mde, '--mde', 0.1, { min: 0.001, max: 1 });
    const started = performance.now();
    const say = (line: string) => io.stderr(`bench simulate: ${line}\n`);
    const experiment = aaExperiment({ mde, seed: 1_000_001 });

    const { world, planned, users } = await planRuns({ experiment, days, onStep: say });
    say(`population ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const runs: Record<'aa' | 'lift', RunOutcome[]> = { aa: [], lift: [] };
    const progress = progressBar(io.stderr, { interactive: Boolean(process.stderr.isTTY) && !values.json });
    for (const [scenario, lift, count] of [
      ['aa', 0, seeds],
      ['lift', mde, liftSeeds],
    ] as const) {
      for (let seed = 1; seed <= count; seed++) {
        runs[scenario].push(await simulateOnce({ world, experiment: aaExperiment({ mde, seed }), seed, days, plantedLift: lift, users }));
        progress.update(seed, count, `${scenario === 'aa' ? 'A/A' : `lift ${lift}`}: seed ${seed}/${count}`);
      }
      const ships = runs[scenario].filter(shipped).length;
      progress.finish(`bench simulate: ${scenario === 'aa' ? 'A/A' : `planted lift ${lift}`}: ${ships}/${count} shipped`);
    }
    const summary = (outcomes: RunOutcome[]) => {
      const ships = outcomes.filter(shipped).length;
      const interval = wilson(ships, outcomes.length);
      return {
        runs: outcomes.length,
        ships,
        ship_rate: ships / outcomes.length,
        ship_rate_interval: interval,
        decisions: Object.fromEntries(
          [...new Set(outcomes.map((o) => o.analysis.decision))].map((d) => [d, outcomes.filter((o) => o.analysis.decision === d).length]),
        ),
        mean_exposed_per_variant: Math.round(outcomes.reduce((sum, o) => sum + o.exposedPerVariant, 0) / outcomes.length),
        mean_observed_lift:
          outcomes.reduce(
            (sum, o) => sum + (o.analysis.report?.comparisons[0]?.status === 'ok' ? (o.analysis.report.comparisons[0].relativeLift ?? 0) : 0),
            0,
          ) / outcomes.length,
        cuped: cupedSummary(outcomes, alphaOf(experiment)),
      };
    };
    const aa = summary(runs.aa);
    const lift = summary(runs.lift);
    const alpha = alphaOf(experiment);
    const result = {
      seeds,
      lift_seeds: liftSeeds,
      days,
      mde,
      alpha,
      target_power: 0.8,
      planned_users_per_variant: planned,
      population: users,
      aa: {
        ...aa,
        allowed_by_binomial_band: binomialUpper(seeds, alpha),
        goal: `ships in at most ${alpha * 100} % (within the binomial band)`,
        met: aa.ships <= binomialUpper(seeds, alpha),
      },
      planted_lift: { ...lift, lift: mde, goal: 'ships in at least 80 %', met: lift.ship_rate >= 0.8 },
      seconds: Math.round((performance.now() - started) / 100) / 10,
    };
    if (values.json) {
      io.stdout(`${JSON.stringify(result)}\n`);
    } else {
      const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
      io.stdout(
        [
          `planned users per variant (sequential plan of the report): ${planned}; population ${users}, ${days} days`,
          `A/A:                 ${aa.ships}/${seeds} shipped = ${pct(aa.ship_rate)} [${pct(aa.ship_rate_interval.low)}, ${pct(aa.ship_rate_interval.high)}]; binomial band at alpha ${alpha} allows up to ${result.aa.allowed_by_binomial_band}: ${result.aa.met ? 'met' : 'NOT met'}`,
          `planted lift ${mde}:    ${lift.ships}/${liftSeeds} shipped = ${pct(lift.ship_rate)} [${pct(lift.ship_rate_interval.low)}, ${pct(lift.ship_rate_interval.high)}]; goal >= 80 %: ${result.planted_lift.met ? 'met' : 'NOT met'}; mean observed lift ${pct(lift.mean_observed_lift)}`,
          `CUPED (target, single look at alpha ${alpha}): variance removed ${pct(aa.cuped.mean_variance_reduction)} (A/A) / ${pct(lift.cuped.mean_variance_reduction)} (lift); A/A rejects ${aa.cuped.cuped_rejections}/${seeds} (plain ${aa.cuped.plain_rejections}); lift rejects ${lift.cuped.cuped_rejections}/${liftSeeds} (plain ${lift.cuped.plain_rejections})`,
          `in ${result.seconds} s`,
          '',
        ].join('\n'),
      );
    }
    return 0;
  },
};
