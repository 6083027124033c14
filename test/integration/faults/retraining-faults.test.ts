/**
 * Fault: the weekly retraining fails halfway. The state machine synthesized from the stack runs
 * under aws-local-stepfunctions with the real retraining handlers against s3rver (the default
 * model set and pointers provisioned as `abrec retrain` does); faults are injected on the
 * handlers' own S3 client: a binary of the candidate cannot be written (Train), the published
 * version's manifest cannot be read (Evaluate), `latest.json` cannot be written (Publish), and a
 * `latest.json` write that applied but whose answer was lost.
 *
 * Documented behaviour:
 * - every failed step ends the execution FAILED through `StepFailed` (error RetrainingFailed),
 *   visible in its status and path;
 * - every object that existed before the run, every `models/<id>/latest.json` pointer included,
 *   is byte for byte as before: a failed Train leaves at most some binaries of the candidate
 *   without a manifest (not a version: nothing lists, loads or points at it; the rerun completes
 *   it), a failed Evaluate or Publish leaves the candidate complete and unreferenced;
 * - a pointer only ever names a complete artifact: the manifest is written after every binary,
 *   and Publish runs only after Train wrote the manifest. When Publish's write applied but its
 *   answer was lost, the execution fails while `latest.json` already names the candidate, a
 *   complete artifact that loads and verifies (the residual: the next run publishes the same
 *   pointer again, or a newer one);
 * - a rerun without the fault publishes.
 */
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS_BUCKET } from '../../../lib/resources.ts';
import { startLocalRetraining, type LocalRetraining } from '../../../local/retrain.ts';
import { LOCAL_CREDENTIALS } from '../../../local/runtime.ts';
import type { RetrainingRun } from '../../../local/state-machine.ts';
import { S3ModelArtifactStore } from '../../../lambdas/storage/artifact-store.ts';
import { CALL_LEVEL, serviceError, type FaultMiddleware } from './support/faults.ts';

const BUCKET = ARTIFACTS_BUCKET.localName;
/** A candidate other than the published ALS (popularity), accepted by any gate (max_regression 1), so every run reaches Publish. */
const INPUT = { model_id: 'als', algorithm: 'popularity', dataset_prefix: 'datasets/ratings/', max_regression: 1 };

let dataDir: string;
let session: LocalRetraining;
let s3: S3Client;
let store: S3ModelArtifactStore;
/** The fault of the next run, by S3 command and key. */
let fault: ((commandName: string | undefined, key: string) => 'fail' | 'lose-answer' | undefined) | undefined;
/** S3 calls of the handlers still in flight (a failed step may leave parallel writes running). */
let inFlight = 0;

const faultMiddleware: FaultMiddleware = (next, context) => async (args) => {
  const key = String((args as { input: { Key?: string } }).input.Key ?? '');
  const what = fault?.(context.commandName, key);
  if (what === 'fail') throw serviceError('InternalError', `Injected: ${context.commandName} ${key} failed`);
  inFlight++;
  try {
    const result = await next(args);
    if (what === 'lose-answer') throw Object.assign(new Error(`Injected: the answer to ${context.commandName} ${key} was lost`), { name: 'TimeoutError', $metadata: {} });
    return result;
  } finally {
    inFlight--;
  }
};

/**
 * Every object of the bucket, by key: the pointers (`latest.json`) as their bytes, every other
 * object as its size and ETag (the MD5 of its bytes, every object here being a single-part put),
 * so the large binaries need not be read.
 */
async function snapshot(): Promise<Map<string, string>> {
  while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  const objects = new Map<string, string>();
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: token }));
    for (const { Key, Size, ETag } of page.Contents ?? []) {
      const pointer = Key!.endsWith('/latest.json');
      objects.set(Key!, pointer ? await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key }))).Body!.transformToString() : `${Size} ${ETag}`);
    }
    token = page.NextContinuationToken;
  } while (token);
  return objects;
}

/** What a run changed: objects that differ or are gone, and the keys it added. */
function changes(before: Map<string, string>, after: Map<string, string>) {
  return {
    changed: [...before].filter(([key, hash]) => after.get(key) !== hash).map(([key]) => key),
    added: [...after.keys()].filter((key) => !before.has(key)).sort(),
  };
}

async function latestVersion(): Promise<string> {
  const body = await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'models/als/latest.json' }))).Body!.transformToString();
  return (JSON.parse(body) as { model_version: string }).model_version;
}

/** Runs the state machine once with a fault, or none. */
async function run(withFault: typeof fault): Promise<RetrainingRun> {
  fault = withFault;
  try {
    return await session.run(INPUT, () => {});
  } finally {
    fault = undefined;
  }
}

