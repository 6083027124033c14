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
import { analysisDay, counterIncrements, type AcceptedEvent } from './event.ts';
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

/** Additive counter increments, metric name → amount. */
export type Increments = Record<string, number>;

/** A user's running totals in one experiment (the `EXP#<e>#USER#<u>` / `AGG` item). */
export interface UserTotals {
  clicks: number;
  impressions: number;
  purchases: number;
}

export const ZERO_TOTALS: UserTotals = Object.freeze({ clicks: 0, impressions: 0, purchases: 0 });

/** How one event changes its user's totals (rating and watch time change nothing). */
export function userTotalsDelta(event: Pick<AcceptedEvent, 'event_type'>): UserTotals {
  switch (event.event_type) {
    case 'impression':
      return { clicks: 0, impressions: 1, purchases: 0 };
    case 'click':
      return { clicks: 1, impressions: 0, purchases: 0 };
    case 'purchase':
      return { clicks: 0, impressions: 0, purchases: 1 };
    case 'rating':
    case 'watch_time':
      return { ...ZERO_TOTALS };
  }
}

/** Whether a delta changes nothing (its user aggregate need not be written). */
export const isZeroTotals = (t: UserTotals) => t.clicks === 0 && t.impressions === 0 && t.purchases === 0;

export const addTotals = (a: UserTotals, b: UserTotals): UserTotals => ({ clicks: a.clicks + b.clicks, impressions: a.impressions + b.impressions, purchases: a.purchases + b.purchases });

export const subtractTotals = (a: UserTotals, b: UserTotals): UserTotals => ({ clicks: a.clicks - b.clicks, impressions: a.impressions - b.impressions, purchases: a.purchases - b.purchases });

/** The undo of a delta (0 stays 0, not −0). */
export const negateTotals = (t: UserTotals): UserTotals => subtractTotals(ZERO_TOTALS, t);

const indicator = (x: number) => (x > 0 ? 1 : 0);

/**
 * The increments of the user-level sums when one user's totals go from `before` to `after`
 * (c → c+dc clicks, m → m+dm impressions): (c+dc)² − c², (m+dm)² − m², (c+dc)(m+dm) − c·m,
 * and ±1 to clickers / converters when the user starts (or, on an undo, stops) having any.
 * Summed over every change of every user, these give exactly Σc², Σm², Σc·m and the user counts,
 * whatever order the changes happened in.
 */
export function userStatIncrements(before: UserTotals, after: UserTotals): Increments {
  return {
    clickers: indicator(after.clicks) - indicator(before.clicks),
    converters: indicator(after.purchases) - indicator(before.purchases),
    user_clicks_sq_sum: after.clicks * after.clicks - before.clicks * before.clicks,
    user_impressions_sq_sum: after.impressions * after.impressions - before.impressions * before.impressions,
    user_clicks_impressions_sum: after.clicks * after.impressions - before.clicks * before.impressions,
  };
}

/** Sums increments field by field into `into` (mutated and returned). */
export function addIncrements(into: Increments, more: Increments): Increments {
  for (const [metric, amount] of Object.entries(more)) into[metric] = (into[metric] ?? 0) + amount;
  return into;
}

/** The same increments with every sign flipped: the undo of an ADD. */
export function negateIncrements(increments: Increments): Increments {
  return Object.fromEntries(Object.entries(increments).map(([metric, amount]) => [metric, amount === 0 ? 0 : -amount]));
}

/** Drops zero increments (an ADD of 0 is a wasted attribute). */
export function nonZero(increments: Increments): Increments {
  return Object.fromEntries(Object.entries(increments).filter(([, amount]) => amount !== 0));
}

/** One stored event and the variant it counts for. */
export interface VariantEvent {
  event: AcceptedEvent;
  variant: string;
  /** Set for events of interleaving experiments: no user aggregates, maybe a preference credit. */
  interleaving?: InterleavingAttribution;
}

/** A click credited to a team, to be added once to its impression's team click counts. */
export interface PreferenceCredit {
  eventId: string;
  impressionId: string;
  itemId: string;
  team: Team;
}

/**
 * Everything one (experiment, variant, day) counter item receives from a set of events:
 * one UpdateItem for the day and one per user aggregate, whatever the number of events.
 */
export interface CounterGroup {
  experimentId: string;
  variant: string;
  day: string;
  /** The daily-counter shard the group's writes (and their undo) go to. */
  shard: number;
  /** Event-level increments (impressions, clicks, revenue sums, ...), summed over the group. */
  increments: Increments;
  /** Each user's change of totals, only for users whose totals change. */
  userDeltas: Map<string, UserTotals>;
  eventIds: string[];
  /** Interleaving clicks whose impression's preference they move (empty otherwise). */
  credits: PreferenceCredit[];
}

/** The key a group is coalesced by. */
export const groupKey = (experimentId: string, variant: string, day: string) => `${experimentId}\u0000${variant}\u0000${day}`;

/**
 * Coalesces stored events into counter groups. A user's events fall in one group, since the
 * assignment is sticky per experiment and the day is the server's receive time.
 */
export function planCounterGroups(events: readonly VariantEvent[]): CounterGroup[] {
  const groups = new Map<string, CounterGroup>();
  for (const { event, variant, interleaving } of events) {
    const day = analysisDay(event.received_at_ms);
    const key = groupKey(event.experiment_id, variant, day);
    let group = groups.get(key);
    if (!group) {
      group = { experimentId: event.experiment_id, variant, day, shard: counterShard(event.event_id), increments: {}, userDeltas: new Map(), eventIds: [], credits: [] };
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
  }
  return [...groups.values()];
}
