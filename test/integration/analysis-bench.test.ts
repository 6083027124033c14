/**
 * `abrec bench analysis` on a small pair of sizes: the command runs end to end and both
 * experiments cost the same DynamoDB reads, however many events they stand for. Timings are
 * printed by the benchmark, never asserted.
 */
import { describe, expect, it } from 'vitest';
import { COUNTER_SHARDS } from '../../lambdas/domain/events/counters.ts';
import { benchAnalysisCommand, type BenchAnalysisRow } from '../../cli/commands/bench-analysis.ts';
import type { CliIO } from '../../cli/command.ts';

function fakeIo(): CliIO & { out: string[] } {
  const out: string[] = [];
  return { out, stdout: (text) => void out.push(text), stderr: () => {}, readStdin: async () => '', env: {}, signal: new AbortController().signal };
}

describe('abrec bench analysis', () => {
  it('reads the same number of DynamoDB items for a thousand and for a million events', async () => {
    // Prepare
    const io = fakeIo();

    // Act
    const code = await benchAnalysisCommand.run(['--events', '1000,1000000', '--runs', '1', '--json'], io);

    // Assess
    const { results } = JSON.parse(io.out.join('').trim().split('\n').at(-1) as string) as { results: BenchAnalysisRow[] };
    expect(code).toBe(0);
    expect(results.map((row) => Math.round(Math.log10(row.events)))).toEqual([3, 6]);
    // 14 days × 2 variants, each day in every counter shard.
    expect(results.map((row) => row.counter_items)).toEqual([28 * COUNTER_SHARDS, 28 * COUNTER_SHARDS]);
    expect(results[1].dynamodb_items_read).toBe(results[0].dynamodb_items_read);
    expect(results[1].dynamodb_requests).toBe(results[0].dynamodb_requests);
  });
});
