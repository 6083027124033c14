/**
 * `abrec evaluate`: offline evaluation of one model on a MovieLens-format file, with the
 * rating (k-fold RMSE / MAE) or ranking (per-user split, top-K) protocol.
 */
import { closeSync, openSync } from 'node:fs';
import { numberOption, parseCommandArgs, UsageError, type CliCommand, type CliIO } from '../command.ts';
import { readTunedDefaults, tunedDefaultsPath } from '../tuned-defaults.ts';
import { attachItems } from '../../lambdas/domain/recommenders/data/dataset.ts';
import { readFileChunks } from '../../lambdas/domain/recommenders/data/files.ts';
import { MOVIELENS_FORMATS, parseItems, parseRatingsWithReport, type MovieLensFormat } from '../../lambdas/domain/recommenders/data/formats.ts';
import { evaluateRanking, evaluateRankingOnSplit, evaluateRating, evaluateRatingOnSplit } from '../../lambdas/domain/recommenders/evaluation.ts';
import {
  cleanMinRatings,
  describeCleaning,
  describeHoldout,
  HOLDOUT_KINDS,
  holdoutSplit,
  type CleaningReport,
  type HoldoutOptions,
} from '../../lambdas/domain/recommenders/protocol.ts';
import { HyperparameterError } from '../../lambdas/domain/recommenders/models/common.ts';
import { getModel, MODEL_NAMES, resolveHyperparameters, type ModelDefinition } from '../../lambdas/domain/recommenders/models/registry.ts';
import type { Hyperparameters, RatingsDataset } from '../../lambdas/domain/recommenders/types.ts';
import { errorMessage } from '../../lambdas/domain/assert-error.ts';

/**
 * Reads a ratings file and, optionally, an item file, as the CLI commands do: streamed, with
 * repeated (user, item) ratings merged to the latest and said on `onNote` (stderr).
 */
