/**
 * Biased matrix factorisation trained by stochastic gradient descent, written to match
 * Surprise's SVD (Funk / Koren): predict mu + b_u + b_i + p_u . q_i, and for each training
 * rating, in a shuffled order,
 *
 *   e    = r - prediction
 *   b_u += lrBias   * (e - regBias * b_u)
 *   b_i += lrBias   * (e - regBias * b_i)
 *   p_u += lr * (e * q_i - reg * p_u)      (both from the values before this update)
 *   q_i += lr * (e * p_u - reg * q_i)
 *
 * The tuned variant keeps the same equations and changes the settings: fewer factors, a
 * larger decaying learning rate, stronger factor regularisation, biases started from the
 * baseline estimates and one shuffled order for every epoch (see SVD_TUNED_DEFAULTS).
 */
import type { FactorModel, RatingsDataset } from '../types.ts';
import { fitBiases } from './baseline.ts';
import {
  assembleModel,
  assertIntegerSeed,
  assertNonNegativeIntegers,
  assertNonNegativeNumbers,
  assertTrainingConverged,
  HyperparameterError,
  initialFactors,
  summariseTraining,
  toFloat32,
  type TrainOptions,
} from './common.ts';
import { normalStream, randomInt, randomPermutation, sfc32, type Random } from '../data/random.ts';

export interface SvdParams {
  factors: number;
  epochs: number;
  /** Learning rate of the factors (Surprise's lr_pu / lr_qi). */
  lr: number;
  /** Regularisation of the factors (Surprise's reg_pu / reg_qi). */
  reg: number;
  /** Learning rate of the biases (Surprise's lr_bu / lr_bi). */
  lrBias: number;
  /** Regularisation of the biases (Surprise's reg_bu / reg_bi). */
  regBias: number;
  /** Standard deviation of the N(0, std) factor initialisation. */
  initStd: number;
  /** Multiplies both learning rates after each epoch (1 = constant, as in Surprise). */
  lrDecay: number;
  /** 1 starts the biases from the ALS baseline estimates instead of 0. */
  baselineInit: number;
  /** 1 reshuffles the ratings before every epoch after the first; 0 keeps one shuffled order (as Surprise keeps its order). */
  reshuffle: number;
  seed: number;
}

/** Surprise's SVD defaults, the reference to beat. */
export const SVD_REFERENCE_DEFAULTS: SvdParams = {
  factors: 100,
  epochs: 20,
  lr: 0.005,
  reg: 0.02,
  lrBias: 0.005,
  regBias: 0.02,
  initStd: 0.1,
  lrDecay: 1,
  baselineInit: 0,
  reshuffle: 1,
  seed: 0,
};

/**
 * Settings picked by cross-validated grids (5-fold, on the training part of one outer fold of
 * synthetic ML-100K-sized data, data seeds 1 and 42 agreeing, the outer test fold never seen;
 * `abrec bench train --search` re-runs the last grid, SEARCH_SPACES in bench-train.ts):
 * 16 factors (the data's planted rank is 12; 20 or 24 were no better over both seeds),
 * 20 epochs at twenty times Surprise's factor learning rate decaying 7% per epoch, a factor
 * regularisation of 0.12, small initial factors, biases started from the baseline estimates,
 * and one shuffled order for all epochs (reshuffling changed the cross-validated RMSE by under
 * 0.001 and cost 40% of the fit time). About a third of the C reference's fit time per fold
 * (`abrec bench surprise`), and more accurate.
 */
export const SVD_TUNED_DEFAULTS: SvdParams = {
  factors: 16,
  epochs: 20,
  lr: 0.1,
  reg: 0.12,
  lrBias: 0.01,
  regBias: 0.02,
  initStd: 0.05,
  lrDecay: 0.93,
  baselineInit: 1,
  reshuffle: 0,
  seed: 0,
};

/** Checks the settings, naming the first parameter out of its domain. */
export function validateSvdParams(settings: SvdParams): void {
  assertNonNegativeIntegers(settings, ['factors', 'epochs']);
  assertNonNegativeNumbers(settings, ['lr', 'reg', 'lrBias', 'regBias', 'initStd', 'lrDecay']);
  const switches: (keyof SvdParams)[] = ['baselineInit', 'reshuffle'];
  for (const name of switches) {
    if (settings[name] !== 0 && settings[name] !== 1) throw new HyperparameterError(`hyperparameter ${name} must be 0 or 1, got ${settings[name]}`);
  }
  assertIntegerSeed(settings.seed);
}

