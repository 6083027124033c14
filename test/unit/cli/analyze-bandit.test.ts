/**
 * A bandit's report as `abrec analyze --experiment ID` prints it and as the HTML page shows it:
 * users against the allocation in force, each arm's observed rate beside IPS and SNIPS with
 * their intervals, and the SNIPS comparisons the decision uses.
 */
import { describe, expect, it } from 'vitest';
import { createAnalyzeCommand, type BanditOutput } from '../../../cli/commands/analyze.ts';
import { createExperiment } from '../../../lambdas/domain/experiments/lifecycle.ts';
import { analysisFromCounters } from '../../../lambdas/services/experiment-results.ts';
import { renderAnalysisReport } from '../../../lambdas/services/report.ts';
import { createInProcessTarget } from '../../../simulator/in-process-target.ts';
import { buildWorld } from '../../../simulator/bench.ts';
import { runSimulation } from '../../../simulator/run.ts';
import { recordingIO } from '../../helpers/cli-io.ts';

const FIRST_DAY_MS = Date.parse('2026-02-02T00:00:00Z');

async function banditAnalysis() {
  const experiment = createExperiment({
    now: new Date(FIRST_DAY_MS - 3_600_000),
    request: {
      id: 'bandit-cli',
      name: 'bandit',
      status: 'running',
      mode: 'bandit',
      variants: [
        { name: 'control', model_id: 'content', model_version: 'v', weight: 0.5, is_control: true },
        { name: 'treatment', model_id: 'content', model_version: 'v', weight: 0.5 },
      ],
      target_metric: { kind: 'click_through' },
      min_sample_size: 50,
    },
  });
  const world = buildWorld({ users: 800 });
  const target = createInProcessTarget({ experiment, firstDayMs: FIRST_DAY_MS, slateOf: (_, userId) => world.slates.get(userId) ?? [] });
  await runSimulation({ population: world.population, target, experimentId: experiment.id, days: 5, seed: 3, liftByVariant: { treatment: 1 }, concurrency: 1 });
  return analysisFromCounters(experiment, target.countersByVariant(), { day: target.lastDay() });
}

describe('a bandit in abrec analyze --experiment and the HTML report', () => {
  it('prints each arm from the logged propensities and the SNIPS comparison, and carries them in the --json line', async () => {
    // Prepare
    const analysis = await banditAnalysis();
    const command = createAnalyzeCommand({ fetchAnalysis: async () => analysis });
    const io = recordingIO();

    // Act
    await command.run(['--experiment', 'bandit-cli', '--json'], io);

    // Assess
    const text = io.stdoutText();
    expect(text).toMatch(/bandit \(reward: clicked at least once.*\): users against the allocation in force, p = [\d.]+; the decision uses SNIPS/);
    expect(text).toMatch(/arm\s+users\s+expected\s+observed rate \[CI\]\s+IPS \[CI\]\s+SNIPS \[CI\]\s+eff\. n/);
    expect(text).toMatch(/treatment vs control: SNIPS difference [-\d.]+% \[[-\d.]+%, [-\d.]+%\], lift .*always-valid p = .*\(Holm .*\); IPS difference/);
    const bandit = io.lastJson().bandit as BanditOutput;
    if (bandit.status !== 'ok') throw new Error(bandit.reason);
    const report = analysis.report!.bandit!;
    if (report.status !== 'ok') throw new Error(report.reason);
    expect(bandit).toMatchObject({ decision_estimator: 'snips', total_exposures: report.totalExposures, srm_flagged: false });
    expect(bandit.arms.map((arm) => [arm.arm, arm.users, arm.snips, arm.ips, arm.observed_rate])).toEqual(
      report.arms.map((arm) => [arm.name, arm.exposedUsers, arm.snips, arm.ips, arm.observedRate]),
    );
    expect(bandit.comparisons[0]).toMatchObject({
      variant: 'treatment',
      status: 'ok',
      always_valid_p_value_adjusted: report.comparisons[0].alwaysValidPValueAdjusted,
    });
    expect(io.lastJson().srm_p_value).toBe(bandit.srm_p_value);
  });

  it('shows the bandit section on the page and checks the split against the allocation in force', async () => {
    // Act
    const { html } = renderAnalysisReport(await banditAnalysis());

    // Assess
    expect(html).toContain('<h2>Bandit: each arm from the logged propensities</h2>');
    expect(html).toContain('The decision uses the SNIPS comparisons.');
    expect(html).toContain('Sample ratio check: share of users, observed vs the allocation in force (logged at each assignment)');
    expect(html).toContain('Each arm over time (SNIPS, cumulative)');
  });
});
