/**
 * Hyperparameter tuning as `abrec tune` runs it. Pure: the results file and the console are the
 * caller's.
 *
 * Protocol: the data are split once by the evaluation protocol (./protocol.ts) into a training
 * and a test part. Every trial is scored by cross-validation on the TRAINING part only; the
 * test part is used once at the end, to score the best settings (and the defaults beside them),
 * so the number reported is not the one the search optimised.
 *
 * - rmse / mae: `folds`-fold cross-validation of the training ratings (seed `seed`).
 * - precision@K, recall@K, ndcg@K, map@K: with `--split random`, `folds` repeated per-user
 *   splits of the training part at the protocol's training share (seeds seed + 1 ..); with
 *   temporal or leave-last-n one inner split of the same kind (each user's latest training
 *   ratings validate), since a time-ordered split has only one way to cut.
 *
 * Search: `random` draws trial i from its own stream (deriveSeed(seed, i)), so a trial does not
 * depend on the others; `bayes` is a Tree-structured Parzen Estimator (Bergstra et al. 2011):
 * after `startupTrials` random trials, each parameter is drawn from the best quarter of the
 * trials so far (Gaussian kernels on numbers, smoothed counts on choices) and the candidate with
 * the highest ratio of good to bad density among 24 is run. Both are deterministic for a seed
 * and the trials before, so a resumed search replays exactly.
 */
import { kFoldSplits, type Split } from './data/splits.ts';
import { deriveSeed, sfc32, type Random } from './data/random.ts';
import { subsetRatings } from './data/dataset.ts';
import { evaluateRankingOnSplit, evaluateRatingOnSplit, type RankingMetricsReport } from './evaluation.ts';
import type { ModelDefinition } from './models/registry.ts';
import { holdoutSplit, type HoldoutOptions } from './protocol.ts';
import type { Hyperparameters, RatingsDataset } from './types.ts';
import { errorMessage } from '../assert-error.ts';

/** A scalar hyperparameter value. */
export type ParamValue = number | string | boolean;

/** How one hyperparameter is searched. */
export type ParamSpec = { kind: 'choice'; values: ParamValue[] } | { kind: 'range'; min: number; max: number; log: boolean; integer: boolean };

export type SearchSpace = Record<string, ParamSpec>;

/** A problem with a search space or a tuning setting; the message names it. */
export class TuningError extends Error {
  override readonly name = 'TuningError';
}

// ---------------------------------------------------------------------------------------------
// Spaces

function scalar(text: string): ParamValue {
  const trimmed = text.trim();
  if (trimmed === 'true' || trimmed === 'false') return trimmed === 'true';
  const number = Number(trimmed);
  return trimmed !== '' && Number.isFinite(number) ? number : trimmed;
}

/**
 * One `--param` of the command line: `name=1,2,3` (choices), `name=0.01..0.1` (uniform),
 * `name=0.001..0.1:log` (log-uniform); a range with integer bounds (`10..200`) draws integers.
 */
export function parseParamSpec(text: string): [string, ParamSpec] {
  const at = text.indexOf('=');
  if (at <= 0) throw new TuningError(`--param expects name=v1,v2,... or name=min..max[:log], got '${text}'`);
  const name = text.slice(0, at).trim();
  const body = text.slice(at + 1).trim();
  const range = /^(-?[0-9.eE+-]+)\.\.(-?[0-9.eE+-]+)(:log)?$/.exec(body);
  if (range) {
    const spec = rangeSpec(name, Number(range[1]), Number(range[2]), range[3] !== undefined, !/[.eE]/.test(range[1] + range[2]));
    return [name, spec];
  }
  const values = body.split(',').map(scalar);
  if (body === '' || values.some((value) => value === '')) throw new TuningError(`--param ${name}: empty value in '${body}'`);
  return [name, { kind: 'choice', values }];
}

function rangeSpec(name: string, min: number, max: number, log: boolean, integer: boolean): ParamSpec {
  if (!Number.isFinite(min) || !Number.isFinite(max) || !(min < max)) throw new TuningError(`${name}: range needs finite min < max, got ${min}..${max}`);
  if (log && !(min > 0)) throw new TuningError(`${name}: a log range needs min > 0, got ${min}`);
  return { kind: 'range', min, max, log, integer };
}

