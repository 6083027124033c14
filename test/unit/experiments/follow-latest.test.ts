/**
 * follow_latest in the experiment lifecycle: the model history starts complete, two arms on one
 * model cannot follow, and a retraining run's plan switches all arms or none.
 */
import { describe, expect, it } from 'vitest';
import { createExperiment, planModelSwitch, startExperiment, switchModelVersions, updateExperiment } from '../../../lambdas/domain/experiments/lifecycle.ts';
import { ExperimentValidationError } from '../../../lambdas/domain/experiments/errors.ts';
import type { CreateExperimentInput, Experiment } from '../../../lambdas/domain/experiments/model.ts';

const CREATED = new Date('2026-11-01T00:00:00Z');
const LATER = new Date('2026-11-03T09:30:00Z');

function experiment(overrides: Partial<CreateExperimentInput> = {}): Experiment {
  return createExperiment({
    now: CREATED,
    request: {
      id: 'exp',
      name: 'exp',
      variants: [
        { name: 'control', model_id: 'popularity', model_version: 'p1', weight: 0.5, is_control: true },
        { name: 'treatment', model_id: 'als', model_version: 'a1', weight: 0.5 },
      ],
      target_metric: { kind: 'click_through' },
      ...overrides,
    },
  });
}

const first = { control: { model_id: 'popularity', model_version: 'p1' }, treatment: { model_id: 'als', model_version: 'a1' } };

/** The field names of a validation error. */
function refusedFields(action: () => unknown): string[] {
  try {
    action();
  } catch (error) {
    if (error instanceof ExperimentValidationError) return error.fields.map((f) => f.field);
    throw error;
  }
  return [];
}

describe('the model history', () => {
  it('starts with the versions served from the start when a following draft starts', () => {
    const started = startExperiment(experiment({ follow_latest: true }), { now: LATER });

    expect(started.model_history).toEqual([{ at: LATER.toISOString(), versions: first }]);
  });

  it('is not written for a pinned experiment', () => {
    expect(startExperiment(experiment(), { now: LATER }).model_history).toBeUndefined();
  });

  it('starts when a running experiment starts following, and is kept when it stops following', () => {
    const running = startExperiment(experiment(), { now: CREATED });

    const following = updateExperiment(running, { request: { follow_latest: true }, now: LATER });
    const pinnedAgain = updateExperiment(following, { request: { follow_latest: false }, now: LATER });

    expect(following.model_history).toEqual([{ at: LATER.toISOString(), versions: first }]);
    expect(pinnedAgain.model_history).toEqual(following.model_history);
  });

  it('starts from the versions replaced when an experiment without one is switched', () => {
    const running = { ...startExperiment(experiment(), { now: CREATED }), follow_latest: true };

    const switched = switchModelVersions(running, {
      versions: { control: { model_id: 'popularity', model_version: 'p2' }, treatment: { model_id: 'als', model_version: 'a2' } },
      runId: 'r',
      now: LATER,
    });

    expect(switched.model_history).toEqual([
      { at: CREATED.toISOString(), versions: first },
      {
        at: LATER.toISOString(),
        run_id: 'r',
        versions: { control: { model_id: 'popularity', model_version: 'p2' }, treatment: { model_id: 'als', model_version: 'a2' } },
      },
    ]);
    expect(switched.variants.map((v) => v.model_version)).toEqual(['p2', 'a2']);
    expect(switched.revision).toBe(running.revision + 1);
  });
});

describe('follow_latest with two arms on one model', () => {
  const sameModel = [
    { name: 'control', model_id: 'als', model_version: 'a1', weight: 0.5, is_control: true },
    { name: 'treatment', model_id: 'als', model_version: 'a2', weight: 0.5 },
  ];

  it('is refused at creation, naming follow_latest', () => {
    expect(refusedFields(() => experiment({ follow_latest: true, variants: sameModel }))).toEqual(['follow_latest']);
  });

  it('is refused when a draft that follows moves both arms onto one model', () => {
    expect(refusedFields(() => updateExperiment(experiment({ follow_latest: true }), { request: { variants: sameModel }, now: LATER }))).toEqual([
      'follow_latest',
    ]);
  });

  it('is allowed while pinned: comparing two versions of one model is an ordinary test', () => {
    expect(experiment({ variants: sameModel }).follow_latest).toBeUndefined();
  });
});

describe('planModelSwitch', () => {
  const following = startExperiment(experiment({ follow_latest: true }), { now: CREATED });

  it.each([
    ['a draft', experiment({ follow_latest: true }), { popularity: 'p2', als: 'a2' }, 'not-running'],
    ['a pinned experiment', startExperiment(experiment(), { now: CREATED }), { popularity: 'p2', als: 'a2' }, 'pinned'],
    ['a partial publish', following, { als: 'a2' }, 'partial-publish'],
    ['the versions it serves', following, { popularity: 'p1', als: 'a1' }, 'already-current'],
  ] as const)('skips %s', (_, subject, published, skip) => {
    expect(planModelSwitch(subject, published)).toMatchObject({ action: 'skip', skip });
  });

  it("switches every arm when every arm's model was published, even if one arm's version is unchanged", () => {
    expect(planModelSwitch(following, { popularity: 'p1', als: 'a2', other: 'x' })).toEqual({
      action: 'switch',
      versions: { control: { model_id: 'popularity', model_version: 'p1' }, treatment: { model_id: 'als', model_version: 'a2' } },
    });
  });
});
