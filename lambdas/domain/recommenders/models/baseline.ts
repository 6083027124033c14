/**
 * Baseline estimates (Koren 2010, Surprise's BaselineOnly): rating = mean + b_u + b_i, fitted
 * by alternating least squares with separate shrinkage for users and items. The rating-task
 * counterpart of the popularity baseline, and the bias initialisation some models reuse.
 */
import type { FactorModel, RatingsDataset } from '../types.ts';
import { assembleModel, summariseTraining, toFloat32, type TrainOptions } from './common.ts';

export interface BaselineParams {
  epochs: number;
  /** Shrinkage of user biases (Surprise's reg_u). */
  regUser: number;
  /** Shrinkage of item biases (Surprise's reg_i). */
  regItem: number;
}

/** Surprise's BaselineOnly defaults: 10 ALS epochs, reg_u 15, reg_i 10. */
export const BASELINE_DEFAULTS: BaselineParams = { epochs: 10, regUser: 15, regItem: 10 };

/** Fits user and item biases around the global mean by alternating least squares. */
export function fitBiases(dataset: RatingsDataset, globalMean: number, settings: BaselineParams): { userBias: Float64Array; itemBias: Float64Array } {
  const userBias = new Float64Array(dataset.userIds.length);
  const itemBias = new Float64Array(dataset.itemIds.length);
  const sums = new Float64Array(Math.max(userBias.length, itemBias.length));
  const counts = new Float64Array(sums.length);
  const { userIndex, itemIndex, rating } = dataset;
  for (let epoch = 0; epoch < settings.epochs; epoch++) {
    sums.fill(0);
    counts.fill(0);
    for (let r = 0; r < rating.length; r++) {
      sums[itemIndex[r]] += rating[r] - globalMean - userBias[userIndex[r]];
      counts[itemIndex[r]]++;
    }
    for (let i = 0; i < itemBias.length; i++) itemBias[i] = sums[i] / (settings.regItem + counts[i]);
    sums.fill(0);
    counts.fill(0);
    for (let r = 0; r < rating.length; r++) {
      sums[userIndex[r]] += rating[r] - globalMean - itemBias[itemIndex[r]];
      counts[userIndex[r]]++;
    }
    for (let u = 0; u < userBias.length; u++) userBias[u] = sums[u] / (settings.regUser + counts[u]);
  }
  return { userBias, itemBias };
}

/** Trains the bias-only model (no factors). */
export function trainBaseline(dataset: RatingsDataset, params: Partial<BaselineParams> = {}, options: TrainOptions = {}): FactorModel {
  const settings = { ...BASELINE_DEFAULTS, ...params };
  const summary = summariseTraining(dataset, options.source);
  const { userBias, itemBias } = fitBiases(dataset, summary.globalMean, settings);
  options.onProgress?.({ algorithm: 'baseline', step: settings.epochs, totalSteps: settings.epochs });
  return assembleModel(
    dataset,
    summary,
    {
      algorithm: 'baseline',
      factors: 0,
      userFactors: new Float32Array(0),
      itemFactors: new Float32Array(0),
      userBias: toFloat32(userBias),
      itemBias: toFloat32(itemBias),
      globalBias: summary.globalMean,
      hyperparameters: { ...settings },
    },
    options,
  );
}
