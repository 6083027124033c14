/**
 * CUPED by simulation (seeded, in process): the population, click model and counter arithmetic
 * of `npm run bench:simulate`, with each user's covariate recorded at exposure from the model's
 * training data as the service records it.
 *
 * - With a planted lift, the CUPED interval of the target (click-through) is narrower than the
 *   plain one, around the same truth.
 * - In A/A tests the CUPED test rejects at its alpha: its false-positive count over many splits
 *   stays inside the 99.9 % binomial band. The A/A runs re-split the same simulated traffic: in
 *   an A/A test both arms serve one model and nothing a user does depends on their arm, so each
 *   seed's traffic is counted once per user by the in-process target, and every split adds the
 *   users' counters into the arms its salt assigns them to (the split is the main source of an
 *   A/A test's variance, as bench.ts notes). Counters are additive over users, so this is
 *   exactly what the in-process target counts for that split.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { addIncrements, type Increments } from '../../../lambdas/domain/events/counters.ts';
import { resolveAssignment } from '../../../lambdas/domain/experiments/assignment.ts';
import { createExperiment } from '../../../lambdas/domain/experiments/lifecycle.ts';
import type { Experiment } from '../../../lambdas/domain/experiments/model.ts';
import { analysisFromCounters, type ExperimentAnalysis } from '../../../lambdas/services/experiment-results.ts';
import { varianceReductionReport, type VarianceReductionReport } from '../../../lambdas/services/variance-reduction.ts';
import type { CupedResult } from '../../../lambdas/domain/stats/cuped.ts';
import { buildWorld, type BenchWorld } from '../../../simulator/bench.ts';
import { createInProcessTarget } from '../../../simulator/in-process-target.ts';
import { runSimulation, type SimulationTarget } from '../../../simulator/run.ts';
import { binomialBand } from './simulation.ts';
import type { DailyCounter } from '../../../lambdas/storage/counter-store.ts';

const FIRST_DAY_MS = Date.parse('2026-01-05T00:00:00Z');
const DAYS = 14;
const ALPHA = 0.05;
/** A/A splits: TRAFFIC_SEEDS recorded traffics, each re-split SPLITS_PER_SEED times. */
const TRAFFIC_SEEDS = 4;
const SPLITS_PER_SEED = 250;
const AA_USERS = 3000;
const LAST_DAY = new Date(FIRST_DAY_MS + (DAYS - 1) * 86_400_000).toISOString().slice(0, 10);

function experiment(salt: string): Experiment {
  return createExperiment({
    now: new Date(FIRST_DAY_MS - 3_600_000),
    request: {
      id: 'cuped-sim',
      salt,
      name: 'cuped simulation',
      status: 'running',
      variants: [
        { name: 'control', model_id: 'content', model_version: 'sim', weight: 0.5, is_control: true },
        { name: 'treatment', model_id: 'content', model_version: 'sim', weight: 0.5 },
      ],
      target_metric: { kind: 'click_through' },
      min_sample_size: 250,
      minimum_detectable_effect: 0.1,
    },
  });
}

/** Each user's own counters over the whole test (whatever their arm: they are the same in either). */
type UserCounters = Map<string, Increments>;

/**
 * Simulates `users` users for a seed and counts each one in an in-process target of their own:
 * in an A/A test what a user does does not depend on their arm, so these are their counters in
 * any split.
 */
async function countPerUser(world: BenchWorld, users: number, seed: number): Promise<UserCounters> {
  const base = experiment(`aa-traffic-${seed}`);
  const targets = new Map<string, ReturnType<typeof createInProcessTarget>>();
  const targetOf = (userId: string) => {
    let target = targets.get(userId);
    if (!target)
      targets.set(
        userId,
        (target = createInProcessTarget({
          experiment: base,
          firstDayMs: FIRST_DAY_MS,
          slateOf: (_, id) => world.slates.get(id) ?? [],
          profileOf: world.profileOf,
        })),
      );
    return target;
  };
  let day = 0;
  const router: SimulationTarget = {
    startDay: async (d) => void (day = d),
    recommend: async (userId) => {
      const target = targetOf(userId);
      await target.startDay(day);
      return target.recommend(userId);
    },
    sendEvents: async (events) => {
      for (const event of events) {
        const target = targetOf(event.user_id);
        await target.startDay(day);
        await target.sendEvents([event]);
      }
    },
    finish: async () => {},
  };
  await runSimulation({
    population: { ...world.population, users: world.population.users.slice(0, users) },
    target: router,
    experimentId: base.id,
    days: DAYS,
    seed,
    concurrency: 1,
  });
  // The A/A test reads the last day only, so each user's days are summed into one row.
  const counters: UserCounters = new Map();
  for (const [userId, target] of targets) {
    const total: Increments = {};
    for (const rows of Object.values(target.countersByVariant())) for (const { day: _, ...row } of rows) addIncrements(total, row as Increments);
    counters.set(userId, total);
  }
  return counters;
}

