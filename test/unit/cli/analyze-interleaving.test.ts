import { describe, expect, it } from 'vitest';
import { twoArmExperiment } from '../../../lambdas/services/synthetic-counters.ts';
import { analysisOutput } from '../../../cli/commands/analyze.ts';
import { analysisFromCounters } from '../../../lambdas/services/experiment-results.ts';

describe('abrec analyze --experiment for an interleaving experiment', () => {
  it('prints the preference test that decides, not an empty A/B result', () => {
    const experiment = twoArmExperiment('il', { now: new Date('2026-11-20T12:00:00Z'), mode: 'interleaving', min_sample_size: 200 });
    const analysis = analysisFromCounters(
      experiment,
      {
        '~interleaving': [{ day: '2026-11-20', impressions: 400, interleaved_impressions: 400, interleaving_wins_a: 20, interleaving_wins_b: 44 }],
        control: [],
        treatment: [],
      },
      { day: '2026-11-20' },
    );

    const output = analysisOutput(analysis);

    expect(output).toMatchObject({ result: 'ok', impressions: 400, wins_a: 20, wins_b: 44, ties: 336, preferred: 'b', winner: 'treatment', decision: 'ship' });
    expect(output.p_value).toBeLessThan(0.01);
  });
});
