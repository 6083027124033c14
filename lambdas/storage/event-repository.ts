/**
 * Events and counters in DynamoDB, stored and counted exactly once without transactions
 * (dynalite has no TransactWriteItems, and single-item writes are cheaper):
 *
 * 1. Claim: put the event item `EVENT#<id>` with `counted = true`, conditional on it not
 *    existing. An existing item with `counted = false` (an earlier attempt that failed) is
 *    re-claimed with a conditional update; one with `counted = true` is a duplicate, which
 *    never touches a counter.
 * 2. Count, coalesced: the claimed events are grouped by (experiment, variant, day); per group,
 *    one ADD per user aggregate (`EXP#<e>#USER#<u>` / `AGG`, returning the new totals) and then
 *    one ADD to a shard of the daily counter, `EXP#<e>#VAR#<v>` / `DAY#<yyyy-mm-dd>#S<nn>`, with
 *    the event-level increments and the user-level statistics computed from the aggregates' new
 *    totals.
 * 3. Undo on failure: if any write of a group fails, the user aggregates it already changed
 *    get the negated ADD, any change that other requests made to those users in between is
 *    recorded as a correction, and the group's events are un-claimed (`counted = false`), so
 *    the caller answers 5xx and a retry counts them once.
 *
 * Interleaving experiments add to step 2, after the user aggregates (which they skip): each
 * credited click is added once to its impression's team click counts (a conditional ADD on the
 * impression item, see DynamoImpressionStore), and the preference transitions this causes are
 * written to the experiment's `~interleaving` daily counter after the group's own daily counter.
 * The undo of step 3 negates the daily ADD if the transitions' write failed, takes the credits
 * back (writing a correction if another click changed the same impression in between), undoes
 * the user aggregates and un-claims, in that order.
 *
 * Residual window (documented in the README): a second failure during step 3, or a write that
 * failed ambiguously (applied, but its answer lost), leaves the counters off by that group.
 *
 * Counters table items:
 *   pk = "EXP#<experiment>#VAR#<variant>", sk = "DAY#<yyyy-mm-dd>#S<nn>"   daily aggregates, shard nn
 *   pk = "EXP#<experiment>#USER#<user>",   sk = "AGG"                       a user's running totals
 *   pk = "EXP#<experiment>#VAR#~interleaving", sk = "DAY#<yyyy-mm-dd>#S<nn>" interleaving slates and wins
 * A day is split over COUNTER_SHARDS items so no item takes more than DynamoDB's 1,000 writes a
 * second; a group writes (and undoes) one shard, picked by the hash of its first event id. The
 * analysis reads the daily items with one Query per variant and sums each day's shards: cost
 * independent of the event count. The user aggregates are only ever read back by the ADD that
 * changes them.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, GetCommand, NumberValue, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { drainWithBackoff, fullJitterDelay, type BackoffOptions } from '../common/backoff.ts';
import { mapWithConcurrency } from '../common/concurrency.ts';
import {
  USER_TOTAL_FIELDS,
  addIncrements,
  addTotals,
  counterShard,
  negateIncrements,
  negateTotals,
  nonZero,
  planCounterGroups,
  subtractTotals,
  userStatIncrements,
  type CounterGroup,
  type Increments,
  type PreferenceCredit,
  type UserTotals,
  type VariantEvent,
} from '../domain/events/counters.ts';
import { banditRewardIncrements } from '../domain/events/bandit-counters.ts';
import { analysisDay, contentFingerprint, type AcceptedEvent } from '../domain/events/event.ts';
import { exactAdd, normaliseExact, type Exact } from '../domain/events/exact.ts';
import {
  INTERLEAVING_COUNTER_VARIANT,
  impressionEventId,
  preferenceTransition,
  subtractTeamClicks,
  teamClickDelta,
  type InterleavingAttribution,
  type StoredImpression,
  type TeamClicks,
} from '../domain/events/interleaving-credit.ts';

export type StoreOutcome = 'stored' | 'duplicate';

/** What the counters need to know of an event's user besides the event: the experiment's caps and the user's segment. */
export type UserContext = Pick<VariantEvent, 'caps' | 'segment'>;

/** One day of a variant's counters (its shards summed), as doubles: see {@link ExactDailyCounter} for the exact sums. */
export interface DailyCounter {
  day: string;
  [metric: string]: number | string;
}

