/**
 * Events and counters in DynamoDB, stored exactly once without transactions (dynalite has no
 * TransactWriteItems, and two single-item writes are cheaper):
 *
 * 1. Put the event item `EVENT#<id>` with `counted = true`, conditional on it not existing:
 *    this claims the right to count it.
 * 2. ADD the increments to the daily counter `EXP#<e>#VAR#<v>` / `DAY#<yyyy-mm-dd>`.
 * 3. If step 2 fails, set `counted = false` again (un-claim) and report failure, so a retry
 *    claims it with a conditional update and counts it once.
 * A duplicate (claimed and counted) is acknowledged without touching the counters.
 *
 * Counters table items:
 *   pk = "EXP#<experiment>#VAR#<variant>", sk = "DAY#<yyyy-mm-dd>"   daily aggregates
 * The analysis reads them with one Query per variant: cost independent of the event count.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { analysisDay, counterIncrements, type AcceptedEvent } from '../domain/events/event.ts';

export type StoreOutcome = 'stored' | 'duplicate';

export interface DailyCounter {
  day: string;
  [metric: string]: number | string;
}

export interface CounterRepository {
  /** Adds increments to one variant's counter for one day. */
  add(experimentId: string, variant: string, day: string, increments: Record<string, number>): Promise<void>;
  /** Adds an exposure (a user's first assignment) to the day's counter. */
  countExposure(experimentId: string, variant: string, atMs: number, extra?: Record<string, number>): Promise<void>;
  /** The daily counters of one variant, oldest first. */
  dailyCounters(experimentId: string, variant: string): Promise<DailyCounter[]>;
}

export interface EventRepository {
  /** Stores and counts one event for a variant, exactly once. Throws if it could not. */
  record(event: AcceptedEvent, variant: string): Promise<StoreOutcome>;
}

export const counterKey = (experimentId: string, variant: string, day: string) => ({
  pk: `EXP#${experimentId}#VAR#${variant}`,
  sk: `DAY#${day}`,
});

export class DynamoCounterRepository implements CounterRepository {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly countersTable: string,
  ) {}

  async add(experimentId: string, variant: string, day: string, increments: Record<string, number>): Promise<void> {
    const names: Record<string, string> = {};
    const values: Record<string, number> = {};
    const parts = Object.entries(increments).map(([metric, amount], i) => {
      names[`#m${i}`] = metric;
      values[`:v${i}`] = amount;
      return `#m${i} :v${i}`;
    });
    await this.db.send(
      new UpdateCommand({
        TableName: this.countersTable,
        Key: counterKey(experimentId, variant, day),
        UpdateExpression: `ADD ${parts.join(', ')}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  async countExposure(experimentId: string, variant: string, atMs: number, extra: Record<string, number> = {}): Promise<void> {
    await this.add(experimentId, variant, analysisDay(atMs), { exposed_users: 1, ...extra });
  }

  async dailyCounters(experimentId: string, variant: string): Promise<DailyCounter[]> {
    const out: DailyCounter[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.countersTable,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :day)',
          ExpressionAttributeValues: { ':pk': `EXP#${experimentId}#VAR#${variant}`, ':day': 'DAY#' },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        const { pk: _pk, sk, ...metrics } = item;
        out.push({ ...metrics, day: String(sk).slice(4) } as DailyCounter);
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }
}

export class DynamoEventRepository implements EventRepository {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly eventsTable: string,
    private readonly counters: CounterRepository,
    private readonly ttlDays = 400,
  ) {}

  private async claim(eventId: string): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.eventsTable,
          Key: { pk: `EVENT#${eventId}`, sk: 'E' },
          UpdateExpression: 'SET counted = :true',
          ConditionExpression: 'counted = :false',
          ExpressionAttributeValues: { ':true': true, ':false': false },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async record(event: AcceptedEvent, variant: string): Promise<StoreOutcome> {
    const key = { pk: `EVENT#${event.event_id}`, sk: 'E' };
    let claimed: boolean;
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.eventsTable,
          Item: { ...key, ...event, variant, counted: true, expires_at: Math.floor(event.received_at_ms / 1000) + this.ttlDays * 86_400 },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      claimed = true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      claimed = await this.claim(event.event_id);
    }
    if (!claimed) return 'duplicate';
    try {
      await this.counters.add(event.experiment_id, variant, analysisDay(event.received_at_ms), counterIncrements(event));
    } catch (error) {
      await this.db
        .send(new UpdateCommand({ TableName: this.eventsTable, Key: key, UpdateExpression: 'SET counted = :false', ExpressionAttributeValues: { ':false': false } }))
        .catch(() => undefined); // the original error is what the caller must see
      throw error;
    }
    return 'stored';
  }

}
