/**
 * Abuse checks on client events, pure: the public API key ships in every client, so anyone can
 * post events, and nothing a client says may steer a decision on its own.
 *
 * 1. Slates: an event that names a `request_id` must name a slate `/recommend` recorded for the
 *    same user and experiment, and a click must name an item of that slate. A user outside the
 *    test (no stored assignment: held out, outside the coverage) has no recorded slate by design,
 *    so their events are only checked when a slate exists; they are counted under the unassigned
 *    pseudo-variant, which no decision reads.
 * 2. Daily limits: at most so many events of each type per user, experiment and UTC day (the
 *    server's receive day). The bounds sit far above any human's day (a thousand clicks is one
 *    every minute for 16 hours) and far below what would let one user dominate an arm.
 */
import { analysisDay, type AcceptedEvent, type EventType } from './event.ts';

/** The most events of each type one user may send per experiment and UTC day. */
export const DAILY_EVENT_LIMITS: Readonly<Record<EventType, number>> = Object.freeze({
  impression: 5_000,
  click: 1_000,
  purchase: 200,
  rating: 1_000,
  watch_time: 1_000,
});

/** What the slate check needs of a recorded impression. */
export interface RecordedSlate {
  user_id: string;
  experiment_id: string;
  slate: readonly { item_id: string }[];
}

/**
 * Why an event's `request_id` is refused, or undefined when it is acceptable. `slate` is the
 * impression recorded for the request id (undefined when there is none); `inTest` says whether the
 * user has a slate to expect (assigned to a variant, or an interleaving experiment).
 */
export function slateProblem(
  event: Pick<AcceptedEvent, 'event_type' | 'user_id' | 'experiment_id' | 'item_id' | 'request_id'>,
  slate: RecordedSlate | undefined,
  inTest: boolean,
): string | undefined {
  if (event.request_id === undefined) return undefined;
  if (slate === undefined) {
    return inTest
      ? 'names no recommendation recorded for this user (send events without request_id when /recommend answered impression_recorded: false)'
      : undefined;
  }
  if (slate.user_id !== event.user_id || slate.experiment_id !== event.experiment_id) return 'names a recommendation served to another user or experiment';
  if (event.event_type === 'click' && !slate.slate.some((item) => item.item_id === event.item_id))
    return `does not hold item ${event.item_id} (a click must name an item of its slate)`;
  return undefined;
}

/** The events of one user, experiment and day in a request, counted by type. */
export interface DailyQuotaClaim {
  experimentId: string;
  userId: string;
  day: string;
  counts: Partial<Record<EventType, number>>;
  /** Positions (in the list given to `planQuotaClaims`) of the events this claim covers. */
  positions: number[];
}

/** Groups events by (experiment, user, day), in first-seen order. */
export function planQuotaClaims(events: readonly Pick<AcceptedEvent, 'event_type' | 'user_id' | 'experiment_id' | 'received_at_ms'>[]): DailyQuotaClaim[] {
  const claims = new Map<string, DailyQuotaClaim>();
  events.forEach((event, position) => {
    const day = analysisDay(event.received_at_ms);
    const key = `${event.experiment_id}\u0000${event.user_id}\u0000${day}`;
    let claim = claims.get(key);
    if (!claim) {
      claim = { experimentId: event.experiment_id, userId: event.user_id, day, counts: {}, positions: [] };
      claims.set(key, claim);
    }
    claim.counts[event.event_type] = (claim.counts[event.event_type] ?? 0) + 1;
    claim.positions.push(position);
  });
  return [...claims.values()];
}

/**
 * The event types of a claim that fit under the limits given what the user already used today
 * (`used`, by type), and the ones that do not.
 */
export function splitByLimit(
  counts: Partial<Record<EventType, number>>,
  used: Partial<Record<EventType, number>>,
  limits: Readonly<Record<EventType, number>> = DAILY_EVENT_LIMITS,
): { fits: EventType[]; over: EventType[] } {
  const fits: EventType[] = [];
  const over: EventType[] = [];
  for (const [type, n] of Object.entries(counts) as [EventType, number][]) {
    if ((used[type] ?? 0) + n <= limits[type]) fits.push(type);
    else over.push(type);
  }
  return { fits, over };
}
