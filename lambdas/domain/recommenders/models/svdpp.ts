/**
 * SVD++ (Koren 2008): biased MF whose user vector adds the implicit feedback of which items
 * the user rated, predict
 *
 *   mu + b_u + b_i + q_i . (p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j)
 *
 * with N(u) the user's training items. Trained by SGD user by user (in a shuffled order, the
 * user's ratings in a shuffled order): the implicit sum z_u is computed once per user and
 * held fixed over the user's ratings, the y_j gradient is accumulated over them and applied
 * once at the end (as LibRec and Surprise-style fast variants do), so an epoch costs
 * O(k (|R| + |N|)) instead of O(k sum_u |R_u| |N(u)|).
 *
 * Servable as a plain factor model: the artifact's user factor is p_u + |N(u)|^-1/2 sum y_j,
 * fixed at training time.
 */
import type { FactorModel, RatingsDataset } from '../types.ts';
import { fitBiases } from './baseline.ts';
import {
  assembleModel,
  assertIntegerSeed,
  assertNonNegativeIntegers,
  assertNonNegativeNumbers,
  assertTrainingConverged,
  initialFactors,
  summariseTraining,
  toFloat32,
  type TrainOptions,
} from './common.ts';
import { normalStream, randomPermutation, sfc32 } from '../data/random.ts';

export interface SvdppParams {
  factors: number;
  epochs: number;
  /** Learning rate of p, q and y. */
  lr: number;
  /** Regularisation of p and q. */
  reg: number;
  /** Regularisation of the implicit factors y. */
  regImplicit: number;
  lrBias: number;
  regBias: number;
  initStd: number;
  /** Multiplies the learning rates after each epoch. */
  lrDecay: number;
  seed: number;
}

/**
 * Picked by a small grid around svd-tuned's settings on the 5-fold protocol (seed 0) of
 * synthetic ML-100K-sized data, seed 1, so the figure is optimistic by that choice: lr 0.01 /
 * 0.02 / 0.05 gave RMSE 0.867 / 0.851 / 0.870; reg 0.05 0.858; regImplicit 0.03 0.853; 24
 * factors 0.848 at 1.7 times the fit time (16 kept). Biases start from the baseline estimates
 * as in svd-tuned.
 */
export const SVDPP_DEFAULTS: SvdppParams = {
  factors: 16,
  epochs: 20,
  lr: 0.02,
  reg: 0.1,
  regImplicit: 0.1,
  lrBias: 0.01,
  regBias: 0.02,
  initStd: 0.05,
  lrDecay: 0.93,
  seed: 0,
};

