/**
 * The decision-quality benchmark behind `npm run bench:simulate`: many seeds of an A/A
 * experiment (both arms serve the same model), with and without a planted lift equal to the
 * experiment's MDE, at the planned number of users, through the in-process target (the same
 * assignment, top-N, counter arithmetic and analysis as the service). It answers two questions:
 * does an A/A test ship no more often than alpha, and does an MDE-sized truth ship at least as
 * often as the planned power?
 */
import { mulberry32, shuffleInPlace } from '../lambdas/domain/recommenders/data/random.ts';
import { generateSyntheticMovieLens } from '../lambdas/domain/recommenders/data/synthetic.ts';
import { MODELS, type ModelName } from '../lambdas/domain/recommenders/models/registry.ts';
import { prepareForServing, recommendTopN } from '../lambdas/domain/recommenders/top-n.ts';
import { createExperiment } from '../lambdas/domain/experiments/lifecycle.ts';
import type { Experiment } from '../lambdas/domain/experiments/model.ts';
import { userProfileOf, type UserProfile } from '../lambdas/domain/experiments/user-profile.ts';
import { DEFAULT_ANALYSIS_MDE } from '../lambdas/services/analysis-input.ts';
import { analysisFromCounters, type ExperimentAnalysis } from '../lambdas/services/experiment-results.ts';
import type { SlateItem } from './behaviour.ts';
import { createInProcessTarget } from './in-process-target.ts';
import { buildPopulation, tasteTrainingPart, type Population } from './population.ts';
import { runSimulation } from './run.ts';

export interface BenchWorld {
  population: Population;
  slates: Map<string, SlateItem[]>;
  users: number;
  /** What the (control) model knows of each user before exposure: the CUPED covariate, as the service records it. */
  profileOf: (userId: string) => UserProfile;
}

const FIRST_DAY_MS = Date.parse('2026-01-05T00:00:00Z');

/** MovieLens-like users (the bundled set's shape: ~67 ratings each over 1,000 items), a model trained on their 75 % part, and each user's slate. */
export function buildWorld({
  users,
  model = 'content',
  dataSeed = 7,
  topN = 10,
}: {
  users: number;
  model?: ModelName;
  dataSeed?: number;
  topN?: number;
}): BenchWorld {
  const { dataset } = generateSyntheticMovieLens({ users, items: 1000, ratings: Math.round(users * 66.7), seed: dataSeed });
  const trained = MODELS[model].train(tasteTrainingPart(dataset));
  const serving = prepareForServing(trained);
  // In random order, so the first n users of the world are a fair sample of it: file order
  // puts the most active users first, and the runs take the first n.
  const population = buildPopulation(dataset);
  shuffleInPlace(population.users, mulberry32(dataSeed));
  const slates = new Map(
    population.users.map((user) => [user.userId, recommendTopN(serving, user.userId, topN).items.map((item) => ({ item_id: item.itemId, rank: item.rank }))]),
  );
  return { population, slates, users: population.users.length, profileOf: (userId) => userProfileOf(serving, userId) };
}

/**
 * The A/A experiment of the benchmark: the default experiment's plan, both arms one model. Each
 * seed gets its own salt: which users land in which arm is the main source of an A/A test's
 * variance, so seeds that shared one split would not be independent trials.
 */
export function aaExperiment({
  mde = DEFAULT_ANALYSIS_MDE,
  minSampleSize = 250,
  seed = 0,
}: {
  mde?: number;
  minSampleSize?: number;
  seed?: number;
} = {}): Experiment {
  return createExperiment({
    now: new Date(FIRST_DAY_MS - 3_600_000),
    request: {
      id: 'bench-aa',
      salt: `bench-aa-${seed}`,
      name: 'A/A benchmark',
      status: 'running',
      variants: [
        { name: 'control', model_id: 'content', model_version: 'bench', weight: 0.5, is_control: true },
        { name: 'treatment', model_id: 'content', model_version: 'bench', weight: 0.5 },
      ],
      target_metric: { kind: 'click_through' },
      min_sample_size: minSampleSize,
      minimum_detectable_effect: mde,
      confidence_level: 0.95,
    },
  });
}

