/**
 * GET /recommend?user_id=U&top_n=N[&experiment_id=E]
 * Assigns the user's variant (sticky once exposed), scores the variant's pinned model and
 * records the impression slate. Unknown users get the popularity list, flagged; an artifact
 * that cannot be loaded falls back to the control's model, flagged and counted.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ARTIFACTS_BUCKET, ENV, TABLES } from '../lib/resources.ts';
import { dynamoClient, s3Client } from './common/clients.ts';
import { booleanEnv, optionalEnv, requiredEnv } from './common/env.ts';
import { notFound, serviceUnavailable } from './common/errors.ts';
import { httpGetHandler, json, parseOrThrow } from './common/http.ts';
import { logger, metrics } from './common/observability.ts';
import { resolveAssignment, type Assignment } from './domain/experiments/assignment.ts';
import { controlOf, type Experiment } from './domain/experiments/model.ts';
import { idSchema, type AcceptedEvent } from './domain/events/event.ts';
import { itemProblem } from './domain/events/item-size.ts';
import { popularItems, recommendTopN, type Recommendations } from './domain/recommenders/top-n.ts';
import { S3ModelArtifactStore } from './storage/artifact-store.ts';
import { DynamoCounterRepository, DynamoEventRepository } from './storage/event-repository.ts';
import { DynamoExperimentRepository } from './storage/experiment-repository.ts';
import { ModelCache } from './storage/model-cache.ts';
import { BanditAllocationCache } from './services/serving-modes.ts';

const experiments = new DynamoExperimentRepository(dynamoClient(), requiredEnv(TABLES.experiments.envVar));
const counters = new DynamoCounterRepository(dynamoClient(), requiredEnv(TABLES.counters.envVar));
const events = new DynamoEventRepository(dynamoClient(), requiredEnv(TABLES.events.envVar), counters, {
  ttlDays: Number(process.env[ENV.eventsTtlDays]) || 400,
  onInconsistency: (inconsistency) => {
    logger.error('Counter undo incomplete: counters need a manual correction', { ...inconsistency });
    metrics.addMetric('CounterInconsistency', MetricUnit.Count, 1);
  },
});
const banditAllocations = new BanditAllocationCache(counters);
const models = new ModelCache(new S3ModelArtifactStore(s3Client(), requiredEnv(ARTIFACTS_BUCKET.envVar)));
const defaultExperimentId = optionalEnv(ENV.defaultExperimentId, 'default');
const recordImpressions = booleanEnv(ENV.recordImpressions, true);

export const MAX_TOP_N = 100;

const querySchema = z.strictObject({
  user_id: idSchema,
  top_n: z.coerce.number({ error: 'must be a number' }).int('must be an integer').min(1, 'must be >= 1').max(MAX_TOP_N, `must be <= ${MAX_TOP_N}`).default(10),
  experiment_id: idSchema.optional(),
});

/** Assigns, storing a fresh assignment with a conditional write so the first one sticks. */
async function assign(experimentId: string, userId: string, now: number): Promise<{ assignment: Assignment; experiment: Experiment }> {
  // Independent reads, so one round trip instead of two on the hot path.
  const [experiment, stored] = await Promise.all([experiments.get(experimentId), experiments.getAssignment(experimentId, userId)]);
  if (!experiment) throw notFound(`experiment_id: experiment "${experimentId}" does not exist`);
  // A bandit assigns new users by the current Thompson allocation (cached per container);
  // users already assigned stay sticky and need no counters read.
  const banditAllocation = experiment.mode === 'bandit' && experiment.status === 'running' && !stored ? await banditAllocations.get(experiment, now) : undefined;
  let assignment = resolveAssignment({ experiment, userId, stored, banditAllocation });
  if (assignment.should_store) {
    const fresh = { experimentId, userId, variant: assignment.variant, bucket: assignment.bucket, propensity: assignment.propensity, assignedAt: new Date(now).toISOString() };
    const kept = await experiments.putAssignmentIfAbsent(fresh);
    if (kept === fresh) await counters.countExposure(experimentId, assignment.variant, now);
    else assignment = resolveAssignment({ experiment, userId, stored: kept });
  }
  return { assignment, experiment };
}

async function recommendWithFallback(assignment: Assignment, controlModel: { model_id: string; model_version: string }, userId: string, topN: number) {
  try {
    const serving = await models.get(assignment.model_id, assignment.model_version);
    return { recs: recommendTopN(serving, userId, topN), modelVersion: assignment.model_version };
  } catch (error) {
    logger.error('Artifact unavailable, serving the control model\'s popularity list', { model: assignment.model_id, version: assignment.model_version, error });
    metrics.addMetric('ArtifactFallback', MetricUnit.Count, 1);
    try {
      const serving = await models.get(controlModel.model_id, controlModel.model_version);
      return { recs: { items: popularItems(serving, topN), fallback: 'artifact-unavailable' } as Recommendations, modelVersion: controlModel.model_version };
    } catch {
      throw serviceUnavailable('No model artifact could be loaded; retry later');
    }
  }
}

export const handler = httpGetHandler(async (event: APIGatewayProxyEvent) => {
  const query = parseOrThrow(querySchema, event.queryStringParameters ?? {});
  const now = Date.now();
  const experimentId = query.experiment_id ?? defaultExperimentId;
  const { assignment, experiment } = await assign(experimentId, query.user_id, now);
  const control = controlOf(experiment);
  const { recs, modelVersion } = await recommendWithFallback(assignment, control, query.user_id, query.top_n);
  const requestId = randomUUID();
  metrics.addMetric('Recommendations', MetricUnit.Count, 1);
  if (recs.fallback === 'unknown-user') metrics.addMetric('ColdStartFallback', MetricUnit.Count, 1);

  let impressionRecorded = false;
  if (recordImpressions && assignment.in_experiment) {
    const impression: AcceptedEvent = {
      event_id: `imp-${requestId}`,
      event_type: 'impression',
      user_id: query.user_id,
      experiment_id: experimentId,
      request_id: requestId,
      received_at_ms: now,
      slate: recs.items.map((item) => ({ item_id: item.itemId, position: item.rank, score: item.score })),
      model_version: modelVersion,
      propensity: assignment.propensity,
      fallback: recs.fallback ?? null,
    };
    // A slate is at most MAX_TOP_N items with bounded ids, far below 400 KB; checked anyway, so a
    // future larger slate is skipped with a metric instead of failing inside DynamoDB.
    const tooLarge = itemProblem(events.itemFor(impression, assignment.variant));
    try {
      if (tooLarge) throw new Error(`impression slate cannot be stored: ${tooLarge}`);
      await events.record(impression, assignment.variant);
      impressionRecorded = true;
    } catch (error) {
      logger.error('Impression could not be recorded', { requestId, error });
      metrics.addMetric('ImpressionWriteFailed', MetricUnit.Count, 1);
    }
  }

  return json(200, {
    user_id: query.user_id,
    experiment_id: experimentId,
    variant: assignment.variant,
    model_version: modelVersion,
    request_id: requestId,
    items: recs.items.map((item) => ({ item_id: item.itemId, score: item.score, rank: item.rank })),
    fallback: recs.fallback ?? null,
    in_experiment: assignment.in_experiment,
    impression_recorded: impressionRecorded,
  });
});
