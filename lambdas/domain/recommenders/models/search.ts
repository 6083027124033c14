/**
 * A small hyperparameter search: grid or seeded random sampling over a discrete space, each
 * candidate cross-validated on the data it is given (pass the TRAINING part only, so the final
 * test split never influences the choice).
 *
 * Cross-validation: rating metrics use k-fold (evaluateRating); ranking metrics average
 * `folds` repeated per-user ratio splits (evaluateRanking) with seeds seed, seed + 1, ... at
 * the ratio of the target protocol (default 0.75), so the settings are chosen for the same
 * training share per user they will be used with.
 */
import { evaluateRanking, evaluateRating } from '../evaluation.ts';
import { randomInt, sfc32 } from '../data/random.ts';
import type { Hyperparameters, RatingsDataset } from '../types.ts';
import { HyperparameterError } from './common.ts';
import { getModel, type ModelDefinition } from './registry.ts';

/** Metrics the search can optimise; errors are minimised, the rest maximised. */
export type SearchMetric = 'rmse' | 'mae' | 'precision_at_k' | 'recall_at_k' | 'ndcg_at_k' | 'map_at_k' | 'auc';

/** Candidate values per hyperparameter. */
export type SearchSpace = Record<string, readonly (number | string | boolean)[]>;

export interface SearchOptions {
  dataset: RatingsDataset;
  model: string | ModelDefinition;
  space: SearchSpace;
  folds: number;
  metric: SearchMetric;
  seed: number;
  /** 'grid' tries every combination; 'random' samples `trials` distinct ones. Default grid. */
  strategy?: 'grid' | 'random';
  trials?: number;
  /** Fixed settings applied to every candidate. */
  base?: Hyperparameters;
  /** List length for ranking metrics (default 10). */
  k?: number;
  /** Training share per user of each ranking split (default 0.75). */
  rankingSplit?: number;
  onProgress?: (message: string) => void;
}

export interface SearchTrial {
  params: Hyperparameters;
  score: number;
  fitSeconds: number;
}

export interface SearchResult {
  metric: SearchMetric;
  best: Hyperparameters;
  bestScore: number;
  /** Every trial in the order run. */
  trials: SearchTrial[];
}

const MINIMISED: ReadonlySet<SearchMetric> = new Set(['rmse', 'mae']);

/** Every combination of the space, in a fixed order (last key varies fastest). */
export function gridCandidates(space: SearchSpace): Hyperparameters[] {
  let combos: Hyperparameters[] = [{}];
  for (const [name, values] of Object.entries(space)) {
    if (values.length === 0) throw new HyperparameterError(`search space for ${name} is empty`);
    combos = combos.flatMap((combo) => values.map((value) => ({ ...combo, [name]: value })));
  }
  return combos;
}

/** `trials` distinct combinations drawn with the seed (all of them if the grid is smaller). */
export function randomCandidates(space: SearchSpace, trials: number, seed: number): Hyperparameters[] {
  const grid = gridCandidates(space);
  if (trials >= grid.length) return grid;
  const random = sfc32(seed);
  const picked = new Set<number>();
  while (picked.size < trials) picked.add(randomInt(random, grid.length));
  return [...picked].sort((a, b) => a - b).map((index) => grid[index]);
}

/** Cross-validated score of one setting. */
function crossValidate(options: SearchOptions, definition: ModelDefinition, params: Hyperparameters): { score: number; fitSeconds: number } {
  if (options.metric === 'rmse' || options.metric === 'mae') {
    const result = evaluateRating({ dataset: options.dataset, model: definition, params, folds: options.folds, seed: options.seed });
    return { score: result[options.metric], fitSeconds: result.fit_seconds };
  }
  let score = 0;
  let fitSeconds = 0;
  for (let fold = 0; fold < options.folds; fold++) {
    const result = evaluateRanking({
      dataset: options.dataset,
      model: definition,
      params,
      split: options.rankingSplit ?? 0.75,
      k: options.k ?? 10,
      seed: options.seed + fold,
    });
    score += result[options.metric];
    fitSeconds += result.fit_seconds;
  }
  return { score: score / options.folds, fitSeconds: fitSeconds / options.folds };
}

/** Runs the search and returns the best setting (ties: the earlier candidate). */
export function searchHyperparameters(options: SearchOptions): SearchResult {
  const definition = typeof options.model === 'string' ? getModel(options.model) : options.model;
  if (!Number.isInteger(options.folds) || options.folds < 2) throw new HyperparameterError(`folds must be an integer >= 2, got ${options.folds}`);
  const strategy = options.strategy ?? 'grid';
  const candidates = strategy === 'grid' ? gridCandidates(options.space) : randomCandidates(options.space, options.trials ?? 10, options.seed);
  const minimise = MINIMISED.has(options.metric);
  const trials: SearchTrial[] = [];
  let best: SearchTrial | undefined;
  for (const [index, candidate] of candidates.entries()) {
    const params = { ...options.base, ...candidate };
    const { score, fitSeconds } = crossValidate(options, definition, params);
    const trial = { params, score, fitSeconds };
    trials.push(trial);
    if (!best || (minimise ? score < best.score : score > best.score)) best = trial;
    options.onProgress?.(`${definition.name} trial ${index + 1}/${candidates.length} ${JSON.stringify(candidate)}: ${options.metric} ${score.toFixed(4)}`);
  }
  if (!best) throw new HyperparameterError('the search space has no candidates');
  return { metric: options.metric, best: best.params, bestScore: best.score, trials };
}
