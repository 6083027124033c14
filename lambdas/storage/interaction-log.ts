/**
 * The interaction log the weekly retraining reads instead of scanning events: the events path
 * writes every feedback event (rating, click, purchase, watch time) a second time, as a small
 * item of the events table keyed by the day it was received,
 *
 *   pk = "ILOG#<yyyy-mm-dd>#S<nn>", sk = "<received_at_ms, 13 digits>#<event id>"
 *
 * before the event is claimed and counted, so every counted feedback event is in the log (a
 * failed log write fails the request before anything is counted, and the client's retry writes
 * the same key again). The day is split over INTERACTION_LOG_SHARDS partitions (by the hash of
 * the event id) so no partition takes more than DynamoDB's 1,000 writes a second. A reader asks
 * for (since, until] with one Query per day and shard, a key condition on both keys: cost in
 * proportion to the interactions read, never to the table.
 *
 * What it costs: one BatchWriteItem per 25 feedback events of a request (one write unit each,
 * items well under 1 KB), expiring with the events' TTL. What it does not promise: an event
 * logged whose counting then failed and was never retried is in the log though not counted; an
 * event retried on another day is logged on both days (the reader drops the repeated event id).
 */
import { BatchWriteCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { drainWithBackoff, type BackoffOptions } from '../common/backoff.ts';
import { counterShard } from '../domain/events/counters.ts';
import { analysisDay, type AcceptedEvent } from '../domain/events/event.ts';
import { isTrainingFeedback, type LoggedInteraction } from '../domain/recommenders/data/logged-feedback.ts';

/** Partitions per day of the log (the counters' shard function, modulo this). */
export const INTERACTION_LOG_SHARDS = 16;
const DAY_MS = 86_400_000;

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
    const items = events
      .filter((e) => isTrainingFeedback(e.event_type))
      .map((e) => ({
        ...interactionLogKey(e.received_at_ms, e.event_id),
        event_id: e.event_id,
        event_type: e.event_type,
        user_id: e.user_id,
        ...(e.item_id === undefined ? {} : { item_id: e.item_id }),
        ...(e.value === undefined ? {} : { value: e.value }),
        received_at_ms: e.received_at_ms,
        expires_at: Math.floor(e.received_at_ms / 1000) + ttlSeconds,
      }));
    // One request may repeat an event id; BatchWriteItem refuses two writes of one key.
    const unique = [...new Map(items.map((item) => [`${item.pk}|${item.sk}`, item])).values()];
    for (let start = 0; start < unique.length; start += 25) {
      const chunk = unique.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } }));
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
            if (!isTrainingFeedback(String(item.event_type))) continue;
            out.push({
              eventId: String(item.event_id),
              eventType: item.event_type as LoggedInteraction['eventType'],
              userId: String(item.user_id),
              ...(typeof item.item_id === 'string' ? { itemId: item.item_id } : {}),
              ...(typeof item.value === 'number' ? { value: item.value } : {}),
              receivedAtMs: Number(item.received_at_ms),
            });
          }
          startKey = page.LastEvaluatedKey;
        } while (startKey);
      }
    }
    return out.sort((a, b) => a.receivedAtMs - b.receivedAtMs);
  }
}