/**
 * One day of a variant's counters (its shards summed) as the analysis reads them: a counter is a
 * number while a double holds it exactly and a BigInt beyond 2^53 (exact.ts), read and summed
 * exactly, never dropped or refused; only the statistics turn it into a double.
 */
export interface ExactDailyCounter {
  day: string;
  /** Also `segment`: the user segment of the row (user-segments.ts), a string; absent for counters of no segment. */
  [metric: string]: Exact | string;
}

export interface CounterRepository {
  /** Adds increments to one shard of one variant's counter for one day (of one segment, when given). */
  add(experimentId: string, variant: string, day: string, increments: Increments, shard?: number, segment?: string): Promise<void>;
  /** Adds an exposure (a user's first assignment) to the day's counter, in the user's shard and segment. */
  countExposure(experimentId: string, variant: string, atMs: number, userId: string, extra?: Increments, segment?: string): Promise<void>;
  /** The daily counters of one variant (each day's shards summed exactly), oldest first, as doubles (a counter beyond 2^53 rounded). */
  dailyCounters(experimentId: string, variant: string): Promise<DailyCounter[]>;
  /**
   * The same counters exactly (BigInts beyond 2^53), one row per day and segment (`segment` set
   * for a segment's items, absent for items of none): what the analysis reads. A day's rows sum
   * to its dailyCounters row.
   */
  exactDailyCounters(experimentId: string, variant: string): Promise<ExactDailyCounter[]>;
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

/** What a batch store did with each event id. */
export interface BatchStoreResult {
  stored: string[];
  duplicates: string[];
  /**
   * Event ids already stored with different content (another type, user, value...): neither
   * stored nor counted, the stored event stays as it was; the caller answers 409 naming them.
   */
  conflicts: string[];
  /** Events that are not stored-and-counted: the caller must answer 5xx naming them. */
  failed: { eventId: string; error: unknown }[];
}

export interface EventRepository {
  /** Stores and counts one event whose id the server just generated (no duplicate possible), exactly once, in two round trips. Throws if it could not. */
  recordNew(event: AcceptedEvent, variant: string, interleaving?: InterleavingAttribution, user?: UserContext): Promise<StoreOutcome>;
  /** Stores and counts many events, coalescing the counter writes. Never throws for a write failure. */
  recordBatch(events: readonly VariantEvent[]): Promise<BatchStoreResult>;
}

/** Something the undo could not repair: the counters are off until an operator corrects them. */
export interface CounterInconsistency {
  reason: 'undo-failed' | 'correction-failed' | 'unclaim-failed';
  experimentId: string;
  variant: string;
  day: string;
  detail: Record<string, unknown>;
  error: unknown;
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

export const eventKey = (eventId: string) => ({ pk: `EVENT#${eventId}`, sk: 'E' });

/** How an interleaving event's attribution is kept on its item: the team, or why there is none. */
function attributionFields(interleaving: InterleavingAttribution | undefined): Record<string, string> {
  if (interleaving?.kind === 'credited') return { team: interleaving.team };
  if (interleaving?.kind === 'uncredited') return { no_credit_reason: interleaving.reason };
  return {};
}

/** The item an event is stored as: what the handlers size-check before writing. */
export function storedEventItem(
  event: AcceptedEvent,
  variant: string,
  ttlDays: number,
  interleaving?: InterleavingAttribution,
): Record<string, unknown> & { pk: string; sk: string } {
  return {
    ...eventKey(event.event_id),
    ...event,
    variant,
    ...attributionFields(interleaving),
    content_sha256: contentFingerprint(event),
    counted: true,
    expires_at: Math.floor(event.received_at_ms / 1000) + ttlDays * 86_400,
  };
}

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

  async dailyCounters(experimentId: string, variant: string): Promise<DailyCounter[]> {
    // A day's segments summed exactly, then the nearest doubles.
    const byDay = new Map<string, Record<string, Exact | string>>();
    for (const row of await this.exactDailyCounters(experimentId, variant)) {
      const day = byDay.get(row.day) ?? byDay.set(row.day, { day: row.day }).get(row.day)!;
      for (const [metric, value] of Object.entries(row)) if (typeof value !== 'string') day[metric] = exactAdd((day[metric] as Exact | undefined) ?? 0, value);
    }
    return [...byDay.values()].map(
      (row) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, typeof value === 'bigint' ? Number(value) : value])) as DailyCounter,
    );
  }

  async exactDailyCounters(experimentId: string, variant: string): Promise<ExactDailyCounter[]> {
    // Items come sorted by sk: a day's shards (and their segments) are adjacent, the days oldest first.
    const byDay = new Map<string, ExactDailyCounter>();
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
    const segmentOf = (row: ExactDailyCounter) => (typeof row.segment === 'string' ? row.segment : '');
    return [...byDay.values()].sort((a, b) => a.day.localeCompare(b.day) || segmentOf(a).localeCompare(segmentOf(b)));
  }
}

