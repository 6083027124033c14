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
 *
 * Abuse checks: a request_id must name a slate recorded for the event's user (422), and each
 * user has daily limits per event type (429 for the events over them).
 */
import { ENV, TABLES } from '../lib/resources.ts';
import { dynamoClient } from './common/clients.ts';
import { booleanEnv, requiredEnv } from './common/env.ts';
import { httpJsonHandler, json, requestTime, type JsonEvent } from './common/http.ts';
import { telemetry } from './common/observability.ts';
import { counterRepositoryFromEnv, eventRepositoryFromEnv, experimentRepositoryFromEnv } from './common/stores.ts';
import { createIngestionService } from './services/ingestion.ts';
import { ExperimentModeCache } from './services/interleaving-credit.ts';
import { DynamoAssignmentReader } from './storage/assignment-reader.ts';
import { DynamoDailyQuota } from './storage/daily-quota.ts';
import { DynamoInteractionLog } from './storage/interaction-log.ts';

const service = createIngestionService({
  assignments: new DynamoAssignmentReader(dynamoClient(), requiredEnv(TABLES.experiments.envVar)),
  events: eventRepositoryFromEnv(counterRepositoryFromEnv()),
  modes: new ExperimentModeCache(experimentRepositoryFromEnv()),
  quota: new DynamoDailyQuota(dynamoClient(), requiredEnv(TABLES.counters.envVar)),
  verifyRequestIds: booleanEnv(ENV.recordImpressions, true),
  interactions: new DynamoInteractionLog(dynamoClient(), requiredEnv(TABLES.events.envVar), { ttlDays: Number(process.env[ENV.eventsTtlDays]) || 400 }),
  telemetry,
});

export const handler = httpJsonHandler(async (event: JsonEvent) => {
  const isBatch = event.resource === '/events/batch' || event.path.endsWith('/events/batch');
  const result = await service.ingest({ body: event.body, isBatch, now: requestTime(event) });
  // 201 for a single event stored now, 200 for a duplicate or a batch.
  if (!result.isBatch) return json(result.duplicate ? 200 : 201, { event_id: result.eventId, status: result.duplicate ? 'duplicate' : 'stored' });
  return json(200, { received: result.received, stored: result.stored, duplicates: result.duplicates });
});