/** The arms' counters, as of the last day, when `subject`'s salt splits the users. */
function splitCounters(subject: Experiment, users: UserCounters): Record<string, DailyCounter[]> {
  const arms = new Map<string, Increments>();
  for (const [userId, total] of users) {
    const { variant } = resolveAssignment({ experiment: subject, userId, stored: undefined });
    addIncrements(arms.get(variant) ?? arms.set(variant, {}).get(variant)!, total);
  }
  return Object.fromEntries([...arms].map(([variant, total]) => [variant, [{ day: LAST_DAY, ...total }]]));
}

/** The CUPED result of the target metric in a variance-reduction section. */
function targetCuped(section: VarianceReductionReport | null | undefined): {
  result: CupedResult;
  sequential: { alwaysValidPValue: number; adjustedAlwaysValidPValue: number }[];
} {
  if (section?.status !== 'ok') throw new Error(`no variance reduction: ${JSON.stringify(section)}`);
  const target = section.metrics.find((m) => m.target);
  if (target?.result.status !== 'ok') throw new Error('no CUPED result for the target');
  return { result: target.result, sequential: target.sequential ?? [] };
}

describe('CUPED on simulated experiments', () => {
  let world: BenchWorld;

  beforeAll(() => {
    world = buildWorld({ users: 6000 });
  }, 60_000);

  it('narrows the interval of the target with a planted lift, around the same truth', async () => {
    // Prepare
    const reductions: number[] = [];
    for (const seed of [1, 2, 3]) {
      const subject = experiment(`planted-${seed}`);
      const target = createInProcessTarget({
        experiment: subject,
        firstDayMs: FIRST_DAY_MS,
        slateOf: (_, userId) => world.slates.get(userId) ?? [],
        profileOf: world.profileOf,
      });

      // Act
      await runSimulation({
        population: world.population,
        target,
        experimentId: subject.id,
        days: DAYS,
        seed,
        liftByVariant: { treatment: 0.1 },
        concurrency: 1,
      });
      const analysis: ExperimentAnalysis = analysisFromCounters(subject, target.countersByVariant(), { day: target.lastDay() });
      const { result, sequential } = targetCuped(analysis.variance_reduction);

      // Assess
      const [comparison] = result.comparisons;
      const width = (i: { low: number; high: number }) => i.high - i.low;
      expect(width(comparison.adjustedDifferenceInterval)).toBeLessThan(width(comparison.differenceInterval));
      // The same planted truth: the adjusted difference stays within the plain interval.
      expect(comparison.adjustedDifference).toBeGreaterThan(comparison.differenceInterval.low);
      expect(comparison.adjustedDifference).toBeLessThan(comparison.differenceInterval.high);
      reductions.push(comparison.varianceReduction);
      const others =
        analysis.variance_reduction?.status === 'ok'
          ? analysis.variance_reduction.metrics
              .map((m) => `${m.metric} ${m.result.status === 'ok' ? (100 * m.result.comparisons[0].varianceReduction).toFixed(1) : '-'}%`)
              .join(', ')
          : '';
      console.log(
        `CUPED planted +10% seed ${seed}: click-through variance removed ${(100 * comparison.varianceReduction).toFixed(1)}% (θ ${result.theta.toPrecision(3)}, ρ ${result.correlation.toFixed(3)}); p ${comparison.pValue.toPrecision(3)} -> ${comparison.adjustedPValue.toPrecision(3)}; always-valid ${sequential[0].alwaysValidPValue.toPrecision(3)} -> ${sequential[0].adjustedAlwaysValidPValue.toPrecision(3)}; ${others}`,
      );
    }
    expect(Math.min(...reductions)).toBeGreaterThan(0);
  }, 60_000);

  it('keeps the A/A false-positive rate of the CUPED test inside its binomial band', async () => {
    // Prepare
    const band = binomialBand(TRAFFIC_SEEDS * SPLITS_PER_SEED, ALPHA, 0.999);
    let cupedRejections = 0;
    let plainRejections = 0;
    const reductions: number[] = [];

    // Act
    for (let seed = 0; seed < TRAFFIC_SEEDS; seed++) {
      const users = await countPerUser(world, AA_USERS, 100 + seed);
      for (let split = 0; split < SPLITS_PER_SEED; split++) {
        const subject = experiment(`aa-${seed}-${split}`);
        const { result } = targetCuped(varianceReductionReport(subject, splitCounters(subject, users)));
        const [comparison] = result.comparisons;
        if (comparison.adjustedPValue < ALPHA) cupedRejections++;
        if (comparison.pValue < ALPHA) plainRejections++;
        reductions.push(comparison.varianceReduction);
      }
    }

    // Assess
    const mean = reductions.reduce((s, r) => s + r, 0) / reductions.length;
    console.log(
      `CUPED A/A: ${cupedRejections} of ${TRAFFIC_SEEDS * SPLITS_PER_SEED} rejected at alpha ${ALPHA} (plain ${plainRejections}; band ${band.low}..${band.high}); mean variance removed ${(100 * mean).toFixed(1)}%`,
    );
    expect(cupedRejections).toBeGreaterThanOrEqual(band.low);
    expect(cupedRejections).toBeLessThanOrEqual(band.high);
  }, 90_000);
});
