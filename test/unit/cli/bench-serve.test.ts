import { describe, expect, it } from 'vitest';
import { UsageError, type CliIO } from '../../../cli/command.ts';
import { benchServeCommand, quantile, sumFactors, syntheticModel } from '../../../cli/commands/bench-serve.ts';

const io: CliIO = { stdout: () => undefined, stderr: () => undefined, readStdin: async () => '', env: {}, signal: new AbortController().signal };

describe('abrec bench serve', () => {
  it('is the command at path bench serve', () => {
    expect(benchServeCommand.path).toEqual(['bench', 'serve']);
  });

  it('refuses fewer than 10 requests with a usage error naming --requests', async () => {
    await expect(benchServeCommand.run(['--requests', '5'], io)).rejects.toThrow(UsageError);
    await expect(benchServeCommand.run(['--requests', '5'], io)).rejects.toThrow(/--requests/);
  });

  it('refuses an emulated round trip that is not a number of milliseconds from 0 to 1000, naming --rtt-ms', async () => {
    for (const bad of ['-1', 'fast', '5000']) await expect(benchServeCommand.run(['--rtt-ms', bad], io)).rejects.toThrow(/--rtt-ms/);
  });

  it('takes the nearest-rank quantile', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);

    expect([quantile(sorted, 0.5), quantile(sorted, 0.99), quantile([], 0.5)]).toEqual([50, 99, 0]);
  });

  it('reads every factor in the floor loop, odd lengths included', () => {
    expect(sumFactors(Float32Array.from([1, 2, 3, 4, 5, 6, 7]))).toBe(28);
  });

  it('builds the same synthetic artifact for the same seed, with sorted seen items per user', () => {
    const size = { items: 50, factors: 8, users: 4, seenPerUser: 3 };

    const a = syntheticModel(size, 7);
    const b = syntheticModel(size, 7);

    expect(Array.from(a.itemFactors)).toEqual(Array.from(b.itemFactors));
    expect(Array.from(a.seenOffsets)).toEqual([0, 3, 6, 9, 12]);
    const firstUser = Array.from(a.seenItems.subarray(0, 3));
    expect(firstUser).toEqual([...firstUser].sort((x, y) => x - y));
  });
});
