/**
 * The local stand-in for the retraining SNS topic: every notification the state machine
 * publishes (Notify, NotifyFailure) is appended as one JSON line to
 * `<data dir>/notifications/retraining.jsonl`, which the local dashboard reads.
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LocalNotification } from './state-machine.ts';

export const RETRAINING_NOTIFICATIONS = join('notifications', 'retraining.jsonl');

/** One line of the file. */
export interface StoredNotification {
  at: string;
  state: string;
  subject: string;
  /** The message as published (JSON text parsed back; the raw text when it is not JSON). */
  message: unknown;
}

export function retrainingNotificationsPath(dataDir: string): string {
  return join(dataDir, RETRAINING_NOTIFICATIONS);
}

/** A `notify` for runRetrainingLocally that appends to the data directory's file. */
export function fileNotifier(dataDir: string, now: () => Date = () => new Date()): (notification: LocalNotification) => Promise<void> {
  const path = retrainingNotificationsPath(dataDir);
  return async ({ state, subject, message }) => {
    let parsed: unknown = message;
    try {
      parsed = JSON.parse(message);
    } catch {
      // kept as text
    }
    await mkdir(join(dataDir, 'notifications'), { recursive: true, mode: 0o700 });
    await appendFile(path, `${JSON.stringify({ at: now().toISOString(), state, subject, message: parsed } satisfies StoredNotification)}\n`, { mode: 0o600 });
  };
}

/** The newest `limit` notifications, newest first (none when the file does not exist). */
export async function readRetrainingNotifications(dataDir: string, limit = 20): Promise<StoredNotification[]> {
  let text: string;
  try {
    text = await readFile(retrainingNotificationsPath(dataDir), 'utf8');
  } catch {
    return [];
  }
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const out: StoredNotification[] = [];
  for (const line of lines.slice(-limit).reverse()) {
    try {
      out.push(JSON.parse(line) as StoredNotification);
    } catch {
      // a line cut by a crash mid-append is skipped
    }
  }
  return out;
}
