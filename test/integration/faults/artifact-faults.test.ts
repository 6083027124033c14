/**
 * Fault: a pinned model artifact in s3rver is missing, truncated, corrupt (wrong checksum) or
 * inconsistent with its dimensions, under GET /recommend (the recommend handler in process,
 * assignments and counters in dynalite).
 *
 * Documented behaviour:
 * - a user whose variant's artifact cannot be loaded and verified gets the control model's
 *   popularity list, `fallback: "artifact-unavailable"`, `model_version` of the control, under
 *   their own variant; ArtifactFallback is raised once per such request; the impression is
 *   recorded as served (the control's version, the fallback named) and counted in the variant's
 *   `impressions` and `fallback_impressions`;
 * - when the control's artifact cannot be loaded either, the answer is 503 `service_unavailable`
 *   and no impression is recorded or counted;
 * - an interleaving experiment with either team's artifact unavailable serves the control's
 *   popularity list outside the test (`in_experiment: false`) and records nothing;
 * - nothing that fails verification is cached: the container caches a version only once it
 *   loaded and verified every file, and a failed load is forgotten at once, so the first request
 *   after the objects are repaired serves the model (no restart, no waiting: every request retries
 *   the load, which is the cache's retry policy). A version verified once stays served from the
 *   container's copy even if its objects are damaged later (versions are immutable);
 * - a version whose manifest is consistent but whose dimensions do not match its binaries cannot
 *   be repaired (its name is its content hash): it falls back on every request.
 *
 * Reconciliation after each case: per variant, `impressions` equals the 200 answers (every one is
 * recorded here, the store being up), `fallback_impressions` those that fell back, each stored
 * slate names the version that was actually served, and 503 answers left nothing behind.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { createHash } from 'node:crypto';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { ARTIFACTS_BUCKET, FUNCTIONS, TABLES } from '../../../lib/resources.ts';
import { localEnvironment } from '../../../local/runtime.ts';
import { artifactPrefix, encodeArtifact, type EncodedArtifact } from '../../../lambdas/domain/recommenders/artifact.ts';
import { popularItems, prepareForServing, recommendTopN } from '../../../lambdas/domain/recommenders/top-n.ts';
import type { FactorModel } from '../../../lambdas/domain/recommenders/types.ts';
import { twoArmExperiment } from '../../../lambdas/services/synthetic-counters.ts';
import { S3ModelArtifactStore } from '../../../lambdas/storage/artifact-store.ts';
import { DynamoCounterRepository } from '../../../lambdas/storage/counter-store.ts';
import { DynamoExperimentRepository } from '../../../lambdas/storage/experiment-repository.ts';
import { startLocalAws, type LocalAws } from '../../helpers/local-aws.ts';
import { apiEvent, bodyOf, lambdaContext } from '../../handlers/support/api-gateway.ts';
import { factorModel, sumDays } from './support/faults.ts';

const BUCKET = ARTIFACTS_BUCKET.localName;
const USERS = Array.from({ length: 8 }, (_, i) => `artifact-user-${i}`);
const variantOf = (userId: string) => (Number(userId.split('-').pop()) % 2 === 0 ? 'control' : 'treatment');
const TOP_N = 5;

type Handler = (event: never, context: never) => Promise<APIGatewayProxyResult>;
interface RecommendBody {
  user_id: string;
  variant: string;
  model_version: string | null;
  request_id: string;
  items: { item_id: string }[];
  fallback: string | null;
  in_experiment: boolean;
  impression_recorded: boolean;
}

let aws: LocalAws;
let handler: Handler;
let store: S3ModelArtifactStore;
let experiments: DynamoExperimentRepository;
let counters: DynamoCounterRepository;
let addMetric: MockInstance;

/** One experiment of the test: its models, their artifacts, and every answer it got. */
interface Scenario {
  experimentId: string;
  models: Record<'control' | 'treatment', FactorModel>;
  artifacts: Record<'control' | 'treatment', EncodedArtifact>;
  answers: APIGatewayProxyResult[];
}

let scenarios = 0;

