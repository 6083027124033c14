/**
 * The counters table: daily counters per variant and the per-user aggregates the user-level
 * statistics come from, written by the events store (event-store.ts) and the exposures of
 * /recommend, read by the analysis and the bandit allocation.
 *
 * Counters table items:
 *   pk = "EXP#<experiment>#VAR#<variant>", sk = "DAY#<yyyy-mm-dd>#S<nn>"   daily aggregates, shard nn
 *   pk = "EXP#<experiment>#USER#<user>",   sk = "AGG"                       a user's running totals
 *   pk = "EXP#<experiment>#VAR#~interleaving", sk = "DAY#<yyyy-mm-dd>#S<nn>" interleaving slates and wins
 * A day is split over COUNTER_SHARDS items so no item takes more than DynamoDB's 1,000 writes a
 * second; a group of events (event-store.ts) writes (and undoes) one shard, picked by the hash of
 * its first event id, and an exposure its user's shard. The analysis reads the daily items with
 * one Query per variant and sums each day's shards: cost independent of the event count. The
 * user aggregates are only ever read back by the ADD that changes them.
 */
import { NumberValue, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { USER_TOTAL_FIELDS, counterShard, type Increments, type UserTotals } from '../domain/events/counters.ts';
import { analysisDay } from '../domain/events/event.ts';
import { exactAdd, normaliseExact, type Exact } from '../domain/events/exact.ts';

/**
 * One day of a variant's counters (its shards summed; per segment, as exactDailyCounters reads
 * them): `day` plus numeric fields, a missing field being 0. The one row type of the counters, for
 * storage and analysis alike: a counter is a number while a double holds it exactly and a BigInt
 * beyond 2^53 (exact.ts), read and summed exactly, never dropped or refused; only the statistics
 * turn it into a double. `DailyCounter<number>` is the same row as doubles (dailyCounters).
 */
export interface DailyCounter<Value extends Exact = Exact> {
  day: string;
  /** Also `segment`: the user segment of the row (user-segments.ts), a string; absent for counters of no segment. */
  [metric: string]: Value | string;
}

export interface CounterRepository {
  /** Adds increments to one shard of one variant's counter for one day (of one segment, when given). */
  add(experimentId: string, variant: string, day: string, increments: Increments, shard?: number, segment?: string): Promise<void>;
  /** Adds an exposure (a user's first assignment) to the day's counter, in the user's shard and segment. */
  countExposure(experimentId: string, variant: string, atMs: number, userId: string, extra?: Increments, segment?: string): Promise<void>;
  /** The daily counters of one variant (each day's shards summed exactly), oldest first, as doubles (a counter beyond 2^53 rounded). */
  dailyCounters(experimentId: string, variant: string): Promise<DailyCounter<number>[]>;
  /**
   * The same counters exactly (BigInts beyond 2^53), one row per day and segment (`segment` set
   * for a segment's items, absent for items of none): what the analysis reads. A day's rows sum
   * to its dailyCounters row.
   */
  exactDailyCounters(experimentId: string, variant: string): Promise<DailyCounter[]>;
}

/** The per-user aggregates the user-level statistics are computed from (counters table, `AGG` items). */
export interface UserAggregateRepository {
  /** Adds `delta` to a user's totals in an experiment and returns the totals after the change and the user's covariate (the whole item: ALL_NEW). */
  addUserTotals(experimentId: string, userId: string, delta: UserTotals): Promise<UserAggregate>;
  /** Records a user's pre-exposure covariate on their aggregate, once (the first value stays). */
  recordCovariate(experimentId: string, userId: string, covariate: number): Promise<void>;
}

/**
 * A user's aggregate as an update returns it: the running totals, and the pre-exposure covariate
 * the exposure recorded (CUPED; 0 for a user never exposed, or exposed before covariates existed).
 */
export interface UserAggregate extends UserTotals {
  covariate: number;
}

/**
 * A daily counter item: a variant's day in one shard, and (for a user's segment, user-segments.ts)
 * one segment: `DAY#<day>#S<nn>#G<segment>`. A variant's day is the sum of all its items.
 */
export const counterKey = (experimentId: string, variant: string, day: string, shard = 0, segment?: string) => ({
  pk: `EXP#${experimentId}#VAR#${variant}`,
  sk: `DAY#${day}#S${String(shard).padStart(2, '0')}${segment === undefined ? '' : `#G${segment}`}`,
});

/** The segment of a daily counter item's sort key (undefined for an item of no segment). */
export const segmentOfSortKey = (sk: string): string | undefined => {
  const at = sk.indexOf('#G');
  return at < 0 ? undefined : sk.slice(at + 2);
};

export const userAggregateKey = (experimentId: string, userId: string) => ({
  pk: `EXP#${experimentId}#USER#${userId}`,
  sk: 'AGG',
});

/**
 * A counter attribute as an exact amount, or undefined for an attribute that is not a number.
 * The document client returns integers beyond ±2^53 as BigInt (NumberValue with `wrapNumbers`):
 * they stay BigInts (a number when a double holds them exactly). A fraction is a float sum of
 * values (revenue_sum, ...), bounded far below 2^53 by the event bounds: read as the nearest double.
 */
export function exactCounterValue(value: unknown): Exact | undefined {
  if (typeof value === 'number') return value;
  let text: string;
  if (typeof value === 'bigint') return normaliseExact(value);
  if (value instanceof NumberValue) text = value.toString();
  else return undefined;
  return /^-?\d+$/.test(text) ? normaliseExact(BigInt(text)) : Number(text);
}

/** A user-aggregate total as a number (always exact: see UserTotals for the bounds). */
function userTotalValue(value: unknown): number {
  const exact = exactCounterValue(value);
  if (exact === undefined) return 0;
  if (typeof exact === 'bigint') throw new RangeError(`a user total of ${exact} is beyond what the event bounds allow`);
  return exact;
}

/** An ADD update of named numeric attributes: `ADD #m0 :v0, #m1 :v1`. */
function addExpression(increments: Increments) {
  const names: Record<string, string> = {};
  const values: Record<string, Exact> = {};
  const parts = Object.entries(increments).map(([metric, amount], i) => {
    names[`#m${i}`] = metric;
    values[`:v${i}`] = amount;
    return `#m${i} :v${i}`;
  });
  return { UpdateExpression: `ADD ${parts.join(', ')}`, ExpressionAttributeNames: names, ExpressionAttributeValues: values };
}

export class DynamoCounterRepository implements CounterRepository, UserAggregateRepository {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly countersTable: string,
  ) {}

  async add(experimentId: string, variant: string, day: string, increments: Increments, shard = 0, segment?: string): Promise<void> {
    if (Object.keys(increments).length === 0) return;
    await this.db.send(
      new UpdateCommand({ TableName: this.countersTable, Key: counterKey(experimentId, variant, day, shard, segment), ...addExpression(increments) }),
    );
  }

  async countExposure(experimentId: string, variant: string, atMs: number, userId: string, extra: Increments = {}, segment?: string): Promise<void> {
    await this.add(experimentId, variant, analysisDay(atMs), { exposed_users: 1, ...extra }, counterShard(userId), segment);
  }

  async recordCovariate(experimentId: string, userId: string, covariate: number): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.countersTable,
        Key: userAggregateKey(experimentId, userId),
        // Idempotent: a retry of the exposure, or a second container's, keeps the first value.
        UpdateExpression: 'SET #covariate = if_not_exists(#covariate, :covariate)',
        ExpressionAttributeNames: { '#covariate': 'covariate' },
        ExpressionAttributeValues: { ':covariate': covariate },
      }),
    );
  }

  async addUserTotals(experimentId: string, userId: string, delta: UserTotals): Promise<UserAggregate> {
    // Only the totals that change are ADDed; ALL_NEW returns every total (an absent one is 0),
    // as the user-level sums need them all (c·m needs the clicks when only impressions change).
    const changed = Object.fromEntries(USER_TOTAL_FIELDS.filter((field) => delta[field] !== 0).map((field) => [field, delta[field]]));
    const out = await this.db.send(
      new UpdateCommand({
        TableName: this.countersTable,
        Key: userAggregateKey(experimentId, userId),
        ...addExpression(Object.keys(changed).length > 0 ? changed : { clicks: 0 }),
        ReturnValues: 'ALL_NEW',
      }),
    );
    // ALL_NEW returns every attribute of the item; one missing from the answer was never ADDed
    // to, so its total is its delta (0), or, for a store that answers without the item, the ADD.
    const attributes = out?.Attributes ?? {};
    const totals = Object.fromEntries(
      USER_TOTAL_FIELDS.map((field) => [field, field in attributes ? userTotalValue(attributes[field]) : delta[field]]),
    ) as unknown as UserTotals;
    // The covariate the exposure recorded comes back with the totals: the cross moments Σx·y need it.
    return { ...totals, covariate: userTotalValue(attributes.covariate) };
  }

  async dailyCounters(experimentId: string, variant: string): Promise<DailyCounter<number>[]> {
    // A day's segments summed exactly, then the nearest doubles.
    const byDay = new Map<string, Record<string, Exact | string>>();
    for (const row of await this.exactDailyCounters(experimentId, variant)) {
      const day = byDay.get(row.day) ?? byDay.set(row.day, { day: row.day }).get(row.day)!;
      for (const [metric, value] of Object.entries(row)) if (typeof value !== 'string') day[metric] = exactAdd((day[metric] as Exact | undefined) ?? 0, value);
    }
    return [...byDay.values()].map(
      (row) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, typeof value === 'bigint' ? Number(value) : value])) as DailyCounter<number>,
    );
  }

  async exactDailyCounters(experimentId: string, variant: string): Promise<DailyCounter[]> {
    // Items come sorted by sk: a day's shards (and their segments) are adjacent, the days oldest first.
    const byDay = new Map<string, DailyCounter>();
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
        // `DAY#<yyyy-mm-dd>#S<nn>[#G<segment>]`; items written before sharding have no suffix and read the same.
        const day = String(sk).slice(4, 14);
        const segment = segmentOfSortKey(String(sk));
        const key = segment === undefined ? day : `${day}\u0000${segment}`;
        let counter = byDay.get(key);
        if (!counter) byDay.set(key, (counter = segment === undefined ? { day } : { day, segment }));
        for (const [metric, stored] of Object.entries(metrics)) {
          const value = exactCounterValue(stored);
          if (value !== undefined) counter[metric] = exactAdd((counter[metric] as Exact | undefined) ?? 0, value);
        }
      }
      start = page.LastEvaluatedKey;
    } while (start);
    // By day, then the items of no segment before the segments in name order.
    const segmentOf = (row: DailyCounter) => (typeof row.segment === 'string' ? row.segment : '');
    return [...byDay.values()].sort((a, b) => a.day.localeCompare(b.day) || segmentOf(a).localeCompare(segmentOf(b)));
  }
}
