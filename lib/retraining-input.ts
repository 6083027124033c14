/**
 * The default input of the weekly retraining run. Plain data only, no aws-cdk-lib imports, so
 * `abrec retrain --help` and the local runtime can read it without loading the CDK.
 */
import { readFileSync } from 'node:fs';

interface DefaultSetFile {
  models: { model_id: string; algorithm: string }[];
}

/** The default model set shipped in model-artifacts/default-set.json: every run trains these. */
export const DEFAULT_RETRAINING_MODELS: readonly { model_id: string; algorithm: string }[] = (
  JSON.parse(readFileSync(new URL('../model-artifacts/default-set.json', import.meta.url), 'utf8')) as DefaultSetFile
).models.map(({ model_id, algorithm }) => ({ model_id, algorithm }));

/** Default input of the weekly retraining run (EventBridge adds `run_id` and `now`). */
export const DEFAULT_RETRAINING_INPUT = {
  // The base data set, read until the first snapshot exists.
  dataset_prefix: 'datasets/ratings/',
  models: DEFAULT_RETRAINING_MODELS,
  // A candidate is published unless its nDCG@10 is more than this share below the published version's on the same split.
  max_regression: 0.02,
} as const;