/** A running 50/50 experiment over two fresh artifacts (never loaded by this container), its users assigned by parity. */
async function scenario({
  mode = 'ab',
  treatment,
}: {
  mode?: 'ab' | 'interleaving';
  treatment?: (model: FactorModel) => EncodedArtifact;
} = {}): Promise<Scenario> {
  const n = ++scenarios;
  const experimentId = `exp-artifact-${n}`;
  const models = {
    control: factorModel(`af-${n}-control`, { users: USERS, items: 30, tilt: 0.5 }),
    treatment: factorModel(`af-${n}-treatment`, { users: USERS, items: 30, tilt: 2.1 }),
  };
  const artifacts = { control: encodeArtifact(models.control), treatment: (treatment ?? encodeArtifact)(models.treatment) };
  await store.putArtifact(artifacts.control);
  await store.putArtifact(artifacts.treatment);
  const variants = (['control', 'treatment'] as const).map((name) => ({
    name,
    model_id: artifacts[name].manifest.model_id,
    model_version: artifacts[name].manifest.version,
    weight: 0.5,
    ...(name === 'control' ? { is_control: true } : {}),
  }));
  await experiments.create(twoArmExperiment(experimentId, { now: new Date(), mode, variants }));
  if (mode === 'ab') {
    for (const [i, userId] of USERS.entries()) {
      await experiments.putAssignmentIfAbsent({
        experimentId,
        userId,
        variant: variantOf(userId),
        bucket: i,
        propensity: 0.5,
        assignedAt: new Date().toISOString(),
      });
    }
  }
  return { experimentId, models, artifacts, answers: [] };
}

/** GET /recommend for each user, one after the other (answers kept on the scenario). */
async function ask(s: Scenario, users: string[] = USERS): Promise<APIGatewayProxyResult[]> {
  const answers: APIGatewayProxyResult[] = [];
  for (const userId of users) {
    const event = apiEvent({ path: '/recommend', query: { user_id: userId, top_n: String(TOP_N), experiment_id: s.experimentId } });
    answers.push(
      await handler(event as never, { ...lambdaContext('recommend'), getRemainingTimeInMillis: () => FUNCTIONS.recommend.timeoutSeconds * 1000 } as never),
    );
  }
  s.answers.push(...answers);
  return answers;
}

const keyOf = (artifact: EncodedArtifact, file: string) => `${artifactPrefix(artifact.manifest.model_id, artifact.manifest.version)}${file}`;
const putObject = (key: string, body: Uint8Array | string) => aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
const manifestText = (artifact: EncodedArtifact) => JSON.stringify(artifact.manifest);

/** Puts every object of an artifact back as published. */
async function repair(artifact: EncodedArtifact): Promise<void> {
  for (const [path, bytes] of artifact.files) await putObject(keyOf(artifact, path), bytes);
  await putObject(keyOf(artifact, 'manifest.json'), manifestText(artifact));
}

/** The ways an artifact's objects can be damaged in the bucket. */
const DAMAGES: { name: string; damage: (artifact: EncodedArtifact) => Promise<unknown> }[] = [
  { name: 'its manifest is missing', damage: (a) => aws.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: keyOf(a, 'manifest.json') })) },
  { name: 'a binary is missing', damage: (a) => aws.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: keyOf(a, 'item_factors.f32') })) },
  { name: 'a binary is truncated', damage: (a) => putObject(keyOf(a, 'item_factors.f32'), a.files.get('item_factors.f32')!.slice(0, -4)) },
  { name: 'its manifest is truncated', damage: (a) => putObject(keyOf(a, 'manifest.json'), manifestText(a).slice(0, 200)) },
  {
    name: 'a binary has a wrong checksum',
    damage: (a) => {
      const bytes = new Uint8Array(a.files.get('user_factors.f32')!);
      bytes[3] ^= 0x40;
      return putObject(keyOf(a, 'user_factors.f32'), bytes);
    },
  },
  {
    name: 'its manifest was edited to other dimensions',
    damage: (a) => putObject(keyOf(a, 'manifest.json'), JSON.stringify({ ...a.manifest, dimensions: { ...a.manifest.dimensions, factors: 3 } })),
  },
];

/** The ids of the control's popularity list: what a fallback serves. */
const fallbackIds = (s: Scenario) => popularItems(prepareForServing(s.models.control), TOP_N).map((item) => item.itemId);
/** The ids of a variant's own recommendations for a user. */
const ownIds = (s: Scenario, variant: 'control' | 'treatment', userId: string) =>
  recommendTopN(prepareForServing(s.models[variant]), userId, TOP_N).items.map((item) => item.itemId);
const fallbacksRaised = () => addMetric.mock.calls.filter(([name]) => name === 'ArtifactFallback').length;

