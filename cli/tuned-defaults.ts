/**
 * Tuned defaults: the settings `abrec tune --write-defaults` chose, per model, in one JSON file
 * (model-artifacts/tuned-defaults.json unless ABREC_TUNED_DEFAULTS names another). `abrec
 * evaluate` and `abrec train` lay them over the model's built-in defaults, under any --param:
 * built-in < tuned < --param. The file records where each entry came from (metric, scores,
 * data fingerprint, protocol), so a tuned default is never a bare number.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './command.ts';
import type { Hyperparameters } from '../lambdas/domain/recommenders/types.ts';
import { errorMessage } from '../lambdas/domain/assert-error.ts';

/** Where tuned defaults live unless ABREC_TUNED_DEFAULTS says otherwise. */
export const DEFAULT_TUNED_DEFAULTS_PATH = join(import.meta.dirname, '..', 'model-artifacts', 'tuned-defaults.json');

/** One model's tuned defaults and their provenance. */
export interface TunedDefaultsEntry {
  params: Hyperparameters;
  metric: string;
  /** Mean cross-validated score on the training part. */
  cv_score: number;
  /** Score on the held-out test part the search never saw. */
  test_score: number;
  trials: number;
  search: string;
  protocol: string;
  data: { source: string; fingerprint: string; ratings: number };
  written_at: string;
}

export type TunedDefaultsFile = Record<string, TunedDefaultsEntry>;

/** The tuned defaults file's path for this environment. */
export function tunedDefaultsPath(env: NodeJS.ProcessEnv): string {
  return env.ABREC_TUNED_DEFAULTS || DEFAULT_TUNED_DEFAULTS_PATH;
}

/** Reads the file ({} when absent); a malformed file is a usage error naming it. */
export function readTunedDefaults(path: string): TunedDefaultsFile {
  if (!existsSync(path)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`tuned defaults ${path}: not JSON (${errorMessage(error)})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new UsageError(`tuned defaults ${path}: expected an object keyed by model name`);
  for (const [model, entry] of Object.entries(parsed)) {
    const params = (entry as { params?: unknown } | null)?.params;
    if (typeof params !== 'object' || params === null || Array.isArray(params))
      throw new UsageError(`tuned defaults ${path}: ${model}.params must be an object`);
  }
  return parsed as TunedDefaultsFile;
}

/** Sets one model's entry, keeping the others; written to a temporary file and renamed. */
export function writeTunedDefaults(path: string, model: string, entry: TunedDefaultsEntry): void {
  const file = readTunedDefaults(path);
  file[model] = entry;
  const sorted = Object.fromEntries(Object.entries(file).sort(([a], [b]) => a.localeCompare(b)));
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(sorted, null, 2)}\n`);
  renameSync(temporary, path);
}
