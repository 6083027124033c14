/**
 * The local runtime's virtual clock: the real clock plus an offset, kept in the data directory so
 * a restart resumes the same simulated date. Only the gateway (as API Gateway's
 * `requestTimeEpoch`) and the local scheduler (as EventBridge's firing `time`) read it; the
 * handlers never do anything but read their trigger's stamp, as in AWS.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const DAY_MS = 86_400_000;

export interface ClockState {
  /** Virtual minus real time, in milliseconds. */
  offset_ms: number;
}

export interface VirtualClock {
  /** Virtual epoch milliseconds. */
  now: () => number;
  offsetMs: () => number;
  /** Moves the clock to `epochMs` (never backwards: counters and schedules only go forward). */
  set: (epochMs: number) => Promise<void>;
}

/** A clock whose offset lives in `<dataDir>/clock.json`. */
export async function openVirtualClock(dataDir: string, realNow: () => number = Date.now): Promise<VirtualClock> {
  const path = join(dataDir, 'clock.json');
  let offset = 0;
  try {
    const stored = JSON.parse(await readFile(path, 'utf8')) as Partial<ClockState>;
    if (typeof stored.offset_ms === 'number' && Number.isFinite(stored.offset_ms)) offset = stored.offset_ms;
  } catch {
    // first start: real time
  }
  return {
    now: () => realNow() + offset,
    offsetMs: () => offset,
    set: async (epochMs) => {
      const current = realNow() + offset;
      if (!Number.isFinite(epochMs)) throw new RangeError('the clock can only be set to a finite time');
      if (epochMs < current)
        throw new RangeError(`the clock only moves forward: ${new Date(epochMs).toISOString()} is before ${new Date(current).toISOString()}`);
      offset = epochMs - realNow();
      await writeFile(path, `${JSON.stringify({ offset_ms: offset } satisfies ClockState)}\n`, { mode: 0o600 });
    },
  };
}

/** The UTC day (YYYY-MM-DD) of an epoch time. */
export const utcDay = (epochMs: number) => new Date(epochMs).toISOString().slice(0, 10);
