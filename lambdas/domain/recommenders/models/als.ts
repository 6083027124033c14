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
import {
  assembleModel,
  assertIntegerSeed,
  assertNonNegativeIntegers,
  assertNonNegativeNumbers,
  initialFactors,
  summariseTraining,
  toFloat32,
  type TrainOptions,
} from './common.ts';
import { normalStream, sfc32 } from '../data/random.ts';

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
  /**
   * Missing-data weight exponent: an unrated item weighs popularity^missingExponent (scaled
   * to average 1) instead of 1 (0 = Hu et al.'s uniform weighting). On the synthetic data
   * cross-validation found 0.25 no better than 0, hence the uniform default.
   */
  missingExponent: number;
  /**
   * Frequency-scaled regularisation (Rendle et al. 2022, "Revisiting the Performance of iALS
   * on Item Recommendation Benchmarks"): row r's L2 weight is reg * (q_r / mean q)^regExponent,
   * q_r being the total weight of the row's loss terms (its confidences plus the missing-data
   * weight of every other cell), so a heavy user or a popular item is held back as much as its
   * data pulls. 0 = one reg for every row (Hu et al.); Rendle et al. use 1. On synthetic
   * ML-100K-sized data (seed 1) exponent 1 scored P@10 0.229 vs 0.225 cross-validated inside
   * the training part, but 0.401 vs 0.404 on the held-out 25 %: within noise, so the default
   * stays 0 (the shipped models unchanged). Real MovieLens, with heavier-tailed users, may
   * differ: `abrec evaluate --param regExponent=1`.
   */
  regExponent: number;
  /** Adds popularityWeight * log(1 + count) to each item's score (0 = pure ALS). */
  popularityWeight: number;
  initStd: number;
  seed: number;
}

/**
 * Settings picked by `bench train --search` (SEARCH_SPACES in cli/commands/bench-train.ts):
 * Precision@10 cross-validated (three repeated 0.75 per-user splits) inside the training part
 * of the ranking split of synthetic ML-100K-sized data, seed 1; seed 42 picks the same. The
 * earlier grid stopped at reg 20, which was its edge; the optimum sits at 40-60. Few factors
 * suit the synthetic data's planted rank of 12; real MovieLens may want more (search again).
 */
export const ALS_DEFAULTS: AlsParams = {
  factors: 14,
  iterations: 25,
  reg: 60,
  alpha: 3,
  ratingWeighted: 1,
  cgSteps: 3,
  missingExponent: 0,
  regExponent: 0,
  popularityWeight: 0,
  initStd: 0.01,
  seed: 0,
};

export interface Interactions {
  offsets: Int32Array;
  targets: Int32Array;
  /** c = 1 + alpha * w for each interaction. */
  confidence: Float64Array;
  /** c - w0, the confidence above the missing-data weight of the pair. */
  extraConfidence: Float64Array;
}

/**
 * Groups the ratings by `by` (user or item), keeping the other side, c and c - w0, where w0
 * is the missing-data weight of the pair's item (`itemOf(row, target)`).
 */
function groupInteractions(
  dataset: RatingsDataset,
  rows: number,
  by: Int32Array,
  other: Int32Array,
  settings: AlsParams,
  missingWeight: (row: number, target: number) => number,
): Interactions {
  const offsets = new Int32Array(rows + 1);
  for (let r = 0; r < by.length; r++) offsets[by[r] + 1]++;
  for (let g = 0; g < rows; g++) offsets[g + 1] += offsets[g];
  const fill = offsets.slice(0, rows);
  const targets = new Int32Array(by.length);
  const confidence = new Float64Array(by.length);
  const extraConfidence = new Float64Array(by.length);
  for (let r = 0; r < by.length; r++) {
    const at = fill[by[r]]++;
    targets[at] = other[r];
    confidence[at] = 1 + settings.alpha * (settings.ratingWeighted ? dataset.rating[r] : 1);
    extraConfidence[at] = confidence[at] - missingWeight(by[r], other[r]);
  }
  return { offsets, targets, confidence, extraConfidence };
}

