/**
 * One problem with one field of a request, and how a field is named: the one shape every layer
 * (domain validation, the HTTP edge, the command line) reports bad input with.
 */
import type { z } from 'zod';

/** One problem with one field, e.g. `{ field: 'variants[1].weight', message: 'must be >= 0' }`. */
export interface FieldError {
  field: string;
  message: string;
}

/**
 * A field's name from its path: object keys joined by dots, array indices in brackets, after
 * `prefix` (`events`, [0, 'user_id'] → `events[0].user_id`).
 */
export function formatFieldPath(path: readonly PropertyKey[], prefix = ''): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/** Field errors as one line, each as `field: message`, joined by `; ` (how an error message lists them). */
export function describeFieldErrors(details: readonly FieldError[]): string {
  return details.map((d) => `${d.field}: ${d.message}`).join('; ');
}

/**
 * A zod error as field errors, each field named after `prefix` (`variants[1].weight: must be >= 0`);
 * an unknown key is named itself (zod reports it on its object), and an issue of the whole value
 * is named by `prefix`, or `body` without one.
 */
export function zodFieldErrors(error: z.ZodError, prefix = ''): FieldError[] {
  return error.issues.flatMap((issue) =>
    // zod reports unknown keys on their object (path []): name each key, not the body or the event.
    issue.code === 'unrecognized_keys' && issue.keys.length > 0
      ? issue.keys.map((key) => ({ field: formatFieldPath([...issue.path, key], prefix) || prefix || 'body', message: 'is not a known field' }))
      : [{ field: formatFieldPath(issue.path, prefix) || prefix || 'body', message: issue.message }],
  );
}
