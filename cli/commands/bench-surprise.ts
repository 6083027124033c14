/**
 * `abrec bench surprise`: a same-machine reference for the goal "fit time per fold at most half
 * of Surprise SVD's". Surprise cannot be installed here, so bench/surprise-reference/svd.c
 * ports its SVD (trainset construction, SGD loop, clipped prediction) to C; this command
 * compiles it with gcc, runs it on the same k folds as `abrec evaluate --task rating`, runs our
 * `svd`, `svd-tuned` and `svdpp` on those folds too, and prints RMSE and fit seconds per fold side by
 * side, with each model's fit time as a ratio to the reference.
 *
 * The C port skips the Python-level work Surprise does per rating (its `all_ratings()`
 * generator and tuple unpacking), so it fits at least as fast as Surprise: ratios against it
 * are upper bounds of the ratios against Surprise itself.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { numberOption, parseCommandArgs, UsageError, type CliCommand, type CliIO } from '../command.ts';
import { kFoldSplits } from '../../lambdas/domain/recommenders/data/splits.ts';
import { mulberry32, randomPermutation } from '../../lambdas/domain/recommenders/data/random.ts';
import { generateSyntheticMovieLens, ML_100K_SIZE } from '../../lambdas/domain/recommenders/data/synthetic.ts';
import { evaluateRating, type FoldResult } from '../../lambdas/domain/recommenders/evaluation.ts';
import type { ModelName } from '../../lambdas/domain/recommenders/models/registry.ts';
import type { RatingsDataset } from '../../lambdas/domain/recommenders/types.ts';
import { loadRatingsFiles } from './evaluate.ts';
import { textTable } from '../text-table.ts';

/** The C port of Surprise's SVD, next to this repository's sources. */
export const SURPRISE_REFERENCE_SOURCE = fileURLToPath(new URL('../../bench/surprise-reference/svd.c', import.meta.url));

/** gcc flags: -O2, as the brief for the reference fixed; `--cflags` measures others. */
export const DEFAULT_REFERENCE_CFLAGS: readonly string[] = ['-O2'];

/** Surprise SVD's settings, as the C program takes them. */
export interface SurpriseSvdSettings {
  factors: number;
  epochs: number;
  /** lr_all. */
  lr: number;
  /** reg_all. */
  reg: number;
  initMean: number;
  /** init_std_dev. */
  initStd: number;
  seed: number;
  ratingScale: readonly [number, number];
}

/** Surprise's defaults: SVD(n_factors=100, n_epochs=20, lr_all=0.005, reg_all=0.02, init_std_dev=0.1), ML-100K's 1-5 scale. */
export const SURPRISE_SVD_DEFAULTS: Readonly<SurpriseSvdSettings> = {
  factors: 100,
  epochs: 20,
  lr: 0.005,
  reg: 0.02,
  initMean: 0,
  initStd: 0.1,
  seed: 0,
  ratingScale: [1, 5],
};

/** What one run of the C reference prints. */
export interface ReferenceRun {
  fit_seconds: number;
  rmse: number;
  mae: number;
  global_mean: number;
  train_ratings: number;
  test_ratings: number;
  /** Test ratings whose user or item is not in the training part (predicted from biases). */
  test_unknown: number;
  users: number;
  items: number;
}

/** The reference could not be built or run; the message says why and what to do. */
export class SurpriseReferenceError extends Error {
  override readonly name = 'SurpriseReferenceError';
}

/**
 * Compiles the C reference into `outDir` and returns the executable's path.
 * @throws SurpriseReferenceError when the compiler is missing or the build fails.
 */
