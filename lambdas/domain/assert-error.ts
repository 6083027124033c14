/**
 * What a `catch` block holds is `unknown`: usually an Error, but JavaScript lets code throw a
 * string, a number or `undefined`. These helpers narrow it once instead of casting it with
 * `as Error`, so a thrown non-Error still gives a readable message rather than `undefined`.
 */

/**
 * Narrows a caught value to an Error; throws a TypeError (with the value as its `cause`) when
 * something else was thrown.
 */
export function assertIsError(error: unknown): asserts error is Error {
  if (!(error instanceof Error)) throw new TypeError(`expected an Error, caught ${shown(error)}`, { cause: error });
}

/** A caught value's message: an Error's own message, or the value itself as text when it is not one. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A caught value as an Error: itself when it is one, otherwise a plain Error whose message is the value as text. */
export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** A caught value for a log line: an Error's stack (which starts with its name and message), or the value as text. */
export function errorStack(error: unknown): string {
  return error instanceof Error ? (error.stack ?? String(error)) : String(error);
}

/** A thrown string in quotes, so an empty one is still visible; other values as text. */
function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