const expectFailedAt = (outcome: RetrainingRun, path: string[]) => {
  expect(outcome.status).toBe('FAILED');
  expect(outcome.path).toEqual([...path, 'StepFailed']);
  // The Fail state's cause, as aws-local-stepfunctions reports a failed execution.
  expect(outcome.output).toEqual({ error: 'ExecutionError', cause: expect.stringContaining('A retraining step failed after retries') });
};

let published: string;
let candidate: string | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'abrec-retrain-faults-'));
  session = await startLocalRetraining({ dataDir });
  s3 = new S3Client({ region: 'us-east-1', endpoint: process.env.AWS_ENDPOINT_URL_S3, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
  store = new S3ModelArtifactStore(s3, BUCKET);
  const { s3Client } = await import('../../../lambdas/common/clients.ts');
  s3Client().middlewareStack.add(faultMiddleware as never, CALL_LEVEL);
  published = await latestVersion();
});

afterAll(async () => {
  s3?.destroy();
  await session?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the weekly retraining when a step fails halfway', () => {
  it('fails visibly at Train when a binary of the candidate cannot be written, leaving every existing object as it was and no version', async () => {
    // Prepare
    const before = await snapshot();
    const versionsBefore = await store.listVersions('als');

    // Act
    const outcome = await run((command, key) => (command === 'PutObjectCommand' && /^models\/als\/[0-9a-f]{16}\/item_factors\.f32$/.test(key) ? 'fail' : undefined));
    const after = await snapshot();

    // Assess
    expectFailedAt(outcome, ['Train']);
    const { changed, added } = changes(before, after);
    expect(changed).toEqual([]);
    // At most some binaries of one candidate, never its manifest: not a version.
    expect(added.every((key) => /^models\/als\/[0-9a-f]{16}\/[a-z_]+\.(f32|i32)$/.test(key))).toBe(true);
    expect(new Set(added.map((key) => key.split('/')[2])).size).toBeLessThanOrEqual(1);
    expect(await store.listVersions('als')).toEqual(versionsBefore);
    expect(await latestVersion()).toBe(published);
    await expect(store.loadModel('als', published)).resolves.toMatchObject({ modelId: 'als' });
  });

  it('fails visibly at Evaluate when the published manifest cannot be read, every pointer as it was and the candidate unreferenced', async () => {
    // Prepare
    const before = await snapshot();

    // Act
    const outcome = await run((command, key) => (command === 'GetObjectCommand' && key === `models/als/${published}/manifest.json` ? 'fail' : undefined));
    const after = await snapshot();

    // Assess
    expectFailedAt(outcome, ['Train', 'Evaluate']);
    const { changed, added } = changes(before, after);
    expect(changed).toEqual([]);
    candidate = (await store.listVersions('als')).find((version) => version !== published);
    expect(candidate).toBeDefined();
    // The candidate is complete (Train wrote its manifest last) and nothing points at it.
    expect(added.every((key) => key.startsWith(`models/als/${candidate}/`))).toBe(true);
    await expect(store.loadModel('als', candidate!)).resolves.toMatchObject({ modelId: 'als', algorithm: 'popularity' });
    expect(await latestVersion()).toBe(published);
  });

  it('fails visibly at Publish when latest.json cannot be written, every object byte for byte as before', async () => {
    // Prepare
    const before = await snapshot();

    // Act
    const outcome = await run((command, key) => (command === 'PutObjectCommand' && key === 'models/als/latest.json' ? 'fail' : undefined));
    const after = await snapshot();

    // Assess
    expectFailedAt(outcome, ['Train', 'Evaluate', 'Gate', 'Publish']);
    expect(changes(before, after)).toEqual({ changed: [], added: [] });
    expect(await latestVersion()).toBe(published);
  });

  it('fails visibly when the answer to the pointer write is lost, the pointer then naming the complete candidate (the residual)', async () => {
    // Prepare
    const before = await snapshot();

    // Act
    const outcome = await run((command, key) => (command === 'PutObjectCommand' && key === 'models/als/latest.json' ? 'lose-answer' : undefined));
    const after = await snapshot();

    // Assess
    expectFailedAt(outcome, ['Train', 'Evaluate', 'Gate', 'Publish']);
    expect(changes(before, after)).toEqual({ changed: ['models/als/latest.json'], added: [] });
    expect(await latestVersion()).toBe(candidate);
    await expect(store.loadModel('als', candidate!)).resolves.toMatchObject({ modelId: 'als', algorithm: 'popularity' });
  });

  it('publishes on a rerun without the fault', async () => {
    // Act
    const outcome = await run(undefined);

    // Assess
    expect(outcome.status).toBe('SUCCEEDED');
    expect(outcome.path).toEqual(['Train', 'Evaluate', 'Gate', 'Publish', 'Published']);
    expect(outcome.output).toMatchObject({ published: { model_id: 'als', model_version: candidate } });
    expect(await latestVersion()).toBe(candidate);
  });
});