/**
 * Impressions against the answers: per variant, `impressions` counts the 200 answers recorded,
 * `fallback_impressions` those that fell back; each stored slate names the version it served.
 */
async function expectImpressionsReconciled(s: Scenario): Promise<void> {
  const served = s.answers.filter((a) => a.statusCode === 200).map((a) => bodyOf<RecommendBody>(a));
  for (const body of served) {
    const { Item } = await aws.doc.send(
      new GetCommand({ TableName: TABLES.events.localName, Key: { pk: `EVENT#imp-${body.request_id}`, sk: 'E' }, ConsistentRead: true }),
    );
    expect({ request: body.request_id, counted: Item?.counted === true, model_version: Item?.model_version ?? null, fallback: Item?.fallback ?? null }).toEqual(
      body.impression_recorded
        ? { request: body.request_id, counted: true, model_version: body.model_version, fallback: body.fallback }
        : { request: body.request_id, counted: false, model_version: null, fallback: null },
    );
  }
  for (const variant of ['control', 'treatment']) {
    const recorded = served.filter((body) => body.impression_recorded && body.variant === variant);
    const stored = sumDays(await counters.dailyCounters(s.experimentId, variant));
    expect({ variant, impressions: stored.impressions ?? 0, fallback_impressions: stored.fallback_impressions ?? 0 }).toEqual({
      variant,
      impressions: recorded.length,
      fallback_impressions: recorded.filter((body) => body.fallback !== null).length,
    });
  }
}

beforeAll(async () => {
  aws = await startLocalAws();
  Object.assign(process.env, localEnvironment(aws.servers), { AWS_MAX_ATTEMPTS: '1', POWERTOOLS_LOG_LEVEL: 'SILENT' });
  store = new S3ModelArtifactStore(aws.s3, BUCKET);
  experiments = new DynamoExperimentRepository(aws.doc, TABLES.experiments.localName);
  counters = new DynamoCounterRepository(aws.doc, TABLES.counters.localName);
  ({ handler } = (await import('../../../lambdas/recommend.ts')) as unknown as { handler: Handler });
  const { metrics } = await import('../../../lambdas/common/observability.ts');
  addMetric = vi.spyOn(metrics, 'addMetric');
});
beforeEach(() => {
  addMetric.mockClear();
});
afterAll(async () => {
  vi.restoreAllMocks();
  await aws?.stop();
});

