/**
 * Offline evaluation protocols, as `abrec evaluate` runs them:
 *
 * - rating: shuffle the ratings with the seed, cut k equal folds (sizes differ by at most
 *   one), train on k - 1 and predict the held-out fold; mean RMSE, MAE and fit seconds.
 * - ranking: per user, shuffle that user's ratings with the seed and keep `split` of them for
 *   training (at least one on each side); every held-out item is relevant, items seen in
 *   training are removed from the candidates; mean P@K, R@K, F1@K, nDCG@K, MAP@K and AUC over
 *   users with held-out items, catalogue coverage of the top-K lists, and fit seconds.
 *
 * The held-out splits of `--split temporal | leave-last-n` (./protocol.ts) are scored by
 * evaluateRankingOnSplit and evaluateRatingOnSplit, which take any train/test rows.
 *
 * Fit time is wall-clock around `train` only (performance.now), not around scoring.
 */
import { ratingsByUser, subsetRatings } from './data/dataset.ts';
import { kFoldSplits, stratifiedRatioSplit, type Split } from './data/splits.ts';
import { evaluateRanking as rankingMetrics, mae as meanAbsoluteError, rmse as rootMeanSquaredError } from './metrics.ts';
import { predictRating, scoreAllItems } from './models/common.ts';
import { getModel, type ModelDefinition } from './models/registry.ts';
import type { FactorModel, Hyperparameters, RatingsDataset } from './types.ts';

/** A progress line for stderr. */
export type EvaluationProgress = (message: string) => void;

export interface RatingEvaluationOptions {
  dataset: RatingsDataset;
  /** A model name from the registry or a definition. */
  model: string | ModelDefinition;
  params?: Hyperparameters;
  folds: number;
  seed: number;
  onProgress?: EvaluationProgress;
}

export interface FoldResult {
  fold: number;
  train: number;
  test: number;
  rmse: number;
  mae: number;
  fit_seconds: number;
}

export interface RatingEvaluation {
  task: 'rating';
  model: string;
  folds: number;
  seed: number;
  ratings: number;
  rmse: number;
  mae: number;
  fit_seconds: number;
  per_fold: FoldResult[];
  hyperparameters: Hyperparameters;
}

export interface RankingEvaluationOptions {
  dataset: RatingsDataset;
  model: string | ModelDefinition;
  params?: Hyperparameters;
  /** Share of each user's ratings kept for training, in (0, 1). */
  split: number;
  k: number;
  seed: number;
  onProgress?: EvaluationProgress;
}

export interface RankingEvaluation extends RankingMetricsReport {
  task: 'ranking';
  model: string;
  split: number;
  k: number;
  seed: number;
  fit_seconds: number;
  hyperparameters: Hyperparameters;
}

/** Thrown for protocol settings that cannot work; the message names the setting. */
export class EvaluationError extends Error {
  override readonly name = 'EvaluationError';
}

function resolveModel(model: string | ModelDefinition): ModelDefinition {
  return typeof model === 'string' ? getModel(model) : model;
}

/** Trains a model and measures the wall-clock seconds of training alone. */
export function timedTrain(definition: ModelDefinition, dataset: RatingsDataset, params: Hyperparameters = {}): { model: FactorModel; seconds: number } {
  const start = performance.now();
  const model = definition.train(dataset, params);
  return { model, seconds: (performance.now() - start) / 1000 };
}

/** RMSE and MAE of clipped predictions on the given rows. */
export function ratingErrors(model: FactorModel, dataset: RatingsDataset, rows: ArrayLike<number>): { rmse: number; mae: number } {
  const actual = new Float64Array(rows.length);
  const predicted = new Float64Array(rows.length);
  for (let j = 0; j < rows.length; j++) {
    const r = rows[j];
    actual[j] = dataset.rating[r];
    predicted[j] = predictRating(model, dataset.userIndex[r], dataset.itemIndex[r]);
  }
  return { rmse: rootMeanSquaredError(actual, predicted), mae: meanAbsoluteError(actual, predicted) };
}

/** k-fold cross-validated rating prediction (see the module comment). */
export function evaluateRating(options: RatingEvaluationOptions): RatingEvaluation {
  const definition = resolveModel(options.model);
  const { dataset, folds, seed } = options;
  if (!Number.isInteger(folds) || folds < 2) throw new EvaluationError(`folds must be an integer >= 2, got ${folds}`);
  const splits = kFoldSplits(dataset, { folds, seed });
  const perFold: FoldResult[] = [];
  let hyperparameters: Hyperparameters = {};
  for (let f = 0; f < folds; f++) {
    const { train, test } = splits[f];
    const { model, seconds } = timedTrain(definition, subsetRatings(dataset, train), options.params);
    hyperparameters = model.hyperparameters;
    const { rmse, mae } = ratingErrors(model, dataset, test);
    perFold.push({ fold: f + 1, train: train.length, test: test.length, rmse, mae, fit_seconds: seconds });
    options.onProgress?.(`${definition.name} fold ${f + 1}/${folds}: rmse ${rmse.toFixed(4)} mae ${mae.toFixed(4)} fit ${seconds.toFixed(2)}s`);
  }
  const mean = (key: 'rmse' | 'mae' | 'fit_seconds'): number => perFold.reduce((sum, fold) => sum + fold[key], 0) / folds;
  return {
    task: 'rating',
    model: definition.name,
    folds,
    seed,
    ratings: dataset.rating.length,
    rmse: mean('rmse'),
    mae: mean('mae'),
    fit_seconds: mean('fit_seconds'),
    per_fold: perFold,
    hyperparameters,
  };
}

