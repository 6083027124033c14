/**
 * Counter arithmetic for the analysis: which additive increments a set of stored events adds
 * to its variant's daily counter, and the user-level sufficient statistics the delta method
 * needs (Σc², Σm², Σc·m over users, users who clicked, users who bought). Pure: the storage
 * layer applies these numbers with DynamoDB ADD updates.
 *
 * Every field is a per-day increment, so the analysis gets the value as of any day by a prefix
 * sum over days, and an undo is the same update with every number negated.
 */
import { murmur3x86_32 } from '../experiments/hash.ts';
import type { Team } from '../experiments/interleaving.ts';
import { DEFAULT_USER_CAPS, type UserCaps } from '../experiments/caps.ts';
import { analysisDay, counterIncrements, type AcceptedEvent } from './event.ts';
import { exactAdd, exactMultiply, exactNegate, exactSubtract, isExactZero, toMinorUnits, type Exact } from './exact.ts';
import { INTERLEAVED_IMPRESSIONS_FIELD, type InterleavingAttribution } from './interleaving-credit.ts';

/**
 * Daily counters are written in this many shards (items `DAY#<day>#S<nn>` of the variant's
 * partition), because DynamoDB caps one item at 1,000 write units a second: with one item per
 * variant and day, a variant serving more than about 1,000 recommendations a second would be
 * throttled on its impression counts. Sixteen shards lift the cap to about 16,000 a second per
 * variant; the readers sum a day's shards (one Query per variant, as before). The number can
 * grow later without a migration (readers sum whatever shards exist) but must never shrink
 * while the experiments written under it are still read.
 */
export const COUNTER_SHARDS = 16;

const utf8 = new TextEncoder();

/** The daily-counter shard a write goes to: a hash of a key that spreads writes evenly (an event or user id). */
export function counterShard(key: string): number {
  return murmur3x86_32(utf8.encode(key), 0x5eed) % COUNTER_SHARDS;
}

/** Additive counter increments, metric name → amount (exact: a BigInt beyond 2^53, see exact.ts). */
export type Increments = Record<string, Exact>;

/**
 * A user's running totals in one experiment (the `EXP#<e>#USER#<u>` / `AGG` item): counts, and
 * values in integer minor units (revenue in cents, watch time in milliseconds), so their sums
 * and squares are exact integers. Each stays far below 2^53 under the event bounds and daily
 * limits (a user's watch time would need 100,000 days at the limit).
 */
export interface UserTotals {
  clicks: number;
  impressions: number;
  purchases: number;
  revenue_cents: number;
  watch_ms: number;
}

/** The user aggregate's total attributes, in a fixed order. */
export const USER_TOTAL_FIELDS = ['clicks', 'impressions', 'purchases', 'revenue_cents', 'watch_ms'] as const satisfies readonly (keyof UserTotals)[];

export const ZERO_TOTALS: UserTotals = Object.freeze({ clicks: 0, impressions: 0, purchases: 0, revenue_cents: 0, watch_ms: 0 });

/** How one event changes its user's totals (a rating changes nothing). */
export function userTotalsDelta(event: Pick<AcceptedEvent, 'event_type' | 'value'>): UserTotals {
  switch (event.event_type) {
    case 'impression':
      return { ...ZERO_TOTALS, impressions: 1 };
    case 'click':
      return { ...ZERO_TOTALS, clicks: 1 };
    case 'purchase':
      return { ...ZERO_TOTALS, purchases: 1, revenue_cents: toMinorUnits(event.value ?? 0, 100) };
    case 'watch_time':
      return { ...ZERO_TOTALS, watch_ms: toMinorUnits(event.value ?? 0, 1000) };
    case 'rating':
      return { ...ZERO_TOTALS };
  }
}

const mapTotals = (f: (field: keyof UserTotals) => number): UserTotals =>
  Object.fromEntries(USER_TOTAL_FIELDS.map((field) => [field, f(field)])) as unknown as UserTotals;

/** Whether a delta changes nothing (its user aggregate need not be written). */
export const isZeroTotals = (t: UserTotals) => USER_TOTAL_FIELDS.every((field) => t[field] === 0);

export const addTotals = (a: UserTotals, b: UserTotals): UserTotals => mapTotals((field) => a[field] + b[field]);

