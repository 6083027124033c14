import { describe, expect, it } from 'vitest';
import { analysisOutput } from '../../../cli/commands/analyze.ts';
import { createExperiment } from '../../../lambdas/domain/experiments/lifecycle.ts';
import { analysisFromCounters } from '../../../lambdas/services/experiment-results.ts';

describe('abrec analyze --experiment for an interleaving experiment', () => {
  it('prints the preference test that decides, not an empty A/B result', () => {
    const experiment = createExperiment({
      now: new Date('2026-11-20T12:00:00Z'),
      request: {
        id: 'il',
        name: 'Interleaved',
        status: 'running',
        mode: 'interleaving',
        variants: [
          { name: 'control', model_id: 'content', model_version: 'v1', weight: 0.5, is_control: true },
          { name: 'treatment', model_id: 'als', model_version: 'v1', weight: 0.5 },
        ],
        target_metric: { kind: 'click_through' },
        min_sample_size: 200,
      },
    });
    const analysis = analysisFromCounters(
      experiment,
      { '~interleaving': [{ day: '2026-11-20', impressions: 400, interleaved_impressions: 400, interleaving_wins_a: 20, interleaving_wins_b: 44 }], control: [], treatment: [] },
      { day: '2026-11-20' },
    );

    const output = analysisOutput(analysis);

    expect(output).toMatchObject({ result: 'ok', impressions: 400, wins_a: 20, wins_b: 44, ties: 336, preferred: 'b', winner: 'treatment', decision: 'ship' });
    expect(output.p_value).toBeLessThan(0.01);
  });
});
