/**
 * Catalogue coverage of what was shown: which distinct items each variant of an experiment has
 * put in front of its users. A set does not add up in numeric counter attributes, so each
 * (experiment, variant, item) gets one marker item in the counters table, written the first
 * time a container sees the item shown and idempotent whatever repeats it:
 *
 *   pk `EXP#<experiment>#SHOWN#<variant>`, sk `ITEM#<item id>`, `first_shown` = the UTC day;
 *   sk `CATALOGUE`: `catalogue_size`, the largest catalogue (items in the served artifact) the
 *   variant served from.
 *
 * The analysis counts the markers with one Query per variant (by key, never a Scan; at most the
 * catalogue's size of small items), keeping those first shown by the analysis day.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { drainWithBackoff, type BackoffOptions } from '../common/backoff.ts';

/** Distinct items a variant showed through a day, and the catalogue it served from. */
export interface ShownItems {
  distinctItems: number;
  /** Items in the largest artifact the variant served from; 0 when nothing was recorded. */
  catalogueSize: number;
}

/** The markers' store (see the module comment). */
export interface ShownItemRepository {
  /** Marks items as shown by a variant on a day, and (when given) the size of the catalogue they came from. */
  markShown(experimentId: string, variant: string, itemIds: readonly string[], day: string, catalogueSize?: number): Promise<void>;
  /** The distinct items a variant showed on or before `through` (every day when absent). */
  shown(experimentId: string, variant: string, through?: string): Promise<ShownItems>;
}

const BATCH_WRITE_LIMIT = 25;
const shownKey = (experimentId: string, variant: string) => `EXP#${experimentId}#SHOWN#${variant}`;

/** {@link ShownItemRepository} on the counters table. */
export class DynamoShownItemRepository implements ShownItemRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly backoff: BackoffOptions = {},
  ) {}

  async markShown(experimentId: string, variant: string, itemIds: readonly string[], day: string, catalogueSize?: number): Promise<void> {
    const pk = shownKey(experimentId, variant);
    const unique = [...new Set(itemIds)];
    // A plain put of the same key is idempotent; first_shown may move to a later day only when two
    // containers mark the same item on different days, which costs at most one day of precision.
    const writes = Array.from({ length: Math.ceil(unique.length / BATCH_WRITE_LIMIT) }, (_, b) =>
      unique
        .slice(b * BATCH_WRITE_LIMIT, (b + 1) * BATCH_WRITE_LIMIT)
        .map((itemId) => ({ PutRequest: { Item: { pk, sk: `ITEM#${itemId}`, first_shown: day } } })),
    );
    await Promise.all([
      ...writes.map((requests) =>
        drainWithBackoff(
          requests,
          async (pending) => {
            const result = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }));
            return (result.UnprocessedItems?.[this.tableName] ?? []) as typeof pending;
          },
          this.backoff,
        ),
      ),
      ...(catalogueSize === undefined ? [] : [this.recordCatalogue(pk, catalogueSize)]),
    ]);
  }

  /** Raises the recorded catalogue size to `size` (never lowers it). */
  private async recordCatalogue(pk: string, size: number): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk, sk: 'CATALOGUE' },
          UpdateExpression: 'SET catalogue_size = :size',
          ConditionExpression: 'attribute_not_exists(catalogue_size) OR catalogue_size < :size',
          ExpressionAttributeValues: { ':size': size },
        }),
      );
    } catch (error) {
      // Already as large or larger: nothing to do.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async shown(experimentId: string, variant: string, through?: string): Promise<ShownItems> {
    const pk = shownKey(experimentId, variant);
    let distinctItems = 0;
    let catalogueSize = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      // One partition, read by key: the markers (counted, filtered by day) and the catalogue item.
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': pk },
          ProjectionExpression: 'sk, first_shown, catalogue_size',
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        if (item.sk === 'CATALOGUE') catalogueSize = Number(item.catalogue_size) || 0;
        else if (through === undefined || String(item.first_shown) <= through) distinctItems++;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return { distinctItems, catalogueSize };
  }
}