/** Trains biased MF by SGD (defaults: Surprise's SVD reference settings). */
export function trainSvd(dataset: RatingsDataset, params: Partial<SvdParams> = {}, options: TrainOptions = {}, algorithm = 'svd'): FactorModel {
  const settings: SvdParams = { ...SVD_REFERENCE_DEFAULTS, ...params };
  validateSvdParams(settings);
  const summary = summariseTraining(dataset, options.source);
  const k = settings.factors;
  const users = dataset.userIds.length;
  const items = dataset.itemIds.length;
  const random = sfc32(settings.seed);
  const normal = normalStream(random);
  const { userFactors: P, itemFactors: Q } = initialFactors(normal, users, items, k, settings.initStd);
  const mu = summary.globalMean;
  let bu: Float64Array = new Float64Array(users);
  let bi: Float64Array = new Float64Array(items);
  if (settings.baselineInit) ({ userBias: bu, itemBias: bi } = fitBiases(dataset, mu, { epochs: 10, regUser: 15, regItem: 10 }));
  const { ints: triples, floats: tripleValues } = packShuffledTriples(dataset, random);
  const n = dataset.rating.length;
  let lr = settings.lr;
  let lrBias = settings.lrBias;
  let trainingRmse = Number.NaN;
  for (let epoch = 0; epoch < settings.epochs; epoch++) {
    if (epoch > 0 && settings.reshuffle) shuffleTriples(triples, random);
    const squaredError = sgdEpoch({ P, Q, bu, bi, triples, values: tripleValues, k, mu, lr, reg: settings.reg, lrBias, regBias: settings.regBias });
    lr *= settings.lrDecay;
    lrBias *= settings.lrDecay;
    trainingRmse = Math.sqrt(squaredError / Math.max(1, n));
    options.onProgress?.({ algorithm, step: epoch + 1, totalSteps: settings.epochs, loss: trainingRmse });
  }
  assertTrainingConverged(algorithm, [P, Q, bu, bi]);
  zeroUnseenRows(P, summary.seenOffsets, k);
  zeroUnseenItems(Q, summary.itemPopularity, k);
  return assembleModel(
    dataset,
    summary,
    {
      algorithm,
      factors: k,
      userFactors: toFloat32(P),
      itemFactors: toFloat32(Q),
      userBias: toFloat32(bu),
      itemBias: toFloat32(bi),
      globalBias: mu,
      hyperparameters: { ...settings },
      // The running error of the last epoch (before its own updates); absent with 0 epochs.
      metrics: Number.isFinite(trainingRmse) ? { training_rmse: trainingRmse } : {},
    },
    options,
  );
}

/** Trains the tuned variant: same equations, the tuned settings as defaults. */
export function trainSvdTuned(dataset: RatingsDataset, params: Partial<SvdParams> = {}, options: TrainOptions = {}): FactorModel {
  return trainSvd(dataset, { ...SVD_TUNED_DEFAULTS, ...params }, options, 'svd-tuned');
}

/** The state and step sizes of one SGD sweep. */
interface SgdEpochInput {
  P: Float64Array;
  Q: Float64Array;
  bu: Float64Array;
  bi: Float64Array;
  triples: Int32Array;
  values: Float32Array;
  k: number;
  mu: number;
  lr: number;
  reg: number;
  lrBias: number;
  regBias: number;
}

/**
 * One sweep of the SGD updates over the triples in their current order; returns the sum of
 * squared errors before each update. The hot loop of every fit, so it is written for V8:
 * the arrays in locals, float64 factors (float32 storage costs a conversion on every load
 * and store and measured twice as slow), the dot product in four independent accumulators
 * (shorter dependency chain), and the factor update in the algebraically equal form
 * p * (1 - lr * reg) + (lr * e) * q, which changes results only at float rounding level.
 */
