/**
 * The models by name, as the CLI, the evaluation protocol and the hyperparameter search see
 * them: each one a pure `train(dataset, hyperparameters, options) => FactorModel` with its
 * defaults, so settings from the command line or a search are checked in one place.
 */
import type { FactorModel, Hyperparameters, RatingsDataset } from '../types.ts';
import { ALS_DEFAULTS, trainImplicitAls } from './als.ts';
import { BASELINE_DEFAULTS, trainBaseline } from './baseline.ts';
import { BPR_DEFAULTS, trainBpr } from './bpr.ts';
import { HyperparameterError, type TrainOptions } from './common.ts';
import { CONTENT_DEFAULTS, trainContent } from './content.ts';
import { EASE_DEFAULTS, EASE_LOWRANK_DEFAULTS, trainEase } from './ease.ts';
import { ITEM_KNN_DEFAULTS, trainItemKnn } from './item-knn.ts';
import { POPULARITY_DEFAULTS, trainPopularity } from './popularity.ts';
import { SVD_REFERENCE_DEFAULTS, SVD_TUNED_DEFAULTS, trainSvd } from './svd.ts';
import { SVDPP_DEFAULTS, trainSvdpp } from './svdpp.ts';

export type ModelName = 'popularity' | 'baseline' | 'svd' | 'svd-tuned' | 'svdpp' | 'als' | 'bpr' | 'ease' | 'ease-lowrank' | 'item-knn' | 'content';

/** What the model is built for; every model can be evaluated on both tasks. */
export type ModelTask = 'rating' | 'ranking';

export interface ModelDefinition {
  name: ModelName;
  summary: string;
  task: ModelTask;
  defaults: Hyperparameters;
  /** Needs item metadata (an item file). */
  needsItems: boolean;
  train: (dataset: RatingsDataset, params?: Hyperparameters, options?: TrainOptions) => FactorModel;
}

function define<P extends object>(
  name: ModelName,
  summary: string,
  task: ModelTask,
  defaults: P,
  trainer: (dataset: RatingsDataset, params: Partial<P>, options: TrainOptions) => FactorModel,
  needsItems = false,
): ModelDefinition {
  const base = { ...defaults } as Hyperparameters;
  return {
    name,
    summary,
    task,
    defaults: base,
    needsItems,
    // resolveHyperparameters only admits the keys of the defaults, each with the default's type.
    train: (dataset, params = {}, options = {}) => trainer(dataset, resolveHyperparameters(name, base, params) as Partial<P>, options),
  };
}

/** Every model by name. */
export const MODELS: Record<ModelName, ModelDefinition> = {
  popularity: define('popularity', 'most-rated items first (log of the rating count)', 'ranking', POPULARITY_DEFAULTS, trainPopularity),
  baseline: define('baseline', 'global mean + user and item biases (Surprise BaselineOnly)', 'rating', BASELINE_DEFAULTS, trainBaseline),
  svd: define('svd', "biased MF by SGD with Surprise SVD's settings (the reference)", 'rating', SVD_REFERENCE_DEFAULTS, trainSvd),
  'svd-tuned': define(
    'svd-tuned',
    'biased MF by SGD, tuned: fewer factors, decaying learning rate, baseline-initialised biases',
    'rating',
    SVD_TUNED_DEFAULTS,
    (dataset, params, options) => trainSvd(dataset, params, options, 'svd-tuned'),
  ),
  svdpp: define('svdpp', 'SVD++: biased MF plus implicit feedback (which items each user rated), by SGD', 'rating', SVDPP_DEFAULTS, trainSvdpp),
  als: define('als', 'implicit-feedback ALS (Hu, Koren, Volinsky) with conjugate gradient, for top-N', 'ranking', ALS_DEFAULTS, trainImplicitAls),
  bpr: define('bpr', 'Bayesian personalised ranking (BPR-MF with item biases), for top-N', 'ranking', BPR_DEFAULTS, trainBpr),
  ease: define(
    'ease',
    'EASE (Steck 2019): closed-form item-item weights; served exactly as item-count factors (user = 0/1 row, item = column of B)',
    'ranking',
    EASE_DEFAULTS,
    (dataset, params, options) => trainEase(dataset, params, options, 'ease'),
  ),
  'ease-lowrank': define(
    'ease-lowrank',
    "EASE distilled to rank-k factors: the training users' EASE scores projected on their dominant k-dim row space",
    'ranking',
    EASE_LOWRANK_DEFAULTS,
    (dataset, params, options) => trainEase(dataset, params, options, 'ease-lowrank'),
  ),
  'item-knn': define(
    'item-knn',
    "item-based kNN: cosine over the 0/1 columns, top-k neighbours per item, summed over the user's items",
    'ranking',
    ITEM_KNN_DEFAULTS,
    trainItemKnn,
  ),
  content: define('content', 'TF-IDF over genres and title words, cosine to the liked-items profile', 'ranking', CONTENT_DEFAULTS, trainContent, true),
};

export const MODEL_NAMES = Object.keys(MODELS) as ModelName[];

/** Looks a model up by name, with an error that lists the valid names. */
export function getModel(name: string): ModelDefinition {
  if (!Object.hasOwn(MODELS, name)) throw new HyperparameterError(`unknown model '${name}': expected one of ${MODEL_NAMES.join(', ')}`);
  return MODELS[name as ModelName];
}

/**
 * Defaults overridden by `params`, each override checked to be a known parameter of the same
 * type (numbers given as strings, e.g. from the command line, are converted).
 */
export function resolveHyperparameters(model: string, defaults: Hyperparameters, params: Hyperparameters): Hyperparameters {
  const resolved: Hyperparameters = { ...defaults };
  for (const [name, value] of Object.entries(params)) {
    if (!Object.hasOwn(defaults, name)) {
      throw new HyperparameterError(`unknown hyperparameter '${name}' for model ${model}: expected one of ${Object.keys(defaults).join(', ')}`);
    }
    const expected = typeof defaults[name];
    if (expected === 'number') {
      const number = typeof value === 'string' ? Number(value) : value;
      if (typeof number !== 'number' || !Number.isFinite(number))
        throw new HyperparameterError(`hyperparameter '${name}' of model ${model} must be a number, got ${String(value)}`);
      resolved[name] = number;
    } else if (expected === 'boolean') {
      if (typeof value === 'boolean') resolved[name] = value;
      else if (value === 'true' || value === 'false') resolved[name] = value === 'true';
      else throw new HyperparameterError(`hyperparameter '${name}' of model ${model} must be true or false, got ${String(value)}`);
    } else {
      resolved[name] = String(value);
    }
  }
  return resolved;
}
