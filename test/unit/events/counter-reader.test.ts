import { DynamoDBDocumentClient, NumberValue, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoCounterRepository } from '../../../lambdas/storage/counter-store.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const counters = new DynamoCounterRepository(ddb as unknown as DynamoDBDocumentClient, 'counters');
const shard = (n: number, metrics: Record<string, unknown>) => ({ pk: 'EXP#e1#VAR#control', sk: `DAY#2026-11-23#S${String(n).padStart(2, '0')}`, ...metrics });

describe('DynamoCounterRepository.exactDailyCounters, for counters beyond 2^53', () => {
  beforeEach(() => ddb.reset());

  it('keeps a BigInt the document client returns exactly, and gives a number for one a double holds', async () => {
    // Prepare: the SDK unmarshals integers beyond Number.MAX_SAFE_INTEGER as BigInt.
    ddb.on(QueryCommand).resolves({ Items: [shard(0, { impressions: 2n ** 60n, revenue_cents_sq: 2n ** 53n + 1n, clicks: 3 })] });

    // Act
    const [day] = await counters.exactDailyCounters('e1', 'control');

    // Assess
    expect(day).toEqual({ day: '2026-11-23', impressions: 2n ** 60n, revenue_cents_sq: 2n ** 53n + 1n, clicks: 3 });
  });

  it("sums a day's shards exactly when the sum passes 2^53, though each shard is a safe integer", async () => {
    // Prepare
    ddb.on(QueryCommand).resolves({ Items: [shard(0, { impressions: Number.MAX_SAFE_INTEGER }), shard(1, { impressions: 2 })] });

    // Act
    const [day] = await counters.exactDailyCounters('e1', 'control');

    // Assess
    expect(day.impressions).toBe(2n ** 53n + 1n);
  });

  it('reads NumberValue (wrapNumbers) the same way: integers exact, fractions as the nearest double', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves({
      Items: [
        shard(0, { clicks: NumberValue.from('42'), revenue_sum: NumberValue.from('12.5'), watch_ms_sq: NumberValue.from('123456789012345678901234567') }),
      ],
    });

    // Act / Assess
    expect(await counters.exactDailyCounters('e1', 'control')).toEqual([
      { day: '2026-11-23', clicks: 42, revenue_sum: 12.5, watch_ms_sq: 123456789012345678901234567n },
    ]);
  });

  it('gives the doubles of dailyCounters for readers that need no exactness, never dropping a counter', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves({ Items: [shard(0, { impressions: 2n ** 60n + 1n, clicks: 3 })] });

    // Act
    const [day] = await counters.dailyCounters('e1', 'control');

    // Assess
    expect(day).toEqual({ day: '2026-11-23', impressions: 2 ** 60, clicks: 3 });
  });
});
