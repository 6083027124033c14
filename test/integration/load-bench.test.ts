/**
 * `abrec bench load` end to end on a short run: its own runtime (abrec serve as a child process),
 * two seconds per phase on two connections, then the reconciliation against the store. The
 * events it reports must really be there: counts above zero, every acknowledged event read back
 * stored and counted, lost 0 and duplicated 0, and the runtime gone afterwards.
 */
import { describe, expect, it } from 'vitest';
import { benchLoadCommand, type LoadBenchResult } from '../../cli/commands/bench-load.ts';
import { eventTypes } from '../../lambdas/domain/events/event.ts';
import { recordingIO } from '../helpers/cli-io.ts';

describe('abrec bench load', () => {
  it('drives every phase and reconciles every acknowledged event with the store: lost 0, duplicated 0', async () => {
    // Arrange
    const io = recordingIO();

    // Act
    const code = await benchLoadCommand.run(['--duration', '2', '--connections', '2', '--users', '300', '--batch-size', '10', '--json'], io);

    // Assess
    const result = io.lastJson() as unknown as LoadBenchResult;
    expect(code, io.stderrText()).toBe(0);
    expect(result.phases.map((p) => p.phase)).toEqual(['recommend', 'events', 'mixed']);
    for (const phase of result.phases) {
      expect(phase.requests).toBeGreaterThan(0);
      expect(phase.events).toBeGreaterThan(0);
      expect(phase.latency_p99_ms).toBeGreaterThanOrEqual(phase.latency_p50_ms);
    }
    const { types, users } = result.reconciliation;
    for (const type of eventTypes) {
      expect(types[type].acknowledged, type).toBeGreaterThan(0);
      expect(types[type].acknowledgedStored, type).toBe(types[type].acknowledged);
      expect(types[type].counted, type).toBe(types[type].acknowledged + types[type].unacknowledgedStored);
    }
    expect(result.events_read).toBeGreaterThanOrEqual(eventTypes.reduce((sum, type) => sum + types[type].acknowledged, 0));
    expect(users.users).toBeGreaterThan(0);
    expect(users.mismatched).toBe(0);
    expect([result.lost, result.duplicated]).toEqual([0, 0]);
    expect(io.stdoutText()).toMatch(/^lost 0$/m);
    expect(io.stdoutText()).toMatch(/^duplicated 0$/m);
    await expect(fetch(`${result.url}/health`)).rejects.toThrow();
  }, 120_000);
});
