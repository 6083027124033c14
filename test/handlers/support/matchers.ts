/**
 * Registers the aws-sdk-client-mock matchers (`toHaveReceivedCommandWith`, ...) with vitest.
 * Imported by every handler test file: the vitest config has no setup file for this project.
 */
import { allCustomMatcher, type BaseMatcher } from 'aws-sdk-client-mock-vitest';
import { expect } from 'vitest';

expect.extend(allCustomMatcher);

declare module 'vitest' {
  // Declaration merging: vitest's Matchers gains the aws-sdk-client-mock matchers (an empty body is the point).
  interface Matchers<R, T> extends BaseMatcher<R, T> {}
}