export const subtractTotals = (a: UserTotals, b: UserTotals): UserTotals => mapTotals((field) => a[field] - b[field]);

/** The undo of a delta (0 stays 0, not −0). */
export const negateTotals = (t: UserTotals): UserTotals => subtractTotals(ZERO_TOTALS, t);

const indicator = (x: number) => (x > 0 ? 1 : 0);

/** v² − u², exact. */
const squareIncrement = (after: number, before: number): Exact => exactSubtract(exactMultiply(after, after), exactMultiply(before, before));

/** a'·b' − a·b, exact. */
const productIncrement = (a1: number, b1: number, a0: number, b0: number): Exact => exactSubtract(exactMultiply(a1, b1), exactMultiply(a0, b0));

/** The capped metrics: the user total each caps, and the names of its counter fields. */
export const CAPPED_METRICS = [
  {
    metric: 'clicks',
    total: 'clicks',
    cap: 'clicks',
    sum: 'capped_clicks',
    sumSq: 'capped_clicks_sq_sum',
    atCap: 'users_at_clicks_cap',
    uncappedSum: 'clicks',
    uncappedSumSq: 'user_clicks_sq_sum',
  },
  {
    metric: 'impressions',
    total: 'impressions',
    cap: 'impressions',
    sum: 'capped_impressions',
    sumSq: 'capped_impressions_sq_sum',
    atCap: 'users_at_impressions_cap',
    uncappedSum: 'impressions',
    uncappedSumSq: 'user_impressions_sq_sum',
  },
  {
    metric: 'purchases',
    total: 'purchases',
    cap: 'purchases',
    sum: 'capped_purchases',
    sumSq: 'capped_purchases_sq_sum',
    atCap: 'users_at_purchases_cap',
    uncappedSum: 'conversions',
    uncappedSumSq: 'user_purchases_sq_sum',
  },
  {
    metric: 'revenue',
    total: 'revenue_cents',
    cap: 'revenue_cents',
    sum: 'capped_revenue_cents',
    sumSq: 'capped_revenue_cents_sq_sum',
    atCap: 'users_at_revenue_cap',
    uncappedSum: 'revenue_cents',
    uncappedSumSq: 'user_revenue_cents_sq_sum',
  },
  {
    metric: 'watch_time',
    total: 'watch_ms',
    cap: 'watch_ms',
    sum: 'capped_watch_ms',
    sumSq: 'capped_watch_ms_sq_sum',
    atCap: 'users_at_watch_cap',
    uncappedSum: 'watch_ms',
    uncappedSumSq: 'user_watch_ms_sq_sum',
  },
] as const satisfies readonly {
  metric: string;
  total: keyof UserTotals;
  cap: keyof UserCaps;
  sum: string;
  sumSq: string;
  atCap: string;
  uncappedSum: string;
  uncappedSumSq: string;
}[];

/** Σ over users of capped clicks × capped impressions: the cross moment of the capped click-through ratio. */
export const CAPPED_CLICKS_IMPRESSIONS_FIELD = 'capped_clicks_impressions_sum';

/**
 * The increments of a user's exposure (the first assignment): one exposed user, and the user's
 * pre-exposure covariate x (CUPED: Σx and Σx² over exposed users; see user-profile.ts).
 */
export function exposureIncrements(covariate = 0): Increments {
  return { exposed_users: 1, ...covariateExposureIncrements(covariate) };
}

/** The covariate's part of an exposure: Σx and Σx² (nothing for x = 0). */
export function covariateExposureIncrements(covariate = 0): Increments {
  return covariate === 0 ? {} : { covariate_sum: covariate, covariate_sq_sum: exactMultiply(covariate, covariate) };
}

/** The outcomes whose cross moment Σx·y with the covariate is kept, and their counter fields. */
const COVARIATE_OUTCOMES = [
  ['clickers', 'covariate_clickers'],
  ['converters', 'covariate_converters'],
  ['capped_clicks', 'covariate_capped_clicks'],
  ['capped_impressions', 'covariate_capped_impressions'],
  ['capped_purchases', 'covariate_capped_purchases'],
  ['capped_revenue_cents', 'covariate_capped_revenue_cents'],
  ['capped_watch_ms', 'covariate_capped_watch_ms'],
] as const;

