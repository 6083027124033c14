/**
 * BatchGetItem over any number of keys, as every bulk read of the project does it: DynamoDB's
 * 100 keys per call, a few calls in flight, each call's UnprocessedKeys asked again with
 * exponential backoff and full jitter (drainWithBackoff).
 */
import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { drainWithBackoff, type BackoffOptions } from '../common/backoff.ts';
import { mapWithConcurrency } from '../common/concurrency.ts';

/** DynamoDB's BatchGetItem limit: keys per call. */
export const BATCH_GET_LIMIT = 100;

export interface BatchGetOptions {
  /** The attributes to read (a ProjectionExpression and its names); every attribute when absent. */
  projection?: { expression: string; names?: Record<string, string> };
  consistentRead?: boolean;
  /** BatchGetItem calls in flight. @default 4 */
  concurrency?: number;
  backoff?: BackoffOptions;
  /** Called after each call's keys are all read, with how many keys that call held. */
  onChunkRead?: (keys: number) => void;
}

/**
 * Reads every key of `keys` from `table` and hands each item found to `onItem` (a key without an
 * item is simply not handed over). Rejects with the error of the first call that failed, after
 * the calls in flight have settled.
 */
export async function batchGetEach<K extends Record<string, string>>(
  db: DynamoDBDocumentClient,
  table: string,
  keys: readonly K[],
  onItem: (item: Record<string, unknown>) => void,
  { projection, consistentRead, concurrency = 4, backoff, onChunkRead }: BatchGetOptions = {},
): Promise<void> {
  const request = {
    ...(projection ? { ProjectionExpression: projection.expression } : {}),
    ...(projection?.names ? { ExpressionAttributeNames: projection.names } : {}),
    ...(consistentRead ? { ConsistentRead: true } : {}),
  };
  const chunks: K[][] = [];
  for (let i = 0; i < keys.length; i += BATCH_GET_LIMIT) chunks.push(keys.slice(i, i + BATCH_GET_LIMIT));
  const results = await mapWithConcurrency(chunks, concurrency, async (chunk) => {
    await drainWithBackoff(
      chunk,
      async (pending) => {
        const out = await db.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ...request } } }));
        for (const item of out.Responses?.[table] ?? []) onItem(item);
        return (out.UnprocessedKeys?.[table]?.Keys ?? []) as K[];
      },
      backoff,
    );
    onChunkRead?.(chunk.length);
  });
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
}