/**
 * Missing-data weights per item, w0_i proportional to popularity^exponent and averaging 1
 * (He et al. 2016, eALS): an unrated popular item is stronger evidence of disinterest than an
 * unrated obscure one, which the user may never have come across. Exponent 0 gives 1 for
 * every item, the uniform weighting of Hu et al.
 */
export function missingDataWeights(popularity: ArrayLike<number>, exponent: number): Float64Array {
  const weights = new Float64Array(popularity.length);
  if (popularity.length === 0) return weights;
  let total = 0;
  for (let i = 0; i < popularity.length; i++) {
    weights[i] = exponent === 0 ? 1 : popularity[i] > 0 ? popularity[i] ** exponent : 0;
    total += weights[i];
  }
  // Only unrated items can have weight 0 here; they have no interactions to balance anyway.
  const scale = total > 0 ? popularity.length / total : 1;
  for (let i = 0; i < weights.length; i++) weights[i] *= scale;
  return weights;
}

/** sum_row weight_row y_row y_row^T, k x k row-major (weights default to 1). */
function gramMatrix(Y: ArrayLike<number>, rows: number, k: number, weights?: Float64Array): Float64Array {
  const G = new Float64Array(k * k);
  for (let row = 0; row < rows; row++) {
    const base = row * k;
    const w = weights ? weights[row] : 1;
    if (w === 0) continue;
    for (let a = 0; a < k; a++) {
      const ya = w * Y[base + a];
      if (ya === 0) continue;
      const ga = a * k;
      for (let b = a; b < k; b++) G[ga + b] += ya * Y[base + b];
    }
  }
  for (let a = 0; a < k; a++) for (let b = 0; b < a; b++) G[a * k + b] = G[b * k + a];
  return G;
}

/**
 * One half-step: for every row x of X, a few CG steps on
 * (s G + reg I + sum_i (c_i - w0_i) y_i y_i^T) x = sum_i c_i y_i, warm-started at x, where G
 * is the (weighted) Gram matrix of Y and s the row's own missing-data weight (`rowScale`, the
 * item side) or 1 (the user side, whose weights are inside G).
 */
function solveRows(
  X: Float64Array,
  Y: Float64Array,
  groups: Interactions,
  G: Float64Array,
  k: number,
  regs: Float64Array,
  cgSteps: number,
  rowScale?: Float64Array,
): void {
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
    const scale = rowScale ? rowScale[row] : 1;
    const reg = regs[row];
    // r = b - A x
    for (let a = 0; a < k; a++) {
      let s = 0;
      const ga = a * k;
      for (let b = 0; b < k; b++) s += G[ga + b] * X[xb + b];
      r[a] = -scale * s - reg * X[xb + a];
    }
    for (let j = start; j < end; j++) {
      const yb = groups.targets[j] * k;
      const extra = groups.extraConfidence[j];
      let dot = 0;
      for (let f = 0; f < k; f++) dot += Y[yb + f] * X[xb + f];
      const coefficient = groups.confidence[j] - extra * dot;
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
        Ap[a] = scale * s + reg * p[a];
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
 * the zero cells: sum_u x_u^T (sum_i w0_i y_i y_i^T) x_u covers every cell as if its
 * preference were 0 with weight w0_i, then each observed cell is corrected to c (1 - s)^2.
 * `missingWeights` defaults to 1 for every item.
 */
export function implicitAlsLoss(
  X: ArrayLike<number>,
  Y: ArrayLike<number>,
  byUser: Interactions,
  k: number,
  reg: number | { users: Float64Array; items: Float64Array },
  missingWeights?: Float64Array,
): number {
  const items = Y.length / k;
  const users = X.length / k;
  const G = gramMatrix(Y, items, k, missingWeights);
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
      const c = byUser.confidence[j];
      loss += c * (1 - score) ** 2 - (c - byUser.extraConfidence[j]) * score * score;
    }
  }
  const weighted = (F: ArrayLike<number>, regs: Float64Array | number): number => {
    let total = 0;
    for (let j = 0; j < F.length; j++) total += (typeof regs === 'number' ? regs : regs[Math.floor(j / k)]) * F[j] * F[j];
    return total;
  };
  return loss + weighted(X, typeof reg === 'number' ? reg : reg.users) + weighted(Y, typeof reg === 'number' ? reg : reg.items);
}

