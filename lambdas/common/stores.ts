/**
 * The DynamoDB repositories as every function builds them from its environment, once per
 * container: the table names come from the variables the CDK sets (lib/resources.ts).
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { ENV, TABLES } from '../../lib/resources.ts';
import { DynamoCounterRepository } from '../storage/counter-store.ts';
import { DynamoEventRepository } from '../storage/event-store.ts';
import { DynamoExperimentRepository } from '../storage/experiment-repository.ts';
import { DynamoShownItemRepository } from '../storage/shown-items.ts';
import { dynamoClient } from './clients.ts';
import { requiredEnv } from './env.ts';
import { logger, metrics } from './observability.ts';

export const experimentRepositoryFromEnv = () => new DynamoExperimentRepository(dynamoClient(), requiredEnv(TABLES.experiments.envVar));

export const counterRepositoryFromEnv = () => new DynamoCounterRepository(dynamoClient(), requiredEnv(TABLES.counters.envVar));

/** The catalogue-coverage markers, in the counters table. */
export const shownItemRepositoryFromEnv = () => new DynamoShownItemRepository(dynamoClient(), requiredEnv(TABLES.counters.envVar));

/** The events store; a counter an undo could not restore is logged and raises CounterInconsistency (alarmed). */
export function eventRepositoryFromEnv(counters: DynamoCounterRepository): DynamoEventRepository {
  return new DynamoEventRepository(dynamoClient(), requiredEnv(TABLES.events.envVar), counters, {
    ttlDays: Number(process.env[ENV.eventsTtlDays]) || 400,
    onInconsistency: (inconsistency) => {
      logger.error('Counter undo incomplete: counters need a manual correction', { ...inconsistency });
      metrics.addMetric('CounterInconsistency', MetricUnit.Count, 1);
    },
  });
}
