/**
 * Powertools logger, metrics and tracer, one instance per container.
 *
 * The tracer is only loaded where it can trace: inside Lambda (AWS_EXECUTION_ENV) unless
 * POWERTOOLS_TRACE_ENABLED=false (the local runtime sets that). Loading it is not free: the
 * X-Ray SDK under it enables async hooks on every promise of the process, which costs the
 * warm recommend path a measurable share of its time even when tracing is switched off.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import type { Telemetry } from '../services/telemetry.ts';

export const logger = new Logger({ serviceName: 'abrec' });
/**
 * Powertools warns when a flush finds no metric. In Lambda that cannot happen here (a container
 * serves one request at a time and every request counts itself), but the local runtime serves
 * concurrent requests from one module instance, where one request's flush can take another's
 * metric: there the warning is noise on every few requests, so it goes to debug.
 */
const EMPTY_FLUSH = 'No application metrics to publish';
const metricsLogger = {
  debug: (message: string, ...rest: unknown[]) => logger.debug(message, ...rest.map((extra) => ({ extra }))),
  info: (message: string, ...rest: unknown[]) => logger.info(message, ...rest.map((extra) => ({ extra }))),
  warn: (message: string, ...rest: unknown[]) =>
    String(message).startsWith(EMPTY_FLUSH) ? logger.debug(message) : logger.warn(message, ...rest.map((extra) => ({ extra }))),
  error: (message: string, ...rest: unknown[]) => logger.error(message, ...rest.map((extra) => ({ extra }))),
};

export const metrics = new Metrics({ namespace: 'Abrec', serviceName: 'abrec', logger: metricsLogger });

/** Whether this process can send traces: the same conditions under which Powertools enables itself. */
export function tracingWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env.POWERTOOLS_TRACE_ENABLED ?? '').toLowerCase() === 'false') return false;
  return (env.AWS_EXECUTION_ENV ?? '') !== '' && (env.AWS_SAM_LOCAL ?? '') === '';
}

/** The Powertools tracer in Lambda; undefined where nothing would be traced (locally, in tests). */
export const tracer: Tracer | undefined = tracingWanted() ? new (await import('@aws-lambda-powertools/tracer')).Tracer({ serviceName: 'abrec' }) : undefined;

/** Captures an AWS SDK v3 client's calls as X-Ray subsegments when tracing; the client itself otherwise. */
export function traced<T>(client: T): T {
  return tracer ? tracer.captureAWSv3Client(client) : client;
}

/** The services' logging and metrics port (services/telemetry.ts) over the Powertools logger and metrics. */
export const telemetry: Telemetry = {
  error: (message, attributes) => logger.error(message, attributes),
  warn: (message, attributes) => logger.warn(message, attributes),
  metric: (name, unit, value) => metrics.addMetric(name, unit, value),
};