/**
 * The increments of the user-level sums when one user's totals go from `before` to `after`
 * (c → c+dc clicks, m → m+dm impressions, ...), summed over every change of every user, give
 * exactly the sums over users, whatever order the changes happened in:
 * - uncapped: (c+dc)² − c², (m+dm)² − m², (c+dc)(m+dm) − c·m, p² for purchases, and the user
 *   totals and squares of revenue (cents) and watch time (ms); ±1 to clickers / converters
 *   when the user starts (or, on an undo, stops) having any;
 * - capped at `caps` (the analysis's sums): min(after, K) − min(before, K) and its square's
 *   increment for clicks, impressions, purchases, revenue and watch time, the capped
 *   clicks × impressions cross moment, and ±1 to `users_at_<metric>_cap` when the user reaches
 *   (or, on an undo, leaves) a cap.
 * - with the user's pre-exposure `covariate` x (CUPED), x times the change of each outcome:
 *   Σx·y for the clicker and converter indicators and every capped sum (`covariate_<y>`).
 * All exact (exact.ts): a square of a large cap or a sum over many users may pass 2^53. Fields
 * that do not change are left out (an ADD of 0 changes nothing).
 */
export function userStatIncrements(before: UserTotals, after: UserTotals, caps: UserCaps = DEFAULT_USER_CAPS, covariate = 0): Increments {
  // Only the fields that change: an event moves one or two totals, and this runs for every event.
  const increments: Increments = {};
  const put = (field: string, amount: Exact) => {
    if (!isExactZero(amount)) increments[field] = amount;
  };
  put('clickers', indicator(after.clicks) - indicator(before.clicks));
  put('converters', indicator(after.purchases) - indicator(before.purchases));
  const clicksMoved = after.clicks !== before.clicks;
  const impressionsMoved = after.impressions !== before.impressions;
  if (clicksMoved) put('user_clicks_sq_sum', squareIncrement(after.clicks, before.clicks));
  if (impressionsMoved) put('user_impressions_sq_sum', squareIncrement(after.impressions, before.impressions));
  if (clicksMoved || impressionsMoved) put('user_clicks_impressions_sum', productIncrement(after.clicks, after.impressions, before.clicks, before.impressions));
  if (after.purchases !== before.purchases) put('user_purchases_sq_sum', squareIncrement(after.purchases, before.purchases));
  if (after.revenue_cents !== before.revenue_cents) {
    put('revenue_cents', after.revenue_cents - before.revenue_cents);
    put('user_revenue_cents_sq_sum', squareIncrement(after.revenue_cents, before.revenue_cents));
  }
  if (after.watch_ms !== before.watch_ms) {
    put('watch_ms', after.watch_ms - before.watch_ms);
    put('user_watch_ms_sq_sum', squareIncrement(after.watch_ms, before.watch_ms));
  }
  for (const spec of CAPPED_METRICS) {
    if (after[spec.total] === before[spec.total]) continue;
    const cap = caps[spec.cap];
    const cappedAfter = Math.min(after[spec.total], cap);
    const cappedBefore = Math.min(before[spec.total], cap);
    put(spec.sum, cappedAfter - cappedBefore);
    put(spec.sumSq, squareIncrement(cappedAfter, cappedBefore));
    put(spec.atCap, (after[spec.total] >= cap ? 1 : 0) - (before[spec.total] >= cap ? 1 : 0));
  }
  if (clicksMoved || impressionsMoved) {
    put(
      CAPPED_CLICKS_IMPRESSIONS_FIELD,
      productIncrement(
        Math.min(after.clicks, caps.clicks),
        Math.min(after.impressions, caps.impressions),
        Math.min(before.clicks, caps.clicks),
        Math.min(before.impressions, caps.impressions),
      ),
    );
  }
  if (covariate !== 0) {
    for (const [outcome, crossField] of COVARIATE_OUTCOMES) {
      const change = increments[outcome];
      if (change !== undefined) increments[crossField] = exactMultiply(covariate, change);
    }
  }
  return increments;
}

/** Sums increments field by field into `into` (mutated and returned), exactly. */
export function addIncrements(into: Increments, more: Increments): Increments {
  for (const [metric, amount] of Object.entries(more)) into[metric] = exactAdd(into[metric] ?? 0, amount);
  return into;
}

/** The same increments with every sign flipped: the undo of an ADD. */
export function negateIncrements(increments: Increments): Increments {
  return Object.fromEntries(Object.entries(increments).map(([metric, amount]) => [metric, exactNegate(amount)]));
}

