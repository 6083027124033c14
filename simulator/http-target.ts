/**
 * The simulation's HTTP client: the public API with the API key (GET /recommend, POST
 * /events/batch) and, when the admin credentials reach a local runtime, its virtual clock
 * (POST /local/clock), so simulated day k lands on the k-th day after the first and each day's
 * scheduled analysis runs before the next day starts. Against a deployed API there is no clock
 * to move: the days are rounds of real time, and AWS's own schedule writes the reports.
 *
 * A batch is resent whole after a network error or a 5xx (the events keep their ids, so the
 * service counts each once); a 4xx is a bug in the simulator and stops the run.
 */
import { adminRequest, type AdminTarget } from '../cli/admin-client.ts';
import { DAY_MS, utcDay } from '../local/clock.ts';
import { errorMessage } from '../lambdas/domain/assert-error.ts';
import type { Recommendation, SimulationTarget } from './run.ts';

export interface LocalClockState {
  now: string;
  day: string;
  runs?: { job: string; fired_at: string; ok: boolean; error?: string }[];
}

export interface HttpTargetOptions {
  url: string;
  apiKey: string;
  experimentId: string;
  topN: number;
  /** Admin access; with a local runtime this moves its clock. */
  admin?: AdminTarget;
  /** Called with each scheduled run the clock's moves fired (the daily reports). */
  onScheduledRun?: (run: NonNullable<LocalClockState['runs']>[number]) => void;
  /** Attempts per request before giving up (default 6: about 6 s of backoff). */
  attempts?: number;
}

/** Simulated days start at 06:00 UTC, leaving the rest of the day for the day's traffic. */
const DAY_START_MS = 6 * 3_600_000;
/** A first day started after 20:00 UTC would spill into the next day: start the next day instead. */
const LATEST_FIRST_START_MS = 20 * 3_600_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A 4xx answer: the simulator sent something the API refuses, so retrying cannot help. */
export class RequestRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Whether the target's admin credentials reach a local runtime's virtual clock. */
export async function readLocalClock(admin: AdminTarget | undefined): Promise<LocalClockState | undefined> {
  if (admin?.auth !== 'admin-key') return undefined;
  const answer = await adminRequest(admin, 'GET', '/local/clock');
  return answer.status === 200 ? (answer.body as LocalClockState) : undefined;
}

export async function createHttpTarget(
  options: HttpTargetOptions,
): Promise<SimulationTarget & { firstDay: () => string | undefined; lastDay: () => string | undefined }> {
  const base = options.url.replace(/\/$/, '');
  const attempts = options.attempts ?? 6;
  const clock = await readLocalClock(options.admin);
  let firstDayMs: number | undefined;
  let lastDayMs: number | undefined;

  async function withRetries<T>(what: string, call: () => Promise<Response>, read: (response: Response) => Promise<T>): Promise<T> {
    let lastError = '';
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await sleep(Math.min(2000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2));
      let response: Response;
      try {
        response = await call();
      } catch (error) {
        lastError = `cannot reach ${base}: ${errorMessage(error)}`;
        continue;
      }
      if (response.status >= 500 || response.status === 429) {
        lastError = `${what} answered ${response.status}: ${await response.text()}`;
        continue;
      }
      if (response.status >= 400) throw new RequestRefused(response.status, `${what} answered ${response.status}: ${await response.text()}`);
      return read(response);
    }
    throw new Error(`${what} failed after ${attempts} attempts; last: ${lastError}`);
  }

  async function moveClock(toMs: number): Promise<void> {
    if (!options.admin) return;
    const answer = await adminRequest(options.admin, 'POST', '/local/clock', { now: new Date(toMs).toISOString() });
    if (answer.status !== 200)
      throw new Error(`moving the local clock to ${new Date(toMs).toISOString()} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    for (const run of (answer.body as LocalClockState).runs ?? []) options.onScheduledRun?.(run);
  }

  const headers = { 'x-api-key': options.apiKey };
  return {
    firstDay: () => (firstDayMs === undefined ? undefined : utcDay(firstDayMs)),
    lastDay: () => (lastDayMs === undefined ? undefined : utcDay(lastDayMs)),
    startDay: async (day) => {
      if (!clock) return;
      if (firstDayMs === undefined) {
        const now = Date.parse((await readLocalClock(options.admin))?.now ?? clock.now);
        const midnight = now - (now % DAY_MS);
        firstDayMs = now - midnight < LATEST_FIRST_START_MS ? midnight : midnight + DAY_MS;
        if (firstDayMs > now) await moveClock(firstDayMs + DAY_START_MS);
      } else {
        await moveClock(firstDayMs + day * DAY_MS + DAY_START_MS);
      }
      lastDayMs = firstDayMs + day * DAY_MS;
    },
    recommend: (userId) => {
      const query = new URLSearchParams({ user_id: userId, top_n: String(options.topN), experiment_id: options.experimentId });
      return withRetries(
        'GET /recommend',
        () => fetch(`${base}/recommend?${query}`, { headers }),
        async (response) => {
          const body = (await response.json()) as Recommendation & { items: { item_id: string; rank: number }[] };
          return {
            variant: body.variant,
            request_id: body.request_id,
            impression_recorded: body.impression_recorded,
            items: body.items.map(({ item_id, rank }) => ({ item_id, rank })),
          };
        },
      );
    },
    sendEvents: async (events) => {
      const payload = JSON.stringify({ events });
      await withRetries(
        'POST /events/batch',
        () => fetch(`${base}/events/batch`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: payload }),
        async (response) => void (await response.arrayBuffer()),
      );
    },
    finish: async () => {
      // Close the last day: moving to the next morning fires its daily analysis.
      if (clock && lastDayMs !== undefined) await moveClock(lastDayMs + DAY_MS + DAY_START_MS);
    },
  };
}
