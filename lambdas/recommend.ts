/**
 * GET /recommend?user_id=U&top_n=N[&experiment_id=E][&segment=S]
 * Assigns the user's variant (sticky once exposed), scores the variant's pinned model and
 * records the impression slate. Unknown users get the popularity list, flagged; an artifact
 * that cannot be loaded falls back to the control's model, flagged and counted.
 *
 * Interleaving experiments answer one team-draft mix of both variants' lists: `variant` is
 * "interleaved", `model_version` null, `interleaving` names both teams, and every item carries
 * the `team` and `variant` that placed it; the impression slate keeps them, so clicks can be
 * credited. If either team's artifact cannot be loaded, the user gets the control's popularity
 * list (flagged artifact-unavailable) outside the test: no slate is recorded.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ARTIFACTS_BUCKET, ENV } from '../lib/resources.ts';
import { s3Client } from './common/clients.ts';
import { booleanEnv, optionalEnv, requiredEnv } from './common/env.ts';
import { telemetry } from './common/observability.ts';
import { httpGetHandler, json, requestTime } from './common/http.ts';
import { counterRepositoryFromEnv, eventRepositoryFromEnv, experimentRepositoryFromEnv, shownItemRepositoryFromEnv } from './common/stores.ts';
import { idSchema, MAX_COUNTED_POSITION } from './domain/events/event.ts';
import { parseOrThrow } from './domain/errors.ts';
import { createRecommendationService, type Recommendation } from './services/serving.ts';
import { S3ModelArtifactStore } from './storage/artifact-store.ts';
import { ModelCache } from './storage/model-cache.ts';

const counters = counterRepositoryFromEnv();
const service = createRecommendationService({
  experiments: experimentRepositoryFromEnv(),
  counters,
  events: eventRepositoryFromEnv(counters),
  models: new ModelCache(new S3ModelArtifactStore(s3Client(), requiredEnv(ARTIFACTS_BUCKET.envVar))),
  recordImpressions: booleanEnv(ENV.recordImpressions, true),
  shownItems: shownItemRepositoryFromEnv(),
  telemetry,
});
const defaultExperimentId = optionalEnv(ENV.defaultExperimentId, 'default');

// The counters keep clicks and slates per position up to here: a longer list would leave them.
export const MAX_TOP_N = MAX_COUNTED_POSITION;
const DEFAULT_TOP_N = 10;

const querySchema = z.strictObject({
  user_id: idSchema,
  // Plain decimal digits only: Number() would also read '0x10', '1e1', '+5' and ' 5 '.
  top_n: z
    .string()
    .regex(/^[0-9]+$/, 'must be a decimal integer')
    .transform(Number)
    .pipe(z.number().min(1, 'must be >= 1').max(MAX_TOP_N, `must be <= ${MAX_TOP_N}`))
    .default(DEFAULT_TOP_N),
  experiment_id: idSchema.optional(),
  /** The client's segment of this user (user-segments.ts), checked against the experiment's declared list by the service. */
  segment: z
    .string()
    .regex(/^[a-z0-9_-]{1,32}$/, 'must be 1 to 32 characters of a-z, 0-9, - and _')
    .optional(),
});

export const handler = httpGetHandler(async (event: APIGatewayProxyEvent) => {
  const query = parseOrThrow(querySchema, event.queryStringParameters ?? {});
  const served = await service.recommend({
    experimentId: query.experiment_id ?? defaultExperimentId,
    userId: query.user_id,
    topN: query.top_n,
    now: requestTime(event),
    requestId: randomUUID(),
    ...(query.segment === undefined ? {} : { segment: query.segment }),
  });
  return json(200, responseBody(served));
});

/** The API's answer for what the service served. */
function responseBody(served: Recommendation) {
  return {
    user_id: served.userId,
    experiment_id: served.experimentId,
    variant: served.variant,
    model_version: served.modelVersion,
    request_id: served.requestId,
    items: served.items.map((item) => ({
      item_id: item.itemId,
      score: item.score,
      rank: item.rank,
      ...(item.team === undefined ? {} : { team: item.team, variant: item.variant }),
    })),
    fallback: served.fallback,
    ...(served.interleaving ? { interleaving: served.interleaving } : {}),
    in_experiment: served.inExperiment,
    impression_recorded: served.impressionRecorded,
  };
}
