/**
 * User segments (user-segments.ts): the client segments an experiment declares, the segment key
 * a user keeps from their first exposure, and the checks of the `segment` query parameter.
 */
import { describe, expect, it } from 'vitest';
import {
  createExperiment,
  ExperimentConflictError,
  ExperimentValidationError,
  startExperiment,
  updateExperiment,
} from '../../../lambdas/domain/experiments/index.ts';
import { clientSegmentProblem, MAX_DECLARED_SEGMENTS, parseSegmentKey, segmentKey, userTypeOf } from '../../../lambdas/domain/experiments/user-segments.ts';
import { LATER, NOW, makeExperiment, validRequest } from './fixtures/experiments.ts';

function fieldsOf(act: () => unknown): string[] {
  try {
    act();
  } catch (error) {
    if (error instanceof ExperimentValidationError) return [...new Set(error.fields.map((f) => f.field))];
    throw error;
  }
  throw new Error('expected a validation error');
}

describe('declared segments', () => {
  it('are optional and kept as declared', () => {
    expect(makeExperiment().segments).toBeUndefined();
    expect(makeExperiment({ segments: ['mobile', 'web', 'tv_app'] }).segments).toEqual(['mobile', 'web', 'tv_app']);
  });

  it.each([
    [Array.from({ length: MAX_DECLARED_SEGMENTS + 1 }, (_, i) => `s${i}`), 'segments'],
    [['mobile', 'mobile'], 'segments'],
    [[], 'segments'],
    [['Mobile'], 'segments[0]'],
    [['web', 'a:b'], 'segments[1]'],
    [['x'.repeat(33)], 'segments[0]'],
  ])('refuses %j with 400 naming %s', (segments, field) => {
    expect(fieldsOf(() => createExperiment({ request: validRequest({ segments }), now: NOW }))).toEqual([field]);
  });

  it('cannot change once the experiment has started (409): users keep the segment of their first exposure', () => {
    const running = startExperiment(makeExperiment({ segments: ['mobile'] }), { now: NOW });
    expect(() => updateExperiment(running, { request: { segments: ['mobile', 'web'] }, now: LATER })).toThrow(ExperimentConflictError);
  });
});

describe('segment keys', () => {
  it.each([
    [{ userType: 'known' as const }, 'known'],
    [{ userType: 'cold-start' as const }, 'cold-start'],
    [{ userType: 'known' as const, client: 'mobile' }, 'known:mobile'],
  ])('%j is %s and parses back', (segment, key) => {
    expect(segmentKey(segment)).toBe(key);
    expect(parseSegmentKey(key)).toEqual(segment);
  });

  it('parses no key this version does not write', () => {
    expect(parseSegmentKey('vip')).toBeUndefined();
    expect(parseSegmentKey('known:a:b')).toBeUndefined();
  });

  it('gives the user type from what the control model knows', () => {
    expect(userTypeOf({ known: true })).toBe('known');
    expect(userTypeOf({ known: false })).toBe('cold-start');
  });

  it('accepts a client segment only among the declared ones', () => {
    expect(clientSegmentProblem(['mobile', 'web'], 'web')).toBeUndefined();
    expect(clientSegmentProblem(['mobile', 'web'], 'tv')).toBe('must be one of mobile, web');
    expect(clientSegmentProblem(undefined, 'web')).toBe('this experiment declares no segments');
  });
});
