/**
 * POST /events and POST /events/batch: validated whole at the edge (any bad event → 400
 * listing every index and field, nothing written), deduplicated by event id, stored and
 * counted exactly once. Assignments are read with BatchGetItem, events claimed with one
 * conditional put each, and the counter writes coalesced per (experiment, variant, day) and
 * per user. A 2xx is only returned when every event is stored; otherwise a 503 names the
 * event ids that were not, and a retry of the same request stores just those.
 *
 * Events of interleaving experiments need no assignment: a click or purchase is credited to the
 * team whose item it names in the impression slate of its request_id (read with BatchGetItem);
 * any other event of such an experiment is stored and counted, but credited to nobody.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { ENV, TABLES } from '../lib/resources.ts';
import { dynamoClient } from './common/clients.ts';
import { requiredEnv } from './common/env.ts';
import { HttpError, validationFailed, type FieldProblem } from './common/errors.ts';
import { httpJsonHandler, json, zodProblems, type JsonEvent } from './common/http.ts';
import { logger, metrics } from './common/observability.ts';
import type { VariantEvent } from './domain/events/counters.ts';
import { MAX_BATCH_SIZE, UNASSIGNED_VARIANT, acceptEvent, eventSchema, timestampProblem, type AcceptedEvent } from './domain/events/event.ts';
import type { Attributed } from './domain/events/interleaving-credit.ts';
import { itemProblem } from './domain/events/item-size.ts';
import { DynamoAssignmentReader, assignmentRefKey } from './storage/assignment-reader.ts';
import { DynamoCounterRepository, DynamoEventRepository } from './storage/event-repository.ts';
import { DynamoExperimentRepository } from './storage/experiment-repository.ts';
import { ExperimentModeCache, attributeInterleavingEvents } from './services/interleaving-credit.ts';

const ttlDays = Number(process.env[ENV.eventsTtlDays]) || 400;
const assignments = new DynamoAssignmentReader(dynamoClient(), requiredEnv(TABLES.experiments.envVar));
const counters = new DynamoCounterRepository(dynamoClient(), requiredEnv(TABLES.counters.envVar));
const events = new DynamoEventRepository(dynamoClient(), requiredEnv(TABLES.events.envVar), counters, {
  ttlDays,
  onInconsistency: (inconsistency) => {
    logger.error('Counter undo incomplete: counters need a manual correction', { ...inconsistency });
    metrics.addMetric('CounterInconsistency', MetricUnit.Count, 1);
  },
});

const modes = new ExperimentModeCache(new DynamoExperimentRepository(dynamoClient(), requiredEnv(TABLES.experiments.envVar)));

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
 */
async function attribute(batch: AcceptedEvent[], now: number): Promise<VariantEvent[]> {
  let interleaving: Set<string>;
  try {
    interleaving = await modes.interleaving(batch.map((e) => e.experiment_id), now);
  } catch (error) {
    logger.error('Experiments could not be read', { error });
    throw notStored(batch.map((e) => e.event_id), batch.length);
  }
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
  if (result.failed.length > 0) {
    metrics.addMetric('EventsFailed', MetricUnit.Count, result.failed.length);
    logger.error('Events could not be stored', { failed: result.failed.length, error: result.failed[0].error });
    throw notStored(
      result.failed.map(({ eventId }) => eventId),
      batch.length,
    );
  }
  return { stored: result.stored.length, duplicates: result.duplicates.length };
}

export const handler = httpJsonHandler(async (event: JsonEvent) => {
  const now = Date.now();
  const isBatch = event.resource === '/events/batch' || event.path.endsWith('/events/batch');
  let raw: unknown[];
  let prefix: (i: number) => string;
  if (isBatch) {
    const parsed = batchSchema.safeParse(event.body);
    if (!parsed.success) throw validationFailed(zodProblems(parsed.error));
    raw = parsed.data.events;
    prefix = (i) => `events[${i}]`;
  } else {
    raw = [event.body];
    prefix = () => '';
  }
  const field: FieldName = (i, name) => (isBatch ? `${prefix(i)}.${name}` : name);
  const { accepted, indices, problems } = validateAll(raw, now, prefix);
  if (problems.length > 0) {
    metrics.addMetric('EventsRejected', MetricUnit.Count, raw.length);
    throw validationFailed(problems);
  }
  // Duplicates inside one batch are stored once; the rest are reported as duplicates.
  const firstById = new Map<string, number>();
  accepted.forEach((e, i) => firstById.has(e.event_id) || firstById.set(e.event_id, i));
  const uniquePositions = [...firstById.values()];
  const unique = uniquePositions.map((i) => accepted[i]);
  const uniqueIndices = uniquePositions.map((i) => indices[i]);
  const batch = await attribute(unique, now);
  checkItemSizes(batch, uniqueIndices, field);
  const { stored, duplicates } = await store(batch);
  const inBatchDuplicates = accepted.length - unique.length;
  if (!isBatch) {
    return json(stored === 1 ? 201 : 200, { event_id: unique[0].event_id, status: stored === 1 ? 'stored' : 'duplicate' });
  }
  return json(200, { received: accepted.length, stored, duplicates: duplicates + inBatchDuplicates });
});
