/**
 * The popularity baseline: every user gets the same ranking, most-rated items first.
 * Expressed as a factor model with zero factors and the score in the item bias.
 */
import type { FactorModel, Hyperparameters, RatingsDataset } from '../types.ts';
import { assembleModel, HyperparameterError, summariseTraining, type TrainOptions } from './common.ts';

export interface PopularityParams {
  /** 'log-count' scores log(1 + ratings); 'count' the raw count. Both give the same ranking. */
  scoring: 'log-count' | 'count';
}

export const POPULARITY_DEFAULTS: PopularityParams = { scoring: 'log-count' };

/** Trains the popularity baseline: itemBias = log1p(count) (or count), no factors. */
export function trainPopularity(dataset: RatingsDataset, params: Partial<PopularityParams> = {}, options: TrainOptions = {}): FactorModel {
  const settings = { ...POPULARITY_DEFAULTS, ...params };
  if (settings.scoring !== 'log-count' && settings.scoring !== 'count') {
    throw new HyperparameterError(`hyperparameter scoring must be 'log-count' or 'count', got ${String(settings.scoring)}`);
  }
  const summary = summariseTraining(dataset, options.source);
  const itemBias = new Float32Array(summary.itemPopularity.length);
  for (let i = 0; i < itemBias.length; i++) {
    itemBias[i] = settings.scoring === 'count' ? summary.itemPopularity[i] : Math.log1p(summary.itemPopularity[i]);
  }
  options.onProgress?.({ algorithm: 'popularity', step: 1, totalSteps: 1 });
  const hyperparameters: Hyperparameters = { scoring: settings.scoring };
  return assembleModel(
    dataset,
    summary,
    {
      algorithm: 'popularity',
      factors: 0,
      userFactors: new Float32Array(0),
      itemFactors: new Float32Array(0),
      userBias: new Float32Array(dataset.userIds.length),
      itemBias,
      globalBias: 0,
      hyperparameters,
    },
    options,
  );
}