/** Drops zero increments (an ADD of 0 is a wasted attribute). */
export function nonZero(increments: Increments): Increments {
  return Object.fromEntries(Object.entries(increments).filter(([, amount]) => !isExactZero(amount)));
}

/** One stored event and the variant it counts for. */
export interface VariantEvent {
  event: AcceptedEvent;
  variant: string;
  /** Set for events of interleaving experiments: no user aggregates, maybe a preference credit. */
  interleaving?: InterleavingAttribution;
  /** The experiment's per-user caps (DEFAULT_USER_CAPS when absent). */
  caps?: UserCaps;
  /** The user's segment key (user-segments.ts), from their assignment; absent for none (unassigned users, interleaving). */
  segment?: string;
  /** A bandit user's assignment propensity: the reward's inverse-propensity sums (bandit-counters.ts). */
  propensity?: number;
}

/** A click credited to a team, to be added once to its impression's team click counts. */
export interface PreferenceCredit {
  eventId: string;
  impressionId: string;
  itemId: string;
  team: Team;
}

/**
 * Everything one (experiment, variant, segment, day) counter item receives from a set of events:
 * one UpdateItem for the day and one per user aggregate, whatever the number of events.
 */
export interface CounterGroup {
  experimentId: string;
  variant: string;
  /** The user segment whose counter item the group writes (user-segments.ts); undefined for none. */
  segment?: string;
  day: string;
  /** The daily-counter shard the group's writes (and their undo) go to. */
  shard: number;
  /** Event-level increments (impressions, clicks, revenue sums, ...), summed over the group. */
  increments: Increments;
  /** Each user's change of totals, only for users whose totals change. */
  userDeltas: Map<string, UserTotals>;
  /** The per-user caps of the experiment, for the capped user-level sums. */
  caps: UserCaps;
  eventIds: string[];
  /** Interleaving clicks whose impression's preference they move (empty otherwise). */
  credits: PreferenceCredit[];
  /** Bandit users' assignment propensities, by user id (absent for other experiments). */
  propensities?: Map<string, number>;
}

/** The key a group is coalesced by. */
export const groupKey = (experimentId: string, variant: string, day: string, segment?: string) =>
  `${experimentId}\u0000${variant}\u0000${day}\u0000${segment ?? ''}`;

/**
 * Coalesces stored events into counter groups. A user's events fall in one group, since the
 * assignment (variant and segment) is sticky per experiment and the day is the server's receive
 * time; so a request writes one daily item per (variant, segment, day), each event once.
 */
export function planCounterGroups(events: readonly VariantEvent[]): CounterGroup[] {
  const groups = new Map<string, CounterGroup>();
  for (const { event, variant, interleaving, caps, propensity, segment } of events) {
    const day = analysisDay(event.received_at_ms);
    const key = groupKey(event.experiment_id, variant, day, segment);
    let group = groups.get(key);
    if (!group) {
      group = {
        experimentId: event.experiment_id,
        variant,
        ...(segment === undefined ? {} : { segment }),
        day,
        shard: counterShard(event.event_id),
        increments: {},
        userDeltas: new Map(),
        caps: caps ?? DEFAULT_USER_CAPS,
        eventIds: [],
        credits: [],
      };
      groups.set(key, group);
    }
    addIncrements(group.increments, counterIncrements(event));
    group.eventIds.push(event.event_id);
    if (interleaving !== undefined) {
      // Interleaving's unit is the impression: no user aggregates (see interleaving-credit.ts).
      if (interleaving.kind === 'impression') addIncrements(group.increments, { [INTERLEAVED_IMPRESSIONS_FIELD]: 1 });
      if (interleaving.kind === 'credited' && interleaving.countsForPreference) {
        group.credits.push({ eventId: event.event_id, impressionId: interleaving.impressionId, itemId: interleaving.itemId, team: interleaving.team });
      }
      continue;
    }
    const delta = userTotalsDelta(event);
    if (!isZeroTotals(delta)) group.userDeltas.set(event.user_id, addTotals(group.userDeltas.get(event.user_id) ?? ZERO_TOTALS, delta));
    if (propensity !== undefined) (group.propensities ??= new Map()).set(event.user_id, propensity);
  }
  return [...groups.values()];
}
