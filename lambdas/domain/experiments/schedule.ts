/**
 * The experiment schedule, as pure rules. A running experiment ends at the earlier of its
 * `end_time` and `start_time + max_duration_days` (an end_time equal to that instant counts as
 * the reason). From that instant serving treats it as stopped (the control for everybody,
 * nothing stored or counted); the next analysis run records the stop, writes the final report
 * (counters through the day it ended in) and alerts its decision once.
 *
 * Times are always the caller's: the trigger's clock (API Gateway's request time, EventBridge's
 * firing time), never this process's.
 */
import type { FieldError } from './errors.ts';
import type { Experiment, ScheduleEndReason } from './model.ts';

export const DAY_MS = 86_400_000;

/** The fields the schedule depends on. */
export type ScheduleFields = Pick<Experiment, 'start_time' | 'end_time' | 'max_duration_days'>;

/** When and why an experiment's schedule ends. */
export interface ScheduledEnd {
  /** Epoch milliseconds. */
  atMs: number;
  /** The same instant, ISO 8601. */
  at: string;
  reason: ScheduleEndReason;
  /** The field that set it, for error messages. */
  field: 'end_time' | 'max_duration_days';
}

/**
 * The end of an experiment's schedule: the earlier of `end_time` and `max_duration_days` after
 * `start_time` (which only a started experiment has); undefined when neither applies.
 */
export function scheduledEnd(experiment: ScheduleFields): ScheduledEnd | undefined {
  const byEndTime = experiment.end_time === undefined ? undefined : Date.parse(experiment.end_time);
  const byDuration =
    experiment.start_time === undefined || experiment.max_duration_days === undefined
      ? undefined
      : Date.parse(experiment.start_time) + experiment.max_duration_days * DAY_MS;
  if (byEndTime !== undefined && (byDuration === undefined || byEndTime <= byDuration)) {
    return { atMs: byEndTime, at: new Date(byEndTime).toISOString(), reason: 'schedule: end_time reached', field: 'end_time' };
  }
  if (byDuration !== undefined) return { atMs: byDuration, at: new Date(byDuration).toISOString(), reason: 'max duration reached', field: 'max_duration_days' };
  return undefined;
}

/** The end of a running experiment's schedule once `nowMs` has reached it; undefined otherwise (or when it is not running). */
export function scheduleEndReached(experiment: ScheduleFields & Pick<Experiment, 'status'>, nowMs: number): ScheduledEnd | undefined {
  if (experiment.status !== 'running') return undefined;
  const end = scheduledEnd(experiment);
  return end !== undefined && end.atMs <= nowMs ? end : undefined;
}

/**
 * The UTC day of the final report: the last day the experiment ran in, so the report includes
 * the partial day up to the end. An end at midnight belongs to the day before it.
 */
export function finalReportDay(endMs: number): string {
  return new Date(endMs - 1).toISOString().slice(0, 10);
}

/** Whether a stop reason is the schedule's (the stops that come with a final report). */
export function isScheduleStop(reason: string | undefined): reason is ScheduleEndReason {
  return reason === 'schedule: end_time reached' || reason === 'max duration reached';
}

/**
 * What is wrong with an experiment's schedule after a create or an edit, naming the fields the
 * request sent (400): an end not after the start, or, for a draft or running experiment, an end
 * already passed (a running experiment is stopped with POST /stop, not by a past end_time).
 * `sent` holds the request's field names; a schedule the request did not touch is not judged,
 * so an edit of the name of an experiment past its end still succeeds.
 */
export function scheduleProblems({
  experiment,
  sent,
  now,
}: {
  experiment: ScheduleFields & Pick<Experiment, 'status'>;
  sent: ReadonlySet<string>;
  now: Date;
}): FieldError[] {
  if (experiment.status !== 'draft' && experiment.status !== 'running') return [];
  const problems: FieldError[] = [];
  // A running experiment created without a start_time starts now.
  const start = experiment.start_time ?? (experiment.status === 'running' ? now.toISOString() : undefined);
  const nowIso = now.toISOString();
  if (experiment.end_time !== undefined && (sent.has('end_time') || sent.has('start_time'))) {
    const field = sent.has('end_time') ? 'end_time' : 'start_time';
    if (experiment.start_time !== undefined && Date.parse(experiment.end_time) <= Date.parse(experiment.start_time)) {
      problems.push({
        field,
        message: field === 'end_time' ? `must be after start_time (${experiment.start_time})` : `must be before end_time (${experiment.end_time})`,
      });
    } else if (sent.has('end_time') && Date.parse(experiment.end_time) <= now.getTime()) {
      problems.push({ field: 'end_time', message: `must be in the future (now ${nowIso}); stop a running experiment with POST /experiments/{id}/stop` });
    }
  }
  if (experiment.max_duration_days !== undefined && sent.has('max_duration_days') && experiment.status === 'running' && start !== undefined) {
    const endMs = Date.parse(start) + experiment.max_duration_days * DAY_MS;
    if (endMs <= now.getTime()) {
      const elapsed = Math.floor((now.getTime() - Date.parse(start)) / DAY_MS);
      problems.push({ field: 'max_duration_days', message: `must be more than the ${elapsed} days the experiment has run (since ${start})` });
    }
  }
  return problems;
}
