import { DynamoDBDocumentClient, NumberValue, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { CounterPrecisionError, DynamoCounterRepository } from '../../../lambdas/storage/event-repository.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const counters = new DynamoCounterRepository(ddb as unknown as DynamoDBDocumentClient, 'counters');
const shard = (n: number, metrics: Record<string, unknown>) => ({ pk: 'EXP#e1#VAR#control', sk: `DAY#2026-11-23#S${String(n).padStart(2, '0')}`, ...metrics });

describe('DynamoCounterRepository.dailyCounters, for counters beyond 2^53', () => {
  beforeEach(() => ddb.reset());

  it('converts a BigInt the document client returns when a double holds it exactly, instead of dropping it', async () => {
    // Prepare: the SDK unmarshals integers beyond Number.MAX_SAFE_INTEGER as BigInt.
    ddb.on(QueryCommand).resolves({ Items: [shard(0, { impressions: 2n ** 60n, clicks: 3 })] });

    // Act
    const [day] = await counters.dailyCounters('e1', 'control');

    // Assess
    expect(day).toEqual({ day: '2026-11-23', impressions: 2 ** 60, clicks: 3 });
  });

  it('refuses a BigInt no double holds exactly with an error naming the counter and its value', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves({ Items: [shard(0, { revenue_sum_sq: 2n ** 53n + 1n })] });

    // Act
    const read = counters.dailyCounters('e1', 'control');

    // Assess
    await expect(read).rejects.toBeInstanceOf(CounterPrecisionError);
    await expect(read).rejects.toThrow('Counter revenue_sum_sq of e1 / control on 2026-11-23 is 9007199254740993');
  });

  it("refuses a day whose shards' sum rounds, though each shard is a safe integer", async () => {
    // Prepare
    ddb.on(QueryCommand).resolves({ Items: [shard(0, { impressions: Number.MAX_SAFE_INTEGER }), shard(1, { impressions: 2 })] });

    // Act / Assess
    await expect(counters.dailyCounters('e1', 'control')).rejects.toThrow('is 9007199254740993');
  });

  it('reads NumberValue (wrapNumbers) the same way: exact values converted, others refused', async () => {
    // Prepare
    ddb.on(QueryCommand)
      .resolvesOnce({ Items: [shard(0, { clicks: NumberValue.from('42'), revenue_sum: NumberValue.from('12.5') })] })
      .resolvesOnce({ Items: [shard(0, { revenue_sum: NumberValue.from('12345678901234567890.5') })] });

    // Act / Assess
    expect(await counters.dailyCounters('e1', 'control')).toEqual([{ day: '2026-11-23', clicks: 42, revenue_sum: 12.5 }]);
    await expect(counters.dailyCounters('e1', 'control')).rejects.toBeInstanceOf(CounterPrecisionError);
  });
});
