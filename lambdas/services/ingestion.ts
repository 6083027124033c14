/**
 * The ingestion use case behind POST /events and POST /events/batch. A request is validated
 * whole: a single bad event gives a 400 listing every index and field, and nothing is written.
 * Events are deduplicated by event id and stored and counted exactly once. A 2xx is returned
 * only when every event is stored; otherwise a 503 names the event ids that were not.
 *
 * An event id is an idempotency key: resent with the same content it is a duplicate (200), with
 * different content a conflict. A conflicting event is neither stored nor counted and the stored
 * one is kept; the other events of its batch are stored and counted, and the answer is a 409
 * `conflict` naming each conflicting `events[i].event_id` (`event_id` for a single event), so a
 * retry of the same batch gets duplicates and the same conflicts. A batch with events that could
 * not be stored answers 503 first; its retry then reports the conflicts.
 *
 * Abuse checks (domain/events/plausibility.ts): an event naming a `request_id` must match a slate
 * /recommend recorded for its user (a click, an item of it), else the whole request is refused
 * with a 422 naming each `request_id`, before anything is written. Each user may send so many
 * events of each type per experiment and day: events over the limit are neither stored nor
 * counted, the others are, and the answer is a 429 naming each `events[i].user_id` (409 when
 * there are conflicts too, listing both).
 * Storage is injected, so the handler stays a thin adapter.
 */
import { z } from 'zod';
import { mapWithConcurrency } from '../common/concurrency.ts';
import { ConflictError, DailyLimitExceededError, EventsNotStoredError, NotFoundError, SlateMismatchError, ValidationError } from '../domain/errors.ts';
import type { VariantEvent } from '../domain/events/counters.ts';
import {
  MAX_BATCH_SIZE,
  UNASSIGNED_VARIANT,
  acceptEvent,
  contentFingerprint,
  eventSchema,
  timestampProblem,
  type AcceptedEvent,
} from '../domain/events/event.ts';
import { attributeInterleavedEvent, type StoredImpression } from '../domain/events/interleaving-credit.ts';
import { itemProblem } from '../domain/events/item-size.ts';
import { planQuotaClaims, slateProblem, type DailyQuotaClaim } from '../domain/events/plausibility.ts';
import { describeFieldErrors, zodFieldErrors, type FieldError } from '../domain/field-error.ts';
import { assignmentRefKey, type AssignmentReader } from '../storage/assignment-reader.ts';
import type { DailyQuota } from '../storage/daily-quota.ts';
import type { EventRepository } from '../storage/event-store.ts';
import type { InteractionLog } from '../storage/interaction-log.ts';
import type { ExperimentModeCache, ExperimentSettings } from './interleaving-credit.ts';
import type { Telemetry } from './telemetry.ts';

export interface IngestionServiceDeps {
  assignments: AssignmentReader;
  events: EventRepository;
  modes: ExperimentModeCache;
  /** Per-user daily limits (DAILY_EVENT_LIMITS). */
  quota: DailyQuota;
  /**
   * Whether /recommend records its slates (the RECORD_IMPRESSIONS switch): only then can an
   * event's request_id be checked against one. Default true.
   */
  verifyRequestIds?: boolean;
  /**
   * Where feedback is logged for the weekly retraining (interaction-log.ts), before it is
   * counted: a failed log write fails the request (503) with nothing counted. @default none
   */
  interactions?: InteractionLog;
  /** Where refusals and failures are logged and counted. */
  telemetry: Telemetry;
}

/**
 * What a request ingested once every event in it is stored: a single event, stored now or a
 * duplicate of one stored before, or a batch's counts (in-batch repeats are duplicates too).
 */
export type IngestResult = { isBatch: false; eventId: string; duplicate: boolean } | { isBatch: true; received: number; stored: number; duplicates: number };

export interface IngestRequest {
  /** The parsed JSON body. */
  body: unknown;
  isBatch: boolean;
  now: number;
}