export function compileSurpriseReference(options: { outDir: string; compiler?: string; cflags?: readonly string[]; source?: string }): string {
  const compiler = options.compiler ?? 'gcc';
  const binary = join(options.outDir, 'surprise-svd');
  const args = [...(options.cflags ?? DEFAULT_REFERENCE_CFLAGS), '-std=c11', '-o', binary, options.source ?? SURPRISE_REFERENCE_SOURCE, '-lm'];
  const result = spawnSync(compiler, args, { encoding: 'utf8' });
  if (result.error) {
    const missing = (result.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new SurpriseReferenceError(
      missing
        ? `${compiler} was not found on PATH: the Surprise SVD reference is C and needs gcc to build (Debian/Ubuntu: apt-get install gcc)`
        : `cannot run ${compiler}: ${result.error.message}`,
    );
  }
  if (result.status !== 0) throw new SurpriseReferenceError(`${compiler} ${args.join(' ')} failed (exit ${result.status}):\n${result.stderr.trim()}`);
  return binary;
}

/** True when `gcc --version` runs: what the tests check before compiling the reference. */
export function hasCompiler(compiler = 'gcc'): boolean {
  const result = spawnSync(compiler, ['--version'], { encoding: 'utf8' });
  return !result.error && result.status === 0;
}

/**
 * The training rows of a fold in the order Surprise's KFold hands them to construct_trainset:
 * the shuffled order of all rows with the test block left out. `train` is the fold's row set
 * (from kFoldSplits, ascending); `shuffled` the permutation of all rows the folds were cut from.
 */
export function surpriseTrainOrder(shuffled: ArrayLike<number>, train: ArrayLike<number>, rows: number): Int32Array {
  const inTrain = new Uint8Array(rows);
  for (let k = 0; k < train.length; k++) inTrain[train[k]] = 1;
  const ordered = new Int32Array(train.length);
  let next = 0;
  for (let k = 0; k < shuffled.length; k++) if (inTrain[shuffled[k]]) ordered[next++] = shuffled[k];
  if (next !== train.length)
    throw new SurpriseReferenceError(`the shuffled order holds ${next} of the ${train.length} training rows: it is not a permutation of the data set's rows`);
  return ordered;
}

/**
 * The permutation kFoldSplits cuts its folds from (randomPermutation over mulberry32(seed));
 * only the training order depends on it, the fold contents always come from kFoldSplits.
 */
export function kFoldShuffle(rows: number, seed: number): Int32Array {
  return randomPermutation(rows, mulberry32(seed));
}

/**
 * The ratings as a u.data file (user, item, rating, timestamp, tab-separated), rows in data
 * set order so that row numbers in the fold files index its lines. Written directly rather
 * than through formatRatings so half-star scales (ml-latest) pass too.
 */
export function formatReferenceRatings(dataset: RatingsDataset): string {
  const lines: string[] = new Array(dataset.rating.length);
  for (let row = 0; row < dataset.rating.length; row++) {
    const user = dataset.userIds[dataset.userIndex[row]];
    const item = dataset.itemIds[dataset.itemIndex[row]];
    if (!/^[0-9]+$/.test(user) || !/^[0-9]+$/.test(item))
      throw new SurpriseReferenceError(`row ${row}: the reference needs non-negative integer ids, got user '${user}' item '${item}'`);
    lines[row] = `${user}\t${item}\t${dataset.rating[row]}\t${dataset.timestamp[row]}`;
  }
  return `${lines.join('\n')}\n`;
}

/** Row numbers, one a line: the fold files the C program reads. */
export function formatRowList(rows: ArrayLike<number>): string {
  return `${Array.from(rows, String).join('\n')}\n`;
}

/** Runs the compiled reference on one fold and returns what it printed, checked. */
export function runSurpriseReference(
  binary: string,
  files: { data: string; train: string; test: string },
  settings: Partial<SurpriseSvdSettings> = {},
): ReferenceRun {
  const s = { ...SURPRISE_SVD_DEFAULTS, ...settings };
  const args = [
    ['--data', files.data],
    ['--train', files.train],
    ['--test', files.test],
    ['--factors', String(s.factors)],
    ['--epochs', String(s.epochs)],
    ['--lr', String(s.lr)],
    ['--reg', String(s.reg)],
    ['--init-mean', String(s.initMean)],
    ['--init-std', String(s.initStd)],
    ['--seed', String(s.seed)],
    ['--rating-min', String(s.ratingScale[0])],
    ['--rating-max', String(s.ratingScale[1])],
  ].flat();
  const result = spawnSync(binary, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (result.error) throw new SurpriseReferenceError(`cannot run the Surprise SVD reference ${binary}: ${result.error.message}`);
  if (result.status !== 0) throw new SurpriseReferenceError(`the Surprise SVD reference failed (exit ${result.status}): ${result.stderr.trim()}`);
  return parseReferenceOutput(result.stdout);
}

/** Parses the reference's JSON line, insisting on finite numbers for every field used. */
export function parseReferenceOutput(stdout: string): ReferenceRun {
  const lines = stdout.trim().split('\n');
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
  } catch {
    throw new SurpriseReferenceError(`the Surprise SVD reference printed no JSON result: '${stdout.trim().slice(0, 200)}'`);
  }
  const keys: (keyof ReferenceRun)[] = ['fit_seconds', 'rmse', 'mae', 'global_mean', 'train_ratings', 'test_ratings', 'test_unknown', 'users', 'items'];
  const run = {} as ReferenceRun;
  for (const key of keys) {
    const value = parsed[key];
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new SurpriseReferenceError(`the Surprise SVD reference printed ${key} = ${String(value)}, expected a finite number`);
    run[key] = value;
  }
  return run;
}

/** One model's line of the comparison. */
export interface BenchSurpriseRow {
  model: string;
  rmse: number;
  mae: number;
  /** Mean fit seconds per fold. */
  fit_seconds: number;
  /** fit_seconds / the reference's fit_seconds (the goal: at most 0.5). */
  fit_ratio: number;
  per_fold: { fold: number; rmse: number; mae: number; fit_seconds: number }[];
}

export interface BenchSurpriseResult {
  data: { source: string; users: number; items: number; ratings: number; seed?: number };
  folds: number;
  seed: number;
  cflags: string[];
  reference: BenchSurpriseRow;
  results: BenchSurpriseRow[];
}

/** The name of the reference's row in the table and the JSON. */
export const REFERENCE_ROW_NAME = 'surprise-svd-c';

const COMPARED_MODELS: ModelName[] = ['svd', 'svd-tuned', 'svdpp'];

/**
 * Runs the reference and our models on the same k folds of `dataset` and compares them.
 * The reference runs first on every fold, then each of our models on every fold, one process
 * at a time, so they never compete for the cores.
 */
export function benchSurprise(options: {
  dataset: RatingsDataset;
  source: string;
  dataSeed?: number;
  folds: number;
  seed: number;
  cflags?: readonly string[];
  models?: ModelName[];
  onProgress?: (message: string) => void;
}): BenchSurpriseResult {
  const { dataset, folds, seed } = options;
  const cflags = [...(options.cflags ?? DEFAULT_REFERENCE_CFLAGS)];
  const dir = mkdtempSync(join(tmpdir(), 'abrec-surprise-'));
  try {
    const binary = compileSurpriseReference({ outDir: dir, cflags });
    options.onProgress?.(`compiled ${SURPRISE_REFERENCE_SOURCE} with gcc ${cflags.join(' ')}`);
    const data = join(dir, 'u.data');
    writeFileSync(data, formatReferenceRatings(dataset), 'latin1');
    const splits = kFoldSplits(dataset, { folds, seed });
    const shuffled = kFoldShuffle(dataset.rating.length, seed);
    const referenceFolds: FoldResult[] = splits.map((split, f) => {
      const train = join(dir, `fold${f + 1}.train`);
      const test = join(dir, `fold${f + 1}.test`);
      writeFileSync(train, formatRowList(surpriseTrainOrder(shuffled, split.train, dataset.rating.length)));
      writeFileSync(test, formatRowList(split.test));
      const run = runSurpriseReference(binary, { data, train, test }, { ratingScale: dataset.ratingScale });
      options.onProgress?.(
        `${REFERENCE_ROW_NAME} fold ${f + 1}/${folds}: rmse ${run.rmse.toFixed(4)} mae ${run.mae.toFixed(4)} fit ${run.fit_seconds.toFixed(2)}s`,
      );
      return { fold: f + 1, train: split.train.length, test: split.test.length, rmse: run.rmse, mae: run.mae, fit_seconds: run.fit_seconds };
    });
    const reference = summariseFolds(REFERENCE_ROW_NAME, referenceFolds, undefined);
    const results = (options.models ?? COMPARED_MODELS).map((model) => {
      const evaluation = evaluateRating({ dataset, model, folds, seed, onProgress: options.onProgress });
      return summariseFolds(model, evaluation.per_fold, reference.fit_seconds);
    });
    return {
      data: {
        source: options.source,
        users: dataset.userIds.length,
        items: dataset.itemIds.length,
        ratings: dataset.rating.length,
        ...(options.dataSeed === undefined ? {} : { seed: options.dataSeed }),
      },
      folds,
      seed,
      cflags,
      reference,
      results,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function summariseFolds(model: string, folds: FoldResult[], referenceFitSeconds: number | undefined): BenchSurpriseRow {
  const mean = (key: 'rmse' | 'mae' | 'fit_seconds'): number => folds.reduce((sum, fold) => sum + fold[key], 0) / folds.length;
  const fitSeconds = mean('fit_seconds');
  return {
    model,
    rmse: mean('rmse'),
    mae: mean('mae'),
    fit_seconds: fitSeconds,
    // A reference too fast for the clock would give Infinity; report 0 s as ratio 0 instead.
    fit_ratio: referenceFitSeconds === undefined ? 1 : referenceFitSeconds > 0 ? fitSeconds / referenceFitSeconds : 0,
    per_fold: folds.map(({ fold, rmse, mae, fit_seconds }) => ({ fold, rmse, mae, fit_seconds })),
  };
}

/** The printed table: the reference first, then our models. */
export function formatBenchSurpriseTable(result: BenchSurpriseResult): string {
  const header = ['model', 'rmse', 'mae', 'fit s/fold', 'fit ratio to reference'];
  const lines = [result.reference, ...result.results].map((row) => [
    row.model,
    row.rmse.toFixed(4),
    row.mae.toFixed(4),
    row.fit_seconds.toFixed(3),
    row.fit_ratio.toFixed(3),
  ]);
  return textTable([header, ...lines], { leftAligned: header.length }).join('\n');
}

const HELP = `Usage:
  abrec bench surprise [--quick] [--folds 5] [--seed 0] [--data-seed 1] [--data FILE] [--format F] [--cflags="-O2"] [--json]

Same-machine reference for Surprise's SVD, which cannot be installed here. Compiles
bench/surprise-reference/svd.c (a C port of Surprise's SVD: trainset construction, SGD loop,
clipped prediction; n_factors 100, n_epochs 20, lr_all 0.005, reg_all 0.02, init N(0, 0.1))
with gcc, runs it on the k folds of \`abrec evaluate --task rating\`, runs our svd, svd-tuned and svdpp
on the same folds, and prints mean RMSE, MAE, fit seconds per fold and each fit time as a ratio
to the reference's. The port leaves out Surprise's per-rating Python overhead, so it fits at
least as fast as Surprise: the ratios are upper bounds. Needs gcc on PATH.

Options:
  --quick          2 folds instead of 5
  --folds N        number of folds (default 5)
  --seed S         fold shuffling seed (default 0, as abrec evaluate --task rating)
  --data-seed S    seed of the synthetic ML-100K-sized data (default 1, as bench train)
  --data FILE      a MovieLens ratings file (u.data, ratings.dat, ratings.csv) instead of synthetic data
  --format FORMAT  ml-100k | ml-1m | ml-latest, for --data (default: detected)
  --cflags=FLAGS   gcc flags for the reference, space-separated, given with = (default "${DEFAULT_REFERENCE_CFLAGS.join(' ')}")
  --json           print the result as one JSON object on the last line of stdout
Progress goes to stderr.

Example: abrec bench surprise --quick`;

/** The `bench surprise` command. */
export const benchSurpriseCommand: CliCommand = {
  path: ['bench', 'surprise'],
  summary: "compare svd / svd-tuned / svdpp with a same-machine C port of Surprise's SVD (RMSE, fit time)",
  help: HELP,
  run: async (argv: string[], io: CliIO): Promise<number> => {
    const values = parseCommandArgs(argv, {
      quick: { type: 'boolean', default: false },
      folds: { type: 'string' },
      seed: { type: 'string' },
      'data-seed': { type: 'string' },
      data: { type: 'string' },
      format: { type: 'string' },
      cflags: { type: 'string' },
      json: { type: 'boolean', default: false },
    });
    const folds = numberOption(values.folds, '--folds', values.quick ? 2 : 5, { integer: true, min: 2 });
    const seed = numberOption(values.seed, '--seed', 0, { integer: true });
    const dataSeed = numberOption(values['data-seed'], '--data-seed', 1, { integer: true });
    if (values.data !== undefined && values['data-seed'] !== undefined) throw new UsageError('--data-seed applies to synthetic data only: drop it or --data');
    if (values.format !== undefined && values.data === undefined) throw new UsageError('--format needs --data FILE');
    const cflags = values.cflags === undefined ? [...DEFAULT_REFERENCE_CFLAGS] : values.cflags.split(/\s+/).filter(Boolean);
    if (cflags.length === 0) throw new UsageError('--cflags must name at least one flag, e.g. "-O2"');
    const onProgress = (message: string): void => io.stderr(`${message}\n`);
    let dataset: RatingsDataset;
    let source: string;
    if (values.data !== undefined) {
      dataset = loadRatingsFiles(values.data, undefined, values.format);
      source = values.data;
    } else {
      onProgress(`generating synthetic ML-100K-sized data (seed ${dataSeed})`);
      dataset = generateSyntheticMovieLens({ ...ML_100K_SIZE, seed: dataSeed }).dataset;
      source = 'synthetic-ml-100k';
    }
    if (folds > dataset.rating.length) throw new UsageError(`--folds (${folds}) must not exceed the number of ratings (${dataset.rating.length})`);
    const result = benchSurprise({ dataset, source, dataSeed: values.data === undefined ? dataSeed : undefined, folds, seed, cflags, onProgress });
    io.stdout(`${formatBenchSurpriseTable(result)}\n`);
    if (values.json) io.stdout(`${JSON.stringify(result)}\n`);
    return 0;
  },
};