/** DynamoDB's BatchGetItem limit. */
const BATCH_GET_LIMIT = 100;

/** What a credit did: the impression's team click counts after it, or nothing (item already credited). */
export type TeamClickOutcome = TeamClicks | 'already-credited';

/**
 * The interleaved impression slates in the events table (`EVENT#imp-<request id>` / `E`), read in
 * batches to credit clicks, and the per-impression preference counters kept on those items:
 * `team_a_clicks`, `team_b_clicks` and the string set `credited_items`. A credit is a conditional
 * ADD (`NOT contains(credited_items, :item)`), so a repeated click on the same item, or a retry
 * of an ADD that already landed, changes nothing: the counts are distinct items per team, as
 * `creditClicks` defines them.
 */
export class DynamoImpressionStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly eventsTable: string,
    private readonly backoff: BackoffOptions = {},
  ) {}

  /** The impressions of the given request ids, by request id (absent when never recorded). BatchGetItem, 100 keys per call. */
  async byRequestIds(requestIds: Iterable<string>): Promise<Map<string, StoredImpression>> {
    const keys = [...new Set(requestIds)].map((requestId) => eventKey(impressionEventId(requestId)));
    const chunks: { pk: string; sk: string }[][] = [];
    for (let i = 0; i < keys.length; i += BATCH_GET_LIMIT) chunks.push(keys.slice(i, i + BATCH_GET_LIMIT));
    const found = new Map<string, StoredImpression>();
    const results = await mapWithConcurrency(chunks, 4, (chunk) =>
      drainWithBackoff(
        chunk,
        async (pending) => {
          const out = await this.db.send(
            new BatchGetCommand({
              RequestItems: {
                [this.eventsTable]: {
                  Keys: pending,
                  ProjectionExpression: '#id, #user, #experiment, #request, #counted, #slate',
                  ExpressionAttributeNames: {
                    '#id': 'event_id',
                    '#user': 'user_id',
                    '#experiment': 'experiment_id',
                    '#request': 'request_id',
                    '#counted': 'counted',
                    '#slate': 'slate',
                  },
                },
              },
            }),
          );
          for (const item of out.Responses?.[this.eventsTable] ?? []) {
            if (typeof item.request_id !== 'string' || !Array.isArray(item.slate)) continue;
            found.set(item.request_id, {
              event_id: String(item.event_id),
              user_id: String(item.user_id),
              experiment_id: String(item.experiment_id),
              counted: item.counted === true,
              slate: item.slate as StoredImpression['slate'],
            });
          }
          return (out.UnprocessedKeys?.[this.eventsTable]?.Keys ?? []) as { pk: string; sk: string }[];
        },
        this.backoff,
      ),
    );
    for (const result of results) if (result.status === 'rejected') throw result.reason;
    return found;
  }

  /** Credits one clicked item to its team on the impression, once; returns the counts after. */
  async addTeamClick(credit: PreferenceCredit): Promise<TeamClickOutcome> {
    const delta = teamClickDelta(credit.team, 1);
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.eventsTable,
          Key: eventKey(credit.impressionId),
          // Both counts are ADDed (0 included) so UPDATED_NEW returns both: the preference needs them.
          UpdateExpression: 'ADD team_a_clicks :a, team_b_clicks :b, credited_items :items',
          ConditionExpression: 'attribute_exists(pk) AND NOT contains(credited_items, :item)',
          ExpressionAttributeValues: { ':a': delta.a, ':b': delta.b, ':items': new Set([credit.itemId]), ':item': credit.itemId },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return teamClicksOf(out?.Attributes, delta);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'already-credited';
      throw error;
    }
  }

  /** The undo of {@link addTeamClick}; 'not-credited' when the item holds no credit to take back. */
  async removeTeamClick(credit: PreferenceCredit): Promise<TeamClicks | 'not-credited'> {
    const delta = teamClickDelta(credit.team, -1);
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.eventsTable,
          Key: eventKey(credit.impressionId),
          UpdateExpression: 'ADD team_a_clicks :a, team_b_clicks :b DELETE credited_items :items',
          ConditionExpression: 'contains(credited_items, :item)',
          ExpressionAttributeValues: { ':a': delta.a, ':b': delta.b, ':items': new Set([credit.itemId]), ':item': credit.itemId },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return teamClicksOf(out?.Attributes, { a: 0, b: 0 });
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'not-credited';
      throw error;
    }
  }
}

