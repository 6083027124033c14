/**
 * The interleaved impression slates of the events table and the preference counters kept on them
 * (see DynamoImpressionStore): what the events store credits interleaving clicks to, and what
 * ingestion reads to attribute them.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { BackoffOptions } from '../common/backoff.ts';
import type { PreferenceCredit } from '../domain/events/counters.ts';
import { impressionEventId, teamClickDelta, type StoredImpression, type TeamClicks } from '../domain/events/interleaving-credit.ts';
import { batchGetEach } from './batch-get.ts';
import { eventKey } from './event-key.ts';

/** What a credit did: the impression's team click counts after it, or nothing (item already credited). */
export type TeamClickOutcome = TeamClicks | 'already-credited';

/** The impression slates ingestion reads to attribute interleaved clicks (DynamoImpressionStore). */
export interface ImpressionReader {
  /** The impressions of the given request ids, by request id (absent when never recorded). */
  byRequestIds(requestIds: Iterable<string>): Promise<Map<string, StoredImpression>>;
}

/**
 * The interleaved impression slates in the events table (`EVENT#imp-<request id>` / `E`), read in
 * batches to credit clicks, and the per-impression preference counters kept on those items:
 * `team_a_clicks`, `team_b_clicks` and the string set `credited_items`. A credit is a conditional
 * ADD (`NOT contains(credited_items, :item)`), so a repeated click on the same item, or a retry
 * of an ADD that already landed, changes nothing: the counts are distinct items per team, as
 * `creditClicks` defines them.
 */
export class DynamoImpressionStore implements ImpressionReader {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly eventsTable: string,
    private readonly backoff: BackoffOptions = {},
  ) {}

  /** The impressions of the given request ids, by request id (absent when never recorded). BatchGetItem, 100 keys per call. */
  async byRequestIds(requestIds: Iterable<string>): Promise<Map<string, StoredImpression>> {
    const keys = [...new Set(requestIds)].map((requestId) => eventKey(impressionEventId(requestId)));
    const found = new Map<string, StoredImpression>();
    await batchGetEach(
      this.db,
      this.eventsTable,
      keys,
      (item) => {
        if (typeof item.request_id !== 'string' || !Array.isArray(item.slate)) return;
        found.set(item.request_id, {
          event_id: String(item.event_id),
          user_id: String(item.user_id),
          experiment_id: String(item.experiment_id),
          counted: item.counted === true,
          slate: item.slate as StoredImpression['slate'],
        });
      },
      {
        projection: {
          expression: '#id, #user, #experiment, #request, #counted, #slate',
          names: { '#id': 'event_id', '#user': 'user_id', '#experiment': 'experiment_id', '#request': 'request_id', '#counted': 'counted', '#slate': 'slate' },
        },
        backoff: this.backoff,
      },
    );
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
