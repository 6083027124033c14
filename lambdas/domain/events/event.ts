/**
 * The event model: what clients send to POST /events and /events/batch, validated at the edge.
 * Pure (zod and node:crypto only).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const eventTypes = ['impression', 'click', 'purchase', 'rating', 'watch_time'] as const;
export type EventType = (typeof eventTypes)[number];

/** DynamoDB allows 2,048-byte partition keys; ids are capped well below so every key fits. */
export const MAX_ID_BYTES = 256;
/** Events older than this, or this far in the future, are refused (clock skew / replays). */
export const MAX_EVENT_AGE_MS = 7 * 24 * 3600 * 1000;
export const MAX_EVENT_FUTURE_MS = 5 * 60 * 1000;
export const MAX_BATCH_SIZE = 1000;

/**
 * Bounds on `value`, chosen so no counter can leave the numbers JavaScript and the DynamoDB
 * document client hold exactly (|x| ≤ 2^53 ≈ 9.0e15; the SDK refuses to marshal a larger
 * number, so one event over the bound used to fail its whole batch on every retry).
 *
 * The tightest counter is a day shard's `revenue_sum_sq` (Σx² of purchase values). With
 * x ≤ 100,000, one purchase adds at most 1e10, a 1,000-event request at most 1e13, and a shard
 * item reaches 2^53 only after 900,000 purchases of the maximum value in one variant-day shard
 * (14 million across the 16 shards): far beyond a realistic day, and an order of magnitude in
 * currency units above any single basket we expect. Watch time (≤ 86,400 s, x² ≤ 7.5e9) allows
 * 1.2 million day-long views per shard; ratings (1..5) are never a concern. Values are never
 * negative: none of the metrics has a meaning for one, and the bound applies to every event type
 * because a value is stored on the event item even where no counter uses it.
 */
export const MAX_PURCHASE_VALUE = 100_000;
export const MAX_WATCH_TIME_SECONDS = 86_400;
export const MAX_EVENT_VALUE = Math.max(MAX_PURCHASE_VALUE, MAX_WATCH_TIME_SECONDS);
/**
 * The smallest value above 0. DynamoDB (and dynalite) refuse numbers of magnitude below 1e-130:
 * a value of 1e-131 failed its own put, and one of 1e-70 the ADD of its square to a counter
 * (revenue_sum_sq), so such an event failed its batch with a 503 on every retry. From a millionth
 * up, x² ≥ 1e-12 is far inside the range, and no metric has a use for a smaller amount.
 */
export const MIN_POSITIVE_EVENT_VALUE = 1e-6;

/**
 * The pseudo-variant of events from users with no stored assignment (held out, outside the
 * traffic coverage or layer, or served while the experiment was not running). They are stored
 * and counted under this key, never lost, and never enter a variant's analysis. `~` cannot
 * appear in a variant name.
 */
export const UNASSIGNED_VARIANT = '~unassigned';

const utf8Bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/**
 * An identifier: non-empty after trimming, well-formed UTF-16 (no lone surrogates), no C0 or C1
 * control characters, and at most 256 UTF-8 bytes once normalised to NFC. The parsed value is
 * the NFC form, so the composed and decomposed spellings of one id are one user (one assignment,
 * one set of counters, one stored key) everywhere downstream.
 */
export const idSchema = z
  .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') })
  .min(1, 'must not be empty')
  .refine((s) => s.trim().length > 0, 'must not be blank')
  // A lone surrogate has no UTF-8 form: stores and hashes would replace it with U+FFFD, so two ids could collapse into one.
  .refine((s) => !/\p{Surrogate}/u.test(s), 'must be well-formed Unicode (no lone surrogates)')
  // C0 and C1 control characters (general category Cc: U+0000–U+001F, U+007F–U+009F).
  .refine((s) => !/\p{Cc}/u.test(s), 'must not contain control characters')
  .transform((s) => s.normalize('NFC'))
  .refine((s) => utf8Bytes(s) <= MAX_ID_BYTES, `must be at most ${MAX_ID_BYTES} bytes of UTF-8`);

const valueInRange = (value: number) => value === 0 || (value >= MIN_POSITIVE_EVENT_VALUE && value <= MAX_EVENT_VALUE);

