import { describe, expect, it } from 'vitest';
import type { Experiment, PromotionAnalysis } from '../../../lambdas/domain/experiments/index.ts';
import {
  createExperiment,
  duplicateExperimentError,
  ExperimentConflictError,
  ExperimentError,
  ExperimentNotFoundError,
  ExperimentValidationError,
  promoteExperiment,
  rampExperiment,
  requireExperiment,
  startExperiment,
  stopExperiment,
  updateExperiment,
} from '../../../lambdas/domain/experiments/index.ts';
import { LATER, makeExperiment, NOW, runningExperiment, validRequest, variantsWithWeights } from './fixtures/experiments.ts';

const significant: PromotionAnalysis = { significant: true, srm_flagged: false, winner: 'treatment-1' };

/** Runs `act` and returns what it threw, so a test can assess status and reason. */
function thrownBy(act: () => unknown): ExperimentError {
  try {
    act();
  } catch (error) {
    if (error instanceof ExperimentError) return error;
    throw error;
  }
  throw new Error('expected an ExperimentError, nothing was thrown');
}

describe('createExperiment', () => {
  it('creates a draft at revision 0 salted with its id', () => {
    // Act
    const experiment = createExperiment({ request: validRequest(), now: NOW });

    // Assess
    expect(experiment).toMatchObject({
      status: 'draft',
      revision: 0,
      salt: 'homepage-ranker',
      hash_version: 'v1',
      created_at: NOW.toISOString(),
      updated_at: NOW.toISOString(),
    });
    expect(experiment.start_time).toBeUndefined();
  });

  it('sets start_time when created running', () => {
    // Act
    const experiment = createExperiment({ request: validRequest({ status: 'running' }), now: NOW });

    // Assess
    expect(experiment.start_time).toBe(NOW.toISOString());
  });

  it('refuses to create an experiment that is already stopped', () => {
    // Act
    const error = thrownBy(() => createExperiment({ request: validRequest({ status: 'stopped' }), now: NOW }));

    // Assess
    expect(error).toBeInstanceOf(ExperimentValidationError);
    expect((error as ExperimentValidationError).fields[0].field).toBe('status');
  });

  it('answers 409 for an id that exists', () => {
    // Act
    const error = thrownBy(() => createExperiment({ request: validRequest(), now: NOW, existingIds: ['homepage-ranker'] }));

    // Assess
    expect(error).toMatchObject({ status: 409, reason: 'duplicate-id' });
  });

  it('answers 400 and names the field for an invalid body', () => {
    // Act
    const error = thrownBy(() => createExperiment({ request: validRequest({ variants: variantsWithWeights([0.5, -0.5]) }), now: NOW }));

    // Assess
    expect(error.status).toBe(400);
    expect(error.message).toBe('variants[1].weight: must be >= 0');
  });

  it('places a layer share in the first free range of the layer', () => {
    // Prepare
    const first = makeExperiment({ id: 'first', layer: { name: 'home', share: 0.3 } });

    // Act
    const second = makeExperiment({ id: 'second', layer: { name: 'home', share: 0.5 } }, [first]);

    // Assess
    expect(first.layer).toEqual({ name: 'home', bucket_start: 0, bucket_end: 3000 });
    expect(second.layer).toEqual({ name: 'home', bucket_start: 3000, bucket_end: 8000 });
  });

  it('answers 409 when a layer share no longer fits', () => {
    // Prepare
    const first = makeExperiment({ id: 'first', layer: { name: 'home', share: 0.7 } });

    // Act
    const error = thrownBy(() => makeExperiment({ id: 'second', layer: { name: 'home', share: 0.5 } }, [first]));

    // Assess
    expect(error).toMatchObject({ status: 409, reason: 'layer-overlap' });
  });

  it('answers 409 when an explicit layer range overlaps a peer', () => {
    // Prepare
    const first = makeExperiment({ id: 'first', layer: { name: 'home', bucket_start: 0, bucket_end: 5000 } });

    // Act
    const error = thrownBy(() => makeExperiment({ id: 'second', layer: { name: 'home', bucket_start: 4999, bucket_end: 6000 } }, [first]));

    // Assess
    expect(error).toMatchObject({ status: 409, reason: 'layer-overlap' });
    expect(error.message).toContain('overlaps experiment first');
  });

  it('reuses the range of a completed experiment in the layer', () => {
    // Prepare
    const done: Experiment = { ...makeExperiment({ id: 'first', layer: { name: 'home', share: 1 } }), status: 'completed' };

    // Act
    const second = makeExperiment({ id: 'second', layer: { name: 'home', share: 1 } }, [done]);

    // Assess
    expect(second.layer).toEqual({ name: 'home', bucket_start: 0, bucket_end: 10000 });
  });
});

