import { describe, expect, it } from 'vitest';
import { DEFAULT_EXPERIMENT_ID, defaultExperiment, parseExperiment, resolveAssignment } from '../../../lambdas/domain/experiments/index.ts';
import { NOW, userIds } from './fixtures/experiments.ts';

const controlModel = { model_id: 'content-based', model_version: '2026-01-01T00-00-00Z' };
const treatmentModel = { model_id: 'als', model_version: '2026-01-02T00-00-00Z' };

describe('defaultExperiment', () => {
  it('is a running 50/50 test of the baseline against the factor model', () => {
    // Act
    const experiment = defaultExperiment({ controlModel, treatmentModel, now: NOW });

    // Assess
    expect(experiment).toMatchObject({ id: DEFAULT_EXPERIMENT_ID, status: 'running', mode: 'ab', revision: 0, start_time: NOW.toISOString() });
    expect(experiment.variants).toEqual([
      { name: 'control', ...controlModel, weight: 0.5, active: true, is_control: true },
      { name: 'treatment', ...treatmentModel, weight: 0.5, active: true, is_control: false },
    ]);
  });

  it('passes the stored-experiment schema, so storage can read it back', () => {
    // Prepare
    const experiment = defaultExperiment({ controlModel, treatmentModel, now: NOW });

    // Act
    const roundTripped = parseExperiment(JSON.parse(JSON.stringify(experiment)));

    // Assess
    expect(roundTripped).toEqual(experiment);
  });

  it('assigns users to both models', () => {
    // Prepare
    const experiment = defaultExperiment({ controlModel, treatmentModel, now: NOW });

    // Act
    const models = new Set(userIds(100).map((userId) => resolveAssignment({ experiment, userId }).model_id));

    // Assess
    expect(models).toEqual(new Set(['content-based', 'als']));
  });
});
