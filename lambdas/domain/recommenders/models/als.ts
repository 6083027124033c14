/**
 * Implicit-feedback ALS (Hu, Koren and Volinsky 2008) solved with a few conjugate-gradient
 * steps per row (Takács et al. 2011), for top-N ranking. Every rated item is a positive
 * preference with confidence c = 1 + alpha * w, where w is the rating (or 1); every unrated
 * item is a zero preference with confidence 1. The loss is
 *
 *   sum_{u,i} c_ui (p_ui - x_u . y_i)^2 + reg (|X|^2 + |Y|^2)
 *
 * and each half-step minimises it exactly in X (or Y) up to the CG tolerance. Scores are
 * dot(x_u, y_i) plus an optional popularity prior in the item bias.
 */
import type { FactorModel, RatingsDataset } from '../types.ts';
import { assembleModel, HyperparameterError, summariseTraining, toFloat32, type TrainOptions } from './common.ts';
import { createRandom, fillGaussian } from './random.ts';

export interface AlsParams {
  factors: number;
  iterations: number;
  /** L2 regularisation of both factor matrices. */
  reg: number;
  /** Confidence slope: c = 1 + alpha * w. */
  alpha: number;
  /** 1: w = rating; 0: w = 1 for every interaction. */
  ratingWeighted: number;
  /** Conjugate-gradient steps per row and half-iteration. */
  cgSteps: number;
  /** Adds popularityWeight * log(1 + count) to each item's score (0 = pure ALS). */
  popularityWeight: number;
  initStd: number;
  seed: number;
}

/**
 * Settings picked by `bench train --search`: Precision@10 cross-validated (two repeated 0.75
 * per-user splits) inside the training part of synthetic ML-100K-sized data. Few factors suit
 * the synthetic data's planted rank of 12; real MovieLens may want more (search again).
 */
export const ALS_DEFAULTS: AlsParams = {
  factors: 16,
  iterations: 15,
  reg: 20,
  alpha: 2,
  ratingWeighted: 1,
  cgSteps: 3,
  popularityWeight: 0,
  initStd: 0.01,
  seed: 0,
};

export interface Interactions {
  offsets: Int32Array;
  targets: Int32Array;
  /** c - 1 = alpha * w for each interaction. */
  extraConfidence: Float64Array;
}

/** Groups the ratings by `by` (user or item), keeping the other side and alpha * w. */
function groupInteractions(
  dataset: RatingsDataset,
  rows: number,
  by: Int32Array,
  other: Int32Array,
  settings: AlsParams,
): Interactions {
  const offsets = new Int32Array(rows + 1);
  for (let r = 0; r < by.length; r++) offsets[by[r] + 1]++;
  for (let g = 0; g < rows; g++) offsets[g + 1] += offsets[g];
  const fill = offsets.slice(0, rows);
  const targets = new Int32Array(by.length);
  const extraConfidence = new Float64Array(by.length);
  for (let r = 0; r < by.length; r++) {
    const at = fill[by[r]]++;
    targets[at] = other[r];
    extraConfidence[at] = settings.alpha * (settings.ratingWeighted ? dataset.rating[r] : 1);
  }
  return { offsets, targets, extraConfidence };
}

/** Y^T Y + reg I, k x k row-major. */
function gramMatrix(Y: Float64Array, rows: number, k: number, reg: number): Float64Array {
  const G = new Float64Array(k * k);
  for (let row = 0; row < rows; row++) {
    const base = row * k;
    for (let a = 0; a < k; a++) {
      const ya = Y[base + a];
      if (ya === 0) continue;
      const ga = a * k;
      for (let b = a; b < k; b++) G[ga + b] += ya * Y[base + b];
    }
  }
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < a; b++) G[a * k + b] = G[b * k + a];
    G[a * k + a] += reg;
  }
  return G;
}

/**
 * One half-step: for every row x of X, a few CG steps on
 * (Y^T Y + reg I + sum_i (c_i - 1) y_i y_i^T) x = sum_i c_i y_i, warm-started at x.
 */
function solveRows(X: Float64Array, Y: Float64Array, groups: Interactions, G: Float64Array, k: number, cgSteps: number): void {
  const r = new Float64Array(k);
  const p = new Float64Array(k);
  const Ap = new Float64Array(k);
  const rows = groups.offsets.length - 1;
  for (let row = 0; row < rows; row++) {
    const start = groups.offsets[row];
    const end = groups.offsets[row + 1];
    const xb = row * k;
    if (start === end) {
      X.fill(0, xb, xb + k);
      continue;
    }
    // r = b - A x
    for (let a = 0; a < k; a++) {
      let s = 0;
      const ga = a * k;
      for (let b = 0; b < k; b++) s -= G[ga + b] * X[xb + b];
      r[a] = s;
    }
    for (let j = start; j < end; j++) {
      const yb = groups.targets[j] * k;
      const extra = groups.extraConfidence[j];
      let dot = 0;
      for (let f = 0; f < k; f++) dot += Y[yb + f] * X[xb + f];
      const coefficient = 1 + extra - extra * dot;
      for (let f = 0; f < k; f++) r[f] += coefficient * Y[yb + f];
    }
    p.set(r);
    let rsOld = 0;
    for (let f = 0; f < k; f++) rsOld += r[f] * r[f];
    if (rsOld < 1e-20) continue;
    for (let step = 0; step < cgSteps; step++) {
      for (let a = 0; a < k; a++) {
        let s = 0;
        const ga = a * k;
        for (let b = 0; b < k; b++) s += G[ga + b] * p[b];
        Ap[a] = s;
      }
      for (let j = start; j < end; j++) {
        const yb = groups.targets[j] * k;
        let dot = 0;
        for (let f = 0; f < k; f++) dot += Y[yb + f] * p[f];
        const coefficient = groups.extraConfidence[j] * dot;
        for (let f = 0; f < k; f++) Ap[f] += coefficient * Y[yb + f];
      }
      let pAp = 0;
      for (let f = 0; f < k; f++) pAp += p[f] * Ap[f];
      if (pAp <= 0) break;
      const stepSize = rsOld / pAp;
      let rsNew = 0;
      for (let f = 0; f < k; f++) {
        X[xb + f] += stepSize * p[f];
        r[f] -= stepSize * Ap[f];
        rsNew += r[f] * r[f];
      }
      if (rsNew < 1e-20) break;
      const beta = rsNew / rsOld;
      for (let f = 0; f < k; f++) p[f] = r[f] + beta * p[f];
      rsOld = rsNew;
    }
  }
}

