/**
 * Per-user caps on the experiment: declared at creation (defaults documented in caps.ts),
 * validated with the field named, and fixed once the experiment has started, because the capped
 * sums are accumulated as events are written.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPS, DEFAULT_USER_CAPS, userCapsOf } from '../../../lambdas/domain/experiments/caps.ts';
import {
  createExperiment,
  ExperimentConflictError,
  ExperimentValidationError,
  startExperiment,
  updateExperiment,
} from '../../../lambdas/domain/experiments/index.ts';
import { LATER, NOW, makeExperiment, validRequest } from './fixtures/experiments.ts';

/** The fields a validation error names. */
function fieldsOf(act: () => unknown): string[] {
  try {
    act();
  } catch (error) {
    if (error instanceof ExperimentValidationError) return [...new Set(error.fields.map((f) => f.field))];
    throw error;
  }
  throw new Error('expected a validation error');
}

describe('experiment caps', () => {
  it('stores the documented defaults when none are declared', () => {
    expect(makeExperiment().caps).toEqual(DEFAULT_CAPS);
    expect(DEFAULT_USER_CAPS).toEqual({ clicks: 50, impressions: 250, purchases: 10, revenue_cents: 100_000, watch_ms: 36_000_000 });
  });

  it('keeps the defaults for the caps a request leaves out', () => {
    // Act
    const experiment = makeExperiment({ caps: { clicks: 20, revenue: 99.99 } });

    // Assess
    expect(experiment.caps).toEqual({ ...DEFAULT_CAPS, clicks: 20, revenue: 99.99 });
    expect(userCapsOf(experiment)).toMatchObject({ clicks: 20, revenue_cents: 9999 });
  });

  it.each([
    [{ clicks: 0 }, 'caps.clicks'],
    [{ impressions: 1.5 }, 'caps.impressions'],
    [{ purchases: 2_000_000_000 }, 'caps.purchases'],
    [{ revenue: 10.001 }, 'caps.revenue'],
    [{ revenue: 0 }, 'caps.revenue'],
    [{ watch_time_seconds: -1 }, 'caps.watch_time_seconds'],
    [{ watch_time_seconds: 0.0001 }, 'caps.watch_time_seconds'],
    [{ views: 3 }, 'caps.views'],
  ])('refuses caps %j with 400 naming %s', (caps, field) => {
    expect(fieldsOf(() => createExperiment({ request: validRequest({ caps: caps as never }), now: NOW }))).toEqual([field]);
  });

  it('may change caps while the experiment is a draft', () => {
    // Act
    const edited = updateExperiment(makeExperiment(), { request: { caps: { clicks: 7 } }, now: LATER });

    // Assess
    expect(edited.caps).toEqual({ ...DEFAULT_CAPS, clicks: 7 });
  });

  it('refuses with 409 to change caps once started: the capped sums are already accumulated under them', () => {
    // Prepare
    const running = startExperiment(makeExperiment(), { now: NOW });

    // Act
    const change = () => updateExperiment(running, { request: { caps: { clicks: 7 } }, now: LATER });

    // Assess
    expect(change).toThrow(ExperimentConflictError);
    expect(change).toThrow(/caps can only change while draft/);
  });

  it('lowers the watch-time cap to the target metric cap_seconds when that is smaller', () => {
    // Act
    const experiment = makeExperiment({ target_metric: { kind: 'watch_time', cap_seconds: 600 } });

    // Assess
    expect(userCapsOf(experiment).watch_ms).toBe(600_000);
    expect(userCapsOf({}).watch_ms).toBe(DEFAULT_CAPS.watch_time_seconds * 1000);
  });
});
