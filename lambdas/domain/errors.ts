/**
 * The errors the services throw when a request cannot be served as asked: each is named by what
 * went wrong, carries a message written for the caller and, where one applies, the fields at
 * fault. Nothing here knows HTTP: the handlers answer each kind with its status and code in one
 * place (lambdas/common/errors.ts). Anything else thrown is unexpected and stays a generic 500.
 */
import type { z } from 'zod';
import { describeFieldErrors, zodFieldErrors, type FieldError } from './field-error.ts';

/** What went wrong, one kind per class below. */
export type DomainErrorKind =
  | 'invalid'
  | 'not-found'
  | 'conflict'
  | 'inconsistent-counters'
  | 'slate-mismatch'
  | 'daily-limit-exceeded'
  | 'events-not-stored'
  | 'unavailable';

/** Base class: a failure the caller is told about, with its message and fields. */
export abstract class DomainError extends Error {
  abstract readonly kind: DomainErrorKind;

  constructor(
    message: string,
    /** The fields at fault (or, for events not stored, the event ids); absent when none applies. */
    readonly details?: FieldError[],
  ) {
    super(message);
  }
}

/** The request is malformed: `details` names every offending field. */
export class ValidationError extends DomainError {
  override readonly name = 'ValidationError';
  readonly kind = 'invalid';
  declare readonly details: FieldError[];

  constructor(details: FieldError[]) {
    super(`Invalid request: ${describeFieldErrors(details)}`, details);
  }
}

/** What the request names does not exist; `details` names the field whose value was not found (an id, a day). */
export class NotFoundError extends DomainError {
  override readonly name = 'NotFoundError';
  readonly kind = 'not-found';
}

/** The request is well formed but conflicts with what is stored (an event id used with other content, a stale revision). */
export class ConflictError extends DomainError {
  override readonly name = 'ConflictError';
  readonly kind = 'conflict';
}

/** An experiment's counters hold what no data can produce (e.g. more converters than exposed users), so they cannot be analysed. */
export class InconsistentCountersError extends DomainError {
  override readonly name = 'InconsistentCountersError';
  readonly kind = 'inconsistent-counters';
}

/** Events name a `request_id` whose recorded slate does not match them (domain/events/plausibility.ts); `details` names each. */
export class SlateMismatchError extends DomainError {
  override readonly name = 'SlateMismatchError';
  readonly kind = 'slate-mismatch';
  declare readonly details: FieldError[];

  constructor(details: FieldError[]) {
    super(`Invalid request: ${describeFieldErrors(details)}`, details);
  }
}

/** Events over their user's daily limit were refused; `details` names each. */
export class DailyLimitExceededError extends DomainError {
  override readonly name = 'DailyLimitExceededError';
  readonly kind = 'daily-limit-exceeded';
}

/** Some events could not be stored; `details` lists each such event id. A retry of the whole request is safe (stored events are deduplicated). */
export class EventsNotStoredError extends DomainError {
  override readonly name = 'EventsNotStoredError';
  readonly kind = 'events-not-stored';
  declare readonly details: FieldError[];

  constructor(eventIds: string[], of: number) {
    super(
      `${eventIds.length} of ${of} events could not be stored; retry the request (stored events are deduplicated)`,
      eventIds.map((eventId) => ({ field: 'event_id', message: eventId })),
    );
  }
}

/** A store or artifact the request needs cannot be reached now; a later retry may succeed. */
export class UnavailableError extends DomainError {
  override readonly name = 'UnavailableError';
  readonly kind = 'unavailable';
}

/** Parses `value` with `schema`, or throws a {@link ValidationError} naming every bad field after `prefix`. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, prefix = ''): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(zodFieldErrors(result.error, prefix));
  return result.data;
}