/** Builds the ingestion use case over its storage. */
export function createIngestionService({ assignments, events, modes, quota, verifyRequestIds = true, interactions, telemetry }: IngestionServiceDeps) {
  const batchSchema = z.strictObject({
    events: z
      .array(z.unknown(), { error: 'must be an array of events' })
      .min(1, 'must hold at least 1 event')
      .max(MAX_BATCH_SIZE, `must hold at most ${MAX_BATCH_SIZE} events`),
  });

  /** `events[3].user_id` in a batch, `user_id` for a single event. */
  type FieldName = (index: number, field: string) => string;

  /** Validates every event, collecting all problems with their index. */
  function validateAll(raw: unknown[], now: number, prefix: (i: number) => string): { accepted: AcceptedEvent[]; indices: number[]; problems: FieldError[] } {
    const accepted: AcceptedEvent[] = [];
    const indices: number[] = [];
    const problems: FieldError[] = [];
    raw.forEach((candidate, i) => {
      const parsed = eventSchema.safeParse(candidate);
      if (!parsed.success) {
        problems.push(...zodFieldErrors(parsed.error, prefix(i)));
        return;
      }
      const timeProblem = timestampProblem(parsed.data, now);
      if (timeProblem) {
        problems.push({ field: `${prefix(i) ? `${prefix(i)}.` : ''}timestamp`, message: timeProblem });
        return;
      }
      accepted.push(acceptEvent(parsed.data, now));
      indices.push(i);
    });
    return { accepted, indices, problems };
  }

  /**
   * Each event's variant (one BatchGetItem per 100 users). Users without a stored assignment were
   * never part of the test (holdout, coverage, a stopped experiment): their events are kept under
   * the unassigned pseudo-variant instead of being refused.
   */
  async function resolveVariants(batch: AcceptedEvent[]): Promise<{ variant: string; propensity?: number; segment?: string }[]> {
    let found: Map<string, { variant: string; propensity: number; segment?: string }>;
    try {
      found = await assignments.assignments(batch.map((e) => ({ experimentId: e.experiment_id, userId: e.user_id })));
    } catch (error) {
      telemetry.error('Assignments could not be read', { error });
      throw new EventsNotStoredError(
        batch.map((e) => e.event_id),
        batch.length,
      );
    }
    return batch.map((e) => found.get(assignmentRefKey(e.experiment_id, e.user_id)) ?? { variant: UNASSIGNED_VARIANT });
  }

  /** DynamoDB refuses items over 400 KB and keys over 2,048 bytes: refuse them here, by index. */
  function checkItemSizes(batch: VariantEvent[], indices: number[], field: FieldName): void {
    const problems: FieldError[] = [];
    batch.forEach(({ event, variant, interleaving }, i) => {
      const problem = itemProblem(events.itemFor(event, variant, interleaving));
      if (problem) problems.push({ field: field(indices[i], 'event'), message: `cannot be stored: ${problem}` });
    });
    if (problems.length > 0) throw new ValidationError(problems);
  }

  /** The slates recorded for the given request ids (a failed read is a 503 naming every event). */
  async function slatesOf(requestIds: Set<string>, batch: AcceptedEvent[]): Promise<Map<string, StoredImpression>> {
    if (requestIds.size === 0) return new Map();
    try {
      return await events.impressions.byRequestIds(requestIds);
    } catch (error) {
      telemetry.error('Impression slates could not be read', { error });
      throw new EventsNotStoredError(
        batch.map((e) => e.event_id),
        batch.length,
      );
    }
  }

  /**
   * Each event's counter variant: the sticky assignment for A/B and bandit experiments, the
   * credited team (or nobody) for interleaving ones. A read that fails is a 503 naming every event.
   * Events for experiments that do not exist refuse the whole request with a 404 naming each
   * `experiment_id`, before anything is written (one cached read per distinct experiment id).
   * An event whose `request_id` names no slate of its user, or a click on an item its slate did
   * not show, refuses the whole request with a 422 naming each `request_id` (see plausibility.ts).
   */
  async function attribute(batch: AcceptedEvent[], indices: number[], field: FieldName, now: number): Promise<VariantEvent[]> {
    let settings: Map<string, ExperimentSettings | undefined>;
    try {
      settings = await modes.settings(
        batch.map((e) => e.experiment_id),
        now,
      );
    } catch (error) {
      telemetry.error('Experiments could not be read', { error });
      throw new EventsNotStoredError(
        batch.map((e) => e.event_id),
        batch.length,
      );
    }
    const experimentModes = new Map([...settings].map(([id, s]) => [id, s?.mode]));
    const unknown = batch.flatMap((e, i) =>
      experimentModes.get(e.experiment_id) === undefined
        ? [{ field: field(indices[i], 'experiment_id'), message: `experiment ${e.experiment_id} does not exist` }]
        : [],
    );
    if (unknown.length > 0) {
      telemetry.metric('EventsUnknownExperiment', 'Count', unknown.length);
      throw new NotFoundError(`Invalid request: ${describeFieldErrors(unknown)}`, unknown);
    }
    const interleaving = new Set([...experimentModes].filter(([, mode]) => mode === 'interleaving').map(([id]) => id));
    const split = (wanted: boolean) => batch.map((e, i) => ({ e, i })).filter(({ e }) => interleaving.has(e.experiment_id) === wanted);
    const assigned = split(false);
    const interleaved = split(true);
    // Interleaving credits read the slates of clicks and purchases; the request_id check reads every slate named.
    const named = verifyRequestIds ? batch : interleaved.map(({ e }) => e).filter((e) => e.event_type === 'click' || e.event_type === 'purchase');
    const requestIds = new Set(named.flatMap((e) => (e.request_id === undefined ? [] : [e.request_id])));
    // Independent reads, so one round trip instead of two.
    const [resolved, slates] = await Promise.all([
      assigned.length > 0 ? resolveVariants(assigned.map(({ e }) => e)) : Promise.resolve([]),
      slatesOf(requestIds, batch),
    ]);
    const slateOf = (e: AcceptedEvent) => (e.request_id === undefined ? undefined : slates.get(e.request_id));
    const out: VariantEvent[] = new Array(batch.length);
    assigned.forEach(({ e, i }, j) => {
      const { variant, segment, propensity } = resolved[j];
      // Each event carries its experiment's per-user caps (the capped sums are written with them),
      // the user's segment from their assignment (counters are kept per variant and segment), and
      // for a bandit the assignment's propensity (the reward's inverse-propensity sums).
      out[i] = { event: e, variant, caps: settings.get(e.experiment_id)?.caps };
      if (segment !== undefined) out[i].segment = segment;
      if (experimentModes.get(e.experiment_id) === 'bandit' && propensity !== undefined) out[i].propensity = propensity;
    });
    for (const { e, i } of interleaved) out[i] = { event: e, ...attributeInterleavedEvent(e, slateOf(e)) };
    if (verifyRequestIds) {
      const mismatched = out.flatMap(({ event, variant }, i) => {
        const problem = slateProblem(event, slateOf(event), interleaving.has(event.experiment_id) || variant !== UNASSIGNED_VARIANT);
        return problem === undefined ? [] : [{ field: field(indices[i], 'request_id'), message: problem }];
      });
      if (mismatched.length > 0) {
        telemetry.metric('EventsSlateMismatch', 'Count', mismatched.length);
        throw new SlateMismatchError(mismatched);
      }
    }
    if (interleaved.length > 0) {
      const credited = interleaved.filter(({ i }) => out[i].interleaving?.kind === 'credited').length;
      telemetry.metric('InterleavingCredited', 'Count', credited);
      telemetry.metric('InterleavingUncredited', 'Count', interleaved.length - credited);
    }
    return out;
  }

  /**
   * Takes each user's share of the daily limits. Returns the positions (in `batch`) refused for a
   * limit and the grants, to give back what is not stored. A failed take is a 503 naming every
   * event, after giving back what was taken.
   */
  async function takeQuota(batch: VariantEvent[]): Promise<{ claims: DailyQuotaClaim[]; granted: Set<number>[]; limited: number[] }> {
    const claims = planQuotaClaims(batch.map(({ event }) => event));
    const results = await mapWithConcurrency(claims, 8, (claim) => quota.take(claim));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      telemetry.error('Daily limits could not be read', { error: failed.reason });
      await Promise.all(
        results.map((r, c) => (r.status === 'fulfilled' ? giveBack(claims[c], new Set(claims[c].positions), r.value.granted, batch) : undefined)),
      );
      throw new EventsNotStoredError(
        batch.map(({ event }) => event.event_id),
        batch.length,
      );
    }
    const granted: Set<number>[] = [];
    const limited: number[] = [];
    results.forEach((r, c) => {
      const grant = r.status === 'fulfilled' ? r.value : { granted: [], over: [] };
      const over = new Set(grant.over);
      granted.push(new Set(claims[c].positions.filter((p) => !over.has(batch[p].event.event_type))));
      limited.push(...claims[c].positions.filter((p) => over.has(batch[p].event.event_type)));
    });
    if (limited.length > 0) telemetry.metric('EventsOverDailyLimit', 'Count', limited.length);
    return { claims, granted, limited: limited.sort((a, b) => a - b) };
  }

  /** Gives back the share of the events at `positions` of the granted types (best effort: a failure only tightens the user's day). */
  async function giveBack(claim: DailyQuotaClaim, positions: Set<number>, types: readonly string[], batch: VariantEvent[]): Promise<void> {
    const counts: DailyQuotaClaim['counts'] = {};
    for (const p of claim.positions) {
      const type = batch[p].event.event_type;
      if (positions.has(p) && types.includes(type)) counts[type] = (counts[type] ?? 0) + 1;
    }
    if (Object.keys(counts).length === 0) return;
    try {
      await quota.giveBack({ ...claim, counts });
    } catch (error) {
      telemetry.warn('Daily limit share could not be given back', { experimentId: claim.experimentId, day: claim.day, error });
      telemetry.metric('QuotaGiveBackFailed', 'Count', 1);
    }
  }

  /**
   * Stores the events within the limits; gives back the share of those not stored and counted
   * (duplicates, conflicts, failures); a failure is a 503 naming the events not stored.
   */
  async function store(batch: VariantEvent[]) {
    const { claims, granted, limited } = await takeQuota(batch);
    const refused = new Set(limited);
    const positions = batch.map((_, p) => p).filter((p) => !refused.has(p));
    if (interactions) {
      try {
        await interactions.append(positions.map((p) => batch[p].event));
      } catch (error) {
        telemetry.error('Feedback could not be logged for retraining', { error });
        telemetry.metric('InteractionLogFailed', 'Count', 1);
        const all = new Set(positions);
        await Promise.all(claims.map((claim, c) => giveBack(claim, all, [...new Set([...granted[c]].map((p) => batch[p].event.event_type))], batch)));
        throw new EventsNotStoredError(
          positions.map((p) => batch[p].event.event_id),
          batch.length,
        );
      }
    }
    const result = await events.recordBatch(positions.map((p) => batch[p]));
    telemetry.metric('EventsStored', 'Count', result.stored.length);
    telemetry.metric('EventsDuplicate', 'Count', result.duplicates.length);
    if (result.conflicts.length > 0) telemetry.metric('EventsConflict', 'Count', result.conflicts.length);
    const notCounted = new Set([...result.duplicates, ...result.conflicts, ...result.failed.map(({ eventId }) => eventId)]);
    if (notCounted.size > 0) {
      const back = new Set(positions.filter((p) => notCounted.has(batch[p].event.event_id)));
      await Promise.all(claims.map((claim, c) => giveBack(claim, back, [...new Set([...granted[c]].map((p) => batch[p].event.event_type))], batch)));
    }
    if (result.failed.length > 0) {
      telemetry.metric('EventsFailed', 'Count', result.failed.length);
      telemetry.error('Events could not be stored', { failed: result.failed.length, error: result.failed[0].error });
      throw new EventsNotStoredError(
        result.failed.map(({ eventId }) => eventId),
        batch.length,
      );
    }
    return { stored: result.stored.length, duplicates: result.duplicates.length, conflicts: new Set(result.conflicts), limited };
  }

  /** Why an event over its user's daily limit was refused. */
  function overLimitMessage(event: AcceptedEvent): string {
    return `${event.user_id} sent more than ${quota.limits[event.event_type]} ${event.event_type} events to ${event.experiment_id} on ${new Date(event.received_at_ms).toISOString().slice(0, 10)} (UTC); the limit resets at midnight UTC`;
  }

  /** The 409 naming every event whose id was already used with different content. */
  function conflicting(problems: FieldError[], summary: string, overLimit: FieldError[]): ConflictError {
    const also = overLimit.length > 0 ? `; ${overLimit.length} event(s) exceed their user's daily limit and were not stored` : '';
    return new ConflictError(`${problems.length} event id(s) were already used with different content and were not stored${also}; ${summary}`, [
      ...problems,
      ...overLimit,
    ]);
  }

  /** Ingests one request; anything short of every event stored is thrown (domain/errors.ts). */
  async function ingest(request: IngestRequest): Promise<IngestResult> {
    const { now, isBatch, body } = request;
    let raw: unknown[];
    let prefix: (i: number) => string;
    if (isBatch) {
      const parsed = batchSchema.safeParse(body);
      if (!parsed.success) throw new ValidationError(zodFieldErrors(parsed.error));
      raw = parsed.data.events;
      prefix = (i) => `events[${i}]`;
    } else {
      raw = [body];
      prefix = () => '';
    }
    const field: FieldName = (i, name) => (isBatch ? `${prefix(i)}.${name}` : name);
    const { accepted, indices, problems } = validateAll(raw, now, prefix);
    if (problems.length > 0) {
      telemetry.metric('EventsRejected', 'Count', raw.length);
      throw new ValidationError(problems);
    }
    // Duplicates inside one batch are stored once; the rest are reported as duplicates, or as
    // conflicts when their content differs from the first event with their id.
    const firstById = new Map<string, number>();
    const inBatchConflicts: number[] = [];
    accepted.forEach((e, i) => {
      const first = firstById.get(e.event_id);
      if (first === undefined) firstById.set(e.event_id, i);
      else if (contentFingerprint(accepted[first]) !== contentFingerprint(e)) inBatchConflicts.push(i);
    });
    const uniquePositions = [...firstById.values()];
    const unique = uniquePositions.map((i) => accepted[i]);
    const uniqueIndices = uniquePositions.map((i) => indices[i]);
    const batch = await attribute(unique, uniqueIndices, field, now);
    checkItemSizes(batch, uniqueIndices, field);
    const { stored, duplicates, conflicts, limited } = await store(batch);
    const inBatchDuplicates = accepted.length - unique.length - inBatchConflicts.length;
    const conflictPositions = [...uniquePositions.filter((i) => conflicts.has(accepted[i].event_id)), ...inBatchConflicts].sort((a, b) => a - b);
    if (inBatchConflicts.length > 0) telemetry.metric('EventsConflict', 'Count', inBatchConflicts.length);
    const summary = isBatch ? `received ${accepted.length}, stored ${stored}, duplicates ${duplicates + inBatchDuplicates}` : 'resend it with a new event_id';
    const overLimit = limited.map((p) => ({ field: field(uniqueIndices[p], 'user_id'), message: overLimitMessage(unique[p]) }));
    if (conflictPositions.length > 0) {
      const problems = conflictPositions.map((i) => ({
        field: field(indices[i], 'event_id'),
        message: `${accepted[i].event_id} was already used with different content`,
      }));
      throw conflicting(problems, summary, overLimit);
    }
    if (overLimit.length > 0) {
      throw new DailyLimitExceededError(
        `${overLimit.length} event(s) exceed their user's daily limit and were not stored${isBatch ? `; ${summary}` : ''}`,
        overLimit,
      );
    }
    if (!isBatch) return { isBatch, eventId: unique[0].event_id, duplicate: stored !== 1 };
    return { isBatch, received: accepted.length, stored, duplicates: duplicates + inBatchDuplicates };
  }

  return { ingest };
}
