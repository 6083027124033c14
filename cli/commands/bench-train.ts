/**
 * `abrec bench train` (npm run bench:train): fit time and accuracy of every model on seeded
 * synthetic data of MovieLens-100K and MovieLens-1M size, with the same protocols as
 * `abrec evaluate` (k-fold RMSE for rating models, the 0.75 per-user split at K = 10 for
 * ranking models). Prints a table; --json adds one JSON object as the last line.
 */
import { UsageError, type CliCommand, type CliIO } from '../command.ts';
import { generateSyntheticMovieLens, ML_100K_SIZE, ML_1M_SIZE } from '../../lambdas/domain/recommenders/data/synthetic.ts';
import { evaluateRating, holdoutEvaluation } from '../../lambdas/domain/recommenders/evaluation.ts';
import { getModel, MODEL_NAMES, type ModelName } from '../../lambdas/domain/recommenders/models/registry.ts';
import { searchHyperparameters, type SearchResult, type SearchSpace } from '../../lambdas/domain/recommenders/models/search.ts';
import { kFoldSplits, stratifiedRatioSplit } from '../../lambdas/domain/recommenders/data/splits.ts';
import { subsetRatings } from '../../lambdas/domain/recommenders/data/dataset.ts';
import { numberOption, parseCommandArgs } from './evaluate.ts';

/** One row of the benchmark table. */
export interface BenchTrainRow {
  size: string;
  model: string;
  task: 'rating' | 'ranking';
  users: number;
  items: number;
  ratings: number;
  /** Rating task: mean fit seconds per fold; ranking task: fit seconds on the 75% split. */
  fit_seconds: number;
  rmse?: number;
  mae?: number;
  precision_at_10?: number;
  recall_at_10?: number;
  ndcg_at_10?: number;
  map_at_10?: number;
  auc?: number;
  coverage?: number;
}

const SIZES: Record<string, { users: number; items: number; ratings: number }> = {
  '100k': ML_100K_SIZE,
  '1m': ML_1M_SIZE,
  /** The --quick size: a few seconds for the whole table. */
  small: { users: 300, items: 600, ratings: 20_000 },
};

const DEFAULT_MODELS: ModelName[] = ['popularity', 'baseline', 'svd', 'svd-tuned', 'als', 'bpr', 'content'];

const HELP = `Usage:
  abrec bench train [--quick] [--sizes 100k,1m] [--models NAMES] [--folds 5] [--seed 1] [--search] [--json]

Generates seeded synthetic MovieLens-like data of ML-100K and ML-1M size and reports, per model,
fit time and accuracy: rating models (baseline, svd, svd-tuned) by k-fold RMSE / MAE with the
mean fit time per fold; ranking models (popularity, als, bpr, content) by Precision@10, nDCG@10,
MAP@10, AUC and coverage on the 0.75 per-user split, with the fit time on that split.

Options:
  --quick          a small data set (300 users, 600 items, 20k ratings) and 2 folds
  --sizes LIST     comma-separated among 100k, 1m, small (default 100k,1m)
  --models LIST    comma-separated model names (default ${DEFAULT_MODELS.join(',')})
  --folds N        folds for the rating models (default 5)
  --seed S         seed of the synthetic data (default 1); protocol seeds are 0 (rating), 42 (ranking)
  --search         also re-run the hyperparameter searches behind the svd-tuned and als defaults
                   (cross-validated on training data only) and print the settings they pick
  --json           print {"results": [...]} as the last line of stdout
Progress goes to stderr.`;

/** Runs the benchmark rows for one data size. */
export function benchTrainSize(
  sizeName: string,
  models: ModelName[],
  options: { folds: number; seed: number; onProgress?: (message: string) => void },
): BenchTrainRow[] {
  const size = SIZES[sizeName];
  const { dataset } = generateSyntheticMovieLens({ ...size, seed: options.seed });
  const rows: BenchTrainRow[] = [];
  const shape = { size: sizeName, users: dataset.userIds.length, items: dataset.itemIds.length, ratings: dataset.rating.length };
  for (const name of models) {
    const definition = getModel(name);
    if (definition.task === 'rating') {
      const result = evaluateRating({ dataset, model: definition, folds: options.folds, seed: 0, onProgress: options.onProgress });
      rows.push({ ...shape, model: name, task: 'rating', fit_seconds: result.fit_seconds, rmse: result.rmse, mae: result.mae });
    } else {
      const { fit_seconds, metrics } = holdoutEvaluation(dataset, definition, { onProgress: options.onProgress });
      rows.push({ ...shape, model: name, task: 'ranking', fit_seconds, ...metrics });
    }
  }
  return rows;
}

/** The spaces `--search` explores around the shipped defaults. */
export const SEARCH_SPACES: { model: ModelName; metric: 'rmse' | 'precision_at_k'; space: SearchSpace; folds: number }[] = [
  { model: 'svd-tuned', metric: 'rmse', space: { factors: [16, 20], reg: [0.12, 0.15], lrBias: [0.005, 0.01], lrDecay: [0.93, 0.95] }, folds: 5 },
  { model: 'als', metric: 'precision_at_k', space: { factors: [12, 14, 16], reg: [30, 40, 60], alpha: [2, 3], iterations: [15, 25] }, folds: 3 },
];

