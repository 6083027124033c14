/**
 * The service's sections beside the engine's report (issue 11, items 3, 4 and 5) in
 * `abrec analyze --experiment ID`: CUPED, per-user caps and the segment breakdown, printed and
 * carried in the --json line with the same numbers as the analysis document, in snake_case.
 */
import { describe, expect, it } from 'vitest';
import { createAnalyzeCommand, snakeCaseKeys } from '../../../cli/commands/analyze.ts';
import { createExperiment } from '../../../lambdas/domain/experiments/lifecycle.ts';
import { analysisFromCounters } from '../../../lambdas/services/experiment-results.ts';
import { createInProcessTarget } from '../../../simulator/in-process-target.ts';
import { buildWorld } from '../../../simulator/bench.ts';
import { runSimulation } from '../../../simulator/run.ts';
import { recordingIO } from '../../helpers/cli-io.ts';

const FIRST_DAY_MS = Date.parse('2026-02-02T00:00:00Z');

/** An A/B test with client segments, known and cold-start users and a covariate, simulated for 5 days. */
async function segmentedAnalysis() {
  const experiment = createExperiment({
    now: new Date(FIRST_DAY_MS - 3_600_000),
    request: {
      id: 'sections-cli',
      name: 'sections',
      status: 'running',
      segments: ['mobile', 'web'],
      variants: [
        { name: 'control', model_id: 'content', model_version: 'v', weight: 0.5, is_control: true },
        { name: 'treatment', model_id: 'content', model_version: 'v', weight: 0.5 },
      ],
      target_metric: { kind: 'click_through' },
      min_sample_size: 50,
    },
  });
  const world = buildWorld({ users: 600 });
  const userNumber = (userId: string) => Number(userId.replace(/\D/g, '')) || 0;
  const target = createInProcessTarget({
    experiment,
    firstDayMs: FIRST_DAY_MS,
    slateOf: (_, userId) => world.slates.get(userId) ?? [],
    // Every third user is unknown to the control model; the others have a history of 5..24 items.
    profileOf: (userId) => (userNumber(userId) % 3 === 0 ? { covariate: 0, known: false } : { covariate: 5 + (userNumber(userId) % 20), known: true }),
    clientSegmentOf: (userId) => (userNumber(userId) % 2 === 0 ? 'mobile' : 'web'),
  });
  await runSimulation({
    population: world.population,
    target,
    experimentId: experiment.id,
    days: 5,
    seed: 7,
    liftByVariant: { treatment: 0.3 },
    concurrency: 1,
  });
  return analysisFromCounters(experiment, target.countersByVariant(), { day: target.lastDay() });
}

describe('abrec analyze --experiment: CUPED, caps and segments', () => {
  it('carries the three sections in the --json line, keys in snake_case and variant names as they are', async () => {
    // Prepare
    const analysis = await segmentedAnalysis();
    const command = createAnalyzeCommand({ fetchAnalysis: async () => analysis });
    const io = recordingIO();

    // Act
    await command.run(['--experiment', 'sections-cli', '--json'], io);

    // Assess: the same numbers as the document, renamed only
    const line = io.lastJson();
    expect(line.segments).toEqual(snakeCaseKeys(analysis.segments));
    expect(line.variance_reduction).toEqual(snakeCaseKeys(analysis.variance_reduction));
    expect(line.capping).toEqual(snakeCaseKeys(analysis.capping));
    const segments = line.segments as {
      dimensions: {
        dimension: string;
        segments: { segment: string; users: Record<string, number>; comparisons: { p_value_adjusted_across_segments: number | null }[] }[];
      }[];
    };
    expect(segments.dimensions.map((d) => d.dimension)).toEqual(['user_type', 'client_segment']);
    const userTypes = segments.dimensions[0].segments.map((s) => s.segment).sort();
    expect(userTypes).toEqual(['cold-start', 'known']);
    // A name-keyed record keeps the variants' names as keys.
    expect(Object.keys(segments.dimensions[0].segments[0].users).sort()).toEqual(['control', 'treatment']);
    expect(segments.dimensions[1].segments.map((s) => s.segment).sort()).toEqual(['mobile', 'web']);
    const cuped = line.variance_reduction as {
      metrics: { metric: string; target: boolean; result: { status: string; comparisons?: { variance_reduction: number }[] } }[];
    };
    const targetRow = cuped.metrics.find((m) => m.target)!;
    expect(targetRow.result.status).toBe('ok');
    expect(Number.isFinite(targetRow.result.comparisons![0].variance_reduction)).toBe(true);
  });

  it('prints each section: CUPED plain -> adjusted with the variance removed, the caps, and each segment with its Holm p-value', async () => {
    // Prepare
    const analysis = await segmentedAnalysis();
    const command = createAnalyzeCommand({ fetchAnalysis: async () => analysis });
    const io = recordingIO();

    // Act
    await command.run(['--experiment', 'sections-cli'], io);

    // Assess
    const text = io.stdoutText();
    expect(text).toMatch(/variance reduction \(CUPED, pre-exposure covariate\)/);
    expect(text).toMatch(
      /click_through \(target\), treatment: [-\d.e]+ \[[-\d.e]+, [-\d.e]+\] p = [\d.e-]+ -> [-\d.e]+ \[[-\d.e]+, [-\d.e]+\] p = [\d.e-]+; variance removed -?[\d.]+%/,
    );
    expect(text).toMatch(/per-user caps \(used by the decision\): clicks \d+/);
    expect(text).toMatch(/segments \(.*Holm across the segments of each dimension/);
    expect(text).toMatch(
      /user_type known, treatment \(users control \d+ \/ treatment \d+\): lift -?[\d.]+% \[-?[\d.]+%, -?[\d.]+%\], p = [\d.e-]+ \(Holm [\d.e-]+\)/,
    );
    expect(text).toMatch(/client_segment mobile, treatment/);
  });
});