function sgdEpoch(input: SgdEpochInput): number {
  const { P, Q, bu, bi, triples, values, k, mu, lr, reg, lrBias, regBias } = input;
  const k4 = k - (k % 4);
  const decay = 1 - lr * reg;
  const end = triples.length;
  let squaredError = 0;
  for (let t = 0; t < end; t += 3) {
    const u = triples[t];
    const i = triples[t + 1];
    const pu = u * k;
    const qi = i * k;
    let d0 = 0;
    let d1 = 0;
    let d2 = 0;
    let d3 = 0;
    let f = 0;
    for (; f < k4; f += 4) {
      d0 += P[pu + f] * Q[qi + f];
      d1 += P[pu + f + 1] * Q[qi + f + 1];
      d2 += P[pu + f + 2] * Q[qi + f + 2];
      d3 += P[pu + f + 3] * Q[qi + f + 3];
    }
    for (; f < k; f++) d0 += P[pu + f] * Q[qi + f];
    const userBias = bu[u];
    const itemBias = bi[i];
    const err = values[t + 2] - (mu + userBias + itemBias + (d0 + d1 + (d2 + d3)));
    squaredError += err * err;
    bu[u] = userBias + lrBias * (err - regBias * userBias);
    bi[i] = itemBias + lrBias * (err - regBias * itemBias);
    const step = lr * err;
    for (f = 0; f < k4; f += 4) {
      const p0 = P[pu + f];
      const p1 = P[pu + f + 1];
      const p2 = P[pu + f + 2];
      const p3 = P[pu + f + 3];
      const q0 = Q[qi + f];
      const q1 = Q[qi + f + 1];
      const q2 = Q[qi + f + 2];
      const q3 = Q[qi + f + 3];
      P[pu + f] = p0 * decay + step * q0;
      P[pu + f + 1] = p1 * decay + step * q1;
      P[pu + f + 2] = p2 * decay + step * q2;
      P[pu + f + 3] = p3 * decay + step * q3;
      Q[qi + f] = q0 * decay + step * p0;
      Q[qi + f + 1] = q1 * decay + step * p1;
      Q[qi + f + 2] = q2 * decay + step * p2;
      Q[qi + f + 3] = q3 * decay + step * p3;
    }
    for (; f < k; f++) {
      const p = P[pu + f];
      const q = Q[qi + f];
      P[pu + f] = p * decay + step * q;
      Q[qi + f] = q * decay + step * p;
    }
  }
  return squaredError;
}

/**
 * The ratings as interleaved (user, item, rating) triples in a random order. Interleaving
 * keeps one rating in one cache line, and shuffling the triples themselves (rather than an
 * index permutation) makes each epoch's sweep sequential: on ML-1M-sized data the random
 * gathers, not the arithmetic, dominate the epoch time.
 */
function packShuffledTriples(dataset: RatingsDataset, random: Random): { ints: Int32Array; floats: Float32Array } {
  const order = randomPermutation(dataset.rating.length, random);
  // One buffer, two views: user and item as int32 (small-integer indexing stays fast in V8),
  // the rating as float32 in the third slot.
  const buffer = new ArrayBuffer(order.length * 3 * 4);
  const ints = new Int32Array(buffer);
  const floats = new Float32Array(buffer);
  for (let j = 0; j < order.length; j++) {
    const r = order[j];
    ints[3 * j] = dataset.userIndex[r];
    ints[3 * j + 1] = dataset.itemIndex[r];
    floats[3 * j + 2] = dataset.rating[r];
  }
  return { ints, floats };
}

/** Fisher-Yates over triples (swapping raw 32-bit words, so the float slot moves intact). */
function shuffleTriples(triples: Int32Array, random: Random): void {
  for (let a = triples.length / 3 - 1; a > 0; a--) {
    const b = 3 * randomInt(random, a + 1);
    const a3 = 3 * a;
    const user = triples[a3];
    const item = triples[a3 + 1];
    const rating = triples[a3 + 2];
    triples[a3] = triples[b];
    triples[a3 + 1] = triples[b + 1];
    triples[a3 + 2] = triples[b + 2];
    triples[b] = user;
    triples[b + 1] = item;
    triples[b + 2] = rating;
  }
}

/**
 * Users without training ratings keep their random initial factors, which would add noise
 * to their predictions; like Surprise (which skips the factor term for unknown users), they
 * get zero factors.
 */
function zeroUnseenRows(factors: Float64Array, seenOffsets: Int32Array, k: number): void {
  for (let u = 0; u + 1 < seenOffsets.length; u++) if (seenOffsets[u + 1] === seenOffsets[u]) factors.fill(0, u * k, (u + 1) * k);
}

function zeroUnseenItems(factors: Float64Array, popularity: Float32Array, k: number): void {
  for (let i = 0; i < popularity.length; i++) if (popularity[i] === 0) factors.fill(0, i * k, (i + 1) * k);
}