/**
 * Each row's L2 weight, reg * (q_r / mean q)^regExponent (see AlsParams.regExponent): q_r is
 * the row's summed confidences plus `missingTotal(row, w0 of its rated cells)`, the weight of
 * its unrated cells. Exponent 0 gives reg for every row.
 */
function frequencyScaledRegs(groups: Interactions, settings: AlsParams, missingTotal: (row: number, ratedMissing: number) => number): Float64Array {
  const rows = groups.offsets.length - 1;
  const regs = new Float64Array(rows).fill(settings.reg);
  if (settings.regExponent === 0 || rows === 0) return regs;
  const q = new Float64Array(rows);
  let sum = 0;
  for (let row = 0; row < rows; row++) {
    let confidence = 0;
    let ratedMissing = 0;
    for (let j = groups.offsets[row]; j < groups.offsets[row + 1]; j++) {
      confidence += groups.confidence[j];
      ratedMissing += groups.confidence[j] - groups.extraConfidence[j];
    }
    q[row] = confidence + missingTotal(row, ratedMissing);
    sum += q[row];
  }
  const mean = sum / rows;
  for (let row = 0; row < rows; row++) regs[row] = settings.reg * (q[row] / mean) ** settings.regExponent;
  return regs;
}

/** Trains implicit ALS; `onProgress` receives the objective after every full iteration. */
export function trainImplicitAls(dataset: RatingsDataset, params: Partial<AlsParams> = {}, options: TrainOptions & { trackLoss?: boolean } = {}): FactorModel {
  const settings: AlsParams = { ...ALS_DEFAULTS, ...params };
  assertNonNegativeIntegers(settings, ['factors', 'iterations', 'cgSteps']);
  assertNonNegativeNumbers(settings, ['reg', 'alpha', 'initStd', 'popularityWeight', 'missingExponent', 'regExponent']);
  assertIntegerSeed(settings.seed);
  const summary = summariseTraining(dataset, options.source);
  const k = settings.factors;
  const users = dataset.userIds.length;
  const items = dataset.itemIds.length;
  const normal = normalStream(sfc32(settings.seed));
  const { userFactors: X, itemFactors: Y } = initialFactors(normal, users, items, k, settings.initStd);
  const w0 = missingDataWeights(summary.itemPopularity, settings.missingExponent);
  const byUser = groupInteractions(dataset, users, dataset.userIndex, dataset.itemIndex, settings, (_, item) => w0[item]);
  const byItem = groupInteractions(dataset, items, dataset.itemIndex, dataset.userIndex, settings, (item) => w0[item]);
  let w0Total = 0;
  for (let i = 0; i < items; i++) w0Total += w0[i];
  // q_u: the user's confidences + w0 of every unrated item; q_i: the item's confidences + w0_i for every other user.
  const userRegs = frequencyScaledRegs(byUser, settings, (_, extra) => w0Total - extra);
  const itemRegs = frequencyScaledRegs(byItem, settings, (row, extra) => w0[row] * users - extra);
  let loss: number | undefined;
  for (let iteration = 0; iteration < settings.iterations; iteration++) {
    solveRows(X, Y, byUser, gramMatrix(Y, items, k, w0), k, userRegs, settings.cgSteps);
    solveRows(Y, X, byItem, gramMatrix(X, users, k), k, itemRegs, settings.cgSteps, w0);
    loss = options.trackLoss ? implicitAlsLoss(X, Y, byUser, k, { users: userRegs, items: itemRegs }, w0) : undefined;
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