describe('GET /recommend when the treatment artifact is damaged in S3', () => {
  it.each(DAMAGES)('falls back to the control popularity list when $name, caches nothing, and serves the model once it is repaired', async ({ damage }) => {
    // Prepare
    const s = await scenario();
    await damage(s.artifacts.treatment);
    const treatmentUsers = USERS.filter((u) => variantOf(u) === 'treatment');
    const controlUsers = USERS.filter((u) => variantOf(u) === 'control');

    // Act
    const during = await ask(s);
    const raisedDuring = fallbacksRaised();
    await repair(s.artifacts.treatment);
    const after = await ask(s, treatmentUsers);

    // Assess
    const bodies = during.map((a) => ({ status: a.statusCode, body: bodyOf<RecommendBody>(a) }));
    for (const { status, body } of bodies) {
      expect(status).toBe(200);
      if (variantOf(body.user_id) === 'treatment') {
        expect(body).toMatchObject({
          variant: 'treatment',
          fallback: 'artifact-unavailable',
          model_version: s.artifacts.control.manifest.version,
          impression_recorded: true,
        });
        expect(body.items.map((item) => item.item_id)).toEqual(fallbackIds(s));
      } else {
        expect(body).toMatchObject({ variant: 'control', fallback: null, model_version: s.artifacts.control.manifest.version });
        expect(body.items.map((item) => item.item_id)).toEqual(ownIds(s, 'control', body.user_id));
      }
    }
    expect(raisedDuring).toBe(treatmentUsers.length);
    // The first request after the repair is served by the treatment's own model, from the repaired objects.
    for (const [i, answer] of after.entries()) {
      const body = bodyOf<RecommendBody>(answer);
      expect(body).toMatchObject({ variant: 'treatment', fallback: null, model_version: s.artifacts.treatment.manifest.version });
      expect(body.items.map((item) => item.item_id)).toEqual(ownIds(s, 'treatment', treatmentUsers[i]));
    }
    expect(fallbacksRaised()).toBe(raisedDuring);
    expect(controlUsers.length).toBeGreaterThan(0);
    await expectImpressionsReconciled(s);
  });

  it('falls back on every request for a version whose consistent manifest does not match its binaries (it cannot be repaired)', async () => {
    // Prepare: a trainer bug published 4 factors in the manifest over 2-factor binaries; the
    // version is the hash of that manifest, so the artifact is self-consistent but unusable.
    const s = await scenario({
      treatment: (model) => {
        const { manifest, files } = encodeArtifact(model);
        const { version: _version, created_at, ...body } = manifest;
        const wrong = { ...body, dimensions: { ...body.dimensions, factors: 4 } };
        const version = createHash('sha256').update(JSON.stringify(wrong)).digest('hex').slice(0, 16);
        return { manifest: { ...wrong, version, created_at }, files };
      },
    });
    const treatmentUsers = USERS.filter((u) => variantOf(u) === 'treatment');

    // Act
    const first = await ask(s, treatmentUsers);
    const again = await ask(s, treatmentUsers);

    // Assess
    for (const answer of [...first, ...again]) {
      expect(answer.statusCode).toBe(200);
      expect(bodyOf<RecommendBody>(answer)).toMatchObject({
        variant: 'treatment',
        fallback: 'artifact-unavailable',
        model_version: s.artifacts.control.manifest.version,
      });
    }
    expect(fallbacksRaised()).toBe(2 * treatmentUsers.length);
    await expectImpressionsReconciled(s);
  });

  it('answers 503 and records nothing when the control artifact is damaged as well, and serves both once they are repaired', async () => {
    // Prepare
    const s = await scenario();
    await DAMAGES[4].damage(s.artifacts.treatment);
    await DAMAGES[2].damage(s.artifacts.control);

    // Act
    const during = await ask(s);
    await repair(s.artifacts.control);
    await repair(s.artifacts.treatment);
    const after = await ask(s);

    // Assess
    for (const answer of during) {
      expect(answer.statusCode).toBe(503);
      expect(bodyOf<{ error: { code: string } }>(answer).error.code).toBe('service_unavailable');
    }
    for (const answer of after) {
      const body = bodyOf<RecommendBody>(answer);
      expect(body).toMatchObject({ fallback: null, model_version: s.artifacts[variantOf(body.user_id) as 'control' | 'treatment'].manifest.version });
    }
    await expectImpressionsReconciled(s);
    expect(sumDays(await counters.dailyCounters(s.experimentId, 'treatment')).impressions).toBe(USERS.length / 2);
  });

  it('keeps serving a version it has verified when its objects are damaged afterwards (versions are immutable)', async () => {
    // Prepare
    const s = await scenario();
    const treatmentUsers = USERS.filter((u) => variantOf(u) === 'treatment');
    await ask(s, treatmentUsers);
    await DAMAGES[4].damage(s.artifacts.treatment);

    // Act
    const after = await ask(s, treatmentUsers);

    // Assess
    for (const answer of after) expect(bodyOf<RecommendBody>(answer)).toMatchObject({ fallback: null, model_version: s.artifacts.treatment.manifest.version });
    expect(fallbacksRaised()).toBe(0);
    await expectImpressionsReconciled(s);
  });

  it('serves an interleaving experiment with a damaged team outside the test, recording nothing, and interleaves again once repaired', async () => {
    // Prepare
    const s = await scenario({ mode: 'interleaving' });
    await DAMAGES[2].damage(s.artifacts.treatment);

    // Act
    const during = await ask(s);
    await repair(s.artifacts.treatment);
    const after = await ask(s);

    // Assess
    for (const answer of during) {
      expect(bodyOf<RecommendBody>(answer)).toMatchObject({
        variant: 'control',
        fallback: 'artifact-unavailable',
        in_experiment: false,
        impression_recorded: false,
      });
    }
    expect(fallbacksRaised()).toBe(USERS.length);
    for (const answer of after) expect(bodyOf<RecommendBody>(answer)).toMatchObject({ variant: 'interleaved', in_experiment: true, impression_recorded: true });
    const interleaving = sumDays(await counters.dailyCounters(s.experimentId, '~interleaving'));
    expect(interleaving.interleaved_impressions).toBe(USERS.length);
    expect(sumDays(await counters.dailyCounters(s.experimentId, 'control'))).toEqual({});
  });
});
