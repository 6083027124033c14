/**
 * The local stand-in for EventBridge's scheduled rules: the same cron expressions as the stack
 * (lib/resources.ts SCHEDULES), fired on the runtime's virtual clock. Real time moves the clock
 * slowly (a timer checks it); advancing the clock fires every rule time passed on the way, in
 * order, each run finishing before the next starts, so a simulated day's report exists before
 * the next day begins. Checking starts at the clock's now: like EventBridge, a restart does not
 * make up the firings the runtime was down for (the clock itself is kept, see clock.ts).
 */
import AWSCronParser from 'aws-cron-parser';
import { errorMessage } from '../lambdas/domain/assert-error.ts';
import type { VirtualClock } from './clock.ts';

export interface ScheduledJob {
  name: string;
  /** AWS cron, as in the stack: `cron(0 3 * * ? *)`. */
  schedule: string;
  /** Runs one firing; `firedAt` is the rule time, EventBridge's `time`. */
  run: (firedAt: Date) => Promise<unknown>;
}

export interface JobRun {
  job: string;
  fired_at: string;
  ok: boolean;
  seconds: number;
  result?: unknown;
  error?: string;
}

export interface LocalScheduler {
  /** Fires, in time order, every rule time after the last check up to the clock's now. */
  catchUp: () => Promise<JobRun[]>;
  /** Checks the clock every `intervalMs` of real time until stopped. */
  start: (intervalMs?: number) => void;
  stop: () => Promise<void>;
}

/** Upper bound on the firings of one check, so a far jump of the clock cannot run for hours. */
export const MAX_FIRINGS_PER_CHECK = 400;

const cronBody = (schedule: string) => schedule.replace(/^cron\((.*)\)$/, '$1');

/** Every firing of `schedule` in (from, to], oldest first, at most `limit`. */
export function firingsBetween(schedule: string, from: Date, to: Date, limit = MAX_FIRINGS_PER_CHECK): Date[] {
  const parsed = AWSCronParser.parse(cronBody(schedule));
  const out: Date[] = [];
  for (
    let next = AWSCronParser.next(parsed, from);
    next !== null && next.getTime() <= to.getTime() && out.length < limit;
    next = AWSCronParser.next(parsed, next)
  ) {
    out.push(next);
  }
  return out;
}

export function createLocalScheduler({
  clock,
  jobs,
  log = () => {},
}: {
  clock: VirtualClock;
  jobs: ScheduledJob[];
  log?: (line: string) => void;
}): LocalScheduler {
  let lastCheck = clock.now();
  let timer: NodeJS.Timeout | undefined;
  // One check at a time: a timer tick and an advance of the clock never run jobs side by side.
  let chain: Promise<unknown> = Promise.resolve();

  const check = async (): Promise<JobRun[]> => {
    const to = clock.now();
    const due = jobs
      .flatMap((job) => firingsBetween(job.schedule, new Date(lastCheck), new Date(to)).map((firedAt) => ({ job, firedAt })))
      .sort((a, b) => a.firedAt.getTime() - b.firedAt.getTime())
      .slice(0, MAX_FIRINGS_PER_CHECK);
    const runs: JobRun[] = [];
    for (const { job, firedAt } of due) {
      const started = performance.now();
      try {
        const result = await job.run(firedAt);
        runs.push({ job: job.name, fired_at: firedAt.toISOString(), ok: true, seconds: (performance.now() - started) / 1000, result });
      } catch (error) {
        const message = errorMessage(error);
        log(`scheduled ${job.name} fired at ${firedAt.toISOString()} failed: ${message}`);
        runs.push({ job: job.name, fired_at: firedAt.toISOString(), ok: false, seconds: (performance.now() - started) / 1000, error: message });
      }
    }
    lastCheck = to;
    return runs;
  };

  const catchUp = () => {
    const next = chain.then(check);
    chain = next.catch(() => undefined);
    return next;
  };

  return {
    catchUp,
    start: (intervalMs = 30_000) => {
      timer = setInterval(() => void catchUp().catch((error: unknown) => log(`scheduler check failed: ${String(error)}`)), intervalMs);
      timer.unref();
    },
    stop: async () => {
      clearInterval(timer);
      await chain;
    },
  };
}