describe('requireExperiment', () => {
  it('answers 404 naming the id for an unknown experiment', () => {
    // Act
    const error = thrownBy(() => requireExperiment(undefined, 'nope'));

    // Assess
    expect(error).toBeInstanceOf(ExperimentNotFoundError);
    expect(error).toMatchObject({ status: 404, message: 'experiment not found: nope' });
  });
});

describe('duplicateExperimentError', () => {
  it('is a 409 for storage to raise when its conditional put fails', () => {
    expect(duplicateExperimentError('x')).toMatchObject({ status: 409, reason: 'duplicate-id' });
  });
});

describe('startExperiment', () => {
  it('moves a draft to running, bumps the revision and stamps start_time', () => {
    // Prepare
    const draft = makeExperiment();

    // Act
    const started = startExperiment(draft, { now: LATER });

    // Assess
    expect(started).toMatchObject({ status: 'running', revision: 1, start_time: LATER.toISOString(), updated_at: LATER.toISOString() });
    expect(draft.status).toBe('draft');
  });

  it.each(['running', 'stopped', 'completed'] as const)('answers 409 when the experiment is %s', (status) => {
    // Prepare
    const experiment = { ...makeExperiment(), status };

    // Act
    const error = thrownBy(() => startExperiment(experiment, { now: LATER }));

    // Assess
    expect(error).toMatchObject({ status: 409, reason: 'illegal-transition' });
  });

  it('answers 409 when the caller read an older revision', () => {
    // Prepare
    const draft = { ...makeExperiment(), revision: 3 };

    // Act
    const error = thrownBy(() => startExperiment(draft, { now: LATER, expectedRevision: 2 }));

    // Assess
    expect(error).toMatchObject({ status: 409, reason: 'revision-mismatch' });
  });
});

describe('stopExperiment', () => {
  it('moves a running experiment to stopped and stamps end_time', () => {
    // Act
    const stopped = stopExperiment(runningExperiment([0.5, 0.5]), { now: LATER });

    // Assess
    expect(stopped).toMatchObject({ status: 'stopped', revision: 1, end_time: LATER.toISOString() });
  });

  it('answers 409 for a draft', () => {
    expect(thrownBy(() => stopExperiment(makeExperiment(), { now: LATER }))).toMatchObject({ status: 409 });
  });
});

describe('promoteExperiment', () => {
  it('gives the winner all traffic and deactivates the others', () => {
    // Act
    const promoted = promoteExperiment(runningExperiment([0.5, 0.5]), { analysis: significant, now: LATER });

    // Assess
    expect(promoted.status).toBe('completed');
    expect(promoted.winner).toBe('treatment-1');
    expect(promoted.revision).toBe(1);
    expect(promoted.variants.map(({ name, weight, active }) => ({ name, weight, active }))).toEqual([
      { name: 'control', weight: 0, active: false },
      { name: 'treatment-1', weight: 1, active: true },
    ]);
  });

  it('promotes a stopped experiment too', () => {
    // Prepare
    const stopped = stopExperiment(runningExperiment([0.5, 0.5]), { now: NOW });

    // Act
    const promoted = promoteExperiment(stopped, { analysis: significant, now: LATER });

    // Assess
    expect(promoted.status).toBe('completed');
  });

  it.each([
    ['not significant', { significant: false, srm_flagged: false, winner: 'treatment-1' }],
    ['flagged for sample ratio mismatch', { significant: true, srm_flagged: true, winner: 'treatment-1' }],
  ])('refuses with 409 when the analysis is %s', (_, analysis) => {
    // Act
    const error = thrownBy(() => promoteExperiment(runningExperiment([0.5, 0.5]), { analysis, now: LATER }));

    // Assess
    expect(error).toMatchObject({ status: 409, reason: 'promotion-refused' });
  });

  it('refuses with 409 when the requested winner is not the analysis winner', () => {
    // Act
    const error = thrownBy(() => promoteExperiment(runningExperiment([0.5, 0.5]), { analysis: significant, winner: 'control', now: LATER }));

    // Assess
    expect(error).toMatchObject({ status: 409, reason: 'promotion-refused' });
  });

  it('promotes a non-significant result when forced', () => {
    // Act
    const promoted = promoteExperiment(runningExperiment([0.5, 0.5]), {
      analysis: { significant: false, srm_flagged: true },
      winner: 'control',
      force: true,
      now: LATER,
    });

    // Assess
    expect(promoted.winner).toBe('control');
  });

  it('answers 400 naming winner for an unknown variant', () => {
    // Act
    const error = thrownBy(() => promoteExperiment(runningExperiment([0.5, 0.5]), { winner: 'ghost', force: true, now: LATER }));

    // Assess
    expect(error).toBeInstanceOf(ExperimentValidationError);
    expect((error as ExperimentValidationError).fields[0].field).toBe('winner');
  });

  it('answers 409 for a second promotion of the same experiment', () => {
    // Prepare
    const promoted = promoteExperiment(runningExperiment([0.5, 0.5]), { analysis: significant, now: LATER });

    // Act
    const error = thrownBy(() => promoteExperiment(promoted, { analysis: significant, now: LATER }));

    // Assess
    expect(error).toMatchObject({ status: 409, reason: 'illegal-transition' });
  });
});

