/** How every layer names a field: keys joined by dots, indices in brackets, after an optional prefix. */
import { describe, expect, it } from 'vitest';
import { formatFieldPath } from '../../../lambdas/domain/field-error.ts';

describe('formatFieldPath', () => {
  it.each([
    [[], '', ''],
    [['user_id'], '', 'user_id'],
    [[0, 'user_id'], 'events', 'events[0].user_id'],
    [['variants', 1, 'weight'], '', 'variants[1].weight'],
    [[2], '', '[2]'],
    [['slate', 0], 'events[3]', 'events[3].slate[0]'],
  ] as const)('%j after %j is %j', (path, prefix, expected) => {
    // Act / Assess
    expect(formatFieldPath(path, prefix)).toBe(expected);
  });
});
