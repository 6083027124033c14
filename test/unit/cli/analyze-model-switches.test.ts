/**
 * `abrec analyze --experiment ID` on an experiment that follows the latest models, simulated in
 * process: a week with a planted +30% for the treatment, a retraining switch, and a week in which
 * the new versions perform alike. The report marks the switch, and the comparison since it shows
 * no lift while the whole period still does.
 */
import { describe, expect, it } from 'vitest';
import { createAnalyzeCommand } from '../../../cli/commands/analyze.ts';
import { createExperiment, switchModelVersions } from '../../../lambdas/domain/experiments/lifecycle.ts';
import { analysisFromCounters } from '../../../lambdas/services/experiment-results.ts';
import { renderAnalysisReport } from '../../../lambdas/services/report.ts';
import { buildWorld } from '../../../simulator/bench.ts';
import { createInProcessTarget } from '../../../simulator/in-process-target.ts';
import { runSimulation } from '../../../simulator/run.ts';
import { recordingIO } from '../../helpers/cli-io.ts';

const FIRST_DAY_MS = Date.parse('2026-02-02T00:00:00Z');
const SWITCH_AT = '2026-02-09T02:00:00.000Z';

async function switchedAnalysis() {
  const started = createExperiment({
    now: new Date(FIRST_DAY_MS - 3_600_000),
    request: {
      id: 'follows-cli',
      name: 'follows',
      status: 'running',
      follow_latest: true,
      variants: [
        { name: 'control', model_id: 'content', model_version: 'v1', weight: 0.5, is_control: true },
        { name: 'treatment', model_id: 'als', model_version: 'v1', weight: 0.5 },
      ],
      target_metric: { kind: 'click_through' },
      min_sample_size: 50,
    },
  });
  const experiment = switchModelVersions(started, {
    versions: { control: { model_id: 'content', model_version: 'v2' }, treatment: { model_id: 'als', model_version: 'v2' } },
    runId: 'weekly-2026-02-09',
    now: new Date(SWITCH_AT),
  });
  const world = buildWorld({ users: 1500 });
  const target = createInProcessTarget({ experiment, firstDayMs: FIRST_DAY_MS, slateOf: (_, userId) => world.slates.get(userId) ?? [] });
  await runSimulation({
    population: world.population,
    target,
    experimentId: experiment.id,
    days: 7,
    seed: 11,
    liftByVariant: { treatment: 0.3 },
    concurrency: 1,
  });
  // The second week: the same target from day 7 on, both arms alike.
  const secondWeek = { ...target, startDay: (day: number) => target.startDay(day + 7) };
  await runSimulation({ population: world.population, target: secondWeek, experimentId: experiment.id, days: 7, seed: 12, concurrency: 1 });
  return analysisFromCounters(experiment, target.countersByVariant(), { day: target.lastDay() });
}

describe('abrec analyze --experiment: model switches', () => {
  it('prints the switch and the target since it beside the whole period, and carries the section in --json', async () => {
    // Prepare
    const analysis = await switchedAnalysis();
    const command = createAnalyzeCommand({ fetchAnalysis: async () => analysis });
    const io = recordingIO();

    // Act
    await command.run(['--experiment', 'follows-cli', '--json'], io);

    // Assess
    const section = analysis.model_switches!;
    expect(analysis.day).toBe('2026-02-15');
    expect(io.lastJson().model_switches).toEqual(section);
    expect(io.stdoutText()).toContain('model switch 2026-02-09 (run weekly-2026-02-09): control content v2, treatment als v2');
    expect(io.stdoutText()).toMatch(/since the last switch \(from 2026-02-10\): control 0\.\d+, treatment 0\.\d+; treatment lift/);
    // The planted lift was before the switch only: the whole period shows it, the period since does not.
    expect(section.whole_period.comparisons[0].lift_interval!.low).toBeGreaterThan(0);
    expect(section.since_last_switch.comparisons[0].lift_interval!.low).toBeLessThan(0);
    expect(section.since_last_switch.comparisons[0].lift_interval!.high).toBeGreaterThan(0);
  });

  it('marks the switch on the report page', async () => {
    // Act
    const { html } = renderAnalysisReport(await switchedAnalysis());

    // Assess
    expect(html).toContain('switch 02-09');
    expect(html).toContain('Since the last switch (from 2026-02-10)');
  });
});
