/**
 * `abrec bench serve` end to end on a few requests: the handlers run against the in-memory
 * stores, every artifact row is measured, and the write costs it reports hold the issue's
 * goals (at most 2 write units per new event, no counter update for a resent batch).
 */
import { describe, expect, it } from 'vitest';
import { runServeBench } from '../../cli/commands/bench-serve.ts';
import { DEFAULT_ARTIFACTS_DIR } from '../../local/runtime.ts';

describe('abrec bench serve', () => {
  it('measures every artifact and the SDK floor, and reports the write cost of a batch and of its resend', async () => {
    // Act
    const result = await runServeBench({ requests: 10, seed: 42, artifactsDir: DEFAULT_ARTIFACTS_DIR });

    // Assess
    expect(result.rows.map((row) => [row.items, row.factors])).toEqual([
      [expect.any(Number), expect.any(Number)],
      [expect.any(Number), expect.any(Number)],
      [62_000, 64],
    ]);
    for (const row of result.rows) expect(row.handler_p50_ms).toBeGreaterThan(row.topn_p50_ms);
    expect(result.sdk_floor.writes_p99_ms).toBeGreaterThanOrEqual(result.sdk_floor.writes_p50_ms);

    const { new_batch: fresh, same_batch_again: again, distinct_users_batch: distinct } = result.batches;
    expect([fresh.status, again.status, distinct.status]).toEqual([200, 200, 200]);
    expect(fresh.counter_updates).toBeGreaterThan(0);
    expect(fresh.write_units_per_event).toBeLessThanOrEqual(2);
    // One event per user: its claim, its user aggregate and its user's daily limit (one each).
    expect(distinct.write_units_per_event).toBeLessThanOrEqual(3);
    // A resend touches no counter; each user's share of the daily limit is taken and given back,
    // and the request's interaction-log item is written again under the same key (about 0.05 a event).
    expect(again.counter_updates).toBe(0);
    expect(again.calls['UpdateItem abrec-counters (daily limits)']).toBe(2 * 100);
    expect(again.write_units_per_event).toBeGreaterThanOrEqual(1.2);
    expect(again.write_units_per_event).toBeLessThanOrEqual(1.25);
  }, 120_000);
});
