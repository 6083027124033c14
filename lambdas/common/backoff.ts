/**
 * Retries with exponential backoff and full jitter, of partially processed DynamoDB batch calls
 * (BatchGetItem's UnprocessedKeys: drainWithBackoff) and of single calls that failed in a way that
 * allows another attempt (retryWithBackoff): attempt n waits a uniform random time in
 * [0, min(cap, base · 2ⁿ)), which spreads retrying clients apart instead of synchronising them
 * (AWS Architecture Blog, "Exponential Backoff And Jitter").
 */
import { randomInt } from 'node:crypto';
import { setTimeout as sleepMs } from 'node:timers/promises';

export interface BackoffOptions {
  /** First ceiling in ms. @default 25 */
  baseMs?: number;
  /** Largest ceiling in ms. @default 1000 */
  capMs?: number;
  /** Calls in all, the first included. @default 6 */
  maxAttempts?: number;
  /** Uniform in [0, 1). @default crypto-random */
  random?: () => number;
  /** @default a real timer */
  sleep?: (ms: number) => Promise<unknown>;
}

const cryptoRandom = () => randomInt(0, 2 ** 47) / 2 ** 47;

/** The full-jitter delay before retry number `retry` (0 for the first retry). */
export function fullJitterDelay(
  retry: number,
  { baseMs = 25, capMs = 1000, random = cryptoRandom }: Pick<BackoffOptions, 'baseMs' | 'capMs' | 'random'> = {},
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** retry);
  return Math.floor(random() * ceiling);
}

/** Raised when work is still unprocessed after the last attempt. */
export class UnprocessedAfterRetriesError<T> extends Error {
  override readonly name = 'UnprocessedAfterRetriesError';
  constructor(
    readonly remaining: T[],
    attempts: number,
  ) {
    super(`${remaining.length} items still unprocessed after ${attempts} attempts`);
  }
}

/**
 * Calls `call` with the pending work until it reports nothing unprocessed, waiting a full-jitter
 * backoff between calls. `call` returns what it could not process (empty when done). Throws
 * UnprocessedAfterRetriesError with what is left after `maxAttempts` calls; errors thrown by
 * `call` itself propagate at once (the SDK has already retried those).
 */
export async function drainWithBackoff<T>(pending: T[], call: (pending: T[]) => Promise<T[]>, options: BackoffOptions = {}): Promise<number> {
  const { maxAttempts = 6, sleep = sleepMs } = options;
  let left = pending;
  for (let attempt = 1; ; attempt++) {
    left = await call(left);
    if (left.length === 0) return attempt;
    if (attempt >= maxAttempts) throw new UnprocessedAfterRetriesError(left, attempt);
    await sleep(fullJitterDelay(attempt - 1, options));
  }
}

/**
 * Calls `call` until it succeeds, waiting a full-jitter backoff between calls while `retryable`
 * says its error allows another attempt. Throws the error of the last call: after `maxAttempts`
 * calls, or at once for an error that is not retryable.
 */
export async function retryWithBackoff<T>(call: () => Promise<T>, retryable: (error: unknown) => boolean, options: BackoffOptions = {}): Promise<T> {
  const { maxAttempts = 6, sleep = sleepMs } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= maxAttempts || !retryable(error)) throw error;
      await sleep(fullJitterDelay(attempt - 1, options));
    }
  }
}
