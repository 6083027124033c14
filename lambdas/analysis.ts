/**
 * The scheduled analysis (EventBridge, daily): for every running experiment, read the
 * counters, compute the report and write it as JSON and HTML to S3 under a key fixed by
 * experiment and day, so a rerun overwrites instead of duplicating. A terminal decision (ship,
 * stop-no-effect, investigate-srm) or a tripped guardrail is published to the alerts topic.
 * A failed run throws: Lambda's async retries, then the on-failure queue, take it from there.
 */
import { PublishCommand } from '@aws-sdk/client-sns';
import { ARTIFACTS_BUCKET, ENV, TABLES } from '../lib/resources.ts';
import { dynamoClient, s3Client, snsClient } from './common/clients.ts';
import { optionalEnv, requiredEnv } from './common/env.ts';
import { logger, metrics, telemetry } from './common/observability.ts';
import { toError } from './domain/assert-error.ts';
import { analyzeRunningExperiments, type AnalysisRunSummary } from './services/analysis-run.ts';
import { S3ObjectStore } from './storage/object-store.ts';
import { ObjectReportStore } from './storage/report-store.ts';
import { DynamoCounterRepository } from './storage/counter-store.ts';
import { DynamoExperimentRepository } from './storage/experiment-repository.ts';
import { DynamoShownItemRepository } from './storage/shown-items.ts';

const experiments = new DynamoExperimentRepository(dynamoClient(), requiredEnv(TABLES.experiments.envVar));
const counters = new DynamoCounterRepository(dynamoClient(), requiredEnv(TABLES.counters.envVar));
const shownItems = new DynamoShownItemRepository(dynamoClient(), requiredEnv(TABLES.counters.envVar));
const reports = new ObjectReportStore(new S3ObjectStore(s3Client(), requiredEnv(ARTIFACTS_BUCKET.envVar)));
const alertsTopicArn = optionalEnv(ENV.alertsTopicArn, '');

/** Input of an on-demand run, or the EventBridge event of the daily schedule. */
export interface AnalysisRequest {
  experiment_id?: string;
  /** Analysis day (UTC, YYYY-MM-DD); defaults to today on demand, yesterday on the schedule. */
  day?: string;
  source?: string;
  'detail-type'?: string;
  /** When EventBridge fired the rule (its clock, ISO 8601); the run's "now". */
  time?: string;
}

/**
 * The run's clock: the firing time EventBridge stamps on a scheduled event (so a delayed or
 * retried delivery still reports the day it was fired for, and the local scheduler can fire it
 * on a virtual clock), else the function's own clock.
 */
export function analysisNow(event: AnalysisRequest): Date {
  const fired = typeof event.time === 'string' ? Date.parse(event.time) : Number.NaN;
  return Number.isFinite(fired) ? new Date(fired) : new Date();
}

/**
 * The day a run covers when none is given. The 03:00 UTC schedule reports the last complete
 * day, so its report is final; an on-demand run reports today so far.
 */
export function defaultAnalysisDay(event: AnalysisRequest, now: Date): string {
  const scheduled = event.source === 'aws.events' && event['detail-type'] === 'Scheduled Event';
  const day = new Date(now.getTime() - (scheduled ? 86_400_000 : 0));
  return day.toISOString().slice(0, 10);
}

export const handler = async (event: AnalysisRequest = {}): Promise<AnalysisRunSummary> => {
  try {
    return await analyse(event);
  } finally {
    // Not a middy handler: the metrics the run added (SampleRatioMismatch) are flushed here.
    metrics.publishStoredMetrics();
  }
};

async function analyse(event: AnalysisRequest): Promise<AnalysisRunSummary> {
  const now = analysisNow(event);
  const summary = await analyzeRunningExperiments({
    experiments,
    counters,
    shownItems,
    reports,
    now,
    experimentId: typeof event.experiment_id === 'string' ? event.experiment_id : undefined,
    day: typeof event.day === 'string' ? event.day : defaultAnalysisDay(event, now),
    onExperimentError: (experimentId, error) => logger.error('Analysis of one experiment failed', { experimentId, error: toError(error) }),
    telemetry,
    publishAlert: async (subject, message) => {
      if (!alertsTopicArn) {
        logger.warn('No alerts topic configured; alert logged only', { subject, alert: message });
        return;
      }
      await snsClient().send(new PublishCommand({ TopicArn: alertsTopicArn, Subject: subject.slice(0, 99), Message: message }));
    },
  });
  logger.info('Analysis run complete', { ...summary });
  return summary;
}
