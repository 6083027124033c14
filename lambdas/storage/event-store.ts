/**
 * Events in DynamoDB, stored and counted exactly once without transactions
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
 * The counters themselves (their items and shards) are in counter-store.ts, the interleaved
 * impressions in impression-store.ts.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { retryWithBackoff, type BackoffOptions } from '../common/backoff.ts';
import { mapWithConcurrency } from '../common/concurrency.ts';
import {
  addIncrements,
  addTotals,
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
import { contentFingerprint, type AcceptedEvent } from '../domain/events/event.ts';
import {
  INTERLEAVING_COUNTER_VARIANT,
  preferenceTransition,
  subtractTeamClicks,
  teamClickDelta,
  type InterleavingAttribution,
} from '../domain/events/interleaving-credit.ts';
import type { CounterRepository, UserAggregate, UserAggregateRepository } from './counter-store.ts';
import { eventKey } from './event-key.ts';
import { DynamoImpressionStore, type ImpressionReader } from './impression-store.ts';

export type StoreOutcome = 'stored' | 'duplicate';

/** What the counters need to know of an event's user besides the event: the experiment's caps and the user's segment. */
export type UserContext = Pick<VariantEvent, 'caps' | 'segment'>;

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
  /** The item an event is stored as: what the handlers size-check before writing. */
  itemFor(event: AcceptedEvent, variant: string, interleaving?: InterleavingAttribution): Record<string, unknown> & { pk: string; sk: string };
  /** The interleaved impression slates in the same table, read to attribute clicks. */
  readonly impressions: ImpressionReader;
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
  private readonly compensationBackoff: BackoffOptions;
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
  private compensate<T>(write: () => Promise<T>): Promise<T> {
    return retryWithBackoff(write, provesNotApplied, this.compensationBackoff);
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