/**
 * Re-runs the hyperparameter searches behind the tuned defaults on synthetic data of one
 * size. Rating: k-fold CV on all ratings (the rating benchmark is itself cross-validated).
 * Ranking: CV inside the 75% training part of the ranking split (seed 42), so the held-out
 * 25% used by the benchmark plays no part in the choice.
 */
export function benchSearch(sizeName: string, options: { seed: number; onProgress?: (message: string) => void }): SearchResult[] {
  const { dataset } = generateSyntheticMovieLens({ ...SIZES[sizeName], seed: options.seed });
  // Each search sees only training data of the protocol it is scored by: the training part of
  // the first of the 5 rating folds (seed 0), and the 75 % per-user training split (seed 42).
  const ratingTrain = subsetRatings(dataset, kFoldSplits(dataset, { folds: 5, seed: 0 })[0].train);
  const rankingTrain = subsetRatings(dataset, stratifiedRatioSplit(dataset, { ratio: 0.75, seed: 42 }).train);
  return SEARCH_SPACES.map(({ model, metric, space, folds }) =>
    searchHyperparameters({
      dataset: metric === 'rmse' ? ratingTrain : rankingTrain,
      model,
      space,
      folds,
      metric,
      seed: 0,
      onProgress: options.onProgress,
    }),
  );
}

/** The printed table: one line per (size, model). */
export function formatBenchTrainTable(rows: BenchTrainRow[]): string {
  const header = ['size', 'model', 'task', 'fit s', 'rmse', 'mae', 'P@10', 'R@10', 'nDCG@10', 'MAP@10', 'AUC', 'coverage'];
  const cell = (value: number | undefined, digits = 4): string => (value === undefined ? '-' : value.toFixed(digits));
  const lines = rows.map((row) => [
    row.size,
    row.model,
    row.task,
    cell(row.fit_seconds, 3),
    cell(row.rmse),
    cell(row.mae),
    cell(row.precision_at_10),
    cell(row.recall_at_10),
    cell(row.ndcg_at_10),
    cell(row.map_at_10),
    cell(row.auc),
    cell(row.coverage),
  ]);
  const widths = header.map((title, c) => Math.max(title.length, ...lines.map((line) => line[c].length)));
  const render = (line: string[]): string => line.map((value, c) => value.padEnd(widths[c])).join('  ').trimEnd();
  return [render(header), render(widths.map((w) => '-'.repeat(w))), ...lines.map(render)].join('\n');
}

/** The `bench train` command. */
export const benchTrainCommand: CliCommand = {
  path: ['bench', 'train'],
  summary: 'benchmark model fit time and accuracy on synthetic ML-100K / ML-1M sized data',
  help: HELP,
  run: async (argv: string[], io: CliIO): Promise<number> => {
    const values = parseCommandArgs(argv, {
      quick: { type: 'boolean', default: false },
      sizes: { type: 'string' },
      models: { type: 'string' },
      folds: { type: 'string' },
      seed: { type: 'string' },
      search: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    });
    const sizes = (values.sizes ?? (values.quick ? 'small' : '100k,1m')).split(',').map((s) => s.trim()).filter(Boolean);
    for (const size of sizes) if (!Object.hasOwn(SIZES, size)) throw new UsageError(`--sizes: unknown size '${size}', expected 100k, 1m or small`);
    const models = (values.models ?? DEFAULT_MODELS.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
    for (const model of models) if (!(MODEL_NAMES as string[]).includes(model)) throw new UsageError(`--models: unknown model '${model}', expected ${MODEL_NAMES.join(', ')}`);
    const folds = numberOption(values.folds, '--folds', values.quick ? 2 : 5, { integer: true, min: 2 });
    const seed = numberOption(values.seed, '--seed', 1, { integer: true });
    const onProgress = (message: string): void => io.stderr(`${message}\n`);
    const rows: BenchTrainRow[] = [];
    for (const size of sizes) {
      io.stderr(`generating synthetic ${size} data (seed ${seed})\n`);
      rows.push(...benchTrainSize(size, models as ModelName[], { folds, seed, onProgress }));
    }
    io.stdout(`${formatBenchTrainTable(rows)}\n`);
    const searches: { size: string; model: string; metric: string; best: unknown; score: number }[] = [];
    if (values.search) {
      for (const size of sizes) {
        const results = benchSearch(size, { seed, onProgress });
        results.forEach((result, index) => {
          const model = SEARCH_SPACES[index].model;
          searches.push({ size, model, metric: result.metric, best: result.best, score: result.bestScore });
          io.stdout(`search ${size} ${model}: best ${JSON.stringify(result.best)} cross-validated ${result.metric} ${result.bestScore.toFixed(4)}\n`);
        });
      }
    }
    if (values.json) io.stdout(`${JSON.stringify({ seed, folds, results: rows, ...(values.search ? { searches } : {}) })}\n`);
    return 0;
  },
};
