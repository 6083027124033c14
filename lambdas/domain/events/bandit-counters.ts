/**
 * The counters that let a bandit be analysed as a bandit: the allocation actually in force when
 * each user was exposed, and the inverse-propensity sums of each arm's reward. Pure: the serving
 * path adds {@link banditExposureIncrements} to the exposure's ADD, the events path adds
 * {@link banditRewardIncrements} to the user-level sums, and the analysis reads them back
 * (services/bandit-input.ts).
 *
 * Why the whole allocation and not only the chosen arm's propensity: the exposures an SRM check
 * should expect for arm v are Σ over every exposed user i (whatever arm i got) of π_i(v), the
 * share v had when i was assigned. The chosen arm's propensity alone does not give that (an arm
 * served at 0.7 gets 0.7 N users each with p = 0.7: Σ p = 0.49 N, not 0.7 N), so each exposure
 * adds the full vector to the day's counter of the arm it got (one ADD, as before); the analysis
 * sums the vectors over every arm's items.
 *
 * The inverse-propensity sums are per arm a, over its exposed users i with propensity p_i and
 * 0/1 reward r_i (the bandit's own success: clicked at least once, or bought at least once):
 * Σ 1/p, Σ 1/p², Σ r/p and Σ r/p² (= Σ (r/p)² = Σ r·(1/p)·(1/p) for a 0/1 reward). With the
 * number of exposed users N over all arms they are exactly the sufficient statistics of IPS
 * (Σ r/p / N) and self-normalised IPS (Σ r/p / Σ 1/p) and of their variances (stats/bandit.ts).
 * The reward sums move when a user's reward indicator changes (first click; an undo takes it
 * back), so they stay additive per day as every other counter. Every amount is rounded to 12
 * decimals (counterAmount), which keeps DynamoDB's sums exact.
 */
import type { BanditAllocation } from '../experiments/bandit.ts';
import type { Increments, UserTotals } from './counters.ts';

/** Exposures whose allocation was recorded (every bandit exposure since these counters exist). */
export const BANDIT_LOGGED_EXPOSURES_FIELD = 'bandit_logged_exposures';
/** Σ 1/p over the arm's exposed users. */
export const BANDIT_INVERSE_PROPENSITY_FIELD = 'bandit_inv_p_sum';
/** Σ 1/p² over the arm's exposed users. */
export const BANDIT_INVERSE_PROPENSITY_SQ_FIELD = 'bandit_inv_p_sq_sum';

/** Prefix of the expected-exposure counters, one per arm: `bandit_expected_<variant>`. */
export const BANDIT_EXPECTED_PREFIX = 'bandit_expected_';

/** Σ over the day's exposures (of whichever arm holds the item) of the share `variant` had. */
export const expectedExposuresField = (variant: string) => `${BANDIT_EXPECTED_PREFIX}${variant}`;

/** The per-user 0/1 rewards a bandit can optimise: the success fields of the counters. */
export type BanditReward = 'clickers' | 'converters';

/** Σ r/p and Σ r/p² of one reward. */
export const rewardInversePropensityFields = (reward: BanditReward) => ({ sum: `bandit_${reward}_inv_p_sum`, sumSq: `bandit_${reward}_inv_p_sq_sum` }) as const;

/**
 * The counters' amounts are rounded to this many decimal places. DynamoDB keeps a number to 38
 * significant digits and refuses an ADD whose exact result needs more, so a share of 1e-20 (its
 * 17 digits reaching down to 1e-36) added to a sum of thousands would fail the exposure's count
 * on every retry. At 12 decimals a sum stays within 38 digits up to 1e25, and the rounding moves
 * an expectation of a billion exposures by less than 1e-3.
 */
export const COUNTER_DECIMALS = 12;

/** Shares below this are not logged (they round to nothing in the counters). */
export const MIN_LOGGED_SHARE = 10 ** -COUNTER_DECIMALS;

/** Rounded to {@link COUNTER_DECIMALS} places, symmetrically, so an amount and its undo cancel exactly. */
export function counterAmount(x: number): number {
  const scale = 10 ** COUNTER_DECIMALS;
  const rounded = Math.round(Math.abs(x) * scale) / scale;
  return x < 0 ? -rounded : rounded;
}

/**
 * The allocation as it is logged with an assignment: the arms with a positive share, normalised
 * to sum to 1 as the draw does (chooseFromAllocation), shares below {@link MIN_LOGGED_SHARE}
 * left out.
 */
export function loggedAllocation(allocation: BanditAllocation): Record<string, number> {
  const entries = Object.entries(allocation).filter(([, share]) => share > 0);
  const total = entries.reduce((sum, [, share]) => sum + share, 0);
  if (!(total > 0)) return {};
  return Object.fromEntries(entries.map(([arm, share]) => [arm, share / total]).filter(([, share]) => (share as number) >= MIN_LOGGED_SHARE));
}

/**
 * What one bandit exposure adds to its arm's daily counter besides `exposed_users`: one logged
 * exposure, the allocation in force (each arm's share, into that arm's expected-exposure field)
 * and 1/p, 1/p² of the user's propensity p. Empty without an allocation (A/B assignments,
 * assignments stored before the allocation was logged).
 */
export function banditExposureIncrements({
  allocation,
  propensity,
}: {
  allocation?: Readonly<Record<string, number>>;
  propensity: number;
}): Record<string, number> {
  if (allocation === undefined || !(propensity > 0 && propensity <= 1)) return {};
  const increments: Record<string, number> = { [BANDIT_LOGGED_EXPOSURES_FIELD]: 1 };
  for (const [arm, share] of Object.entries(allocation)) if (counterAmount(share) > 0) increments[expectedExposuresField(arm)] = counterAmount(share);
  increments[BANDIT_INVERSE_PROPENSITY_FIELD] = counterAmount(1 / propensity);
  increments[BANDIT_INVERSE_PROPENSITY_SQ_FIELD] = counterAmount(1 / (propensity * propensity));
  return increments;
}

const indicator = (x: number) => (x > 0 ? 1 : 0);

/**
 * The reward sums' increments when one user's totals go from `before` to `after`: ±1/p and
 * ±1/p² for each 0/1 reward (clicked, bought) that the change turns on or (an undo) off.
 * Empty without a propensity (users of A/B experiments, events with no assignment).
 */
export function banditRewardIncrements(
  before: Pick<UserTotals, 'clicks' | 'purchases'>,
  after: Pick<UserTotals, 'clicks' | 'purchases'>,
  propensity: number | undefined,
): Increments {
  if (propensity === undefined || !(propensity > 0 && propensity <= 1)) return {};
  const increments: Increments = {};
  const changes: [BanditReward, number][] = [
    ['clickers', indicator(after.clicks) - indicator(before.clicks)],
    ['converters', indicator(after.purchases) - indicator(before.purchases)],
  ];
  for (const [reward, change] of changes) {
    if (change === 0) continue;
    const fields = rewardInversePropensityFields(reward);
    increments[fields.sum] = counterAmount(change / propensity);
    increments[fields.sumSq] = counterAmount(change / (propensity * propensity));
  }
  return increments;
}
