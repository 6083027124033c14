/**
 * One simulated experiment over the HTTP API, as `abrec simulate` and `npm start` run it: load
 * the users from a MovieLens-format file, make sure the experiment exists (an A/A copy of the
 * default's control when asked), drive the days, and say which variants got which planted lift.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { adminRequest, type AdminTarget } from '../cli/admin-client.ts';
import { loadMovieLens } from '../lambdas/domain/recommenders/data/files.ts';
import { errorMessage } from '../lambdas/domain/assert-error.ts';
import type { ModelArtifactStore } from '../lambdas/storage/artifact-store.ts';
import { createHttpTarget, type LocalClockState } from './http-target.ts';
import { itemsFileBeside, trainModelsUnderTest, type PublishedModel } from './models-under-test.ts';
import { buildPopulation } from './population.ts';
import { runSimulation, type SimulationProgress, type SimulationResult } from './run.ts';

/** The bundled synthetic ratings the default models were trained on (their 75 % part). */
export const DEFAULT_SIMULATION_DATA = fileURLToPath(new URL('../model-artifacts/data/u.data', import.meta.url));

export interface SimulationSessionOptions {
  url: string;
  apiKey: string;
  admin?: AdminTarget;
  dataFile?: string;
  users?: number;
  days: number;
  seed: number;
  experimentId?: string;
  aa?: boolean;
  /**
   * Train these two algorithms (control, treatment) on the data's 75 % part, publish them to
   * `artifacts` and drive an experiment that pins them (created unless it exists).
   */
  train?: { algorithms: [string, string]; artifacts: ModelArtifactStore };
  plantedLift?: number;
  topN?: number;
  concurrency?: number;
  onProgress?: (progress: SimulationProgress) => void;
  onScheduledRun?: (run: NonNullable<LocalClockState['runs']>[number]) => void;
  log?: (line: string) => void;
}

export interface SimulationSessionResult extends SimulationResult {
  data: string;
  seed: number;
  aa: boolean;
  planted_lift: number;
  /** Variants whose clicks carried the planted lift. */
  lifted_variants: string[];
  /** First and last simulated UTC day on the local clock (null against a deployed API). */
  first_day: string | null;
  last_day: string | null;
  /** Daily analyses the local scheduler ran as the days closed. */
  reports: { day: string; ok: boolean }[];
  /** The models trained and published for this run (--train). */
  trained: PublishedModel[];
}

interface ExperimentBody {
  id: string;
  status: string;
  mode?: string;
  variants: { name: string; model_id: string; model_version: string; weight: number; is_control?: boolean }[];
  target_metric: unknown;
  min_sample_size?: number;
  confidence_level?: number;
  minimum_detectable_effect?: number;
}

