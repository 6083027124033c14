/** Shared helpers of the model tests: a held-out split and quick ranking / rating scores. */
import { subsetRatings } from '../../../../lambdas/domain/recommenders/data/dataset.ts';
import { evaluateRanking, ratingErrors } from '../../../../lambdas/domain/recommenders/evaluation.ts';
import type { ModelDefinition } from '../../../../lambdas/domain/recommenders/models/registry.ts';
import type { FactorModel, Hyperparameters, RatingsDataset } from '../../../../lambdas/domain/recommenders/types.ts';

/** Every fifth row held out: a fixed, seed-free split for rating tests. */
export function holdOutEveryFifth(dataset: RatingsDataset): { train: RatingsDataset; testRows: Int32Array } {
  const trainRows: number[] = [];
  const testRows: number[] = [];
  for (let r = 0; r < dataset.rating.length; r++) (r % 5 === 4 ? testRows : trainRows).push(r);
  return { train: subsetRatings(dataset, trainRows), testRows: Int32Array.from(testRows) };
}

/** Held-out RMSE of a trainer on the every-fifth split. */
export function heldOutRmse(dataset: RatingsDataset, train: (d: RatingsDataset) => FactorModel): number {
  const split = holdOutEveryFifth(dataset);
  return ratingErrors(train(split.train), dataset, split.testRows).rmse;
}

/** Precision@10 on the 0.75 per-user split. */
export function precisionAt10(dataset: RatingsDataset, model: string | ModelDefinition, params: Hyperparameters = {}): number {
  return evaluateRanking({ dataset, model, params, split: 0.75, k: 10, seed: 7 }).precision_at_k;
}