/** Trains SVD++ (see the module comment). */
export function trainSvdpp(dataset: RatingsDataset, params: Partial<SvdppParams> = {}, options: TrainOptions = {}): FactorModel {
  const settings: SvdppParams = { ...SVDPP_DEFAULTS, ...params };
  assertNonNegativeIntegers(settings, ['factors', 'epochs']);
  assertNonNegativeNumbers(settings, ['lr', 'reg', 'regImplicit', 'lrBias', 'regBias', 'initStd', 'lrDecay']);
  assertIntegerSeed(settings.seed);
  const summary = summariseTraining(dataset, options.source);
  const k = settings.factors;
  const users = dataset.userIds.length;
  const items = dataset.itemIds.length;
  const random = sfc32(settings.seed);
  const normal = normalStream(random);
  const { userFactors: P, itemFactors: Q } = initialFactors(normal, users, items, k, settings.initStd);
  const Y = new Float64Array(items * k);
  for (let j = 0; j < Y.length; j++) Y[j] = normal() * settings.initStd;
  const mu = summary.globalMean;
  const { userBias: bu, itemBias: bi } = fitBiases(dataset, mu, { epochs: 10, regUser: 15, regItem: 10 });

  // The ratings grouped by user, each user's in a shuffled order.
  const offsets = new Int32Array(users + 1);
  for (let r = 0; r < dataset.userIndex.length; r++) offsets[dataset.userIndex[r] + 1]++;
  for (let u = 0; u < users; u++) offsets[u + 1] += offsets[u];
  const fill = offsets.slice(0, users);
  const order = randomPermutation(dataset.rating.length, random);
  const itemOf = new Int32Array(dataset.rating.length);
  const ratingOf = new Float64Array(dataset.rating.length);
  for (let j = 0; j < order.length; j++) {
    const r = order[j];
    const at = fill[dataset.userIndex[r]]++;
    itemOf[at] = dataset.itemIndex[r];
    ratingOf[at] = dataset.rating[r];
  }

  const z = new Float64Array(k);
  const effective = new Float64Array(k);
  const gradient = new Float64Array(k);
  let lr = settings.lr;
  let lrBias = settings.lrBias;
  let trainingRmse = Number.NaN;
  for (let epoch = 0; epoch < settings.epochs; epoch++) {
    const userOrder = randomPermutation(users, random);
    let squaredError = 0;
    const decay = 1 - lr * settings.reg;
    const decayImplicit = 1 - lr * settings.regImplicit;
    for (let o = 0; o < users; o++) {
      const u = userOrder[o];
      const start = offsets[u];
      const end = offsets[u + 1];
      if (start === end) continue;
      const norm = 1 / Math.sqrt(end - start);
      z.fill(0);
      for (let a = start; a < end; a++) {
        const yj = itemOf[a] * k;
        for (let f = 0; f < k; f++) z[f] += Y[yj + f];
      }
      for (let f = 0; f < k; f++) z[f] *= norm;
      gradient.fill(0);
      const pu = u * k;
      for (let a = start; a < end; a++) {
        const i = itemOf[a];
        const qi = i * k;
        let dot = 0;
        for (let f = 0; f < k; f++) {
          effective[f] = P[pu + f] + z[f];
          dot += effective[f] * Q[qi + f];
        }
        const err = ratingOf[a] - (mu + bu[u] + bi[i] + dot);
        squaredError += err * err;
        bu[u] += lrBias * (err - settings.regBias * bu[u]);
        bi[i] += lrBias * (err - settings.regBias * bi[i]);
        const step = lr * err;
        for (let f = 0; f < k; f++) {
          const q = Q[qi + f];
          gradient[f] += err * q;
          P[pu + f] = P[pu + f] * decay + step * q;
          Q[qi + f] = q * decay + step * effective[f];
        }
      }
      // y_j += lr (|N|^-1/2 sum_ratings e q_i - regImplicit y_j), once per user.
      const implicitStep = lr * norm;
      for (let a = start; a < end; a++) {
        const yj = itemOf[a] * k;
        for (let f = 0; f < k; f++) Y[yj + f] = Y[yj + f] * decayImplicit + implicitStep * gradient[f];
      }
    }
    lr *= settings.lrDecay;
    lrBias *= settings.lrDecay;
    trainingRmse = Math.sqrt(squaredError / Math.max(1, dataset.rating.length));
    options.onProgress?.({ algorithm: 'svdpp', step: epoch + 1, totalSteps: settings.epochs, loss: trainingRmse });
  }
  assertTrainingConverged('svdpp', [P, Q, Y, bu, bi]);

  // The served user factor: p_u + |N(u)|^-1/2 sum y_j (zero for users without ratings).
  const served = new Float64Array(users * k);
  for (let u = 0; u < users; u++) {
    const start = offsets[u];
    const end = offsets[u + 1];
    if (start === end) continue;
    const norm = 1 / Math.sqrt(end - start);
    const pu = u * k;
    for (let f = 0; f < k; f++) served[pu + f] = P[pu + f];
    for (let a = start; a < end; a++) {
      const yj = itemOf[a] * k;
      for (let f = 0; f < k; f++) served[pu + f] += norm * Y[yj + f];
    }
  }
  for (let i = 0; i < items; i++) if (summary.itemPopularity[i] === 0) Q.fill(0, i * k, (i + 1) * k);
  return assembleModel(
    dataset,
    summary,
    {
      algorithm: 'svdpp',
      factors: k,
      userFactors: toFloat32(served),
      itemFactors: toFloat32(Q),
      userBias: toFloat32(bu),
      itemBias: toFloat32(bi),
      globalBias: mu,
      hyperparameters: { ...settings },
      metrics: Number.isFinite(trainingRmse) ? { training_rmse: trainingRmse } : {},
    },
    options,
  );
}
