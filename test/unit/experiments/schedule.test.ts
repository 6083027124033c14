/**
 * The experiment schedule: end_time and max_duration_days, their validation at create and
 * edit, the transitions they guard (start, the stop by the schedule) and what serving does
 * once the end has passed. Pure: every time is given.
 */
import { describe, expect, it } from 'vitest';
import {
  createExperiment,
  DEFAULT_MAX_DURATION_DAYS,
  endExperimentOnSchedule,
  ExperimentError,
  ExperimentValidationError,
  finalReportDay,
  recordFinalReport,
  resolveAssignment,
  scheduledEnd,
  scheduleEndReached,
  startExperiment,
  stopExperiment,
  updateExperiment,
  type Experiment,
} from '../../../lambdas/domain/experiments/index.ts';
import { makeExperiment, NOW, runningExperiment, userIds, validRequest } from './fixtures/experiments.ts';

const DAY = 86_400_000;
const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs);
const iso = (offsetMs: number) => at(offsetMs).toISOString();

/** Runs `act` and returns what it threw, so a test can assess status and fields. */
function thrownBy(act: () => unknown): ExperimentError {
  try {
    act();
  } catch (error) {
    if (error instanceof ExperimentError) return error;
    throw error;
  }
  throw new Error('expected an ExperimentError, nothing was thrown');
}

const fieldsOf = (error: ExperimentError) => (error instanceof ExperimentValidationError ? error.fields.map((f) => f.field) : []);

/** A running experiment started at NOW with the given schedule. */
function running(schedule: { end_time?: string; max_duration_days?: number }): Experiment {
  return runningExperiment([0.5, 0.5], { start_time: NOW.toISOString(), ...schedule });
}

describe('scheduledEnd', () => {
  it.each([
    ['end_time alone', { end_time: iso(2 * DAY) }, 2 * DAY, 'schedule: end_time reached'],
    ['max_duration_days alone', { max_duration_days: 3 }, 3 * DAY, 'max duration reached'],
    ['an end_time before the maximum', { end_time: iso(DAY), max_duration_days: 3 }, DAY, 'schedule: end_time reached'],
    ['a maximum before the end_time', { end_time: iso(5 * DAY), max_duration_days: 3 }, 3 * DAY, 'max duration reached'],
    ['an end_time at the maximum', { end_time: iso(3 * DAY), max_duration_days: 3 }, 3 * DAY, 'schedule: end_time reached'],
  ])('ends at the earlier rule: %s', (_, schedule, offset, reason) => {
    // Act
    const end = scheduledEnd({ start_time: NOW.toISOString(), ...schedule });

    // Assess
    expect(end).toMatchObject({ atMs: NOW.getTime() + offset, at: iso(offset), reason });
  });

  it('has no end without an end_time, nor a maximum from a start', () => {
    expect(scheduledEnd({})).toBeUndefined();
    expect(scheduledEnd({ max_duration_days: 3 })).toBeUndefined();
  });
});

describe('scheduleEndReached', () => {
  it('is reached at the end instant exactly, not a millisecond before', () => {
    // Prepare
    const experiment = running({ end_time: iso(DAY) });

    // Act / Assess
    expect(scheduleEndReached(experiment, NOW.getTime() + DAY - 1)).toBeUndefined();
    expect(scheduleEndReached(experiment, NOW.getTime() + DAY)).toMatchObject({ reason: 'schedule: end_time reached' });
  });

  it('only concerns a running experiment', () => {
    // Prepare
    const stopped = stopExperiment(running({ end_time: iso(DAY) }), { now: at(DAY / 2) });

    // Act / Assess
    expect(scheduleEndReached(stopped, NOW.getTime() + 2 * DAY)).toBeUndefined();
  });
});

describe('finalReportDay', () => {
  it('is the UTC day the experiment ended in, and the day before for an end at midnight', () => {
    expect(finalReportDay(Date.parse('2026-01-20T12:00:00Z'))).toBe('2026-01-20');
    expect(finalReportDay(Date.parse('2026-01-21T00:00:00Z'))).toBe('2026-01-20');
    expect(finalReportDay(Date.parse('2026-01-21T00:00:00.001Z'))).toBe('2026-01-21');
  });
});

