/**
 * Errors shown to API callers. Anything under 500 carries a machine-readable code, a message
 * that names the problem and, for validation, the offending fields. Everything else becomes a
 * generic 500 and is logged, never serialised back.
 */
import { DomainError, type DomainErrorKind } from '../domain/errors.ts';
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
