/**
 * The interaction log the weekly retraining reads instead of scanning events: the events path
 * writes every feedback event (rating, click, purchase, watch time) a second time, packed with the
 * other feedback of its request received at the same millisecond into one item of the events
 * table (`events`: a list, at most PACK_BYTES of it per item), keyed by the time it was received
 * and the first event of the pack,
 *
 *   pk = "ILOG#<yyyy-mm-dd>#S<nn>", sk = "<received_at_ms, 13 digits>#<first event id>"
 *
 * before the event is claimed and counted, so every counted feedback event is in the log (a
 * failed log write fails the request before anything is counted, and the client's retry writes
 * the same key again). The day is split over INTERACTION_LOG_SHARDS partitions (by the hash of
 * the event id) so no partition takes more than DynamoDB's 1,000 writes a second. A reader asks
 * for (since, until] with one Query per day and shard, a key condition on both keys: cost in
 * proportion to the interactions read, never to the table.
 *
 * What it costs: one item per request (a write unit per KB of it: about 0.1 per event in a batch,
 * 1 for a single event), expiring with the events' TTL; a write unit per feedback event would
 * have raised the events path's cost by a third. What it does not promise: an event logged whose
 * counting then failed and was never retried is in the log though not counted; an event retried
 * in another request (another pack) or on another day is logged twice (the reader drops the
 * repeated event id).
 */
import { BatchWriteCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { drainWithBackoff, type BackoffOptions } from '../common/backoff.ts';
import { counterShard } from '../domain/events/counters.ts';
import { analysisDay, type AcceptedEvent } from '../domain/events/event.ts';
import { isTrainingFeedback, type LoggedInteraction } from '../domain/recommenders/data/logged-feedback.ts';

/** Partitions per day of the log (the counters' shard function, modulo this). */
export const INTERACTION_LOG_SHARDS = 16;
const DAY_MS = 86_400_000;

/** Bytes of events (as JSON) one log item holds at most: far below DynamoDB's 400 KB item limit. */
export const PACK_BYTES = 256 * 1024;

export const interactionLogKey = (receivedAtMs: number, eventId: string) => ({
  pk: `ILOG#${analysisDay(receivedAtMs)}#S${String(counterShard(eventId) % INTERACTION_LOG_SHARDS).padStart(2, '0')}`,
  sk: `${String(receivedAtMs).padStart(13, '0')}#${eventId}`,
});

/** Appends feedback as it arrives and reads it back by time range. */
export interface InteractionLog {
  /** Logs the feedback events among `events` (impressions are ignored). */
  append(events: readonly AcceptedEvent[]): Promise<void>;
  /** Interactions received in (sinceMs, untilMs], oldest first within a day. */
  readBetween(sinceMs: number, untilMs: number): Promise<LoggedInteraction[]>;
}

export class DynamoInteractionLog implements InteractionLog {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly eventsTable: string,
    private readonly options: { ttlDays?: number; backoff?: BackoffOptions } = {},
  ) {}

  async append(events: readonly AcceptedEvent[]): Promise<void> {
    const ttlSeconds = (this.options.ttlDays ?? 400) * 86_400;
    // One request may repeat an event id: each is logged once.
    const feedback = [...new Map(events.filter((e) => isTrainingFeedback(e.event_type)).map((e) => [e.event_id, e])).values()];
    // Packs of the events received at one millisecond (a request's), each at most PACK_BYTES.
    const packs: { at: number; entries: Record<string, unknown>[]; bytes: number }[] = [];
    for (const e of feedback) {
      const entry = {
        event_id: e.event_id,
        event_type: e.event_type,
        user_id: e.user_id,
        ...(e.item_id === undefined ? {} : { item_id: e.item_id }),
        ...(e.value === undefined ? {} : { value: e.value }),
        received_at_ms: e.received_at_ms,
      };
      const bytes = Buffer.byteLength(JSON.stringify(entry));
      let pack = packs.find((p) => p.at === e.received_at_ms && p.bytes + bytes <= PACK_BYTES);
      if (pack === undefined) packs.push((pack = { at: e.received_at_ms, entries: [], bytes: 0 }));
      pack.entries.push(entry);
      pack.bytes += bytes;
    }
    const items = packs.map((pack) => ({
      ...interactionLogKey(pack.at, String(pack.entries[0].event_id)),
      events: pack.entries,
      expires_at: Math.floor(pack.at / 1000) + ttlSeconds,
    }));
    for (let start = 0; start < items.length; start += 25) {
      const chunk = items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } }));
      await drainWithBackoff(
        chunk,
        async (pending) => {
          const out = await this.db.send(new BatchWriteCommand({ RequestItems: { [this.eventsTable]: pending } }));
          return (out.UnprocessedItems?.[this.eventsTable] ?? []) as typeof chunk;
        },
        this.options.backoff,
      );
    }
  }

  async readBetween(sinceMs: number, untilMs: number): Promise<LoggedInteraction[]> {
    if (!(untilMs > sinceMs)) return [];
    const out: LoggedInteraction[] = [];
    const from = `${String(sinceMs + 1).padStart(13, '0')}#`;
    const to = `${String(untilMs).padStart(13, '0')}#\uffff`;
    for (let day = Math.floor((sinceMs + 1) / DAY_MS) * DAY_MS; day <= untilMs; day += DAY_MS) {
      for (let shard = 0; shard < INTERACTION_LOG_SHARDS; shard++) {
        let startKey: Record<string, unknown> | undefined;
        do {
          const page = await this.db.send(
            new QueryCommand({
              TableName: this.eventsTable,
              KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
              ExpressionAttributeValues: { ':pk': `ILOG#${analysisDay(day)}#S${String(shard).padStart(2, '0')}`, ':from': from, ':to': to },
              ExclusiveStartKey: startKey,
            }),
          );
          for (const item of page.Items ?? []) {
            // A pack of events (or, written before packs, one event as the item itself).
            const entries = (Array.isArray(item.events) ? item.events : [item]) as Record<string, unknown>[];
            for (const entry of entries) {
              const receivedAtMs = Number(entry.received_at_ms);
              if (!isTrainingFeedback(String(entry.event_type)) || !(receivedAtMs > sinceMs && receivedAtMs <= untilMs)) continue;
              out.push({
                eventId: String(entry.event_id),
                eventType: entry.event_type as LoggedInteraction['eventType'],
                userId: String(entry.user_id),
                ...(typeof entry.item_id === 'string' ? { itemId: entry.item_id } : {}),
                ...(typeof entry.value === 'number' ? { value: entry.value } : {}),
                receivedAtMs,
              });
            }
          }
          startKey = page.LastEvaluatedKey;
        } while (startKey);
      }
    }
    return out.sort((a, b) => a.receivedAtMs - b.receivedAtMs);
  }
}
