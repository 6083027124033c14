/**
 * The arithmetic of `abrec bench load`'s reconciliation: what the load generator was told
 * (acknowledged events) against what the store holds (event items, daily counters, user
 * aggregates). Pure, so a test can show it reports a lost or a duplicated event when there is one.
 *
 * The three views cover each other's blind spots:
 * - event items (read by key): an acknowledged event whose item is missing, or not marked
 *   counted, was lost;
 * - daily counters (per type, summed over variants, days and shards): more than the distinct
 *   events known to be stored is a duplicate count; fewer than the items marked counted is a
 *   lost count, even when every item is there;
 * - user aggregates (per user): the same check user by user, which also places the impressions
 *   of /recommend requests the generator abandoned unanswered when a phase ended (each may have
 *   recorded one impression nobody saw the request id of).
 */
import type { UserTotals } from '../../lambdas/domain/events/counters.ts';
import type { EventType } from '../../lambdas/domain/events/event.ts';

/** The daily-counter field each event type adds exactly 1 to (see counterIncrements). */
export const COUNT_FIELD = {
  impression: 'impressions',
  click: 'clicks',
  purchase: 'conversions',
  rating: 'rating_n',
  watch_time: 'watch_time_n',
} as const satisfies Record<EventType, string>;

/** What was observed for one event type. */
export interface TypeEvidence {
  /** Distinct event ids answered 2xx (for /recommend: responses with impression_recorded true). */
  acknowledged: number;
  /** Of those, the ones whose item is stored with counted = true. */
  acknowledgedStored: number;
  /** Events never acknowledged (abandoned or refused requests) that are stored and counted all the same. */
  unacknowledgedStored: number;
  /** The daily counters' total for the type. */
  counted: number;
}

export interface TypeReconciliation extends TypeEvidence {
  /** Acknowledged events with no item, or an item not marked counted. */
  notStored: number;
  /** Events stored as counted that the counters miss. */
  notCounted: number;
  lost: number;
  /** Counts beyond the distinct events known to be stored. */
  duplicated: number;
}

/**
 * One type's books. Every event known to be stored (acknowledged, or found stored without an
 * acknowledgement) must be counted exactly once: counts beyond them are duplicated. Lost are the
 * acknowledged events with no item (or one not marked counted), and the events whose item says
 * counted but whom the counter misses. A loss and a double count of another event of the same
 * type cancel in the counter: the loss still shows (by its item), and the user aggregates show
 * the double count for impressions, clicks and purchases.
 */
export function reconcileType(evidence: TypeEvidence): TypeReconciliation {
  const known = evidence.acknowledged + evidence.unacknowledgedStored;
  const storedAsCounted = evidence.acknowledgedStored + evidence.unacknowledgedStored;
  const notStored = evidence.acknowledged - evidence.acknowledgedStored;
  const notCounted = Math.max(0, storedAsCounted - evidence.counted);
  return {
    ...evidence,
    notStored,
    notCounted,
    lost: notStored + notCounted,
    duplicated: Math.max(0, evidence.counted - known),
  };
}

/** One user's books. */
export interface UserEvidence {
  userId: string;
  /** Totals from the events known to be stored: acknowledged, or found stored though not acknowledged. */
  expected: UserTotals;
  /** /recommend requests of this user abandoned unanswered: each may have recorded one impression. */
  unansweredRecommends: number;
  /** The user aggregate (`EXP#<e>#USER#<u>` / `AGG`); undefined when there is none. */
  actual: UserTotals | undefined;
}

export interface UserMismatch {
  userId: string;
  metric: keyof UserTotals;
  expected: number;
  actual: number;
  /** How many more the aggregate may hold (the user's unanswered requests). */
  allowance: number;
}

export interface UsersReconciliation {
  users: number;
  /** Users whose aggregate differs beyond the allowance. */
  mismatched: number;
  /** Impressions of abandoned /recommend requests the aggregates show were recorded. */
  unacknowledgedImpressions: number;
  lost: number;
  duplicated: number;
  mismatches: UserMismatch[];
}

const METRICS = ['impressions', 'clicks', 'purchases'] as const satisfies readonly (keyof UserTotals)[];

/**
 * Compares every user's aggregate with the events known to be stored. Up to one extra
 * impression per unanswered /recommend request is accounted as recorded without
 * acknowledgement; anything beyond is duplicated, anything short lost.
 */
export function reconcileUsers(users: readonly UserEvidence[]): UsersReconciliation {
  const result: UsersReconciliation = { users: users.length, mismatched: 0, unacknowledgedImpressions: 0, lost: 0, duplicated: 0, mismatches: [] };
  for (const user of users) {
    const before = result.mismatches.length;
    for (const metric of METRICS) {
      const expected = user.expected[metric];
      const actual = user.actual?.[metric] ?? 0;
      const allowance = metric === 'impressions' ? user.unansweredRecommends : 0;
      const extra = actual - expected;
      if (extra >= 0 && extra <= allowance) {
        if (metric === 'impressions') result.unacknowledgedImpressions += extra;
        continue;
      }
      result.mismatches.push({ userId: user.userId, metric, expected, actual, allowance });
      if (extra < 0) result.lost -= extra;
      else {
        result.duplicated += extra - allowance;
        if (metric === 'impressions') result.unacknowledgedImpressions += allowance;
      }
    }
    if (result.mismatches.length > before) result.mismatched++;
  }
  return result;
}

export interface Reconciliation {
  types: Record<EventType, TypeReconciliation>;
  users: UsersReconciliation;
  /**
   * Each view gives a lower bound on the events lost (or counted twice); the larger is reported,
   * since one lost event shows in both the type's books and its user's.
   */
  lost: number;
  duplicated: number;
}

/** The type and user books together. */
export function reconcile(types: Record<EventType, TypeEvidence>, users: UsersReconciliation): Reconciliation {
  const reconciled = Object.fromEntries(Object.entries(types).map(([type, evidence]) => [type, reconcileType(evidence)])) as Record<
    EventType,
    TypeReconciliation
  >;
  const sum = (field: 'lost' | 'duplicated') => Object.values(reconciled).reduce((total, t) => total + t[field], 0);
  return { types: reconciled, users, lost: Math.max(sum('lost'), users.lost), duplicated: Math.max(sum('duplicated'), users.duplicated) };
}