/**
 * A space file (JSON): each key a hyperparameter, its value a list of choices or
 * `{ "min": a, "max": b, "log"?: bool, "integer"?: bool }`.
 */
export function parseSpaceJson(text: string, fileName: string): SearchSpace {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new TuningError(`${fileName}: not JSON (${errorMessage(error)})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new TuningError(`${fileName}: expected an object of hyperparameter names`);
  const space: SearchSpace = {};
  for (const [name, value] of Object.entries(raw)) {
    if (Array.isArray(value)) {
      if (value.length === 0 || !value.every((v) => ['number', 'string', 'boolean'].includes(typeof v))) {
        throw new TuningError(`${fileName}: ${name} must be a non-empty list of numbers, strings or booleans`);
      }
      space[name] = { kind: 'choice', values: value as ParamValue[] };
    } else if (
      typeof value === 'object' &&
      value !== null &&
      typeof (value as { min?: unknown }).min === 'number' &&
      typeof (value as { max?: unknown }).max === 'number'
    ) {
      const { min, max, log, integer } = value as { min: number; max: number; log?: unknown; integer?: unknown };
      space[name] = rangeSpec(`${fileName}: ${name}`, min, max, log === true, integer === true);
    } else {
      throw new TuningError(`${fileName}: ${name} must be a list of values or {"min": number, "max": number, "log"?: true, "integer"?: true}`);
    }
  }
  if (Object.keys(space).length === 0) throw new TuningError(`${fileName}: the space has no hyperparameter`);
  return space;
}

/** Checks every name of the space against the model's hyperparameters and each value's type. */
export function checkSpace(space: SearchSpace, definition: ModelDefinition): void {
  for (const [name, spec] of Object.entries(space)) {
    if (!Object.hasOwn(definition.defaults, name)) {
      throw new TuningError(`unknown hyperparameter '${name}' for model ${definition.name}: expected one of ${Object.keys(definition.defaults).join(', ')}`);
    }
    const expected = typeof definition.defaults[name];
    const values = spec.kind === 'choice' ? spec.values : [spec.min];
    for (const value of values) {
      if (typeof value !== expected)
        throw new TuningError(`hyperparameter '${name}' of model ${definition.name} takes ${expected} values, got ${JSON.stringify(value)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Metrics

/** What the search optimises. */
export interface TuningMetric {
  /** As written: rmse, mae, precision@10, ndcg@10 ... */
  name: string;
  /** Key in the evaluation results. */
  key: 'rmse' | 'mae' | keyof RankingMetricsReport;
  task: 'rating' | 'ranking';
  /** List length for ranking metrics. */
  k: number;
  minimise: boolean;
}

/** Parses `rmse`, `mae`, `precision@K`, `recall@K`, `ndcg@K` or `map@K`. */
export function parseMetric(text: string): TuningMetric {
  if (text === 'rmse' || text === 'mae') return { name: text, key: text, task: 'rating', k: 0, minimise: true };
  const match = /^(precision|recall|ndcg|map)@([1-9][0-9]*)$/.exec(text);
  if (!match) throw new TuningError(`--metric must be rmse, mae, precision@K, recall@K, ndcg@K or map@K, got '${text}'`);
  return { name: text, key: `${match[1]}_at_k` as keyof RankingMetricsReport, task: 'ranking', k: Number(match[2]), minimise: false };
}

/** True when `a` is a strictly better score than `b`. */
export function better(metric: TuningMetric, a: number, b: number): boolean {
  return metric.minimise ? a < b : a > b;
}

// ---------------------------------------------------------------------------------------------
// Samplers

/** One trial as recorded. */
export interface TrialRecord {
  index: number;
  params: Hyperparameters;
  /** Mean cross-validated score on the training part. */
  score: number;
  foldScores: number[];
  fitSeconds: number;
}

function drawRange(spec: Extract<ParamSpec, { kind: 'range' }>, random: Random): number {
  const u = random();
  if (spec.integer) {
    const low = Math.ceil(spec.min);
    const high = Math.floor(spec.max);
    if (spec.log) return Math.min(high, Math.floor(Math.exp(Math.log(low) + u * (Math.log(high + 1) - Math.log(low)))));
    return Math.min(high, low + Math.floor(u * (high - low + 1)));
  }
  return spec.log ? Math.exp(Math.log(spec.min) + u * (Math.log(spec.max) - Math.log(spec.min))) : spec.min + u * (spec.max - spec.min);
}

function drawRandom(space: SearchSpace, random: Random): Hyperparameters {
  const params: Hyperparameters = {};
  for (const [name, spec] of Object.entries(space)) {
    params[name] = spec.kind === 'choice' ? spec.values[Math.floor(random() * spec.values.length)] : roundNumber(drawRange(spec, random));
  }
  return params;
}

/** 6 significant digits: values print and compare cleanly in the results file. */
function roundNumber(value: number): number {
  return Number(value.toPrecision(6));
}

const TPE_GAMMA = 0.25;
const TPE_CANDIDATES = 24;

/** Position of a range value in the sampler's (linear or log) coordinates. */
function toUnit(spec: Extract<ParamSpec, { kind: 'range' }>, value: number): number {
  return spec.log ? (Math.log(value) - Math.log(spec.min)) / (Math.log(spec.max) - Math.log(spec.min)) : (value - spec.min) / (spec.max - spec.min);
}

function fromUnit(spec: Extract<ParamSpec, { kind: 'range' }>, unit: number): number {
  // Reflected at the bounds: clamping would pile proposals onto the edges.
  let u = Math.abs(unit) % 2;
  if (u > 1) u = 2 - u;
  const value = spec.log ? Math.exp(Math.log(spec.min) + u * (Math.log(spec.max) - Math.log(spec.min))) : spec.min + u * (spec.max - spec.min);
  return spec.integer ? Math.min(Math.floor(spec.max), Math.max(Math.ceil(spec.min), Math.round(value))) : roundNumber(value);
}

/** Parzen density on [0, 1] of the points, with a uniform prior as one more kernel. */
function parzen(points: number[], x: number): number {
  const bandwidth = Math.max(0.05, 1 / (points.length + 1) ** 0.2 / 4);
  let sum = 1; // the uniform prior on [0, 1]
  for (const p of points) sum += Math.exp(-0.5 * ((x - p) / bandwidth) ** 2) / (bandwidth * Math.sqrt(2 * Math.PI));
  return sum / (points.length + 1);
}

function choiceDensity(values: ParamValue[], observed: ParamValue[], value: ParamValue): number {
  let count = 1; // add-one smoothing
  for (const v of observed) if (v === value) count++;
  return count / (observed.length + values.length);
}

/** The TPE proposal for the next trial given those done (see the module comment). */
function drawTpe(space: SearchSpace, history: TrialRecord[], metric: TuningMetric, random: Random): Hyperparameters {
  const ranked = [...history].sort((a, b) => (metric.minimise ? a.score - b.score : b.score - a.score) || a.index - b.index);
  const goodCount = Math.max(1, Math.ceil(TPE_GAMMA * ranked.length));
  const good = ranked.slice(0, goodCount);
  const bad = ranked.slice(goodCount);
  let best: Hyperparameters | undefined;
  let bestRatio = -Infinity;
  for (let c = 0; c < TPE_CANDIDATES; c++) {
    const candidate: Hyperparameters = {};
    let logRatio = 0;
    for (const [name, spec] of Object.entries(space)) {
      if (spec.kind === 'choice') {
        const goodValues = good.map((trial) => trial.params[name]);
        // Draw from the good trials' smoothed distribution.
        let u = random();
        let value = spec.values[spec.values.length - 1];
        for (const v of spec.values) {
          u -= choiceDensity(spec.values, goodValues, v);
          if (u < 0) {
            value = v;
            break;
          }
        }
        candidate[name] = value;
        logRatio +=
          Math.log(choiceDensity(spec.values, goodValues, value)) -
          Math.log(
            choiceDensity(
              spec.values,
              bad.map((trial) => trial.params[name]),
              value,
            ),
          );
      } else {
        const goodPoints = good.map((trial) => toUnit(spec, Number(trial.params[name])));
        const bandwidth = Math.max(0.05, 1 / (goodPoints.length + 1) ** 0.2 / 4);
        // A kernel of a good point (or the prior), then a Gaussian step.
        const pick = Math.floor(random() * (goodPoints.length + 1));
        const centre = pick < goodPoints.length ? goodPoints[pick] : random();
        const u1 = Math.max(random(), 1e-12);
        const gaussian = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * random());
        const value = fromUnit(spec, centre + bandwidth * gaussian);
        candidate[name] = value;
        const x = toUnit(spec, value);
        logRatio +=
          Math.log(parzen(goodPoints, x)) -
          Math.log(
            parzen(
              bad.map((trial) => toUnit(spec, Number(trial.params[name]))),
              x,
            ),
          );
      }
    }
    if (logRatio > bestRatio) {
      bestRatio = logRatio;
      best = candidate;
    }
  }
  return best ?? drawRandom(space, random);
}

/** The settings of trial `index` given the trials before it (same inputs, same settings). */
export function proposeTrial(options: {
  space: SearchSpace;
  search: 'random' | 'bayes';
  seed: number;
  index: number;
  history: TrialRecord[];
  metric: TuningMetric;
  startupTrials: number;
}): Hyperparameters {
  const random = sfc32(deriveSeed(options.seed, options.index));
  if (options.search === 'random' || options.history.length < options.startupTrials) return drawRandom(options.space, random);
  return drawTpe(options.space, options.history, options.metric, random);
}

// ---------------------------------------------------------------------------------------------
// Scoring

/** The training and test parts of the tuning protocol. */
export interface TuningData {
  /** Ratings of the training part, in the full data set's index space. */
  train: RatingsDataset;
  split: Split;
}

/** Splits the data once into the part the search sees and the test part it never sees. */
export function tuningSplit(dataset: RatingsDataset, holdout: HoldoutOptions): TuningData {
  const split = holdoutSplit(dataset, holdout);
  if (split.test.length === 0) throw new TuningError('the held-out split leaves no test ratings: the data are too small');
  return { train: subsetRatings(dataset, split.train), split };
}

/** The inner validation splits of the training part (see the module comment). */
export function validationSplits(train: RatingsDataset, metric: TuningMetric, holdout: HoldoutOptions, folds: number): Split[] {
  if (metric.task === 'rating') return kFoldSplits(train, { folds, seed: holdout.seed });
  if (holdout.kind !== 'random') return [holdoutSplit(train, holdout)];
  return Array.from({ length: folds }, (_, fold) => holdoutSplit(train, { ...holdout, seed: holdout.seed + 1 + fold }));
}

/** The metric of a model trained on `split.train` of `dataset` and scored on `split.test`. */
export function scoreOnSplit(
  dataset: RatingsDataset,
  definition: ModelDefinition,
  params: Hyperparameters,
  split: Split,
  metric: TuningMetric,
): { score: number; fitSeconds: number } {
  if (metric.task === 'rating') {
    const result = evaluateRatingOnSplit({ dataset, model: definition, params, split });
    return { score: metric.key === 'mae' ? result.mae : result.rmse, fitSeconds: result.fit_seconds };
  }
  const result = evaluateRankingOnSplit({ dataset, model: definition, params, split, k: metric.k });
  return { score: result.metrics[metric.key as keyof RankingMetricsReport], fitSeconds: result.fit_seconds };
}

/** The best trial: lowest error or highest ranking metric, the earlier on a tie. */
export function bestTrial(trials: readonly TrialRecord[], metric: TuningMetric): TrialRecord | undefined {
  let best: TrialRecord | undefined;
  for (const trial of trials) if (!best || better(metric, trial.score, best.score)) best = trial;
  return best;
}