export const eventSchema = z
  .strictObject({
    event_id: idSchema.optional(),
    event_type: z.enum(eventTypes, { error: `must be one of ${eventTypes.join(', ')}` }),
    user_id: idSchema,
    experiment_id: idSchema,
    item_id: idSchema.optional(),
    request_id: idSchema.optional(),
    position: z.int('must be an integer').min(1, 'must be >= 1').max(1000, 'must be <= 1000').optional(),
    value: z
      .number({ error: 'must be a number' })
      .refine(Number.isFinite, 'must be finite')
      .refine(valueInRange, `must be 0 or from ${MIN_POSITIVE_EVENT_VALUE} to ${MAX_EVENT_VALUE}`)
      .optional(),
    /** Client time, ISO 8601 or epoch milliseconds; analysis windows use the server's receive time. */
    timestamp: z.union([z.iso.datetime({ offset: true, error: 'must be ISO 8601 or epoch milliseconds' }), z.number().int().positive()]).optional(),
  })
  .superRefine((event, ctx) => {
    // A value outside every bound is already named once by its own rule.
    const valueRefused = event.value !== undefined && !valueInRange(event.value);
    if (event.event_type === 'rating' && !valueRefused) {
      if (event.value === undefined || event.value < 1 || event.value > 5) {
        ctx.addIssue({ code: 'custom', path: ['value'], message: 'rating events need a value from 1 to 5' });
      }
    }
    if (event.event_type === 'watch_time' && !valueRefused) {
      if (event.value === undefined || event.value < 0 || event.value > MAX_WATCH_TIME_SECONDS) {
        ctx.addIssue({ code: 'custom', path: ['value'], message: `watch_time events need a value in seconds from 0 to ${MAX_WATCH_TIME_SECONDS}` });
      }
    }
    if (event.event_type === 'purchase' && !valueRefused && event.value !== undefined && (event.value < 0 || event.value > MAX_PURCHASE_VALUE)) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: `purchase value must be from 0 to ${MAX_PURCHASE_VALUE}` });
    }
    if ((event.event_type === 'click' || event.event_type === 'purchase') && event.item_id === undefined) {
      ctx.addIssue({ code: 'custom', path: ['item_id'], message: `${event.event_type} events need an item_id` });
    }
    // Derived ids (d-<hash of the content>) are predictable: a client free to send one could claim the
    // id of another user's id-less event with other content, and that event would be refused as a
    // conflict. An id of that form is accepted only as the event's own (a client resending the id it was given).
    if (typeof event.event_id === 'string' && event.event_id.startsWith(DERIVED_ID_PREFIX) && event.event_id !== deriveEventId(event)) {
      ctx.addIssue({
        code: 'custom',
        path: ['event_id'],
        message: `must not start with '${DERIVED_ID_PREFIX}' (reserved for ids derived from the content) unless it is this event's own derived id`,
      });
    }
  });

export type EventInput = z.output<typeof eventSchema>;

/** A validated event as stored: id derived when absent, client and server times in ms. */
export interface AcceptedEvent extends Omit<EventInput, 'timestamp' | 'event_id'> {
  event_id: string;
  client_time_ms?: number;
  received_at_ms: number;
  /** Impressions recorded by /recommend carry the whole slate; interleaved ones tag each item's team and variant. */
  slate?: { item_id: string; position: number; score: number; team?: 'a' | 'b'; variant?: string }[];
  model_version?: string;
  /** Interleaved impressions: the variant and pinned model version of each team. */
  interleaving?: Record<'a' | 'b', { variant: string; model_version: string }>;
  propensity?: number;
  fallback?: string | null;
}

/** What a client said in an event, in a fixed order, with its client time as given. */
function contentFields(
  event: Pick<EventInput, 'event_type' | 'user_id' | 'experiment_id' | 'item_id' | 'request_id' | 'position' | 'value'>,
  clientTime: string | number | undefined,
): unknown[] {
  return [
    event.event_type,
    event.user_id,
    event.experiment_id,
    event.item_id ?? null,
    event.request_id ?? null,
    event.position ?? null,
    event.value ?? null,
    clientTime ?? null,
  ];
}

const sha256Hex = (fields: unknown[]) => createHash('sha256').update(JSON.stringify(fields)).digest('hex');

/** The prefix of the ids derived from an event's content. */
export const DERIVED_ID_PREFIX = 'd-';

/**
 * A stable id for events sent without one: the hash of their content, so a client retrying
 * the same payload is deduplicated even if it never set event_id.
 */
export function deriveEventId(event: EventInput): string {
  return `${DERIVED_ID_PREFIX}${sha256Hex(contentFields(event, event.timestamp)).slice(0, 32)}`;
}

/**
 * The SHA-256 of what a client said in an event (type, user, experiment, item, request,
 * position, value, client time), stored on the event item as `content_sha256`: a resend of an
 * event id with the same fingerprint is a duplicate, with another one a conflict (409). What the
 * server adds (variant, receive time, attribution) is left out, so a retry is recognised even
 * when it arrives on another day or after the user was assigned.
 */
