/**
 * The environment the handlers read once at module load. Stub it BEFORE importing a handler
 * (the handler tests import them dynamically after `stubHandlerEnv()`).
 */
import { vi } from 'vitest';
import { ARTIFACTS_BUCKET, ENV, TABLES } from '../../../lib/resources.ts';

export const TABLE = {
  experiments: 'test-experiments',
  events: 'test-events',
  counters: 'test-counters',
} as const;

export const BUCKET = 'test-artifacts';
export const ALERTS_TOPIC_ARN = 'arn:aws:sns:us-east-1:123456789012:abrec-alerts';

/** Table and bucket names from lib/resources.ts, silent Powertools, a fixed region. */
export function stubHandlerEnv(extra: Record<string, string> = {}): void {
  vi.stubEnv(TABLES.experiments.envVar, TABLE.experiments);
  vi.stubEnv(TABLES.events.envVar, TABLE.events);
  vi.stubEnv(TABLES.counters.envVar, TABLE.counters);
  vi.stubEnv(ARTIFACTS_BUCKET.envVar, BUCKET);
  vi.stubEnv(ENV.alertsTopicArn, ALERTS_TOPIC_ARN);
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
  for (const [name, value] of Object.entries(extra)) vi.stubEnv(name, value);
}
