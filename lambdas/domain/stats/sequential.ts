import { requireOpenUnit, StatsInputError } from './errors.ts';
import { insufficientData, ok, type Interval, type StatResult } from './result.ts';

/**
 * Always-valid inference by the mixture sequential probability ratio test (mSPRT) of Johari,
 * Koomen, Pekelis and Walsh, "Always Valid Inference" (2017/2022), with a normal mixture
 * N(0, tau^2) over the true difference theta. At a look where the difference estimate is
 * `difference` with (estimated) variance V, the mixture likelihood ratio against theta0 is
 *
 *   Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 (difference - theta0)^2 / (2 V (V + tau^2)))
 *
 * and the always-valid p-value is the running minimum of min(1, 1 / Lambda) over the looks so
 * far. By Ville's inequality P(ever p <= alpha) <= alpha under the null, however often one
 * looks. Inverting the test gives a confidence sequence. V is a plug-in estimate, so validity is
 * asymptotic (it is checked by simulation with 14 daily looks in the test suite).
 */
export interface SequentialLook {
  /** Treatment minus control estimate at this look. */
  difference: number;
  /** Variance of that estimate (e.g. pA(1-pA)/nA + pB(1-pB)/nB). */
  variance: number;
}

/** Result of one mSPRT look. */
export interface MixtureSprtLook {
  /** log Lambda against theta0 = 0. */
  logLikelihoodRatio: number;
  /** min(1, 1 / Lambda) at this look alone (not yet the running minimum). */
  pValueAtLook: number;
  /** Always-valid interval from this look alone (intersect over looks for the sequence). */
  interval: Interval;
}

/** One look of the mSPRT; `mixtureVariance` is tau^2 > 0. */
export function mixtureSprtLook(look: SequentialLook, mixtureVariance: number, alpha: number): StatResult<MixtureSprtLook> {
  requireOpenUnit('alpha', alpha);
  if (!(Number.isFinite(mixtureVariance) && mixtureVariance > 0)) {
    throw new StatsInputError('mixtureVariance', `must be a finite number > 0, got ${String(mixtureVariance)}`);
  }
  const { difference, variance } = look;
  if (!(Number.isFinite(variance) && variance > 0) || !Number.isFinite(difference)) {
    return insufficientData('the difference has no positive finite variance yet');
  }
  const total = variance + mixtureVariance;
  const logLikelihoodRatio = 0.5 * Math.log(variance / total) + (mixtureVariance * difference * difference) / (2 * variance * total);
  const pValueAtLook = Math.min(1, Math.exp(-logLikelihoodRatio));
  const halfWidth = mixtureSprtHalfWidth(variance, mixtureVariance, alpha);
  return ok({ logLikelihoodRatio, pValueAtLook, interval: { low: difference - halfWidth, high: difference + halfWidth } });
}

/**
 * Half-width h of the always-valid interval at a look where the difference has variance V:
 * theta is inside when Lambda(theta) < 1 / alpha, i.e. |difference - theta| < h with
 *   h = sqrt(2 V (V + tau^2) / tau^2 * (log(1 / alpha) + log((V + tau^2) / V) / 2)).
 * The same h is the rejection boundary: the look rejects theta = 0 when |difference| >= h,
 * which is what the sequential sample size in power.ts plans against.
 */
export function mixtureSprtHalfWidth(variance: number, mixtureVariance: number, alpha: number): number {
  const total = variance + mixtureVariance;
  return Math.sqrt(((2 * variance * total) / mixtureVariance) * (Math.log(1 / alpha) + 0.5 * Math.log(total / variance)));
}

/** The sequence of always-valid results over a series of looks. */
export interface AlwaysValidPoint {
  /** Running minimum of the per-look p-values; 1 until the first usable look. */
  pValue: number;
  /** Running intersection of the per-look intervals; null until the first usable look. */
  interval: Interval | null;
}

/**
 * Always-valid p-values and confidence sequence over looks in time order. Looks with
 * insufficient data leave the running values unchanged.
 */
export function alwaysValidSequence(looks: SequentialLook[], mixtureVariance: number, alpha: number): AlwaysValidPoint[] {
  let pValue = 1;
  let interval: Interval | null = null;
  return looks.map((look) => {
    const result = mixtureSprtLook(look, mixtureVariance, alpha);
    if (result.status === 'ok') {
      pValue = Math.min(pValue, result.pValueAtLook);
      interval =
        interval === null ? result.interval : { low: Math.max(interval.low, result.interval.low), high: Math.min(interval.high, result.interval.high) };
      // An empty intersection can only happen by chance under a drifting plug-in variance;
      // collapse it to the latest point estimate rather than report low > high.
      if (interval.low > interval.high) interval = { low: look.difference, high: look.difference };
    }
    return { pValue, interval };
  });
}

/**
 * Default tau^2: the square of the planned absolute minimum detectable effect, so the mixture
 * puts its mass on effects of the size the experiment was powered for.
 */
export function defaultMixtureVariance(absoluteMde: number): number {
  if (!(Number.isFinite(absoluteMde) && absoluteMde !== 0)) {
    throw new StatsInputError('mde', `must be a non-zero finite number, got ${String(absoluteMde)}`);
  }
  return absoluteMde * absoluteMde;
}
