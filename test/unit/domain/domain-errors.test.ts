/** Domain errors know no HTTP; the edge answers each kind with one status and code, showing its message and fields as they are. */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { HttpError, toHttpError } from '../../../lambdas/common/errors.ts';
import {
  ConflictError,
  DailyLimitExceededError,
  EventsNotStoredError,
  InconsistentCountersError,
  NotFoundError,
  SlateMismatchError,
  UnavailableError,
  ValidationError,
  parseOrThrow,
  type DomainError,
} from '../../../lambdas/domain/errors.ts';
import { zodFieldErrors } from '../../../lambdas/domain/field-error.ts';

const FIELD = [{ field: 'events[0].user_id', message: 'must not be blank' }];

const CASES: [string, DomainError, number, string][] = [
  ['a validation error', new ValidationError(FIELD), 400, 'validation_failed'],
  ['a missing thing', new NotFoundError('No report of e1 for 2026-05-01', [{ field: 'day', message: 'no report' }]), 404, 'not_found'],
  ['a conflict', new ConflictError('revision 3 is not the current one', [{ field: 'expected_revision', message: 'stale' }]), 409, 'conflict'],
  [
    'counters no data can produce',
    new InconsistentCountersError('The counters of e1 cannot be analysed', [{ field: 'id', message: 'x' }]),
    422,
    'inconsistent_counters',
  ],
  ['a slate mismatch', new SlateMismatchError([{ field: 'request_id', message: 'names no slate of this user' }]), 422, 'slate_mismatch'],
  ['events over their daily limit', new DailyLimitExceededError('1 event(s) exceed the daily limit of their user', FIELD), 429, 'daily_limit_exceeded'],
  ['events not stored', new EventsNotStoredError(['ev-1', 'ev-2'], 3), 503, 'store_unavailable'],
  ['an unavailable store', new UnavailableError('The experiment store is unavailable; retry later'), 503, 'service_unavailable'],
];

describe('toHttpError', () => {
  it.each(CASES)('answers %s with its status and code, and its message and fields as they are', (_name, error, status, code) => {
    // Act
    const mapped = toHttpError(error);

    // Assess
    expect(mapped).toBeInstanceOf(HttpError);
    expect(mapped).toMatchObject({ statusCode: status, code, publicMessage: error.message, details: error.details, expose: true });
  });

  it('sends no details key for an error without fields', () => {
    // Act
    const mapped = toHttpError(new UnavailableError('No model artifact could be loaded; retry later')) as HttpError;

    // Assess
    expect(JSON.parse(mapped.message)).toEqual({ error: { code: 'service_unavailable', message: 'No model artifact could be loaded; retry later' } });
  });

  it('returns anything that is not a domain error unchanged', () => {
    // Arrange
    const unexpected = new TypeError('boom');

    // Act / Assess
    expect(toHttpError(unexpected)).toBe(unexpected);
    expect(toHttpError('thrown text')).toBe('thrown text');
  });
});

describe('the messages domain errors build', () => {
  it('a validation error lists every field after "Invalid request:"', () => {
    // Act
    const error = new ValidationError([...FIELD, { field: 'top_n', message: 'must be >= 1' }]);

    // Assess
    expect(error.message).toBe('Invalid request: events[0].user_id: must not be blank; top_n: must be >= 1');
  });

  it('events not stored name each event id and how many of the request failed', () => {
    // Act
    const error = new EventsNotStoredError(['ev-1'], 4);

    // Assess
    expect(error.message).toBe('1 of 4 events could not be stored; retry the request (stored events are deduplicated)');
    expect(error.details).toEqual([{ field: 'event_id', message: 'ev-1' }]);
  });
});

describe('parseOrThrow and zodFieldErrors', () => {
  const schema = z.strictObject({ user_id: z.string().min(1, 'must not be empty'), top_n: z.number().optional() });

  it('returns the parsed value', () => {
    expect(parseOrThrow(schema, { user_id: 'u1' })).toEqual({ user_id: 'u1' });
  });

  it('throws a ValidationError naming each bad field after the prefix, and each unknown key by name', () => {
    // Act
    let caught: unknown;
    try {
      parseOrThrow(schema, { user_id: '', extra: 1 }, 'events[2]');
    } catch (error) {
      caught = error;
    }

    // Assess
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as ValidationError).details).toEqual(
      expect.arrayContaining([
        { field: 'events[2].user_id', message: 'must not be empty' },
        { field: 'events[2].extra', message: 'is not a known field' },
      ]),
    );
  });

  it('names an issue of the whole value by the prefix, or "body" without one', () => {
    // Act
    const parsed = schema.safeParse('not an object');

    // Assess
    expect(parsed.success).toBe(false);
    if (parsed.success) return;
    expect(zodFieldErrors(parsed.error).map((e) => e.field)).toEqual(['body']);
    expect(zodFieldErrors(parsed.error, 'id').map((e) => e.field)).toEqual(['id']);
  });
});
