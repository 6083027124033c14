/**
 * Experiments that follow the latest models, as the retraining workflow drives them:
 * - before training, {@link followedModelIds} names the models every running following
 *   experiment needs retrained (all of its arms, so that they can switch together);
 * - after publishing, {@link switchFollowingExperiments} moves each following experiment whose
 *   arms were all published in the run to the new versions, every arm in one conditional write
 *   on the revision read, and records the switch in its `model_history`. An experiment with only
 *   some of its arms published switches none (the comparison would be between versions trained on
 *   different data); a pinned experiment is never touched.
 * Serving reads the versions from the experiment's record (serving.ts caches it for at most a
 * second), so the record is the one source of truth and the arms switch together for every caller.
 */
import { planModelSwitch, switchModelVersions } from '../domain/experiments/lifecycle.ts';
import type { Experiment } from '../domain/experiments/model.ts';
import { ConcurrentModificationError, type ExperimentRepository } from '../storage/experiment-repository.ts';

/** Conditional writes tried per experiment before the run reports it unswitched. */
const SWITCH_ATTEMPTS = 4;

/** What the run did to one following experiment. */
export interface ModelSwitchOutcome {
  experiment_id: string;
  switched: boolean;
  /** Why it did not switch. */
  reason?: string;
  /** The versions by variant name, when it switched. */
  versions?: Record<string, string>;
}

/** Whether an experiment is one a retraining run may switch. */
function follows(experiment: Experiment): boolean {
  return experiment.status === 'running' && experiment.follow_latest === true;
}

/** The model ids of every arm of the running experiments that follow latest, deduplicated and sorted. */
export function followedModelIds(experiments: Experiment[]): string[] {
  const ids = new Set(experiments.filter(follows).flatMap((experiment) => experiment.variants.map((v) => v.model_id)));
  return [...ids].sort();
}

/**
 * Switches every running experiment that follows latest to the versions published in run
 * `runId` (`published`: model id → new version), all of its arms together, and returns one
 * outcome per following experiment (pinned ones are left out: they never change). A write that
 * loses to a concurrent edit is retried on the fresh revision, re-planned from it.
 */
export async function switchFollowingExperiments(
  deps: { experiments: ExperimentRepository },
  input: { published: Record<string, string>; runId: string; now: Date },
): Promise<ModelSwitchOutcome[]> {
  const following = (await deps.experiments.list()).filter(follows);
  const outcomes: ModelSwitchOutcome[] = [];
  for (const experiment of following) outcomes.push(await switchOne(deps.experiments, experiment, input));
  return outcomes;
}

async function switchOne(
  repository: ExperimentRepository,
  listed: Experiment,
  { published, runId, now }: { published: Record<string, string>; runId: string; now: Date },
): Promise<ModelSwitchOutcome> {
  let current: Experiment | undefined = listed;
  for (let attempt = 1; ; attempt++) {
    if (!current) return { experiment_id: listed.id, switched: false, reason: 'deleted during the run' };
    const plan = planModelSwitch(current, published);
    if (plan.action === 'skip') return { experiment_id: listed.id, switched: false, reason: plan.reason };
    const next = switchModelVersions(current, { versions: plan.versions, runId, now });
    try {
      await repository.update(next, current.revision);
      const versions = Object.fromEntries(Object.entries(plan.versions).map(([variant, { model_version }]) => [variant, model_version]));
      return { experiment_id: listed.id, switched: true, versions };
    } catch (error) {
      if (!(error instanceof ConcurrentModificationError)) throw error;
      if (attempt >= SWITCH_ATTEMPTS) {
        return { experiment_id: listed.id, switched: false, reason: `changed concurrently ${attempt} times in a row; the next run switches it` };
      }
      current = await repository.get(listed.id);
    }
  }
}
