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
 * Storage is injected, so the handler stays a thin adapter.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { HttpError, validationFailed, type FieldProblem } from '../common/errors.ts';
import { zodProblems } from '../common/http.ts';
import { logger, metrics } from '../common/observability.ts';
import type { VariantEvent } from '../domain/events/counters.ts';
import { MAX_BATCH_SIZE, UNASSIGNED_VARIANT, acceptEvent, contentFingerprint, eventSchema, timestampProblem, type AcceptedEvent } from '../domain/events/event.ts';
import type { Attributed } from '../domain/events/interleaving-credit.ts';
import { itemProblem } from '../domain/events/item-size.ts';
import { assignmentRefKey, type DynamoAssignmentReader } from '../storage/assignment-reader.ts';
import type { DynamoEventRepository } from '../storage/event-repository.ts';
import { attributeInterleavingEvents, type ExperimentModeCache } from './interleaving-credit.ts';

export interface IngestionServiceDeps {
  assignments: DynamoAssignmentReader;
  events: DynamoEventRepository;
  modes: ExperimentModeCache;
}

export interface IngestRequest {
  /** The parsed JSON body. */
  body: unknown;
  isBatch: boolean;
  now: number;
}

/** Builds the ingestion use case over its storage. */
export function createIngestionService({ assignments, events, modes }: IngestionServiceDeps) {
  const batchSchema = z.strictObject({
    events: z.array(z.unknown(), { error: 'must be an array of events' }).min(1, 'must hold at least 1 event').max(MAX_BATCH_SIZE, `must hold at most ${MAX_BATCH_SIZE} events`),
  });

  /** `events[3].user_id` in a batch, `user_id` for a single event. */
  type FieldName = (index: number, field: string) => string;

  /** Validates every event, collecting all problems with their index. */
  function validateAll(raw: unknown[], now: number, prefix: (i: number) => string): { accepted: AcceptedEvent[]; indices: number[]; problems: FieldProblem[] } {
    const accepted: AcceptedEvent[] = [];
    const indices: number[] = [];
    const problems: FieldProblem[] = [];
    raw.forEach((candidate, i) => {
      const parsed = eventSchema.safeParse(candidate);
      if (!parsed.success) {
        problems.push(...zodProblems(parsed.error, prefix(i)));
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

  /** The 503 naming every event id that was not stored (a retry of the whole request is safe). */
  function notStored(eventIds: string[], of: number): HttpError {
    return new HttpError(
      503,
      'store_unavailable',
      `${eventIds.length} of ${of} events could not be stored; retry the request (stored events are deduplicated)`,
      eventIds.map((eventId) => ({ field: 'event_id', message: eventId })),
    );
  }

  /**
   * Each event's variant (one BatchGetItem per 100 users). Users without a stored assignment were
   * never part of the test (holdout, coverage, a stopped experiment): their events are kept under
   * the unassigned pseudo-variant instead of being refused.
   */
  async function resolveVariants(batch: AcceptedEvent[]): Promise<string[]> {
    let found: Map<string, string>;
    try {
      found = await assignments.variants(batch.map((e) => ({ experimentId: e.experiment_id, userId: e.user_id })));
    } catch (error) {
      logger.error('Assignments could not be read', { error });
      throw notStored(batch.map((e) => e.event_id), batch.length);
    }
    return batch.map((e) => found.get(assignmentRefKey(e.experiment_id, e.user_id)) ?? UNASSIGNED_VARIANT);
  }

  /** DynamoDB refuses items over 400 KB and keys over 2,048 bytes: refuse them here, by index. */
  function checkItemSizes(batch: VariantEvent[], indices: number[], field: FieldName): void {
    const problems: FieldProblem[] = [];
    batch.forEach(({ event, variant, interleaving }, i) => {
      const problem = itemProblem(events.itemFor(event, variant, interleaving));
      if (problem) problems.push({ field: field(indices[i], 'event'), message: `cannot be stored: ${problem}` });
    });
    if (problems.length > 0) throw validationFailed(problems);
  }

  /**
   * Each event's counter variant: the sticky assignment for A/B and bandit experiments, the
   * credited team (or nobody) for interleaving ones. A read that fails is a 503 naming every event.
   * Events for experiments that do not exist refuse the whole request with a 404 naming each
   * `experiment_id`, before anything is written (one cached read per distinct experiment id).
   */
  async function attribute(batch: AcceptedEvent[], indices: number[], field: FieldName, now: number): Promise<VariantEvent[]> {
    let experimentModes: Map<string, string | undefined>;
    try {
      experimentModes = await modes.modes(batch.map((e) => e.experiment_id), now);
    } catch (error) {
      logger.error('Experiments could not be read', { error });
      throw notStored(batch.map((e) => e.event_id), batch.length);
    }
    const unknown = batch.flatMap((e, i) => (experimentModes.get(e.experiment_id) === undefined ? [{ field: field(indices[i], 'experiment_id'), message: `experiment ${e.experiment_id} does not exist` }] : []));
    if (unknown.length > 0) {
      metrics.addMetric('EventsUnknownExperiment', MetricUnit.Count, unknown.length);
      throw new HttpError(404, 'not_found', `Invalid request: ${unknown.map((d) => `${d.field}: ${d.message}`).join('; ')}`, unknown);
    }
    const interleaving = new Set([...experimentModes].filter(([, mode]) => mode === 'interleaving').map(([id]) => id));
    const split = (wanted: boolean) => batch.map((e, i) => ({ e, i })).filter(({ e }) => interleaving.has(e.experiment_id) === wanted);
    const assigned = split(false);
    const interleaved = split(true);
    const out: VariantEvent[] = new Array(batch.length);
    if (assigned.length > 0) {
      const variants = await resolveVariants(assigned.map(({ e }) => e));
      assigned.forEach(({ e, i }, j) => (out[i] = { event: e, variant: variants[j] }));
    }
    if (interleaved.length > 0) {
      let attributed: Attributed[];
      try {
        attributed = await attributeInterleavingEvents(interleaved.map(({ e }) => e), events.impressions);
      } catch (error) {
        logger.error('Impression slates could not be read', { error });
        throw notStored(batch.map((e) => e.event_id), batch.length);
      }
      interleaved.forEach(({ e, i }, j) => (out[i] = { event: e, ...attributed[j] }));
      const credited = attributed.filter((a) => a.interleaving.kind === 'credited').length;
      metrics.addMetric('InterleavingCredited', MetricUnit.Count, credited);
      metrics.addMetric('InterleavingUncredited', MetricUnit.Count, attributed.length - credited);
    }
    return out;
  }

  async function store(batch: VariantEvent[]) {
    const result = await events.recordBatch(batch);
    metrics.addMetric('EventsStored', MetricUnit.Count, result.stored.length);
    metrics.addMetric('EventsDuplicate', MetricUnit.Count, result.duplicates.length);
    if (result.conflicts.length > 0) metrics.addMetric('EventsConflict', MetricUnit.Count, result.conflicts.length);
    if (result.failed.length > 0) {
      metrics.addMetric('EventsFailed', MetricUnit.Count, result.failed.length);
      logger.error('Events could not be stored', { failed: result.failed.length, error: result.failed[0].error });
      throw notStored(
        result.failed.map(({ eventId }) => eventId),
        batch.length,
      );
    }
    return { stored: result.stored.length, duplicates: result.duplicates.length, conflicts: new Set(result.conflicts) };
  }

  /** The 409 naming every event whose id was already used with different content. */
  function conflicting(problems: FieldProblem[], summary: string): HttpError {
    return new HttpError(409, 'conflict', `${problems.length} event id(s) were already used with different content and were not stored; ${summary}`, problems);
  }

  /** Ingests one request; the result is the status and body of the response. */
  async function ingest(request: IngestRequest): Promise<{ statusCode: number; body: unknown }> {
      const { now, isBatch, body } = request;
      let raw: unknown[];
      let prefix: (i: number) => string;
      if (isBatch) {
        const parsed = batchSchema.safeParse(body);
        if (!parsed.success) throw validationFailed(zodProblems(parsed.error));
        raw = parsed.data.events;
        prefix = (i) => `events[${i}]`;
      } else {
        raw = [body];
        prefix = () => '';
      }
      const field: FieldName = (i, name) => (isBatch ? `${prefix(i)}.${name}` : name);
      const { accepted, indices, problems } = validateAll(raw, now, prefix);
      if (problems.length > 0) {
        metrics.addMetric('EventsRejected', MetricUnit.Count, raw.length);
        throw validationFailed(problems);
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
      const { stored, duplicates, conflicts } = await store(batch);
      const inBatchDuplicates = accepted.length - unique.length - inBatchConflicts.length;
      const conflictPositions = [...uniquePositions.filter((i) => conflicts.has(accepted[i].event_id)), ...inBatchConflicts].sort((a, b) => a - b);
      if (inBatchConflicts.length > 0) metrics.addMetric('EventsConflict', MetricUnit.Count, inBatchConflicts.length);
      if (conflictPositions.length > 0) {
        const problems = conflictPositions.map((i) => ({ field: field(indices[i], 'event_id'), message: `${accepted[i].event_id} was already used with different content` }));
        throw conflicting(problems, isBatch ? `received ${accepted.length}, stored ${stored}, duplicates ${duplicates + inBatchDuplicates}` : 'resend it with a new event_id');
      }
      if (!isBatch) {
        return { statusCode: stored === 1 ? 201 : 200, body: { event_id: unique[0].event_id, status: stored === 1 ? 'stored' : 'duplicate' } };
      }
      return { statusCode: 200, body: { received: accepted.length, stored, duplicates: duplicates + inBatchDuplicates } };
  }

  return { ingest };
}
