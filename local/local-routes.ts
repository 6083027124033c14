/**
 * Admin routes that exist only on the local runtime (the admin key required), under `/local/`:
 *
 *   GET  /local/clock   the virtual clock: `{now, day, offset_ms, schedules}`
 *   POST /local/clock   `{"now": ISO 8601 | epoch ms}` or `{"advance_ms": N}` moves it forward,
 *                       then fires every scheduled rule time passed (daily analysis, weekly
 *                       retraining) before answering `{now, day, offset_ms, runs: [...]}`.
 *   GET  /local/notifications/retraining
 *                       the retraining runs' notifications (what the stack publishes to SNS),
 *                       newest first: `{notifications: [{at, state, subject, message}]}`.
 *
 * Nothing under /local/ is part of the deployed API: in AWS, time is AWS's.
 */
import { z } from 'zod';
import { errorMessage } from '../lambdas/domain/assert-error.ts';
import { utcDay, type VirtualClock } from './clock.ts';
import { readRetrainingNotifications } from './notifications.ts';
import type { JobRun, LocalScheduler, ScheduledJob } from './scheduler.ts';

export interface LocalRouteRequest {
  method: string;
  pathname: string;
  body: Buffer;
}

export interface LocalRouteResponse {
  status: number;
  body: unknown;
}

/** Answers a request under /local/, or undefined when no local route has that path. */
export type LocalRoutes = (request: LocalRouteRequest) => Promise<LocalRouteResponse | undefined>;

const setClockSchema = z.union([
  z.strictObject({ now: z.union([z.iso.datetime({ offset: true, error: 'must be ISO 8601 or epoch milliseconds' }), z.number().int().positive()]) }),
  z.strictObject({
    advance_ms: z
      .number()
      .int('must be an integer')
      .min(0, 'must be >= 0')
      .max(366 * 86_400_000, 'must be at most a year'),
  }),
]);

const fieldError = (field: string, message: string): LocalRouteResponse => ({
  status: 400,
  body: { error: { code: 'validation_failed', message: `${field}: ${message}`, details: [{ field, message }] } },
});

export function localRoutes({
  clock,
  scheduler,
  jobs,
  dataDir,
}: {
  clock: VirtualClock;
  scheduler: LocalScheduler;
  jobs: ScheduledJob[];
  dataDir?: string;
}): LocalRoutes {
  const state = (runs?: JobRun[]) => {
    const now = clock.now();
    return {
      now: new Date(now).toISOString(),
      day: utcDay(now),
      offset_ms: clock.offsetMs(),
      schedules: jobs.map((job) => ({ job: job.name, schedule: job.schedule })),
      ...(runs ? { runs } : {}),
    };
  };
  return async ({ method, pathname, body }) => {
    if (dataDir !== undefined && (pathname === '/local/notifications/retraining' || pathname === '/local/notifications/retraining/')) {
      if (method !== 'GET')
        return { status: 405, body: { error: { code: 'method_not_allowed', message: `${method} is not allowed on ${pathname}; use GET` } } };
      return { status: 200, body: { notifications: await readRetrainingNotifications(dataDir) } };
    }
    if (pathname !== '/local/clock' && pathname !== '/local/clock/') return undefined;
    if (method === 'GET') return { status: 200, body: state() };
    if (method !== 'POST')
      return { status: 405, body: { error: { code: 'method_not_allowed', message: `${method} is not allowed on /local/clock; use GET or POST` } } };
    let parsedJson: unknown;
    try {
      parsedJson = JSON.parse(body.toString('utf8'));
    } catch {
      return fieldError('body', 'must be a JSON object: {"now": "<ISO 8601>"} or {"advance_ms": N}');
    }
    const parsed = setClockSchema.safeParse(parsedJson);
    if (!parsed.success) {
      const issue = parsed.error.issues.find((i) => i.path.length > 0) ?? parsed.error.issues[0];
      const field = issue.path.length > 0 ? String(issue.path[0]) : 'body';
      return fieldError(field, field === 'body' ? 'must be {"now": "<ISO 8601>"} or {"advance_ms": N}' : issue.message);
    }
    const target =
      'now' in parsed.data ? (typeof parsed.data.now === 'number' ? parsed.data.now : Date.parse(parsed.data.now)) : clock.now() + parsed.data.advance_ms;
    try {
      await clock.set(target);
    } catch (error) {
      return { status: 409, body: { error: { code: 'conflict', message: errorMessage(error) } } };
    }
    const runs = await scheduler.catchUp();
    return { status: 200, body: state(runs) };
  };
}
