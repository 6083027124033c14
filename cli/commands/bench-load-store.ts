/**
 * What `abrec bench load` reads back from the runtime's DynamoDB (dynalite) through the real AWS
 * SDK: event items by key (BatchGetItem), the daily counters through the service's own
 * DynamoCounterRepository, and the user aggregates by key.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TABLES } from '../../lib/resources.ts';
import { localClientOptions } from '../../lambdas/common/client-options.ts';
import { UnprocessedAfterRetriesError } from '../../lambdas/common/backoff.ts';
import { ZERO_TOTALS, type UserTotals } from '../../lambdas/domain/events/counters.ts';
import { eventTypes, type EventType } from '../../lambdas/domain/events/event.ts';
import { DynamoCounterRepository, userAggregateKey } from '../../lambdas/storage/counter-store.ts';
import { batchGetEach } from '../../lambdas/storage/batch-get.ts';
import { eventKey } from '../../lambdas/storage/event-key.ts';
import { COUNT_FIELD } from './bench-load-reconcile.ts';

/** BatchGetItem calls in flight. */
const READ_CONCURRENCY = 8;
/** Unprocessed keys are asked again up to 20 times, after up to 50 ms, 100 ms, … 1 s. */
const GET_BACKOFF = { baseMs: 50, capMs: 1000, maxAttempts: 20 } as const;

/** A document client for the runtime's DynamoDB endpoint, with the local runtime's credentials. */
export function storeClient(endpoint: string): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(localClientOptions('dynamodb', endpoint, { maxAttempts: 5 })));
}

type Key = Record<string, string>;

/**
 * Every key's item (projected), by position; BatchGetItem with 100 keys a call, unprocessed keys
 * asked again until none is left. Strongly consistent: the reads follow the last writes.
 */
async function batchGet(
  db: DynamoDBDocumentClient,
  table: string,
  keys: Key[],
  projection: string[],
  onProgress?: (done: number) => void,
): Promise<Map<string, Record<string, unknown>>> {
  const names = Object.fromEntries(projection.map((attribute, i) => [`#p${i}`, attribute]));
  const found = new Map<string, Record<string, unknown>>();
  let done = 0;
  try {
    await batchGetEach(db, table, keys, (item) => found.set(String(item.pk), item), {
      projection: { expression: Object.keys(names).join(', '), names },
      consistentRead: true,
      concurrency: READ_CONCURRENCY,
      backoff: GET_BACKOFF,
      onChunkRead: (read) => {
        done += read;
        onProgress?.(done);
      },
    });
  } catch (error) {
    if (!(error instanceof UnprocessedAfterRetriesError)) throw error;
    throw new Error(`BatchGetItem on ${table} left ${error.remaining.length} keys unprocessed after ${GET_BACKOFF.maxAttempts} attempts`, { cause: error });
  }
  return found;
}

/** A stored event as the reconciliation needs it. */
export interface StoredEventState {
  type: EventType;
  /** The claim flag: true once the event is counted (false after a failed count was undone). */
  counted: boolean;
}

/** The stored state of each event id (absent: no item). */
export async function readEventStates(
  db: DynamoDBDocumentClient,
  eventIds: readonly string[],
  onProgress?: (done: number) => void,
): Promise<Map<string, StoredEventState>> {
  const items = await batchGet(db, TABLES.events.localName, eventIds.map(eventKey), ['pk', 'event_type', 'counted'], onProgress);
  const states = new Map<string, StoredEventState>();
  for (const [pk, item] of items) states.set(pk.slice('EVENT#'.length), { type: item.event_type as EventType, counted: item.counted === true });
  return states;
}

/** The counters' total per event type, over the given variants, every day and every shard, read as the analysis reads them. */
export async function readCounterTotals(db: DynamoDBDocumentClient, experimentId: string, variants: readonly string[]): Promise<Record<EventType, number>> {
  const repository = new DynamoCounterRepository(db, TABLES.counters.localName);
  const totals = Object.fromEntries(eventTypes.map((type) => [type, 0])) as Record<EventType, number>;
  for (const variant of variants) {
    for (const day of await repository.dailyCounters(experimentId, variant)) {
      for (const type of eventTypes) totals[type] += Number(day[COUNT_FIELD[type]] ?? 0);
    }
  }
  return totals;
}

/** Each user's aggregate in the experiment (absent: no aggregate item). */
export async function readUserTotals(db: DynamoDBDocumentClient, experimentId: string, userIds: readonly string[]): Promise<Map<string, UserTotals>> {
  const items = await batchGet(
    db,
    TABLES.counters.localName,
    userIds.map((userId) => userAggregateKey(experimentId, userId)),
    ['pk', 'clicks', 'impressions', 'purchases'],
  );
  const prefix = `EXP#${experimentId}#USER#`;
  const totals = new Map<string, UserTotals>();
  for (const [pk, item] of items) {
    const value = (name: keyof UserTotals) => (typeof item[name] === 'number' ? (item[name] as number) : 0);
    totals.set(pk.slice(prefix.length), { ...ZERO_TOTALS, clicks: value('clicks'), impressions: value('impressions'), purchases: value('purchases') });
  }
  return totals;
}