export function loadRatingsFiles(
  dataPath: string,
  itemsPath: string | undefined,
  format: string | undefined,
  onNote: (line: string) => void = () => {},
): RatingsDataset {
  if (format !== undefined && !(MOVIELENS_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format must be one of ${MOVIELENS_FORMATS.join(', ')}, got '${format}'`);
  }
  const known = format as MovieLensFormat | undefined;
  const { dataset, report } = parseRatingsWithReport(readInput(dataPath, '--data'), { fileName: dataPath, format: known });
  if (report.duplicatesMerged > 0) {
    onNote(
      `${dataPath}: ${report.duplicatesMerged} repeated (user, item) ratings merged, the latest by timestamp kept (${dataset.rating.length} of ${report.lines} lines)`,
    );
  }
  if (itemsPath === undefined) return dataset;
  return attachItems(dataset, parseItems(readInput(itemsPath, '--items'), { fileName: itemsPath, format: known }));
}

/** The file as a stream of chunks, after checking it can be opened (a usage error naming the option). */
function readInput(path: string, option: string): Iterable<Uint8Array> {
  try {
    closeSync(openSync(path, 'r'));
  } catch (error) {
    throw new UsageError(`${option}: cannot read ${path}: ${errorMessage(error)}`);
  }
  return readFileChunks(path);
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

/**
 * The model definition and checked hyperparameters, with problems as usage errors. With
 * `tunedDefaultsPath`, the model's entry of that file (written by `abrec tune --write-defaults`)
 * is laid over the built-in defaults and under `params`, and said on `onNote`.
 */
export function resolveModelOption(
  name: string | undefined,
  params: Hyperparameters,
  options: { tunedDefaultsPath?: string; onNote?: (line: string) => void } = {},
): { definition: ModelDefinition; params: Hyperparameters } {
  if (!name) throw new UsageError(`--model is required: one of ${MODEL_NAMES.join(', ')}`);
  let definition: ModelDefinition;
  try {
    definition = getModel(name);
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
  let tuned: Hyperparameters = {};
  const entry = options.tunedDefaultsPath === undefined ? undefined : readTunedDefaults(options.tunedDefaultsPath)[definition.name];
  if (entry) {
    // A setting the model no longer has (the file is older than the model) is skipped, not fatal.
    tuned = Object.fromEntries(Object.entries(entry.params).filter(([key]) => Object.hasOwn(definition.defaults, key)));
    const shown = Object.entries(tuned)
      .map(([key, value]) => `${key}=${String(value)}`)
      .join(' ');
    options.onNote?.(
      `tuned defaults for ${definition.name} from ${options.tunedDefaultsPath} (${entry.metric} ${typeof entry.test_score === 'number' ? entry.test_score.toFixed(4) : '?'} on its test split): ${shown}`,
    );
  }
  try {
    return { definition, params: resolveHyperparameters(definition.name, definition.defaults, { ...tuned, ...params }) };
  } catch (error) {
    throw new UsageError(errorMessage(error));
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

/** The protocol options `evaluate` and `tune` share. */
/** The options naming a ratings file, its item file, their format and the model (evaluate, train, tune). */
export const DATASET_OPTIONS = {
  data: { type: 'string' },
  items: { type: 'string' },
  format: { type: 'string' },
  model: { type: 'string' },
} as const;

export const PROTOCOL_OPTIONS = {
  split: { type: 'string' },
  'train-ratio': { type: 'string' },
  n: { type: 'string' },
  'min-ratings': { type: 'string' },
} as const;

/** The held-out split chosen by `--split`, `--train-ratio`, `--n` and `--seed` (checked, naming the option). */
export function holdoutOption(values: { split?: string; 'train-ratio'?: string; n?: string }, seed: number): HoldoutOptions {
  let kind: string = values.split ?? 'random';
  let trainRatio = numberOption(values['train-ratio'], '--train-ratio', 0.75);
  // Before --split named the protocol it was the training share; a number still means that.
  if (values.split !== undefined && /^[0-9.]+$/.test(values.split)) {
    if (values['train-ratio'] !== undefined) throw new UsageError('--split R and --train-ratio R are the same setting: give --split random --train-ratio R');
    trainRatio = numberOption(values.split, '--split', 0.75);
    kind = 'random';
  }
  if (!(HOLDOUT_KINDS as readonly string[]).includes(kind)) throw new UsageError(`--split must be one of ${HOLDOUT_KINDS.join(', ')}, got '${kind}'`);
  if (!(trainRatio > 0 && trainRatio < 1))
    throw new UsageError(`--train-ratio must be strictly between 0 and 1, got '${values['train-ratio'] ?? values.split}'`);
  if (kind === 'leave-last-n' && values['train-ratio'] !== undefined) throw new UsageError('--train-ratio does not apply to --split leave-last-n (use --n)');
  if (kind !== 'leave-last-n' && values.n !== undefined) throw new UsageError(`--n applies to --split leave-last-n only, not ${kind}`);
  const n = numberOption(values.n, '--n', 1, { integer: true, min: 1 });
  return { kind: kind as HoldoutOptions['kind'], trainRatio, n, seed };
}

/** `--min-ratings K` cleaning (K >= 1; 1 keeps everything), reported on `onNote`. */
export function applyMinRatings(
  dataset: RatingsDataset,
  raw: string | undefined,
  onNote: (line: string) => void,
): { dataset: RatingsDataset; cleaning?: CleaningReport } {
  const minRatings = numberOption(raw, '--min-ratings', 1, { integer: true, min: 1 });
  if (minRatings === 1) return { dataset };
  const cleaned = cleanMinRatings(dataset, minRatings);
  onNote(describeCleaning(cleaned.report));
  if (cleaned.dataset.rating.length === 0) throw new UsageError(`--min-ratings ${minRatings} drops every rating`);
  return { dataset: cleaned.dataset, cleaning: cleaned.report };
}

const HELP = `Usage:
  abrec evaluate --data FILE [--items FILE] --task rating  --model NAME [--format F] [--split random|temporal|leave-last-n] [--folds 5] [--seed 0] [--json]
  abrec evaluate --data FILE [--items FILE] --task ranking --model NAME [--format F] [--split random|temporal|leave-last-n] [--train-ratio 0.75] [--k 10] [--seed 42] [--json]

Evaluates one model offline on a MovieLens ratings file (u.data, ratings.dat or ratings.csv).

  rating   --split random (default): shuffle the ratings with the seed, cut --folds equal folds,
           train on all but one and predict the held-out one; reports mean rmse, mae and
           fit_seconds per fold. --split temporal | leave-last-n: one held-out split (below).
  ranking  the held-out split (below); every held-out item is relevant and training items are
           not candidates; reports precision_at_k, recall_at_k, f1_at_k, ndcg_at_k, map_at_k,
           auc, coverage and fit_seconds.

Held-out splits (per user; users with one rating only train):
  random        shuffle each user's ratings with the seed, keep --train-ratio for training
  temporal      each user's ratings in time order: the first --train-ratio train, that user's
                latest ones test (a per-user cut, not one global date)
  leave-last-n  each user's --n latest ratings test (at least one stays in training)

Options:
  --data FILE          ratings file (required); repeated (user, item) ratings keep the latest
  --items FILE         item file (u.item, movies.dat, movies.csv); needed by the content model
  --format FORMAT      ml-100k | ml-1m | ml-latest (default: detected from the file)
  --task TASK          rating | ranking (required)
  --model NAME         ${MODEL_NAMES.join(' | ')}
  --param NAME=VALUE   override a hyperparameter (repeatable), e.g. --param factors=50; the
                       defaults are the model's, or those abrec tune --write-defaults wrote to
                       model-artifacts/tuned-defaults.json (or $ABREC_TUNED_DEFAULTS)
  --split KIND         random | temporal | leave-last-n (default random); a number R is the
                       older spelling of --split random --train-ratio R
  --train-ratio R      random / temporal: training share per user (default 0.75)
  --n N                leave-last-n: latest ratings per user held out (default 1)
  --min-ratings K      first drop users and items with fewer than K ratings, repeated until
                       none is left under K; what was dropped goes to stderr (default 1: none)
  --folds N            rating, random split: number of folds (default 5)
  --k K                ranking: list length (default 10)
  --seed S             shuffling seed (default 0 for rating, 42 for ranking)
  --json               print the result as one JSON object on the last line of stdout
Progress goes to stderr.

Example: abrec evaluate --data data/synthetic/u.data --task ranking --model als --k 10`;

/** The `evaluate` command. */
export const evaluateCommand: CliCommand = {
  path: ['evaluate'],
  summary: 'evaluate a model offline (k-fold RMSE or top-K ranking metrics)',
  help: HELP,
  run: async (argv: string[], io: CliIO): Promise<number> => {
    const values = parseCommandArgs(argv, {
      ...DATASET_OPTIONS,
      task: { type: 'string' },
      param: { type: 'string', multiple: true },
      folds: { type: 'string' },
      ...PROTOCOL_OPTIONS,
      k: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean', default: false },
    });
    if (!values.data) throw new UsageError('--data FILE is required');
    if (values.task !== 'rating' && values.task !== 'ranking') throw new UsageError(`--task must be rating or ranking, got '${values.task ?? ''}'`);
    const note = (line: string): void => io.stderr(`${line}\n`);
    const { definition, params } = resolveModelOption(values.model, parseParamOptions(values.param), {
      tunedDefaultsPath: tunedDefaultsPath(io.env),
      onNote: note,
    });
    if (definition.needsItems && !values.items) throw new UsageError(`model ${definition.name} needs item metadata: pass --items FILE`);
    const folds = numberOption(values.folds, '--folds', 5, { integer: true, min: 2 });
    const k = numberOption(values.k, '--k', 10, { integer: true, min: 1 });
    const seed = numberOption(values.seed, '--seed', values.task === 'rating' ? 0 : 42, { integer: true });
    const holdout = holdoutOption(values, seed);
    const kFold = values.task === 'rating' && holdout.kind === 'random';
    if (values.task === 'rating' && holdout.kind === 'random' && (values['train-ratio'] !== undefined || values.split?.match(/^[0-9.]+$/))) {
      throw new UsageError("--train-ratio does not apply to the rating task's random protocol, which is k-fold (--folds)");
    }
    if (values.folds !== undefined && !kFold)
      throw new UsageError(`--folds applies to the rating task with --split random only, not ${values.task} with --split ${holdout.kind}`);
    const loaded = loadRatingsFiles(values.data, values.items, values.format, note);
    const { dataset, cleaning } = applyMinRatings(loaded, values['min-ratings'], note);
    const extra = cleaning ? { cleaning } : {};
    const onProgress = note;
    if (kFold) {
      const result = asUsageErrors(() => evaluateRating({ dataset, model: definition, params, folds, seed, onProgress }));
      io.stdout(
        `${definition.name} rating ${folds}-fold: rmse ${result.rmse.toFixed(4)}  mae ${result.mae.toFixed(4)}  fit ${result.fit_seconds.toFixed(3)} s/fold\n`,
      );
      if (values.json) io.stdout(`${JSON.stringify({ ...result, protocol: 'random', ...extra })}\n`);
      return 0;
    }
    if (values.task === 'ranking' && holdout.kind === 'random') {
      const result = asUsageErrors(() => evaluateRanking({ dataset, model: definition, params, split: holdout.trainRatio, k, seed, onProgress }));
      io.stdout(
        `${definition.name} ranking split ${holdout.trainRatio} k ${k}: P@${k} ${result.precision_at_k.toFixed(4)}  R@${k} ${result.recall_at_k.toFixed(4)}  ` +
          `nDCG@${k} ${result.ndcg_at_k.toFixed(4)}  MAP@${k} ${result.map_at_k.toFixed(4)}  AUC ${result.auc.toFixed(4)}  ` +
          `coverage ${result.coverage.toFixed(4)}  fit ${result.fit_seconds.toFixed(3)} s\n`,
      );
      if (values.json) io.stdout(`${JSON.stringify({ ...result, protocol: 'random', train_ratio: holdout.trainRatio, ...extra })}\n`);
      return 0;
    }
    const rows = holdoutSplit(dataset, holdout);
    const protocol = {
      protocol: holdout.kind,
      ...(holdout.kind === 'leave-last-n' ? { n: holdout.n } : { train_ratio: holdout.trainRatio }),
      train: rows.train.length,
      test: rows.test.length,
    };
    if (values.task === 'rating') {
      const result = asUsageErrors(() => evaluateRatingOnSplit({ dataset, model: definition, params, split: rows }));
      io.stdout(
        `${definition.name} rating ${describeHoldout(holdout)}: rmse ${result.rmse.toFixed(4)}  mae ${result.mae.toFixed(4)}  fit ${result.fit_seconds.toFixed(3)} s\n`,
      );
      if (values.json) io.stdout(`${JSON.stringify({ task: 'rating', ...result, ...protocol, ...extra })}\n`);
      return 0;
    }
    const result = asUsageErrors(() => evaluateRankingOnSplit({ dataset, model: definition, params, split: rows, k, onProgress }));
    const m = result.metrics;
    io.stdout(
      `${definition.name} ranking ${describeHoldout(holdout)} k ${k}: P@${k} ${m.precision_at_k.toFixed(4)}  R@${k} ${m.recall_at_k.toFixed(4)}  ` +
        `nDCG@${k} ${m.ndcg_at_k.toFixed(4)}  MAP@${k} ${m.map_at_k.toFixed(4)}  AUC ${m.auc.toFixed(4)}  coverage ${m.coverage.toFixed(4)}  fit ${result.fit_seconds.toFixed(3)} s\n`,
    );
    if (values.json) {
      io.stdout(
        `${JSON.stringify({ task: 'ranking', model: result.model, k, seed, ...m, fit_seconds: result.fit_seconds, hyperparameters: result.hyperparameters, ...protocol, ...extra })}\n`,
      );
    }
    return 0;
  },
};