async function getExperiment(admin: AdminTarget, id: string): Promise<ExperimentBody | undefined> {
  const answer = await adminRequest(admin, 'GET', `/experiments/${encodeURIComponent(id)}`);
  if (answer.status === 404) return undefined;
  if (answer.status !== 200) throw new Error(`GET /experiments/${id} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body as ExperimentBody;
}

/**
 * The A/A experiment `id`: both arms pinned to the control model of `template`, with its metric
 * and plan; created running unless it exists.
 */
export async function ensureAaExperiment(admin: AdminTarget, id: string, template: ExperimentBody): Promise<ExperimentBody> {
  const existing = await getExperiment(admin, id);
  if (existing) return existing;
  const control = template.variants.find((variant) => variant.is_control) ?? template.variants[0];
  const model = { model_id: control.model_id, model_version: control.model_version };
  const body = {
    id,
    name: `A/A: ${control.model_id} against itself`,
    description: `Created by abrec simulate --aa from ${template.id}: both arms serve the same model, so any difference is noise (or a planted lift).`,
    status: 'running',
    mode: 'ab',
    variants: [
      { name: 'control', ...model, weight: 0.5, is_control: true },
      { name: 'treatment', ...model, weight: 0.5, is_control: false },
    ],
    target_metric: template.target_metric,
    min_sample_size: template.min_sample_size,
    confidence_level: template.confidence_level,
    ...(template.minimum_detectable_effect === undefined ? {} : { minimum_detectable_effect: template.minimum_detectable_effect }),
  };
  const answer = await adminRequest(admin, 'POST', '/experiments', body);
  if (answer.status !== 201) throw new Error(`creating the A/A experiment ${id} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body as ExperimentBody;
}

/**
 * The experiment `id` pinning the two trained models as control and treatment, with the default
 * experiment's plan; created running unless it exists. An existing one must pin the same versions.
 */
async function ensureTrainedExperiment(
  admin: AdminTarget,
  id: string,
  [control, treatment]: PublishedModel[],
  template: ExperimentBody | undefined,
): Promise<ExperimentBody> {
  const existing = await getExperiment(admin, id);
  const pins = (e: ExperimentBody) => e.variants.map((v) => `${v.model_id}@${v.model_version}`).join(',');
  const wanted = `${control.model_id}@${control.model_version},${treatment.model_id}@${treatment.model_version}`;
  if (existing) {
    if (pins(existing) !== wanted) throw new Error(`experiment ${id} exists and pins ${pins(existing)}, not the trained ${wanted}: pass another --experiment`);
    return existing;
  }
  const body = {
    id,
    name: `${control.model_id} vs ${treatment.model_id}, trained for simulation`,
    description: 'Created by abrec simulate --train: both models trained on the 75 % per-user part of the simulation data.',
    status: 'running',
    mode: 'ab',
    variants: [
      { name: 'control', model_id: control.model_id, model_version: control.model_version, weight: 0.5, is_control: true },
      { name: 'treatment', model_id: treatment.model_id, model_version: treatment.model_version, weight: 0.5, is_control: false },
    ],
    target_metric: template?.target_metric ?? { kind: 'click_through' },
    ...(template?.min_sample_size === undefined ? {} : { min_sample_size: template.min_sample_size }),
    ...(template?.confidence_level === undefined ? {} : { confidence_level: template.confidence_level }),
    ...(template?.minimum_detectable_effect === undefined ? {} : { minimum_detectable_effect: template.minimum_detectable_effect }),
  };
  const answer = await adminRequest(admin, 'POST', '/experiments', body);
  if (answer.status !== 201) throw new Error(`creating experiment ${id} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body as ExperimentBody;
}

export async function runSimulationSession(options: SimulationSessionOptions): Promise<SimulationSessionResult> {
  const data = options.dataFile ?? DEFAULT_SIMULATION_DATA;
  const itemsPath = options.train ? itemsFileBeside(data) : undefined;
  const dataset = loadMovieLens({ ratingsPath: data, itemsPath });
  const population = buildPopulation(dataset, { maxUsers: options.users });
  options.log?.(
    `${population.users.length} users from ${data}; their held-out 25 % (${population.heldOutRatings} ratings) is the taste that drives their clicks`,
  );
  const aa = options.aa ?? false;
  if (aa && options.train) throw new Error('--aa and --train contradict each other: an A/A test serves one model in both arms');
  let trained: PublishedModel[] = [];
  if (options.train) {
    if (!options.admin) throw new Error('--train creates an experiment through the admin API: give the admin key (or run next to the local data directory)');
    trained = await trainModelsUnderTest({
      dataset,
      algorithms: options.train.algorithms,
      store: options.train.artifacts,
      source: data,
      onModel: (model) =>
        options.log?.(`trained ${model.algorithm} on the 75 % part in ${model.fit_seconds.toFixed(1)} s: ${model.model_id}@${model.model_version}`),
    });
  }
  // One A/A experiment per seed: which users land in which arm is most of an A/A test's
  // variance, so runs of different seeds must not share one split (nor one experiment's counters).
  const trainedId = () =>
    `sim-${trained.map((m) => m.model_id).join('-vs-')}-${createHash('sha256')
      .update(trained.map((m) => m.model_version).join(','))
      .digest('hex')
      .slice(0, 8)}`;
  const experimentId = options.experimentId ?? (aa ? `default-aa-${options.seed}` : options.train ? trainedId() : 'default');
  let controlName = 'control';
  let variantNames: string[] | undefined;
  if (options.admin) {
    let experiment: ExperimentBody | undefined;
    if (options.train) {
      experiment = await ensureTrainedExperiment(options.admin, experimentId, trained, await getExperiment(options.admin, 'default'));
    } else if (aa) {
      experiment = await ensureAaExperiment(options.admin, experimentId, (await getExperiment(options.admin, 'default')) ?? failNoTemplate());
    } else {
      try {
        experiment = await getExperiment(options.admin, experimentId);
      } catch (error) {
        // The public API is enough to simulate; the admin API only names the control.
        options.log?.(`cannot read experiment ${experimentId} through the admin API (${errorMessage(error)}): taking "control" as the control`);
        experiment = {
          id: experimentId,
          status: 'running',
          variants: [{ name: 'control', model_id: '', model_version: '', weight: 0.5, is_control: true }],
          target_metric: null,
        };
      }
    }
    if (!experiment) throw new Error(`experiment ${experimentId} does not exist: create it first (abrec experiments create --file ...)`);
    if (experiment.status !== 'running')
      options.log?.(`experiment ${experimentId} is ${experiment.status}: its users are served the control and counted outside the test`);
    controlName = experiment.variants.find((variant) => variant.is_control)?.name ?? controlName;
    variantNames = experiment.variants.length > 1 ? experiment.variants.map((variant) => variant.name) : undefined;
  } else if (aa) {
    throw new Error('--aa creates an experiment through the admin API: give the admin key (or run next to the local data directory)');
  }
  const plantedLift = options.plantedLift ?? 0;
  const lifted = (variantNames ?? ['treatment']).filter((name) => name !== controlName);
  const reports: { day: string; ok: boolean }[] = [];
  const target = await createHttpTarget({
    url: options.url,
    apiKey: options.apiKey,
    experimentId,
    topN: options.topN ?? 10,
    admin: options.admin,
    onScheduledRun: (run) => {
      if (run.job === 'analysis') reports.push({ day: new Date(Date.parse(run.fired_at) - 86_400_000).toISOString().slice(0, 10), ok: run.ok });
      options.onScheduledRun?.(run);
    },
  });
  const result = await runSimulation({
    population,
    target,
    experimentId,
    days: options.days,
    seed: options.seed,
    liftByVariant: plantedLift === 0 ? {} : Object.fromEntries(lifted.map((name) => [name, plantedLift])),
    concurrency: options.concurrency,
    onProgress: options.onProgress,
  });
  return {
    ...result,
    data,
    seed: options.seed,
    aa,
    planted_lift: plantedLift,
    lifted_variants: plantedLift === 0 ? [] : lifted,
    first_day: target.firstDay() ?? null,
    last_day: target.lastDay() ?? null,
    reports,
    trained,
  };
}

function failNoTemplate(): never {
  throw new Error('--aa copies the plan of the experiment "default", which does not exist');
}