export interface RunOutcome {
  seed: number;
  plantedLift: number;
  analysis: ExperimentAnalysis;
  exposedPerVariant: number;
}

/** One simulated experiment of `days` days over the world's first `users` users (default all), analysed at the end of its last day. */
export async function simulateOnce({
  world,
  experiment,
  seed,
  days,
  plantedLift,
  users,
}: {
  world: BenchWorld;
  experiment: Experiment;
  seed: number;
  days: number;
  plantedLift: number;
  users?: number;
}): Promise<RunOutcome> {
  const target = createInProcessTarget({
    experiment,
    firstDayMs: FIRST_DAY_MS,
    slateOf: (_, userId) => world.slates.get(userId) ?? [],
    profileOf: world.profileOf,
  });
  await runSimulation({
    population: users === undefined ? world.population : { ...world.population, users: world.population.users.slice(0, users) },
    target,
    experimentId: experiment.id,
    days,
    seed,
    liftByVariant: plantedLift === 0 ? {} : { treatment: plantedLift },
    concurrency: 1,
  });
  const analysis = analysisFromCounters(experiment, target.countersByVariant(), { day: target.lastDay() });
  const exposedPerVariant = Math.min(...Object.values(analysis.totals).map((totals) => totals.exposed_users));
  return { seed, plantedLift, analysis, exposedPerVariant };
}

export interface BenchPlan {
  world: BenchWorld;
  /** Users per variant the pilot's report plans (the sequential plan). */
  planned: number;
  /** Share of the population a run exposes over its days. */
  exposedShare: number;
  /** Users to simulate so that each arm exposes the planned number. */
  users: number;
  pilotControlRate: number | null;
}

/**
 * Plans the runs as a team would: a pilot A/A run on the very population the runs will use
 * reads its report's plan (which depends on the population's click-through and per-user
 * variance, not on its size); the runs then take as many users as expose the planned number
 * per arm. A population too small for the plan is regenerated larger.
 */
export async function planRuns({
  experiment,
  days,
  initialUsers = 24_000,
  onStep,
}: {
  experiment: Experiment;
  days: number;
  initialUsers?: number;
  onStep?: (line: string) => void;
}): Promise<BenchPlan> {
  let size = initialUsers;
  for (let attempt = 0; attempt < 4; attempt++) {
    const world = buildWorld({ users: size });
    const pilot = await simulateOnce({ world, experiment, seed: 1_000_001, days, plantedLift: 0 });
    const planned = pilot.analysis.report?.sampleSize.requiredPerVariant;
    if (!planned) throw new Error(`the pilot's report has no plan: ${pilot.analysis.report?.sampleSize.reason ?? pilot.analysis.reason}`);
    const exposedShare = (2 * pilot.exposedPerVariant) / world.users;
    const users = Math.ceil(((2 * planned) / exposedShare) * 1.02);
    const pilotControlRate = pilot.analysis.report?.variants.find((v) => v.isControl)?.estimate ?? null;
    onStep?.(`pilot on ${world.users} users: control click-through ${pilotControlRate?.toFixed(4)}, plan ${planned} users per variant, ${users} users needed`);
    if (users <= world.users) return { world, planned, exposedShare, users, pilotControlRate };
    size = Math.ceil(users * 1.1);
  }
  throw new Error('no population large enough for the plan after 4 attempts');
}

/** Whether a run shipped, and shipped the right arm when there is a truth to find. */
export function shipped(outcome: RunOutcome): boolean {
  return outcome.analysis.decision === 'ship';
}

/** Upper end of the central 95 % band of Binomial(n, p): the most ships an honest alpha allows. */
export function binomialUpper(n: number, p: number, coverage = 0.975): number {
  let cumulative = 0;
  let term = (1 - p) ** n;
  for (let k = 0; k <= n; k++) {
    cumulative += term;
    if (cumulative >= coverage) return k;
    term *= ((n - k) / (k + 1)) * (p / (1 - p));
  }
  return n;
}

/** Wilson 95 % interval of a rate. */
export function wilson(successes: number, n: number): { low: number; high: number } {
  const z = 1.959963984540054;
  const p = successes / n;
  const centre = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / (1 + (z * z) / n);
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}