/** The per-user ratio-split top-K protocol (see the module comment). */
export function evaluateRanking(options: RankingEvaluationOptions): RankingEvaluation {
  const { dataset, split, k, seed } = options;
  if (!(split > 0 && split < 1)) throw new EvaluationError(`split must be strictly between 0 and 1, got ${split}`);
  const rows = stratifiedRatioSplit(dataset, { ratio: split, seed });
  const result = evaluateRankingOnSplit({ dataset, model: options.model, params: options.params, split: rows, k, onProgress: options.onProgress });
  return { task: 'ranking', model: result.model, split, k, seed, ...result.metrics, fit_seconds: result.fit_seconds, hyperparameters: result.hyperparameters };
}

/** Top-K metrics of a ranking evaluation, as reported. */
export interface RankingMetricsReport {
  users_evaluated: number;
  precision_at_k: number;
  recall_at_k: number;
  f1_at_k: number;
  ndcg_at_k: number;
  map_at_k: number;
  auc: number;
  coverage: number;
}

/**
 * Top-K ranking metrics on a given train/test split of `dataset` (row indices): the model is
 * trained on the training rows, every test item is relevant, training items are not candidates.
 */
export function evaluateRankingOnSplit(options: {
  dataset: RatingsDataset;
  model: string | ModelDefinition;
  params?: Hyperparameters;
  split: Split;
  k: number;
  onProgress?: EvaluationProgress;
}): { model: string; metrics: RankingMetricsReport; fit_seconds: number; hyperparameters: Hyperparameters } {
  const definition = resolveModel(options.model);
  const { dataset, k } = options;
  const { train, test } = options.split;
  if (!Number.isInteger(k) || k < 1) throw new EvaluationError(`k must be a positive integer, got ${k}`);
  const { model, seconds } = timedTrain(definition, subsetRatings(dataset, train), options.params);
  options.onProgress?.(`${definition.name}: trained on ${train.length} ratings in ${seconds.toFixed(2)}s, scoring ${test.length} held-out`);
  const metrics = rankingMetrics({
    train: ratingsByUser(dataset, train),
    test: ratingsByUser(dataset, test),
    itemCount: dataset.itemIds.length,
    k,
    scoreUser: (user, out) => scoreAllItems(model, user, out),
  });
  return {
    model: definition.name,
    metrics: {
      users_evaluated: metrics.users,
      precision_at_k: metrics.precisionAtK,
      recall_at_k: metrics.recallAtK,
      f1_at_k: metrics.f1AtK,
      ndcg_at_k: metrics.ndcgAtK,
      map_at_k: metrics.mapAtK,
      auc: metrics.auc,
      coverage: metrics.coverage,
    },
    fit_seconds: seconds,
    hyperparameters: model.hyperparameters,
  };
}

/** RMSE and MAE of a model trained on the training rows of a split and scored on its test rows. */
export function evaluateRatingOnSplit(options: { dataset: RatingsDataset; model: string | ModelDefinition; params?: Hyperparameters; split: Split }): {
  model: string;
  rmse: number;
  mae: number;
  fit_seconds: number;
  train: number;
  test: number;
  hyperparameters: Hyperparameters;
} {
  const definition = resolveModel(options.model);
  const { train, test } = options.split;
  if (test.length === 0) throw new EvaluationError('the split leaves no rating to test');
  const { model, seconds } = timedTrain(definition, subsetRatings(options.dataset, train), options.params);
  const { rmse, mae } = ratingErrors(model, options.dataset, test);
  return { model: definition.name, rmse, mae, fit_seconds: seconds, train: train.length, test: test.length, hyperparameters: model.hyperparameters };
}

/** The top-10 figures of the holdout protocol, as manifests record them. */
export interface HoldoutMetrics {
  precision_at_10: number;
  recall_at_10: number;
  ndcg_at_10: number;
  map_at_10: number;
  auc: number;
  coverage: number;
}

/** The per-user holdout of {@link holdoutEvaluation}: 75 % of each user's ratings train, 25 % test, seed 42. */
export const HOLDOUT_SPLIT = { ratio: 0.75, seed: 42 } as const;

/**
 * The offline protocol every published manifest records, and `abrec train --evaluate` and
 * `abrec bench train` print: top-10 ranking quality on a 75/25 per-user holdout, seed 42 (the
 * same as `abrec evaluate --task ranking --split 0.75 --k 10 --seed 42`).
 */
export function holdoutEvaluation(
  dataset: RatingsDataset,
  model: string | ModelDefinition,
  { params, onProgress }: { params?: Hyperparameters; onProgress?: EvaluationProgress } = {},
): { metrics: HoldoutMetrics; fit_seconds: number } {
  const result = evaluateRanking({ dataset, model, params, split: HOLDOUT_SPLIT.ratio, k: 10, seed: HOLDOUT_SPLIT.seed, onProgress });
  return {
    fit_seconds: result.fit_seconds,
    metrics: {
      precision_at_10: result.precision_at_k,
      recall_at_10: result.recall_at_k,
      ndcg_at_10: result.ndcg_at_k,
      map_at_10: result.map_at_k,
      auc: result.auc,
      coverage: result.coverage,
    },
  };
}