describe('rampExperiment', () => {
  it('changes the named weights and returns the next revision', () => {
    // Act
    const ramped = rampExperiment(runningExperiment([0.9, 0.1]), { request: { weights: { control: 0.5, 'treatment-1': 0.5 } }, now: LATER });

    // Assess
    expect(ramped.variants.map((v) => v.weight)).toEqual([0.5, 0.5]);
    expect(ramped.revision).toBe(1);
  });

  it('answers 400 naming weights when the new weights do not sum to 1', () => {
    // Act
    const error = thrownBy(() => rampExperiment(runningExperiment([0.5, 0.5]), { request: { weights: { control: 0.9 } }, now: LATER }));

    // Assess
    expect(error).toBeInstanceOf(ExperimentValidationError);
    expect((error as ExperimentValidationError).fields[0].field).toBe('weights');
  });

  it('answers 400 naming the weight of an unknown variant', () => {
    // Act
    const error = thrownBy(() => rampExperiment(runningExperiment([0.5, 0.5]), { request: { weights: { ghost: 0.5 } }, now: LATER }));

    // Assess
    expect((error as ExperimentValidationError).fields).toEqual([{ field: 'weights.ghost', message: 'is not a variant of this experiment' }]);
  });

  it('answers 400 naming a negative weight', () => {
    // Act
    const error = thrownBy(() => rampExperiment(runningExperiment([0.5, 0.5]), { request: { weights: { control: -0.1 } }, now: LATER }));

    // Assess
    expect((error as ExperimentValidationError).fields).toEqual([{ field: 'weights.control', message: 'must be >= 0' }]);
  });

  it('answers 409 for a draft', () => {
    expect(thrownBy(() => rampExperiment(makeExperiment(), { request: { weights: { control: 0.5 } }, now: LATER }))).toMatchObject({
      status: 409,
      reason: 'illegal-transition',
    });
  });

  it('answers 409 when expected_revision is stale', () => {
    // Act
    const error = thrownBy(() => rampExperiment(runningExperiment([0.5, 0.5]), { request: { weights: { control: 0.5 }, expected_revision: 7 }, now: LATER }));

    // Assess
    expect(error).toMatchObject({ status: 409, reason: 'revision-mismatch' });
  });
});

describe('updateExperiment', () => {
  it('lets a draft change its weights', () => {
    // Act
    const updated = updateExperiment(makeExperiment(), { request: { variants: variantsWithWeights([0.7, 0.3]) }, now: LATER });

    // Assess
    expect(updated.variants.map((v) => v.weight)).toEqual([0.7, 0.3]);
  });

  it('answers 409 for a weight change on a running experiment outside ramp', () => {
    // Act
    const error = thrownBy(() => updateExperiment(runningExperiment([0.5, 0.5]), { request: { variants: variantsWithWeights([0.7, 0.3]) }, now: LATER }));

    // Assess
    expect(error).toBeInstanceOf(ExperimentConflictError);
    expect(error).toMatchObject({ status: 409, reason: 'weight-change-outside-ramp' });
    expect(error.message).toContain('/ramp');
  });

  it('answers 409 for a model version change on a running experiment', () => {
    // Prepare
    const running = runningExperiment([0.5, 0.5]);
    const variants = running.variants.map((v, i) => (i === 1 ? { ...v, model_version: 'v2' } : v));

    // Act
    const error = thrownBy(() => updateExperiment(running, { request: { variants }, now: LATER }));

    // Assess
    expect(error).toMatchObject({ status: 409, reason: 'illegal-transition' });
  });

  it('lets a running experiment change its name', () => {
    // Act
    const updated = updateExperiment(runningExperiment([0.5, 0.5]), { request: { name: 'Renamed' }, now: LATER });

    // Assess
    expect(updated).toMatchObject({ name: 'Renamed', revision: 1 });
  });
});
