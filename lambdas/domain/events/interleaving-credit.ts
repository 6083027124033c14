/**
 * Click credit for interleaving experiments: which team (model) a click or purchase belongs to,
 * read from the interleaved impression slate it refers to, and how one credited click moves the
 * impression's preference (a, b or tie) and therefore the daily win counters. Pure: the storage
 * layer reads the slates and applies these numbers with DynamoDB updates.
 *
 * Counter layout of an interleaving experiment (documented in the README):
 * - the pseudo-variant counter `EXP#<e>#VAR#~interleaving` / `DAY#<d>#S<nn>` (shards summed on read) holds the interleaved
 *   slates `/recommend` recorded (`interleaved_impressions`, also in `impressions`), the net
 *   preference transitions `interleaving_wins_a` / `interleaving_wins_b` of the day, and every
 *   event credited to no team with its usual increments (client-sent impressions included, which
 *   is why the slates have their own field);
 * - each team's own variant counter holds the clicks and purchases credited to that team.
 * `~` cannot occur in a variant name (slugs of a-z, 0-9, '-', '_'), so the key never collides.
 */
import type { Preference, Team } from '../experiments/interleaving.ts';
import type { Increments } from './counters.ts';
import type { AcceptedEvent } from './event.ts';

/** The counter "variant" of everything an interleaving experiment counts per experiment. */
export const INTERLEAVING_COUNTER_VARIANT = '~interleaving';

/** The variant name `/recommend` answers for an interleaved list (each item names its own). */
export const INTERLEAVED_RESPONSE_VARIANT = 'interleaved';

/** Daily counter fields of the preference transitions. */
export const WIN_FIELDS = { a: 'interleaving_wins_a', b: 'interleaving_wins_b' } as const;

/** Daily counter field of the interleaved slates recorded by `/recommend`. */
export const INTERLEAVED_IMPRESSIONS_FIELD = 'interleaved_impressions';

/** Event id of the impression slate `/recommend` records for a request. */
export const impressionEventId = (requestId: string) => `imp-${requestId}`;

/** One item of an interleaved slate as stored on the impression. */
export interface InterleavedSlateItem {
  item_id: string;
  position: number;
  score: number;
  team?: Team;
  variant?: string;
}

/** What crediting needs of a stored impression (a projection of its item). */
export interface StoredImpression {
  event_id: string;
  user_id: string;
  experiment_id: string;
  /** Only impressions whose counter update succeeded are credited (counted = true). */
  counted: boolean;
  slate: readonly InterleavedSlateItem[];
}

/** Why an event of an interleaving experiment is credited to nobody. */
export type NoCreditReason =
  | 'not-a-click'
  | 'no-request-id'
  | 'impression-not-found'
  | 'impression-not-counted'
  | 'not-interleaved'
  | 'other-user-or-experiment'
  | 'item-not-in-slate';

/**
 * How an event of an interleaving experiment counts. Every such event skips the per-user
 * aggregates: the preference test's unit is the impression, and a user's clicks split over two
 * teams would make per-team user-level sums meaningless.
 */
export type InterleavingAttribution =
  /** The interleaved slate `/recommend` records, counted under the pseudo-variant. */
  | { kind: 'impression' }
  /** Credited to a team: counted under the team's variant; a click also moves the impression's preference. */
  | { kind: 'credited'; team: Team; impressionId: string; itemId: string; countsForPreference: boolean }
  /** Stored and counted under the pseudo-variant, credited to no team. */
  | { kind: 'uncredited'; reason: NoCreditReason };

/** An event's counter variant and attribution. */
export interface Attributed {
  variant: string;
  interleaving: InterleavingAttribution;
}

const uncredited = (reason: NoCreditReason): Attributed => ({ variant: INTERLEAVING_COUNTER_VARIANT, interleaving: { kind: 'uncredited', reason } });

/**
 * Credits a client event to the team whose item it names in the impression of its `request_id`.
 * Only clicks and purchases are credited; only clicks move the preference (a purchase usually
 * follows a click on the same item, and counting both would credit one choice twice). The
 * impression must be counted, interleaved, and belong to the same user and experiment, so a
 * client cannot credit clicks to someone else's list.
 */
export function attributeInterleavedEvent(
  event: Pick<AcceptedEvent, 'event_type' | 'request_id' | 'item_id' | 'user_id' | 'experiment_id'>,
  impression: StoredImpression | undefined,
): Attributed {
  if (event.event_type !== 'click' && event.event_type !== 'purchase') return uncredited('not-a-click');
  if (event.request_id === undefined) return uncredited('no-request-id');
  if (impression === undefined) return uncredited('impression-not-found');
  if (!impression.counted) return uncredited('impression-not-counted');
  if (impression.user_id !== event.user_id || impression.experiment_id !== event.experiment_id) return uncredited('other-user-or-experiment');
  const item = impression.slate.find((candidate) => candidate.item_id === event.item_id);
  if (item === undefined) return uncredited('item-not-in-slate');
  if (item.team === undefined || item.variant === undefined) return uncredited('not-interleaved');
  return {
    variant: item.variant,
    interleaving: {
      kind: 'credited',
      team: item.team,
      impressionId: impression.event_id,
      itemId: item.item_id,
      countsForPreference: event.event_type === 'click',
    },
  };
}

/** Distinct clicked items per team on one impression. */
export interface TeamClicks {
  a: number;
  b: number;
}

/** The impression's outcome from its team click counts (as `creditClicks` calls it). */
export function preferenceOf({ a, b }: TeamClicks): Preference {
  return a > b ? 'a' : b > a ? 'b' : 'tie';
}

/**
 * The change of the daily win counters when one impression's team clicks go from `before` to
 * `after`: +1 for the preference it now has, −1 for the one it had. Summed over every change of
 * every impression, in any order, the counters hold exactly the impressions won by each team.
 */
export function preferenceTransition(before: TeamClicks, after: TeamClicks): Increments {
  const was = preferenceOf(before);
  const is = preferenceOf(after);
  const indicator = (team: Team, preference: Preference) => (preference === team ? 1 : 0);
  return {
    [WIN_FIELDS.a]: indicator('a', is) - indicator('a', was),
    [WIN_FIELDS.b]: indicator('b', is) - indicator('b', was),
  };
}

/** A one-item change of a team's click count. */
export const teamClickDelta = (team: Team, amount: 1 | -1): TeamClicks => (team === 'a' ? { a: amount, b: 0 } : { a: 0, b: amount });

export const subtractTeamClicks = (x: TeamClicks, y: TeamClicks): TeamClicks => ({ a: x.a - y.a, b: x.b - y.b });
