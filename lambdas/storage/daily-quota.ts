/**
 * Per-user daily event limits in DynamoDB (counters table), one item per user, experiment and
 * UTC day: `EXP#<experiment>#USER#<user>` / `DAY#<yyyy-mm-dd>`, one number per event type.
 *
 * A request takes its events' share with one conditional ADD per user, before anything is stored,
 * so a user over the limit is refused without a write to the events or the counters. Events that
 * are then not stored and counted (duplicates, conflicts, store failures) are given back, so a
 * retried request is not charged twice. A give-back that fails leaves the user charged for events
 * that were not counted: the limit is reached a little early that day, nothing is miscounted.
 * The items expire two days after their day (the table's TTL attribute).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DAILY_EVENT_LIMITS, splitByLimit, type DailyQuotaClaim } from '../domain/events/plausibility.ts';
import type { EventType } from '../domain/events/event.ts';

export const dailyQuotaKey = (experimentId: string, userId: string, day: string) => ({ pk: `EXP#${experimentId}#USER#${userId}`, sk: `DAY#${day}` });

/** The TTL attribute of the counters table. */
export const QUOTA_EXPIRY_ATTRIBUTE = 'expires_at';

/** What a claim was granted: the types whose events may be stored, and the ones over the limit. */
export interface QuotaGrant {
  granted: EventType[];
  over: EventType[];
}

export interface DailyQuota {
  /** The most events of each type per user, experiment and day. */
  readonly limits: Readonly<Record<EventType, number>>;
  /** Takes the claim's events from the user's day, by type; types over the limit are not taken. */
  take(claim: Pick<DailyQuotaClaim, 'experimentId' | 'userId' | 'day' | 'counts'>): Promise<QuotaGrant>;
  /** Gives back events that were taken but not stored and counted. */
  giveBack(claim: Pick<DailyQuotaClaim, 'experimentId' | 'userId' | 'day' | 'counts'>): Promise<void>;
}

/** How often a take re-reads the day after losing a race with another request of the same user. */
const MAX_TAKE_ATTEMPTS = 3;

export class DynamoDailyQuota implements DailyQuota {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly countersTable: string,
    readonly limits: Readonly<Record<EventType, number>> = DAILY_EVENT_LIMITS,
  ) {}

  async take({ experimentId, userId, day, counts }: Pick<DailyQuotaClaim, 'experimentId' | 'userId' | 'day' | 'counts'>): Promise<QuotaGrant> {
    // Nothing used yet is the common case: try for every type that fits an empty day first.
    let used: Partial<Record<EventType, number>> = {};
    const over = new Set<EventType>();
    for (let attempt = 0; attempt < MAX_TAKE_ATTEMPTS; attempt++) {
      const split = splitByLimit(counts, used, this.limits);
      for (const type of split.over) over.add(type);
      const wanted = split.fits.filter((type) => !over.has(type));
      if (wanted.length === 0) return { granted: [], over: [...over] };
      try {
        await this.add(experimentId, userId, day, Object.fromEntries(wanted.map((type) => [type, counts[type] ?? 0])), true);
        return { granted: wanted, over: [...over] };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
      used = await this.usedOn(experimentId, userId, day);
    }
    // Lost every race: refuse the rest rather than loop (the client may retry).
    return { granted: [], over: Object.keys(counts) as EventType[] };
  }

  async giveBack({ experimentId, userId, day, counts }: Pick<DailyQuotaClaim, 'experimentId' | 'userId' | 'day' | 'counts'>): Promise<void> {
    const negative = Object.fromEntries(Object.entries(counts).flatMap(([type, n]) => (n ? [[type, -n]] : [])));
    if (Object.keys(negative).length > 0) await this.add(experimentId, userId, day, negative, false);
  }

  /** What the user used on that day, by type (a strongly consistent read). */
  async usedOn(experimentId: string, userId: string, day: string): Promise<Partial<Record<EventType, number>>> {
    const out = await this.db.send(new GetCommand({ TableName: this.countersTable, Key: dailyQuotaKey(experimentId, userId, day), ConsistentRead: true }));
    const item = out.Item ?? {};
    return Object.fromEntries(Object.keys(this.limits).flatMap((type) => (typeof item[type] === 'number' ? [[type, item[type] as number]] : [])));
  }

  /** ADDs the amounts; with `checked`, only if each type stays within its limit afterwards. */
  private async add(experimentId: string, userId: string, day: string, amounts: Record<string, number>, checked: boolean): Promise<void> {
    const names: Record<string, string> = { '#exp': QUOTA_EXPIRY_ATTRIBUTE };
    const values: Record<string, number> = { ':exp': Math.floor(Date.parse(`${day}T00:00:00Z`) / 1000) + 3 * 86_400 };
    const adds: string[] = [];
    const conditions: string[] = [];
    Object.entries(amounts).forEach(([type, n], i) => {
      names[`#t${i}`] = type;
      values[`:n${i}`] = n;
      adds.push(`#t${i} :n${i}`);
      if (checked) {
        values[`:room${i}`] = this.limits[type as EventType] - n;
        conditions.push(`(attribute_not_exists(#t${i}) OR #t${i} <= :room${i})`);
      }
    });
    await this.db.send(
      new UpdateCommand({
        TableName: this.countersTable,
        Key: dailyQuotaKey(experimentId, userId, day),
        UpdateExpression: `ADD ${adds.join(', ')} SET #exp = :exp`,
        ...(conditions.length > 0 ? { ConditionExpression: conditions.join(' AND ') } : {}),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }
}
