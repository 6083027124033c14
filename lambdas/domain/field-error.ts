/**
 * One problem with one field of a request, and how a field is named: the one shape every layer
 * (domain validation, the HTTP edge, the command line) reports bad input with.
 */

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