describe('schedule fields at creation', () => {
  it(`stores max_duration_days ${DEFAULT_MAX_DURATION_DAYS} when none is given, and no end_time`, () => {
    // Act
    const experiment = makeExperiment();

    // Assess
    expect(experiment.max_duration_days).toBe(DEFAULT_MAX_DURATION_DAYS);
    expect(experiment.end_time).toBeUndefined();
  });

  it('keeps the schedule it was given', () => {
    // Act
    const experiment = makeExperiment({ status: 'running', end_time: iso(7 * DAY), max_duration_days: 14 });

    // Assess
    expect(experiment).toMatchObject({ end_time: iso(7 * DAY), max_duration_days: 14, start_time: NOW.toISOString() });
  });

  it.each([
    ['a max_duration_days of 0', { max_duration_days: 0 }, 'max_duration_days', 'must be >= 1'],
    ['a max_duration_days over a year', { max_duration_days: 366 }, 'max_duration_days', 'must be <= 365'],
    ['a fractional max_duration_days', { max_duration_days: 1.5 }, 'max_duration_days', 'must be an integer'],
    ['a max_duration_days as text', { max_duration_days: '30' }, 'max_duration_days', 'must be a number'],
    ['a malformed end_time', { end_time: 'next friday' }, 'end_time', 'must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z'],
    ['an end_time before start_time', { start_time: iso(2 * DAY), end_time: iso(DAY) }, 'end_time', 'must be after start_time'],
    ['an end_time equal to start_time', { start_time: iso(DAY), end_time: iso(DAY) }, 'end_time', `must be after start_time (${iso(DAY)})`],
    ['an end_time already passed', { end_time: iso(-DAY) }, 'end_time', 'must be in the future'],
    ['a running experiment ending now', { status: 'running', end_time: iso(0) }, 'end_time', 'must be in the future'],
  ])('refuses %s with a 400 naming the field', (_, overrides, field, message) => {
    // Act
    const error = thrownBy(() => createExperiment({ request: validRequest(overrides as never), now: NOW }));

    // Assess
    expect(error.status).toBe(400);
    expect(error).toBeInstanceOf(ExperimentValidationError);
    expect((error as ExperimentValidationError).fields).toEqual([{ field, message: expect.stringContaining(message) }]);
  });

  it('refuses a running experiment whose maximum has already passed since its given start', () => {
    // Act
    const error = thrownBy(() =>
      createExperiment({ request: validRequest({ status: 'running', start_time: iso(-10 * DAY), max_duration_days: 7 }), now: NOW }),
    );

    // Assess
    expect(fieldsOf(error)).toEqual(['max_duration_days']);
    expect(error.message).toContain('more than the 10 days');
  });
});

describe('schedule fields in an edit', () => {
  it('moves the end of a running experiment and sets its maximum', () => {
    // Act
    const edited = updateExperiment(running({ end_time: iso(2 * DAY) }), { request: { end_time: iso(4 * DAY), max_duration_days: 30 }, now: at(DAY) });

    // Assess
    expect(edited).toMatchObject({ end_time: iso(4 * DAY), max_duration_days: 30, revision: 1 });
  });

  it('refuses an end_time in the past for a running experiment (stop it instead)', () => {
    // Act
    const error = thrownBy(() => updateExperiment(running({}), { request: { end_time: iso(DAY / 2) }, now: at(DAY) }));

    // Assess
    expect(error.status).toBe(400);
    expect(fieldsOf(error)).toEqual(['end_time']);
    expect(error.message).toContain('POST /experiments/{id}/stop');
  });

  it('refuses a maximum the running experiment has already exceeded', () => {
    // Act
    const error = thrownBy(() => updateExperiment(running({}), { request: { max_duration_days: 2 }, now: at(3 * DAY) }));

    // Assess
    expect(fieldsOf(error)).toEqual(['max_duration_days']);
  });

  it('refuses a planned start after the end of a draft, naming start_time', () => {
    // Prepare
    const draft = makeExperiment({ end_time: iso(5 * DAY) });

    // Act
    const error = thrownBy(() => updateExperiment(draft, { request: { start_time: iso(6 * DAY) }, now: NOW }));

    // Assess
    expect(fieldsOf(error)).toEqual(['start_time']);
  });

  it('still accepts a descriptive edit of an experiment past its end', () => {
    // Act
    const edited = updateExperiment(running({ end_time: iso(DAY) }), { request: { name: 'Renamed' }, now: at(2 * DAY) });

    // Assess
    expect(edited.name).toBe('Renamed');
  });

  it('answers 409 naming the field for a schedule change once stopped', () => {
    // Prepare
    const stopped = stopExperiment(running({}), { now: at(DAY) });

    // Act
    const error = thrownBy(() => updateExperiment(stopped, { request: { max_duration_days: 30 }, now: at(2 * DAY) }));

    // Assess
    expect(error).toMatchObject({ status: 409, reason: 'illegal-transition', field: 'max_duration_days' });
  });
});

