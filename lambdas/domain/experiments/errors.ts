/**
 * Typed errors of the experiment domain. Each carries the HTTP-like status the admin API
 * answers with, so handlers map them without a lookup table; `expose` and `statusCode`
 * follow the http-errors convention that @middy/http-error-handler understands.
 */

import { describeFieldErrors, type FieldError } from '../field-error.ts';

export type { FieldError } from '../field-error.ts';

/** Machine-readable error kinds; `status` follows from the kind. */
export type ExperimentErrorCode = 'validation' | 'not-found' | 'conflict';

/** Base class: every domain error is safe to show to the caller. */
export abstract class ExperimentError extends Error {
  abstract readonly code: ExperimentErrorCode;
  abstract readonly status: 400 | 404 | 409;
  /** Shown to the caller (message under 500). */
  readonly expose = true;
  /** Alias of `status` for middy's http-error-handler. */
  get statusCode(): number {
    return this.status;
  }
}

/** 400: the request is malformed; `fields` names every offending field. */
export class ExperimentValidationError extends ExperimentError {
  override readonly name = 'ExperimentValidationError';
  readonly code = 'validation';
  readonly status = 400;
  readonly fields: FieldError[];

  constructor(fields: FieldError[]) {
    super(describeFieldErrors(fields) || 'invalid request');
    this.fields = fields;
  }
}

/** 404: no experiment with this id. */
export class ExperimentNotFoundError extends ExperimentError {
  override readonly name = 'ExperimentNotFoundError';
  readonly code = 'not-found';
  readonly status = 404;
  readonly experimentId: string;

  constructor(experimentId: string) {
    super(`experiment not found: ${experimentId}`);
    this.experimentId = experimentId;
  }
}

/** Why a request conflicts with the current state. */
export type ConflictReason =
  | 'duplicate-id'
  | 'illegal-transition'
  | 'weight-change-outside-ramp'
  | 'revision-mismatch'
  | 'layer-overlap'
  | 'promotion-refused'
  /** The experiment's schedule has ended (its end_time or max_duration_days has passed). */
  | 'schedule-ended';

/** 409: the request is well formed but conflicts with the experiment's current state. */
export class ExperimentConflictError extends ExperimentError {
  override readonly name = 'ExperimentConflictError';
  readonly code = 'conflict';
  readonly status = 409;
  readonly reason: ConflictReason;
  /** The field the conflict is about, when not the one its reason implies (the API names it). */
  readonly field?: string;

  constructor(reason: ConflictReason, message: string, field?: string) {
    super(message);
    this.reason = reason;
    if (field !== undefined) this.field = field;
  }
}

/** Shorthand for a single-field validation error. */
export function fieldError(field: string, message: string): ExperimentValidationError {
  return new ExperimentValidationError([{ field, message }]);
}