/**
 * The implicit-ALS objective for factors X (users) and Y (items), computed without visiting
 * the zero cells: sum_u x_u^T (Y^T Y) x_u covers every cell as if its preference were 0, then
 * each observed cell is corrected to c (1 - s)^2.
 */
export function implicitAlsLoss(X: ArrayLike<number>, Y: ArrayLike<number>, byUser: Interactions, k: number, reg: number): number {
  const items = Y.length / k;
  const users = X.length / k;
  const G = gramMatrix(Float64Array.from(Y), items, k, 0);
  let loss = 0;
  for (let u = 0; u < users; u++) {
    const xb = u * k;
    for (let a = 0; a < k; a++) {
      let s = 0;
      for (let b = 0; b < k; b++) s += G[a * k + b] * X[xb + b];
      loss += X[xb + a] * s;
    }
    for (let j = byUser.offsets[u]; j < byUser.offsets[u + 1]; j++) {
      const yb = byUser.targets[j] * k;
      let score = 0;
      for (let f = 0; f < k; f++) score += X[xb + f] * Y[yb + f];
      loss += (1 + byUser.extraConfidence[j]) * (1 - score) ** 2 - score * score;
    }
  }
  let norm = 0;
  for (let j = 0; j < X.length; j++) norm += X[j] * X[j];
  for (let j = 0; j < Y.length; j++) norm += Y[j] * Y[j];
  return loss + reg * norm;
}

/** Trains implicit ALS; `onProgress` receives the objective after every full iteration. */
export function trainImplicitAls(
  dataset: RatingsDataset,
  params: Partial<AlsParams> = {},
  options: TrainOptions & { trackLoss?: boolean } = {},
): FactorModel {
  const settings: AlsParams = { ...ALS_DEFAULTS, ...params };
  for (const name of ['factors', 'iterations', 'cgSteps'] as const) {
    if (!Number.isInteger(settings[name]) || settings[name] < 0) throw new HyperparameterError(`hyperparameter ${name} must be a non-negative integer, got ${settings[name]}`);
  }
  for (const name of ['reg', 'alpha', 'initStd', 'popularityWeight'] as const) {
    if (!Number.isFinite(settings[name]) || settings[name] < 0) throw new HyperparameterError(`hyperparameter ${name} must be a finite number >= 0, got ${settings[name]}`);
  }
  const summary = summariseTraining(dataset, options.source);
  const k = settings.factors;
  const users = dataset.userIds.length;
  const items = dataset.itemIds.length;
  const random = createRandom(settings.seed);
  const X = fillGaussian(new Float64Array(users * k), random, 0, settings.initStd);
  const Y = fillGaussian(new Float64Array(items * k), random, 0, settings.initStd);
  const byUser = groupInteractions(dataset, users, dataset.userIndex, dataset.itemIndex, settings);
  const byItem = groupInteractions(dataset, items, dataset.itemIndex, dataset.userIndex, settings);
  let loss: number | undefined;
  for (let iteration = 0; iteration < settings.iterations; iteration++) {
    solveRows(X, Y, byUser, gramMatrix(Y, items, k, settings.reg), k, settings.cgSteps);
    solveRows(Y, X, byItem, gramMatrix(X, users, k, settings.reg), k, settings.cgSteps);
    loss = options.trackLoss ? implicitAlsLoss(X, Y, byUser, k, settings.reg) : undefined;
    options.onProgress?.({ algorithm: 'als', step: iteration + 1, totalSteps: settings.iterations, ...(loss === undefined ? {} : { loss }) });
  }
  const itemBias = new Float32Array(items);
  if (settings.popularityWeight > 0) {
    for (let i = 0; i < items; i++) itemBias[i] = settings.popularityWeight * Math.log1p(summary.itemPopularity[i]);
  }
  return assembleModel(
    dataset,
    summary,
    {
      algorithm: 'als',
      factors: k,
      userFactors: toFloat32(X),
      itemFactors: toFloat32(Y),
      userBias: new Float32Array(users),
      itemBias,
      globalBias: 0,
      hyperparameters: { ...settings },
      metrics: loss === undefined ? {} : { training_loss: loss },
    },
    options,
  );
}
