import { describe, expect, it } from 'vitest';
import { splitAcrossShards } from '../../../cli/commands/bench-analysis.ts';
import { COUNTER_SHARDS } from '../../../lambdas/domain/events/counters.ts';

describe('abrec bench analysis seeding', () => {
  it('splits a day over the counter shards so the shards sum back to the day, integers staying integers', () => {
    // Act
    const shards = splitAcrossShards({ impressions: 1_000_003, clickers: 7, revenue_sum: 12.5 });

    // Assess
    expect(shards).toHaveLength(COUNTER_SHARDS);
    const sum = (metric: string) => shards.reduce((total, shard) => total + (shard[metric] ?? 0), 0);
    expect([sum('impressions'), sum('clickers'), sum('revenue_sum')]).toEqual([1_000_003, 7, 12.5]);
    expect(shards.every((shard) => Number.isInteger(shard.impressions) && Number.isInteger(shard.clickers))).toBe(true);
    expect(shards[1].impressions).toBe(Math.trunc(1_000_003 / COUNTER_SHARDS));
  });
});
