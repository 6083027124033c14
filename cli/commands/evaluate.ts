/**
 * `abrec evaluate`: offline evaluation of one model on a MovieLens-format file, with the
 * rating (k-fold RMSE / MAE) or ranking (per-user split, top-K) protocol.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError, type CliCommand, type CliIO } from '../command.ts';
import { attachItems } from '../../lambdas/domain/recommenders/data/dataset.ts';
import { MOVIELENS_FORMATS, parseItems, parseRatings, type MovieLensFormat } from '../../lambdas/domain/recommenders/data/formats.ts';
import { evaluateRanking, evaluateRating } from '../../lambdas/domain/recommenders/evaluation.ts';
import { HyperparameterError } from '../../lambdas/domain/recommenders/models/common.ts';
import { getModel, MODEL_NAMES, resolveHyperparameters, type ModelDefinition } from '../../lambdas/domain/recommenders/models/registry.ts';
import type { Hyperparameters, RatingsDataset } from '../../lambdas/domain/recommenders/types.ts';

/** Reads a ratings file and, optionally, an item file, as the CLI commands do. */
export function loadRatingsFiles(dataPath: string, itemsPath: string | undefined, format: string | undefined): RatingsDataset {
  if (format !== undefined && !(MOVIELENS_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format must be one of ${MOVIELENS_FORMATS.join(', ')}, got '${format}'`);
  }
  const dataset = parseRatings(readInput(dataPath, '--data'), { fileName: dataPath, format: format as MovieLensFormat | undefined });
  if (itemsPath === undefined) return dataset;
  return attachItems(dataset, parseItems(readInput(itemsPath, '--items'), { fileName: itemsPath, format: format as MovieLensFormat | undefined }));
}

function readInput(path: string, option: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new UsageError(`${option}: cannot read ${path}: ${(error as Error).message}`);
  }
}

/** Parses repeated `--param name=value` options into hyperparameters (checked by the registry). */
export function parseParamOptions(values: string[] | undefined): Hyperparameters {
  const params: Hyperparameters = {};
  for (const value of values ?? []) {
    const at = value.indexOf('=');
    if (at <= 0) throw new UsageError(`--param expects name=value, got '${value}'`);
    params[value.slice(0, at)] = value.slice(at + 1);
  }
  return params;
}

/** A number option: absent gives the fallback, anything not a number is a usage error. */
export function numberOption(raw: string | undefined, name: string, fallback: number, check: { integer?: boolean; min?: number; max?: number } = {}): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  const bounded = Number.isFinite(value) && (check.min === undefined || value >= check.min) && (check.max === undefined || value <= check.max);
  if (raw.trim() === '' || !bounded || (check.integer && !Number.isInteger(value))) {
    const range = [check.min !== undefined ? `>= ${check.min}` : '', check.max !== undefined ? `<= ${check.max}` : ''].filter(Boolean).join(' and ');
    throw new UsageError(`${name} must be ${check.integer ? 'an integer' : 'a number'}${range ? ` ${range}` : ''}, got '${raw}'`);
  }
  return value;
}

/** node:util parseArgs, with its unknown-option errors turned into usage errors. */
export function parseCommandArgs<T extends ParseArgsConfig['options']>(argv: string[], options: T): ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: false }>>['values'] {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** The model definition and checked hyperparameters, with problems as usage errors. */
export function resolveModelOption(name: string | undefined, params: Hyperparameters): { definition: ModelDefinition; params: Hyperparameters } {
  if (!name) throw new UsageError(`--model is required: one of ${MODEL_NAMES.join(', ')}`);
  try {
    const definition = getModel(name);
    return { definition, params: resolveHyperparameters(definition.name, definition.defaults, params) };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Runs `work`, reporting bad hyperparameter values (found while training) as usage errors. */
export function asUsageErrors<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof HyperparameterError) throw new UsageError(error.message);
    throw error;
  }
}

const HELP = `Usage:
  abrec evaluate --data FILE [--items FILE] --task rating  --model NAME [--folds 5] [--seed 0] [--json]
  abrec evaluate --data FILE [--items FILE] --task ranking --model NAME [--split 0.75] [--k 10] [--seed 42] [--json]

Evaluates one model offline on a MovieLens ratings file (u.data, ratings.dat or ratings.csv).

  rating   shuffle the ratings with the seed, cut --folds equal folds, train on all but one and
           predict the held-out one; reports mean rmse, mae and fit_seconds per fold.
  ranking  per user, shuffle that user's ratings with the seed and keep --split for training
           (at least one on each side); every held-out item is relevant and training items are
           not candidates; reports precision_at_k, recall_at_k, f1_at_k, ndcg_at_k, map_at_k,
           auc, coverage and fit_seconds.

Options:
  --data FILE          ratings file (required)
  --items FILE         item file (u.item, movies.dat, movies.csv); needed by the content model
  --format FORMAT      ml-100k | ml-1m | ml-latest (default: detected from the file)
  --task TASK          rating | ranking (required)
  --model NAME         ${MODEL_NAMES.join(' | ')}
  --param NAME=VALUE   override a hyperparameter (repeatable), e.g. --param factors=50
  --folds N            rating: number of folds (default 5)
  --split R            ranking: training share per user (default 0.75)
  --k K                ranking: list length (default 10)
  --seed S             shuffling seed (default 0 for rating, 42 for ranking)
  --json               print the result as one JSON object on the last line of stdout
Progress goes to stderr.`;

/** The `evaluate` command. */
export const evaluateCommand: CliCommand = {
  path: ['evaluate'],
  summary: 'evaluate a model offline (k-fold RMSE or top-K ranking metrics)',
  help: HELP,
  run: async (argv: string[], io: CliIO): Promise<number> => {
    const values = parseCommandArgs(argv, {
      data: { type: 'string' },
      items: { type: 'string' },
      format: { type: 'string' },
      task: { type: 'string' },
      model: { type: 'string' },
      param: { type: 'string', multiple: true },
      folds: { type: 'string' },
      split: { type: 'string' },
      k: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean', default: false },
    });
    if (!values.data) throw new UsageError('--data FILE is required');
    if (values.task !== 'rating' && values.task !== 'ranking') throw new UsageError(`--task must be rating or ranking, got '${values.task ?? ''}'`);
    const { definition, params } = resolveModelOption(values.model, parseParamOptions(values.param));
    if (definition.needsItems && !values.items) throw new UsageError(`model ${definition.name} needs item metadata: pass --items FILE`);
    const folds = numberOption(values.folds, '--folds', 5, { integer: true, min: 2 });
    const split = numberOption(values.split, '--split', 0.75);
    if (!(split > 0 && split < 1)) throw new UsageError(`--split must be strictly between 0 and 1, got '${values.split}'`);
    const k = numberOption(values.k, '--k', 10, { integer: true, min: 1 });
    const seed = numberOption(values.seed, '--seed', values.task === 'rating' ? 0 : 42, { integer: true });
    const dataset = loadRatingsFiles(values.data, values.items, values.format);
    const onProgress = (message: string): void => io.stderr(`${message}\n`);
    if (values.task === 'rating') {
      const result = asUsageErrors(() => evaluateRating({ dataset, model: definition, params, folds, seed, onProgress }));
      io.stdout(`${definition.name} rating ${folds}-fold: rmse ${result.rmse.toFixed(4)}  mae ${result.mae.toFixed(4)}  fit ${result.fit_seconds.toFixed(3)} s/fold\n`);
      if (values.json) io.stdout(`${JSON.stringify(result)}\n`);
      return 0;
    }
    const result = asUsageErrors(() => evaluateRanking({ dataset, model: definition, params, split, k, seed, onProgress }));
    io.stdout(
      `${definition.name} ranking split ${split} k ${k}: P@${k} ${result.precision_at_k.toFixed(4)}  R@${k} ${result.recall_at_k.toFixed(4)}  ` +
        `nDCG@${k} ${result.ndcg_at_k.toFixed(4)}  MAP@${k} ${result.map_at_k.toFixed(4)}  AUC ${result.auc.toFixed(4)}  ` +
        `coverage ${result.coverage.toFixed(4)}  fit ${result.fit_seconds.toFixed(3)} s\n`,
    );
    if (values.json) io.stdout(`${JSON.stringify(result)}\n`);
    return 0;
  },
};
