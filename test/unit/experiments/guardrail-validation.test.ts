/**
 * Guardrails are accepted only when the report can check them: a metric the daily counters
 * measure and a limit a drop can exceed. Experiments stored before that rule still load.
 */
import { describe, expect, it } from 'vitest';
import { createExperiment, ExperimentValidationError, parseExperiment, updateExperiment, type Experiment } from '../../../lambdas/domain/experiments/index.ts';
import { LATER, makeExperiment, NOW, runningExperiment, validRequest } from './fixtures/experiments.ts';

/** The fields a validation error names, or fails the test when something else is thrown. */
function fieldsRefused(act: () => unknown): { field: string; message: string }[] {
  try {
    act();
  } catch (error) {
    if (error instanceof ExperimentValidationError) return error.fields;
    throw error;
  }
  throw new Error('expected an ExperimentValidationError, nothing was thrown');
}

describe('creating an experiment with guardrails', () => {
  it.each(['latency_p95_ms', 'error_rate'] as const)('refuses a %s guardrail with a 400 naming guardrails[1].metric and saying why', (metric) => {
    // Act
    const fields = fieldsRefused(() =>
      createExperiment({
        request: validRequest({
          guardrails: [
            { metric: 'conversion', max_relative_degradation: 0.1 },
            { metric, max_relative_degradation: 0.2 },
          ],
        }),
        now: NOW,
      }),
    );

    // Assess
    expect(fields).toEqual([{ field: 'guardrails[1].metric', message: expect.stringContaining('is not measured by the daily counters') }]);
    expect(fields[0].message).toContain('must be one of click_through, conversion, watch_time, rating');
  });

  it('refuses a 100% degradation limit, which no drop can exceed, naming the field', () => {
    // Act
    const fields = fieldsRefused(() =>
      createExperiment({ request: validRequest({ guardrails: [{ metric: 'rating', max_relative_degradation: 1 }] }), now: NOW }),
    );

    // Assess
    expect(fields).toEqual([{ field: 'guardrails[0].max_relative_degradation', message: 'must be < 1: a degradation of 100% can never be exceeded' }]);
  });

  it('accepts a guardrail on every metric the counters measure, any number of them', () => {
    // Act
    const experiment = createExperiment({
      request: validRequest({
        target_metric: { kind: 'watch_time' },
        guardrails: (['click_through', 'conversion', 'watch_time', 'rating'] as const).map((metric) => ({ metric, max_relative_degradation: 0.1 })),
      }),
      now: NOW,
    });

    // Assess
    expect(experiment.guardrails.map((g) => g.metric)).toEqual(['click_through', 'conversion', 'watch_time', 'rating']);
  });
});

describe('patching guardrails', () => {
  it('refuses a latency guardrail on a running experiment with a 400 naming guardrails[0].metric', () => {
    // Act
    const fields = fieldsRefused(() =>
      updateExperiment(runningExperiment([0.5, 0.5]), { request: { guardrails: [{ metric: 'latency_p95_ms', max_relative_degradation: 0.2 }] }, now: LATER }),
    );

    // Assess
    expect(fields.map((f) => f.field)).toEqual(['guardrails[0].metric']);
  });

  it('accepts a measured guardrail on a running experiment', () => {
    // Act
    const updated = updateExperiment(runningExperiment([0.5, 0.5]), {
      request: { guardrails: [{ metric: 'watch_time', max_relative_degradation: 0.2 }] },
      now: LATER,
    });

    // Assess
    expect(updated.guardrails).toEqual([{ metric: 'watch_time', max_relative_degradation: 0.2 }]);
  });
});

describe('experiments stored before the rule', () => {
  const legacy = (): Experiment =>
    parseExperiment({
      ...makeExperiment(),
      guardrails: [
        { metric: 'latency_p95_ms', max_relative_degradation: 0.2 },
        { metric: 'error_rate', max_relative_degradation: 1 },
      ],
    });

  it('still load with their unmeasured guardrails', () => {
    expect(legacy().guardrails.map((g) => g.metric)).toEqual(['latency_p95_ms', 'error_rate']);
  });

  it('still take patches that leave their guardrails alone', () => {
    // Act
    const updated = updateExperiment(legacy(), { request: { name: 'renamed' }, now: LATER });

    // Assess
    expect(updated).toMatchObject({ name: 'renamed', guardrails: legacy().guardrails });
  });
});