describe('starting against the schedule', () => {
  it('answers 409 naming end_time when the planned end has passed', () => {
    // Prepare
    const draft = makeExperiment({ end_time: iso(DAY) });

    // Act
    const error = thrownBy(() => startExperiment(draft, { now: at(2 * DAY) }));

    // Assess
    expect(error).toMatchObject({ status: 409, reason: 'schedule-ended', field: 'end_time' });
  });

  it('answers 409 naming max_duration_days when a planned start is older than the maximum', () => {
    // Prepare
    const draft = makeExperiment({ start_time: iso(DAY), max_duration_days: 2 });

    // Act
    const error = thrownBy(() => startExperiment(draft, { now: at(4 * DAY) }));

    // Assess
    expect(error).toMatchObject({ status: 409, reason: 'schedule-ended', field: 'max_duration_days' });
  });
});

describe('endExperimentOnSchedule', () => {
  it('stops at the end_time, naming the rule, and opens the final report of the day it ended in', () => {
    // Prepare
    const experiment = running({ end_time: '2026-01-17T06:00:00.000Z', max_duration_days: 30 });

    // Act
    const stopped = endExperimentOnSchedule(experiment, { now: new Date('2026-01-18T03:00:00Z') });

    // Assess
    expect(stopped).toMatchObject({
      status: 'stopped',
      revision: experiment.revision + 1,
      end_time: '2026-01-17T06:00:00.000Z',
      stop_reason: 'schedule: end_time reached',
      final_report: { day: '2026-01-17', alert: 'pending' },
      updated_at: '2026-01-18T03:00:00.000Z',
    });
  });

  it('stops at the maximum duration when it comes first', () => {
    // Act
    const stopped = endExperimentOnSchedule(running({ max_duration_days: 2 }), { now: at(3 * DAY) });

    // Assess
    expect(stopped).toMatchObject({ stop_reason: 'max duration reached', end_time: iso(2 * DAY), final_report: { day: '2026-01-17' } });
  });

  it('answers 409 before the end, and for an experiment that is not running', () => {
    // Prepare
    const experiment = running({ end_time: iso(DAY) });

    // Act / Assess
    expect(thrownBy(() => endExperimentOnSchedule(experiment, { now: at(DAY - 1) }))).toMatchObject({ status: 409 });
    const stopped = endExperimentOnSchedule(experiment, { now: at(DAY) });
    expect(thrownBy(() => endExperimentOnSchedule(stopped, { now: at(2 * DAY) }))).toMatchObject({ status: 409, reason: 'illegal-transition' });
  });

  it('records the final decision and the alert as later revisions', () => {
    // Prepare
    const stopped = endExperimentOnSchedule(running({ end_time: iso(DAY) }), { now: at(DAY) });

    // Act
    const sent = recordFinalReport(stopped, { now: at(DAY), changes: { decision: 'ship', winner: 'treatment', alert: 'sent', alerted_at: iso(DAY) } });

    // Assess
    expect(sent.final_report).toEqual({ day: stopped.final_report!.day, decision: 'ship', winner: 'treatment', alert: 'sent', alerted_at: iso(DAY) });
    expect(sent.revision).toBe(stopped.revision + 1);
  });

  it('records a manual stop as manual', () => {
    expect(stopExperiment(running({}), { now: at(DAY) }).stop_reason).toBe('manual');
  });
});

describe('serving past the end', () => {
  const experiment = running({ end_time: iso(DAY) });
  const users = userIds(200);

  it('assigns variants by the hash before the end', () => {
    // Act
    const sources = new Set(users.map((userId) => resolveAssignment({ experiment, userId, now: NOW.getTime() + DAY - 1 }).source));

    // Assess
    expect(sources).toEqual(new Set(['hash']));
  });

  it('serves the control to everybody from the end on, sticky users included, storing nothing', () => {
    // Act
    const assignments = users.map((userId) =>
      resolveAssignment({ experiment, userId, now: NOW.getTime() + DAY, stored: { variant: 'treatment', bucket: 1, propensity: 0.5 } }),
    );

    // Assess
    expect(new Set(assignments.map((a) => `${a.variant}/${a.source}/${a.in_experiment}/${a.should_store}`))).toEqual(
      new Set(['control/schedule-ended/false/false']),
    );
  });

  it('serves as a stopped experiment does', () => {
    // Prepare
    const stopped = stopExperiment(experiment, { now: at(DAY) });

    // Act
    const pairs = users.map(
      (userId) => [resolveAssignment({ experiment, userId, now: NOW.getTime() + DAY }), resolveAssignment({ experiment: stopped, userId })] as const,
    );

    // Assess
    for (const [ended, whenStopped] of pairs) expect({ ...ended, source: 'x' }).toEqual({ ...whenStopped, source: 'x' });
  });
});