/** Team click counts from an UPDATED_NEW answer (an attribute the ADD created is its delta). */
function teamClicksOf(attributes: Record<string, unknown> | undefined, fallback: TeamClicks): TeamClicks {
  const value = (name: string, otherwise: number) => (typeof attributes?.[name] === 'number' ? (attributes[name] as number) : otherwise);
  return { a: value('team_a_clicks', fallback.a), b: value('team_b_clicks', fallback.b) };
}

export interface EventRepositoryOptions {
  /** Days until DynamoDB's TTL removes an event item. @default 400 */
  ttlDays?: number;
  /** Writes in flight at once. @default 16 */
  concurrency?: number;
  /** Told about every inconsistency the undo could not repair (log it, raise a metric). */
  onInconsistency?: (inconsistency: CounterInconsistency) => void;
  /**
   * Retries of the undo writes after errors that prove the write was not applied (connection
   * refused, throttling), so a short outage does not open the residual window.
   * @default 8 attempts, full jitter from 50 ms, capped at 1 s (about 4 s in all at worst)
   */
  compensationBackoff?: BackoffOptions;
}

const NOT_APPLIED_ERRORS = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded']);

/**
 * Whether an error proves the request never changed the table, so repeating a non-idempotent
 * ADD is safe. A timeout or a reset connection proves nothing (the write may have landed).
 */
export function provesNotApplied(error: unknown): boolean {
  const e = error as { name?: string; code?: string; cause?: { code?: string } } | undefined;
  return NOT_APPLIED_ERRORS.has(e?.name ?? '') || e?.code === 'ECONNREFUSED' || e?.cause?.code === 'ECONNREFUSED';
}

type Claim = 'claimed' | 'duplicate' | 'conflict';

/** The user-aggregate step of a group: the ADDs applied with the totals after them, their statistics, the first failure. */
interface UserPhase {
  done: { userId: string; delta: UserTotals; after: UserAggregate }[];
  userStats: Increments;
  failure?: { error: unknown };
}

