/** Retraining step 4 (Step Functions task): switch the experiments that follow latest to the versions just published. */
import { experimentRepositoryFromEnv } from './common/stores.ts';
import { switchFollowingExperiments, type ModelSwitchOutcome } from './services/model-following.ts';

const experiments = experimentRepositoryFromEnv();

export const handler = async (input: { run_id: string; versions: Record<string, string> }): Promise<ModelSwitchOutcome[]> =>
  switchFollowingExperiments({ experiments }, { published: input.versions, runId: input.run_id, now: new Date() });
