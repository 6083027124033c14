/**
 * A retraining switch as GET /recommend sees it, on dynalite and s3rver: after
 * switchFollowingExperiments, an experiment that follows latest serves the new versions on every
 * arm (its users keep their variants), while a pinned experiment of the same models keeps its
 * versions. The serving cache holds an experiment for at most EXPERIMENT_TTL_MS (1 s), so the
 * requests after the switch are stamped past it.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS_BUCKET, TABLES } from '../../lib/resources.ts';
import { localEnvironment } from '../../local/runtime.ts';
import { createExperiment } from '../../lambdas/domain/experiments/lifecycle.ts';
import type { Experiment } from '../../lambdas/domain/experiments/model.ts';
import { switchFollowingExperiments } from '../../lambdas/services/model-following.ts';
import { S3ModelArtifactStore } from '../../lambdas/storage/artifact-store.ts';
import { DynamoExperimentRepository } from '../../lambdas/storage/experiment-repository.ts';
import { apiEvent, lambdaContext } from '../handlers/support/api-gateway.ts';
import { tinyArtifact } from '../handlers/support/models.ts';
import { startLocalAws, type LocalAws } from '../helpers/local-aws.ts';

type Handler = (event: never, context: never) => Promise<APIGatewayProxyResult>;
interface RecommendBody {
  variant: string;
  model_version: string | null;
}

const USERS = ['u1', 'u2', 'u3', 'new-1', 'new-2', 'new-3', 'new-4', 'new-5'];
const v1 = { control: tinyArtifact({ modelId: 'popularity-test' }), treatment: tinyArtifact({ modelId: 'factors-test', shift: 3 }) };
const v2 = { control: tinyArtifact({ modelId: 'popularity-test', shift: 1 }), treatment: tinyArtifact({ modelId: 'factors-test', shift: 5 }) };

let aws: LocalAws;
let recommendHandler: Handler;
let repository: DynamoExperimentRepository;
const started = Date.now();

function experiment(id: string, follow: boolean): Experiment {
  return createExperiment({
    now: new Date(started),
    request: {
      id,
      name: id,
      status: 'running',
      follow_latest: follow,
      variants: [
        { name: 'control', model_id: 'popularity-test', model_version: v1.control.manifest.version, weight: 0.5, is_control: true },
        { name: 'treatment', model_id: 'factors-test', model_version: v1.treatment.manifest.version, weight: 0.5 },
      ],
      target_metric: { kind: 'click_through' },
    },
  });
}

async function recommend(experimentId: string, userId: string, at: number): Promise<RecommendBody> {
  const event = apiEvent({ path: '/recommend', query: { user_id: userId, top_n: '3', experiment_id: experimentId } });
  event.requestContext.requestTimeEpoch = at;
  const result = await recommendHandler(event as never, lambdaContext('recommend') as never);
  expect(result.statusCode, result.body).toBe(200);
  return JSON.parse(result.body) as RecommendBody;
}

/** What every user is served: variant → the versions seen. */
async function servedVersions(experimentId: string, at: number): Promise<{ byUser: Record<string, string>; versions: Record<string, string[]> }> {
  const byUser: Record<string, string> = {};
  const versions: Record<string, Set<string>> = {};
  for (const user of USERS) {
    const body = await recommend(experimentId, user, at);
    byUser[user] = body.variant;
    (versions[body.variant] ??= new Set()).add(String(body.model_version));
  }
  return { byUser, versions: Object.fromEntries(Object.entries(versions).map(([variant, set]) => [variant, [...set].sort()])) };
}

beforeAll(async () => {
  aws = await startLocalAws();
  Object.assign(process.env, localEnvironment(aws.servers), { POWERTOOLS_LOG_LEVEL: 'SILENT' });
  const store = new S3ModelArtifactStore(aws.s3, ARTIFACTS_BUCKET.localName);
  for (const artifact of [...Object.values(v1), ...Object.values(v2)]) await store.putArtifact(artifact);
  repository = new DynamoExperimentRepository(aws.doc, TABLES.experiments.localName);
  await repository.create(experiment('follows', true));
  await repository.create(experiment('pinned', false));
  ({ handler: recommendHandler } = (await import('../../lambdas/recommend.ts')) as unknown as { handler: Handler });
});

afterAll(async () => aws?.stop());

describe('GET /recommend after a retraining switch', () => {
  it('serves the new versions on every arm of the following experiment, and the pinned one keeps its versions', async () => {
    // Prepare: both experiments served once before the switch
    const before = { follows: await servedVersions('follows', started + 1_000), pinned: await servedVersions('pinned', started + 1_000) };
    const pinnedV1 = { control: [v1.control.manifest.version], treatment: [v1.treatment.manifest.version] };
    expect(before.follows.versions).toEqual(pinnedV1);
    expect(before.pinned.versions).toEqual(pinnedV1);
    expect([v2.control.manifest.version, v2.treatment.manifest.version]).not.toContain(v1.control.manifest.version);
    expect(v2.treatment.manifest.version).not.toBe(v1.treatment.manifest.version);

    // Act: the run published both models; requests come after the serving cache's bound
    const outcomes = await switchFollowingExperiments(
      { experiments: repository },
      {
        published: { 'popularity-test': v2.control.manifest.version, 'factors-test': v2.treatment.manifest.version },
        runId: 'run-1',
        now: new Date(started + 2_000),
      },
    );
    const after = { follows: await servedVersions('follows', started + 3_100), pinned: await servedVersions('pinned', started + 3_100) };

    // Assess
    expect(outcomes).toEqual([
      { experiment_id: 'follows', switched: true, versions: { control: v2.control.manifest.version, treatment: v2.treatment.manifest.version } },
    ]);
    expect(after.follows.versions).toEqual({ control: [v2.control.manifest.version], treatment: [v2.treatment.manifest.version] });
    expect(after.follows.byUser).toEqual(before.follows.byUser);
    expect(after.pinned.versions).toEqual(pinnedV1);
    const stored = await repository.get('follows');
    expect(stored?.model_history?.map((entry) => entry.run_id)).toEqual([undefined, 'run-1']);
  });
});