export class DynamoEventRepository implements EventRepository {
  private readonly ttlDays: number;
  private readonly concurrency: number;
  private readonly onInconsistency: (inconsistency: CounterInconsistency) => void;
  private readonly compensationBackoff: Required<Pick<BackoffOptions, 'maxAttempts' | 'sleep'>> & BackoffOptions;
  /** The interleaved impression slates and their preference counters (same table). */
  readonly impressions: DynamoImpressionStore;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly eventsTable: string,
    private readonly counters: CounterRepository & UserAggregateRepository,
    options: EventRepositoryOptions = {},
  ) {
    this.impressions = new DynamoImpressionStore(db, eventsTable);
    this.ttlDays = options.ttlDays ?? 400;
    this.concurrency = options.concurrency ?? 16;
    this.onInconsistency = options.onInconsistency ?? (() => undefined);
    this.compensationBackoff = {
      baseMs: 50,
      capMs: 1000,
      maxAttempts: 8,
      sleep: (ms: number) => new Promise((resolve) => setTimeout(resolve, ms)),
      ...options.compensationBackoff,
    };
  }

  /** Runs an undo write, repeating it while the store provably did not apply it. */
  private async compensate<T>(write: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await write();
      } catch (error) {
        if (attempt >= this.compensationBackoff.maxAttempts || !provesNotApplied(error)) throw error;
        await this.compensationBackoff.sleep(fullJitterDelay(attempt - 1, this.compensationBackoff));
      }
    }
  }

  /** The item an event is stored as (for size checks before writing). */
  itemFor(event: AcceptedEvent, variant: string, interleaving?: InterleavingAttribution) {
    return storedEventItem(event, variant, this.ttlDays, interleaving);
  }

  /**
   * Stores and counts an event whose id the server has just generated (the impression of a
   * /recommend request, keyed by a fresh request id), so it cannot be a duplicate: the user
   * aggregates are updated while the claim is in flight, and the request waits for two DynamoDB
   * round trips instead of three. A failed claim has the aggregates undone like any failed group
   * (a failed count, the claim un-done); a claim that finds the id taken after all is undone and
   * reported as a duplicate. Throws if the event could not be stored and counted.
   */
  async recordNew(event: AcceptedEvent, variant: string, interleaving?: InterleavingAttribution, user: UserContext = {}): Promise<StoreOutcome> {
    const candidate: VariantEvent = { event, variant, ...(interleaving ? { interleaving } : {}), ...user };
    const [group] = planCounterGroups([candidate]);
    const [claim, users] = await Promise.all([
      this.claim(candidate).then(
        (outcome) => ({ outcome }),
        (error: unknown) => ({ error }),
      ),
      this.applyUserTotals(group),
    ]);
    // A fresh id cannot conflict; were it taken after all, nothing of this event is counted.
    if ('error' in claim || claim.outcome !== 'claimed') {
      await this.undoUserTotals(group, users.done, users.userStats);
      if ('error' in claim) throw claim.error;
      return 'duplicate';
    }
    try {
      await this.finishGroup(group, users);
    } catch (error) {
      await this.unclaim(group);
      throw error;
    }
    return 'stored';
  }

  async recordBatch(events: readonly VariantEvent[]): Promise<BatchStoreResult> {
    const result: BatchStoreResult = { stored: [], duplicates: [], conflicts: [], failed: [] };
    const claims = await mapWithConcurrency(events, this.concurrency, (candidate) => this.claim(candidate));
    const claimed: VariantEvent[] = [];
    claims.forEach((claim, i) => {
      const eventId = events[i].event.event_id;
      if (claim.status === 'rejected') result.failed.push({ eventId, error: claim.reason });
      else if (claim.value === 'duplicate') result.duplicates.push(eventId);
      else if (claim.value === 'conflict') result.conflicts.push(eventId);
      else claimed.push(events[i]);
    });
    const groups = planCounterGroups(claimed);
    // Few groups per request (variants × days); 4 at a time keeps at most 4 × concurrency writes in flight.
    const counted = await mapWithConcurrency(groups, 4, (group) => this.countGroup(group));
    const uncounted: { group: CounterGroup; error: unknown }[] = [];
    counted.forEach((outcome, i) => {
      if (outcome.status === 'fulfilled') result.stored.push(...groups[i].eventIds);
      else uncounted.push({ group: groups[i], error: outcome.reason });
    });
    for (const { group, error } of uncounted) {
      await this.unclaim(group);
      for (const eventId of group.eventIds) result.failed.push({ eventId, error });
    }
    return result;
  }

  /**
   * Step 1: the conditional put, or the re-claim of an event stored but not counted. An id
   * already stored with another content fingerprint is a conflict and is never re-claimed;
   * items written before fingerprints existed have none and count as the same content.
   */
  private async claim({ event, variant, interleaving }: VariantEvent): Promise<Claim> {
    const item = this.itemFor(event, variant, interleaving);
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.eventsTable,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk)',
          // DynamoDB returns the existing item with the failure, so a duplicate already counted
          // costs no second request (dynalite ignores this: the item is then read, consistently).
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return 'claimed';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const existing = error.Item ? { counted: error.Item.counted?.BOOL, fingerprint: error.Item.content_sha256?.S } : await this.readClaim(event.event_id);
      if (existing?.fingerprint !== undefined && existing.fingerprint !== item.content_sha256) return 'conflict';
      if (existing?.counted === true) return 'duplicate';
      return (await this.reclaim(event.event_id)) ? 'claimed' : 'duplicate';
    }
  }

  /** The claim state and content fingerprint of a stored event (undefined if it is gone, e.g. by TTL). */
  private async readClaim(eventId: string): Promise<{ counted?: boolean; fingerprint?: string } | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.eventsTable, Key: eventKey(eventId), ConsistentRead: true, ProjectionExpression: 'counted, content_sha256' }),
    );
    if (!out?.Item) return undefined;
    return {
      counted: typeof out.Item.counted === 'boolean' ? out.Item.counted : undefined,
      fingerprint: typeof out.Item.content_sha256 === 'string' ? out.Item.content_sha256 : undefined,
    };
  }

  private async reclaim(eventId: string): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.eventsTable,
          Key: eventKey(eventId),
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

  /**
   * Step 2 for one group; on failure, step 3's undo, then rethrows the first error. Order: user
   * aggregates, interleaving preference credits on the impressions, the group's daily counter,
   * then the preference transitions on the experiment's interleaving counter. The undo reverses
   * whatever of these succeeded.
   */
  private async countGroup(group: CounterGroup): Promise<void> {
    await this.finishGroup(group, await this.applyUserTotals(group));
  }

  /** The user-aggregate ADDs of a group: those applied (for the statistics and any undo), and the first failure. */
  private async applyUserTotals(group: CounterGroup): Promise<UserPhase> {
    const users = [...group.userDeltas];
    const applied = await mapWithConcurrency(users, this.concurrency, ([userId, delta]) => this.counters.addUserTotals(group.experimentId, userId, delta));
    const phase: UserPhase = { done: [], userStats: {} };
    applied.forEach((outcome, i) => {
      const [userId, delta] = users[i];
      if (outcome.status === 'rejected') phase.failure ??= { error: outcome.reason };
      else {
        phase.done.push({ userId, delta, after: outcome.value });
        addIncrements(phase.userStats, userStatIncrements(subtractTotals(outcome.value, delta), outcome.value, group.caps, outcome.value.covariate));
        addIncrements(phase.userStats, banditRewardIncrements(subtractTotals(outcome.value, delta), outcome.value, group.propensities?.get(userId)));
      }
    });
    return phase;
  }

  /** The rest of step 2 after the user aggregates, and step 3's undo of everything applied if any write failed. */
  private async finishGroup(group: CounterGroup, { done, userStats, failure: userFailure }: UserPhase): Promise<void> {
    let failure = userFailure;
    const preference = failure ? { credited: [], wins: {} } : await this.creditPreferences(group);
    if ('error' in preference) failure ??= { error: preference.error };
    let dailyApplied: Increments | undefined;
    if (!failure) {
      const daily = nonZero(addIncrements({ ...group.increments }, userStats));
      try {
        await this.counters.add(group.experimentId, group.variant, group.day, daily, group.shard, group.segment);
        dailyApplied = daily;
      } catch (error) {
        failure = { error };
      }
    }
    if (!failure) {
      try {
        await this.counters.add(group.experimentId, INTERLEAVING_COUNTER_VARIANT, group.day, nonZero(preference.wins), group.shard);
        return;
      } catch (error) {
        failure = { error };
      }
    }
    if (dailyApplied !== undefined && Object.keys(dailyApplied).length > 0) await this.undoDaily(group, dailyApplied);
    await this.undoPreferences(group, preference.credited, preference.wins);
    await this.undoUserTotals(group, done, userStats);
    throw failure.error;
  }

  /**
   * Adds each credited click once to its impression's team click counts and returns the
   * preference transitions they cause (not yet written), the credits applied (for an undo) and
   * the first error. A click on an item already credited on that impression changes nothing.
   */
  private async creditPreferences(group: CounterGroup): Promise<{ credited: { credit: PreferenceCredit }[]; wins: Increments; error?: unknown }> {
    const outcomes = await mapWithConcurrency(group.credits, this.concurrency, (credit) => this.impressions.addTeamClick(credit));
    const credited: { credit: PreferenceCredit }[] = [];
    const wins: Increments = {};
    let error: unknown;
    let failed = false;
    outcomes.forEach((outcome, i) => {
      const credit = group.credits[i];
      if (outcome.status === 'rejected') {
        if (!failed) error = outcome.reason;
        failed = true;
      } else if (outcome.value !== 'already-credited') {
        credited.push({ credit });
        addIncrements(wins, preferenceTransition(subtractTeamClicks(outcome.value, teamClickDelta(credit.team, 1)), outcome.value));
      }
    });
    return failed ? { credited, wins, error } : { credited, wins };
  }

  /** Negates a daily counter ADD that succeeded when a later write of its group failed. */
  private async undoDaily(group: CounterGroup, applied: Increments): Promise<void> {
    try {
      await this.compensate(() => this.counters.add(group.experimentId, group.variant, group.day, negateIncrements(applied), group.shard, group.segment));
    } catch (error) {
      this.report({ reason: 'undo-failed', ...this.where(group), detail: { daily: applied }, error });
    }
  }

  /**
   * Takes back the preference credits that succeeded. Their forward transitions were never
   * written; the undo's own transitions cancel them unless another click changed the same
   * impression in between, and the sum of both is then the correction the win counters need.
   */
  private async undoPreferences(group: CounterGroup, credited: { credit: PreferenceCredit }[], forwardWins: Increments): Promise<void> {
    if (credited.length === 0) return;
    const correction: Increments = { ...forwardWins };
    const undone = await mapWithConcurrency(credited, this.concurrency, ({ credit }) => this.compensate(() => this.impressions.removeTeamClick(credit)));
    undone.forEach((outcome, i) => {
      const { credit } = credited[i];
      if (outcome.status === 'fulfilled' && outcome.value !== 'not-credited') {
        addIncrements(correction, preferenceTransition(subtractTeamClicks(outcome.value, teamClickDelta(credit.team, -1)), outcome.value));
      } else {
        // The impression keeps the credit: its forward transition stays in the correction, so the
        // win counters match the impression; a retry finds the item credited and adds nothing.
        const error = outcome.status === 'rejected' ? outcome.reason : new Error('credit vanished before its undo');
        this.report({
          reason: 'undo-failed',
          ...this.where(group),
          detail: { impressionId: credit.impressionId, itemId: credit.itemId, team: credit.team },
          error,
        });
      }
    });
    const needed = nonZero(correction);
    if (Object.keys(needed).length === 0) return;
    try {
      await this.compensate(() => this.counters.add(group.experimentId, INTERLEAVING_COUNTER_VARIANT, group.day, needed, group.shard));
    } catch (error) {
      this.report({ reason: 'correction-failed', ...this.where(group), detail: { correction: needed }, error });
    }
  }

  /**
   * Negates the user-aggregate ADDs that succeeded. Their forward statistics were never recorded;
   * the undo's own statistics cancel them exactly unless another request changed the same user in
   * between, and the sum of both is then the correction the daily counter needs.
   */
  private async undoUserTotals(
    group: CounterGroup,
    done: { userId: string; delta: UserTotals; after: UserAggregate }[],
    forwardStats: Increments,
  ): Promise<void> {
    if (done.length === 0) return;
    const correction: Increments = { ...forwardStats };
    const undone = await mapWithConcurrency(done, this.concurrency, ({ userId, delta }) =>
      this.compensate(() => this.counters.addUserTotals(group.experimentId, userId, negateTotals(delta))),
    );
    undone.forEach((outcome, i) => {
      const { userId, delta } = done[i];
      if (outcome.status === 'fulfilled') {
        addIncrements(correction, userStatIncrements(addTotals(outcome.value, delta), outcome.value, group.caps, outcome.value.covariate));
        addIncrements(correction, banditRewardIncrements(addTotals(outcome.value, delta), outcome.value, group.propensities?.get(userId)));
      } else {
        // The aggregate keeps this delta, so its forward statistics stay in the correction and the
        // user-level sums match the aggregate; a retry will add the delta again (residual window).
        this.report({ reason: 'undo-failed', ...this.where(group), detail: { userId, delta }, error: outcome.reason });
      }
    });
    const needed = nonZero(correction);
    if (Object.keys(needed).length === 0) return;
    try {
      await this.compensate(() => this.counters.add(group.experimentId, group.variant, group.day, needed, group.shard, group.segment));
    } catch (error) {
      this.report({ reason: 'correction-failed', ...this.where(group), detail: { correction: needed }, error });
    }
  }

  /** Sets `counted = false` on a group's events, so a retry of the request re-claims and counts them. */
  private async unclaim(group: CounterGroup): Promise<void> {
    const results = await mapWithConcurrency(group.eventIds, this.concurrency, (eventId) =>
      this.compensate(() =>
        this.db.send(
          new UpdateCommand({
            TableName: this.eventsTable,
            Key: eventKey(eventId),
            UpdateExpression: 'SET counted = :false',
            ExpressionAttributeValues: { ':false': false },
          }),
        ),
      ),
    );
    results.forEach((outcome, i) => {
      if (outcome.status === 'rejected')
        this.report({ reason: 'unclaim-failed', ...this.where(group), detail: { eventId: group.eventIds[i] }, error: outcome.reason });
    });
  }

  private where(group: CounterGroup) {
    return { experimentId: group.experimentId, variant: group.variant, day: group.day };
  }

  private report(inconsistency: CounterInconsistency): void {
    this.onInconsistency(inconsistency);
  }
}
