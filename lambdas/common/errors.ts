/**
 * Errors shown to API callers. Anything under 500 carries a machine-readable code, a message
 * that names the problem and, for validation, the offending fields. Everything else becomes a
 * generic 500 and is logged, never serialised back.
 *
 * The services throw domain errors (domain/errors.ts, domain/experiments/errors.ts), which know no
 * HTTP; this file is where they become HttpErrors: toHttpError for every route (the common middy
 * stack applies it), experimentHttpError for the admin routes.
 */
import { DomainError, type DomainErrorKind } from '../domain/errors.ts';
import {
  ExperimentConflictError,
  ExperimentValidationError,
  type ConflictReason,
  type ExperimentError,
  type ExperimentErrorCode,
} from '../domain/experiments/errors.ts';
import type { FieldError } from '../domain/field-error.ts';

export type { FieldError } from '../domain/field-error.ts';

export interface ErrorBody {
  error: { code: string; message: string; details?: FieldError[] };
}

export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly expose: boolean;

  constructor(
    readonly statusCode: number,
    readonly code: string,
    readonly publicMessage: string,
    readonly details?: FieldError[],
  ) {
    // middy's http-error-handler sends `message` as the body, as JSON when it parses as JSON.
    super(JSON.stringify({ error: { code, message: publicMessage, ...(details ? { details } : {}) } } satisfies ErrorBody));
    // Every HttpError is raised on purpose with a message written for the caller, including the
    // deliberate 503s (no artifact, store unavailable); http-error-handler would turn an
    // unexposed one into a generic 500. Unexpected errors are not HttpErrors and still do.
    this.expose = true;
  }
}

/** A body that is not declared as JSON (middy's 415, or the admin handler's own check). */
export const unsupportedMediaType = () =>
  new HttpError(400, 'unsupported_media_type', 'Content-Type must be application/json', [{ field: 'content-type', message: 'must be application/json' }]);
/** A body that does not parse as JSON. */
export const malformedJson = () => new HttpError(400, 'malformed_json', 'Request body is not valid JSON', [{ field: 'body', message: 'malformed JSON' }]);
/** A body that parses as JSON but sends one key twice in an object (JSON.parse would keep the last silently). */
export const duplicateJsonKey = (field: string) =>
  new HttpError(400, 'malformed_json', `Request body sends the key ${field} more than once`, [{ field, message: 'duplicate key' }]);
/** A 404; `details` names the field whose value was not found (an id, a day). */
export const notFound = (message: string, details?: FieldError[]) => new HttpError(404, 'not_found', message, details);
/** The function was about to reach its timeout: the client retries (every write is idempotent). */
export const requestTimedOut = () => new HttpError(503, 'timeout', 'The request did not finish in time; retry it (events already stored are deduplicated)');

export const GENERIC_500_BODY = JSON.stringify({ error: { code: 'internal_error', message: 'Internal server error' } } satisfies ErrorBody);

/** The status and code the API answers each kind of domain error with (domain/errors.ts). */
const DOMAIN_ERROR_RESPONSES: Record<DomainErrorKind, { status: number; code: string }> = {
  invalid: { status: 400, code: 'validation_failed' },
  'not-found': { status: 404, code: 'not_found' },
  conflict: { status: 409, code: 'conflict' },
  'inconsistent-counters': { status: 422, code: 'inconsistent_counters' },
  'slate-mismatch': { status: 422, code: 'slate_mismatch' },
  'daily-limit-exceeded': { status: 429, code: 'daily_limit_exceeded' },
  'events-not-stored': { status: 503, code: 'store_unavailable' },
  unavailable: { status: 503, code: 'service_unavailable' },
};

/**
 * The one place a domain error becomes an API error: its kind gives the status and code, and its
 * message and fields are shown as they are. Anything else is returned unchanged.
 */
export function toHttpError(error: unknown): unknown {
  if (!(error instanceof DomainError)) return error;
  const { status, code } = DOMAIN_ERROR_RESPONSES[error.kind];
  return new HttpError(status, code, error.message, error.details);
}

/** The API's error codes (snake_case, shared with every other route) for the experiment domain's error kinds. */
const EXPERIMENT_ERROR_CODES: Record<ExperimentErrorCode, string> = { validation: 'validation_failed', 'not-found': 'not_found', conflict: 'conflict' };

/** The request field each kind of conflict is about, so every 4xx names one. */
const CONFLICT_FIELDS: Record<ConflictReason, string> = {
  'duplicate-id': 'id',
  'illegal-transition': 'status',
  'weight-change-outside-ramp': 'variants',
  'revision-mismatch': 'expected_revision',
  'layer-overlap': 'layer',
  'promotion-refused': 'winner',
  'schedule-ended': 'end_time',
};

/**
 * The admin API's answer to an experiment-domain error (domain/experiments/errors.ts): its status,
 * its kind's code, its message, and the fields it names (the invalid ones, the path id not found,
 * or what a conflict is about). Only the /experiments handler applies it: elsewhere such an error
 * is not one the route expects, and keeps the answer http-error-handler gives it.
 */
export function experimentHttpError(error: ExperimentError): HttpError {
  return new HttpError(error.status, EXPERIMENT_ERROR_CODES[error.code], error.message, experimentErrorFields(error));
}

function experimentErrorFields(error: ExperimentError): FieldError[] {
  if (error instanceof ExperimentValidationError) return error.fields;
  if (error instanceof ExperimentConflictError) return [{ field: error.field ?? CONFLICT_FIELDS[error.reason], message: error.message }];
  // Not found: the only experiment a route looks up is the one its path names.
  return [{ field: 'id', message: error.message }];
}
