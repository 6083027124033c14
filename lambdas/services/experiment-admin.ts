/**
 * The admin use cases behind /experiments: every change is a pure lifecycle transition from the
 * domain, written with a condition on the revision it read, so concurrent changes cannot both
 * win; pinned model versions must exist in the artifact store. Storage is injected.
 */
import { z } from 'zod';
import { errorMessage } from '../domain/assert-error.ts';
import { ConflictError, InconsistentCountersError, ValidationError, parseOrThrow } from '../domain/errors.ts';
import {
  createExperiment,
  duplicateExperimentError,
  promoteExperiment,
  rampExperiment,
  requireExperiment,
  startExperiment,
  stopExperiment,
  updateExperiment,
} from '../domain/experiments/lifecycle.ts';
import type { Experiment } from '../domain/experiments/model.ts';
import { StatsInputError } from '../domain/stats/errors.ts';
import { ArtifactNotFoundError, type ModelArtifactStore } from '../storage/artifact-store.ts';
import type { CounterRepository } from '../storage/counter-store.ts';
import { ConcurrentModificationError, type ExperimentRepository } from '../storage/experiment-repository.ts';
import { analyseExperiment, type ExperimentAnalysis } from './experiment-results.ts';
import type { ShownItemRepository } from '../storage/shown-items.ts';
import { analyseFinal, scheduleEndingOf, type FinalAnalysis } from './schedule-end.ts';

const transitionSchema = z.strictObject({ expected_revision: z.int('must be an integer').min(0, 'must be >= 0').optional() });
const promoteSchema = transitionSchema.extend({
  winner: z.string().min(1, 'must not be empty').optional(),
  force: z.boolean({ error: 'must be true or false' }).optional(),
});

export interface ExperimentAdminDeps {
  experiments: ExperimentRepository;
  counters: CounterRepository;
  artifacts: ModelArtifactStore;
  /** The shown-item markers (catalogue coverage in the results); not measured without them. */
  shownItems?: ShownItemRepository;
}

/** Builds the admin use cases over their storage. */
export function createExperimentAdmin({ experiments, counters, artifacts, shownItems }: ExperimentAdminDeps) {
  /** Every pinned model version must exist in the artifact store (400 naming each variant). */
  async function assertModelsExist(experiment: Experiment): Promise<void> {
    const problems = (
      await Promise.all(
        experiment.variants.map(async (variant, i) => {
          try {
            await artifacts.getManifest(variant.model_id, variant.model_version);
            return undefined;
          } catch (error) {
            if (error instanceof ArtifactNotFoundError) {
              return { field: `variants[${i}].model_version`, message: `model ${variant.model_id} version ${variant.model_version} does not exist` };
            }
            return { field: `variants[${i}].model_version`, message: `artifact is invalid: ${errorMessage(error)}` };
          }
        }),
      )
    ).filter((p) => p !== undefined);
    if (problems.length > 0) throw new ValidationError(problems);
  }

  async function load(id: string): Promise<Experiment> {
    return requireExperiment(await experiments.get(id), id);
  }

  async function save(next: Experiment, expectedRevision: number): Promise<Experiment> {
    try {
      await experiments.update(next, expectedRevision);
    } catch (error) {
      if (error instanceof ConcurrentModificationError) throw new ConflictError(error.message, [{ field: 'expected_revision', message: error.message }]);
      throw error;
    }
    return next;
  }

  /**
   * The analysis as of today (UTC): the same document the scheduled run writes as report.json.
   * Once the schedule has ended, the final one: through the day it ended, marked final.
   */
  async function analyse(experiment: Experiment, now: Date): Promise<ExperimentAnalysis | FinalAnalysis> {
    try {
      const ending = scheduleEndingOf(experiment, now.getTime());
      if (ending) return await analyseFinal(experiment, counters, ending, undefined, shownItems);
      return await analyseExperiment(experiment, counters, { day: now.toISOString().slice(0, 10), shownItems });
    } catch (error) {
      // Counters no data can produce (e.g. more converters than exposed users): name the problem.
      if (error instanceof StatsInputError) {
        const message = `The counters of ${experiment.id} cannot be analysed: ${error.message}`;
        throw new InconsistentCountersError(message, [{ field: 'id', message }]);
      }
      throw error;
    }
  }

  return {
    list: async () => ({ experiments: await experiments.list() }),

    get: load,

    results: async (id: string, now: Date) => analyse(await load(id), now),

    async create(request: unknown, now: Date): Promise<Experiment> {
      // Only a layered experiment needs its peers (to find a free bucket range).
      const layered = typeof request === 'object' && request !== null && 'layer' in request;
      const experiment = createExperiment({ request, now, layerPeers: layered ? await experiments.list() : [] });
      await assertModelsExist(experiment);
      try {
        await experiments.create(experiment);
      } catch (error) {
        if (error instanceof ConcurrentModificationError) throw duplicateExperimentError(experiment.id);
        throw error;
      }
      return experiment;
    },

    /** Descriptive edits any time, anything while draft; weights of a started experiment only via /ramp (409). */
    async patch(id: string, request: unknown, now: Date): Promise<Experiment> {
      const current = await load(id);
      const next = updateExperiment(current, { request, now });
      if (current.status === 'draft') await assertModelsExist(next);
      return save(next, current.revision);
    },

    async start(id: string, body: unknown, now: Date): Promise<Experiment> {
      const current = await load(id);
      const { expected_revision } = parseOrThrow(transitionSchema, body);
      await assertModelsExist(current);
      return save(startExperiment(current, { now, expectedRevision: expected_revision }), current.revision);
    },

    async stop(id: string, body: unknown, now: Date): Promise<Experiment> {
      const current = await load(id);
      const { expected_revision } = parseOrThrow(transitionSchema, body);
      return save(stopExperiment(current, { now, expectedRevision: expected_revision }), current.revision);
    },

    async ramp(id: string, body: unknown, now: Date): Promise<Experiment> {
      const current = await load(id);
      return save(rampExperiment(current, { request: body, now }), current.revision);
    },

    async promote(id: string, body: unknown, now: Date): Promise<Experiment> {
      const current = await load(id);
      const request = parseOrThrow(promoteSchema, body);
      // A forced promotion overrides the analysis, so counters it cannot analyse must not block it.
      const analysis = await analyse(current, now).catch((error: unknown) => {
        if (request.force === true && error instanceof InconsistentCountersError) return undefined;
        throw error;
      });
      const next = promoteExperiment(current, {
        now,
        expectedRevision: request.expected_revision,
        winner: request.winner,
        force: request.force,
        analysis: analysis?.promotion,
      });
      return save(next, current.revision);
    },
  };
}