export function contentFingerprint(
  event: Pick<AcceptedEvent, 'event_type' | 'user_id' | 'experiment_id' | 'item_id' | 'request_id' | 'position' | 'value' | 'client_time_ms'>,
): string {
  return sha256Hex(contentFields(event, event.client_time_ms));
}

/** Problems with the timestamp relative to the server clock, or undefined if acceptable. */
export function timestampProblem(event: EventInput, nowMs: number): string | undefined {
  if (event.timestamp === undefined) return undefined;
  const ms = typeof event.timestamp === 'number' ? event.timestamp : Date.parse(event.timestamp);
  if (ms > nowMs + MAX_EVENT_FUTURE_MS) return 'is more than 5 minutes in the future';
  if (ms < nowMs - MAX_EVENT_AGE_MS) return 'is more than 7 days in the past';
  return undefined;
}

/** Completes a validated event with its id and times. */
export function acceptEvent(event: EventInput, nowMs: number): AcceptedEvent {
  const { timestamp, event_id, ...rest } = event;
  return {
    ...rest,
    event_id: event_id ?? deriveEventId(event),
    client_time_ms: timestamp === undefined ? undefined : typeof timestamp === 'number' ? timestamp : Date.parse(timestamp),
    received_at_ms: nowMs,
  };
}

/** The UTC day (YYYY-MM-DD) an event counts towards: the server's receive time. */
export function analysisDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * The most list positions the counters keep apart: a slate is at most this long (GET /recommend's
 * `top_n` bound, MAX_TOP_N, is this number), so per-position counters stay bounded at
 * 2 x MAX_COUNTED_POSITION attributes per daily counter item, whatever the traffic.
 */
export const MAX_COUNTED_POSITION = 100;

/** The counter of slates (impressions) with exactly `length` items. */
export const slateLengthField = (length: number) => `slate_len_${length}` as const;

/** The counter of clicks at list position `position` (1 is the top slot). */
export const clickPositionField = (position: number) => `clicks_pos_${position}` as const;

/** Why an impression was served from the popularity list, as /recommend records it. */
const FALLBACK_FIELDS: Readonly<Record<string, string>> = {
  'unknown-user': 'fallback_cold_start_impressions',
  'artifact-unavailable': 'fallback_artifact_impressions',
};

/**
 * Counter increments one event contributes to its variant's daily aggregate.
 *
 * An impression adds one to `slate_len_<k>` for its slate of k items (one attribute, however
 * long the slate): the analysis gets the impressions shown at position p as the sum over
 * k >= p. A click with a `position` from 1 to MAX_COUNTED_POSITION adds one to
 * `clicks_pos_<p>`. Together they give click-through by position and the reciprocal rank of
 * clicks; clicks without a position are counted in `clicks` only.
 */
export function counterIncrements(
  event: Pick<AcceptedEvent, 'event_type' | 'value' | 'fallback'> & Partial<Pick<AcceptedEvent, 'slate' | 'position'>>,
): Record<string, number> {
  switch (event.event_type) {
    case 'impression': {
      const increments: Record<string, number> = { impressions: 1 };
      // Impressions served from a fallback are counted apart, so cold-start users stay visible per
      // variant; the total keeps every reason, the two named ones are also counted on their own.
      if (event.fallback) {
        increments.fallback_impressions = 1;
        if (Object.hasOwn(FALLBACK_FIELDS, event.fallback)) increments[FALLBACK_FIELDS[event.fallback]] = 1;
      }
      const length = event.slate?.length ?? 0;
      if (length >= 1 && length <= MAX_COUNTED_POSITION) increments[slateLengthField(length)] = 1;
      return increments;
    }
    case 'click': {
      const position = event.position;
      return position !== undefined && Number.isInteger(position) && position >= 1 && position <= MAX_COUNTED_POSITION
        ? { clicks: 1, [clickPositionField(position)]: 1 }
        : { clicks: 1 };
    }
    case 'purchase': {
      const value = event.value ?? 0;
      return { conversions: 1, revenue_n: 1, revenue_sum: value, revenue_sum_sq: value * value };
    }
    case 'rating': {
      const value = event.value ?? 0;
      return { rating_n: 1, rating_sum: value, rating_sum_sq: value * value };
    }
    case 'watch_time': {
      const value = event.value ?? 0;
      return { watch_time_n: 1, watch_time_sum: value, watch_time_sum_sq: value * value };
    }
  }
}
