/**
 * POST /events and POST /events/batch: validated whole at the edge (any bad event → 400
 * listing every index and field, nothing written), deduplicated by event id, stored and
 * counted exactly once. A 2xx is only returned for events that were stored.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { TABLES } from '../lib/resources.ts';
import { mapWithConcurrency } from './common/concurrency.ts';
import { dynamoClient } from './common/clients.ts';
import { requiredEnv } from './common/env.ts';
import { HttpError, validationFailed, type FieldProblem } from './common/errors.ts';
import { httpJsonHandler, json, zodProblems, type JsonEvent } from './common/http.ts';
import { logger, metrics } from './common/observability.ts';
import { MAX_BATCH_SIZE, acceptEvent, eventSchema, timestampProblem, type AcceptedEvent } from './domain/events/event.ts';
import { DynamoCounterRepository, DynamoEventRepository } from './storage/event-repository.ts';
import { DynamoExperimentRepository } from './storage/experiment-repository.ts';

const experiments = new DynamoExperimentRepository(dynamoClient(), requiredEnv(TABLES.experiments.envVar));
const counters = new DynamoCounterRepository(dynamoClient(), requiredEnv(TABLES.counters.envVar));
const events = new DynamoEventRepository(dynamoClient(), requiredEnv(TABLES.events.envVar), counters);

const WRITE_CONCURRENCY = 16;

const batchSchema = z.strictObject({
  events: z.array(z.unknown(), { error: 'must be an array of events' }).min(1, 'must hold at least 1 event').max(MAX_BATCH_SIZE, `must hold at most ${MAX_BATCH_SIZE} events`),
});

/** Validates every event, collecting all problems with their index. */
function validateAll(raw: unknown[], now: number, prefix: (i: number) => string): { accepted: AcceptedEvent[]; problems: FieldProblem[] } {
  const accepted: AcceptedEvent[] = [];
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
  });
  return { accepted, problems };
}

/** Finds each user's variant; events of users never exposed to the experiment are refused. */
async function resolveVariants(batch: AcceptedEvent[], prefix: (i: number) => string): Promise<string[]> {
  const keys = [...new Set(batch.map((e) => `${e.experiment_id}\u0000${e.user_id}`))];
  const lookups = await mapWithConcurrency(keys, WRITE_CONCURRENCY, (key) => {
    const [experimentId, userId] = key.split('\u0000');
    return experiments.getAssignment(experimentId, userId);
  });
  const variantByKey = new Map<string, string | undefined>();
  lookups.forEach((result, i) => {
    if (result.status === 'rejected') throw result.reason;
    variantByKey.set(keys[i], result.value?.variant);
  });
  const problems: FieldProblem[] = [];
  const variants = batch.map((e, i) => {
    const variant = variantByKey.get(`${e.experiment_id}\u0000${e.user_id}`);
    if (!variant) problems.push({ field: `${prefix(i) ? `${prefix(i)}.` : ''}user_id`, message: `user has no assignment in experiment "${e.experiment_id}" (request /recommend first)` });
    return variant ?? '';
  });
  if (problems.length > 0) throw validationFailed(problems);
  return variants;
}

async function store(batch: AcceptedEvent[], variants: string[]) {
  const results = await mapWithConcurrency(batch, WRITE_CONCURRENCY, (event, i) => events.record(event, variants[i]));
  const failed = batch.filter((_, i) => results[i].status === 'rejected').map((e) => e.event_id);
  const outcomes = results.map((r) => (r.status === 'fulfilled' ? r.value : 'failed'));
  const stored = outcomes.filter((o) => o === 'stored').length;
  const duplicates = outcomes.filter((o) => o === 'duplicate').length;
  metrics.addMetric('EventsStored', MetricUnit.Count, stored);
  metrics.addMetric('EventsDuplicate', MetricUnit.Count, duplicates);
  if (failed.length > 0) {
    const firstError = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    logger.error('Events could not be stored', { failed: failed.length, error: firstError.reason });
    throw new HttpError(503, 'store_unavailable', `${failed.length} of ${batch.length} events could not be stored; retry the request (stored events are deduplicated)`, failed.map((id) => ({ field: 'event_id', message: id })));
  }
  return { stored, duplicates };
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
  const { accepted, problems } = validateAll(raw, now, prefix);
  if (problems.length > 0) {
    metrics.addMetric('EventsRejected', MetricUnit.Count, raw.length);
    throw validationFailed(problems);
  }
  // Duplicates inside one batch are stored once; the rest are reported as duplicates.
  const unique = [...new Map(accepted.map((e) => [e.event_id, e])).values()];
  const variants = await resolveVariants(unique, (i) => prefix(accepted.indexOf(unique[i])));
  const { stored, duplicates } = await store(unique, variants);
  const inBatchDuplicates = accepted.length - unique.length;
  if (!isBatch) {
    return json(stored === 1 ? 201 : 200, { event_id: unique[0].event_id, status: stored === 1 ? 'stored' : 'duplicate' });
  }
  return json(200, { received: accepted.length, stored, duplicates: duplicates + inBatchDuplicates });
});
