/**
 * Fault: the weekly retraining fails halfway. The state machine synthesized from the stack runs
 * under aws-local-stepfunctions with the real retraining handlers against dynalite and s3rver
 * (provisioned as `abrec retrain` does); faults are injected on the handlers' own S3 client: a
 * binary of the candidate cannot be written (Train), the published version's manifest cannot be
 * read (Evaluate), `latest.json` cannot be written (Publish), and a `latest.json` write that
 * applied but whose answer was lost.
 *
 * Documented behaviour:
 * - every failed step is caught: RestorePointers, NotifyFailure (a line in the notifications
 *   file naming the error), then the execution ends FAILED through `Failed` (error
 *   RetrainingFailed), visible in its status and path;
 * - every object that existed before the run, every `models/<id>/latest.json` pointer and the
 *   snapshot marker included, is byte for byte as before: a failed Train leaves at most some
 *   binaries of the candidate without a manifest (not a version: nothing lists, loads or points
 *   at it; the rerun completes it), a failed Evaluate or Publish leaves the candidate complete
 *   and unreferenced; the run's own snapshot (`datasets/snapshots/<run>/`) stays, unreferenced;
 * - a pointer only ever names a complete artifact: the manifest is written after every binary,
 *   and Publish checks it before moving the pointer. When Publish's write applied but its answer
 *   was lost, RestorePointers puts the copy taken by Snapshot back (the residual is a restore
 *   that fails too: then the pointer names the complete candidate, and the notification says
 *   the restore failed);
 * - a rerun without the fault publishes.
 */
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS_BUCKET } from '../../../lib/resources.ts';
import { readRetrainingNotifications } from '../../../local/notifications.ts';
import { startLocalRetraining, type LocalRetraining } from '../../../local/retrain.ts';
import { LOCAL_CREDENTIALS } from '../../../lambdas/common/client-options.ts';
import type { RetrainingRun } from '../../../local/state-machine.ts';
import { S3ModelArtifactStore } from '../../../lambdas/storage/artifact-store.ts';
import { CALL_LEVEL, serviceError, type FaultMiddleware } from './support/faults.ts';

const BUCKET = ARTIFACTS_BUCKET.localName;
/** A candidate other than the published ALS (popularity), accepted by any gate (max_regression 1), so every run reaches Publish. */
const INPUT = { dataset_prefix: 'datasets/ratings/', models: [{ model_id: 'als', algorithm: 'popularity' }], max_regression: 1 };
let runs = 0;

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
    if (what === 'lose-answer')
      throw Object.assign(new Error(`Injected: the answer to ${context.commandName} ${key} was lost`), { name: 'TimeoutError', $metadata: {} });
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
    return await session.run({ ...INPUT, run_id: `fault-run-${++runs}` }, () => {}, { retryIntervalMs: 0 });
  } finally {
    fault = undefined;
  }
}

const expectFailedAt = async (outcome: RetrainingRun, path: string[]) => {
  expect(outcome.status).toBe('FAILED');
  expect(outcome.path).toEqual(['Snapshot', 'TrainEach', ...path, 'RestorePointers', 'NotifyFailure', 'Failed']);
  // The Fail state's cause, as aws-local-stepfunctions reports a failed execution.
  expect(outcome.output).toEqual({ error: 'ExecutionError', cause: expect.stringContaining('A retraining step failed after retries') });
  const [latest] = await readRetrainingNotifications(dataDir, 1);
  expect(latest).toMatchObject({ state: 'NotifyFailure', message: { outcome: 'failed', run_id: `fault-run-${runs}`, error: { Error: expect.any(String) } } });
};

/** The keys of the run's own snapshot, which a failed run leaves (unreferenced). */
const snapshotKeys = () => [`datasets/snapshots/fault-run-${runs}/u.data`, `datasets/snapshots/fault-run-${runs}/u.item`];

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
    const outcome = await run((command, key) =>
      command === 'PutObjectCommand' && /^models\/als\/[0-9a-f]{16}\/item_factors\.f32$/.test(key) ? 'fail' : undefined,
    );
    const after = await snapshot();

    // Assess
    await expectFailedAt(outcome, ['Train(als)']);
    const { changed, added: all } = changes(before, after);
    expect(changed).toEqual([]);
    expect(all.filter((key) => key.startsWith('datasets/'))).toEqual(snapshotKeys());
    const added = all.filter((key) => !key.startsWith('datasets/'));
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
    await expectFailedAt(outcome, ['Train(als)', 'Evaluate(als)']);
    const { changed, added: all } = changes(before, after);
    expect(changed).toEqual([]);
    expect(all.filter((key) => key.startsWith('datasets/'))).toEqual(snapshotKeys());
    const added = all.filter((key) => !key.startsWith('datasets/'));
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
    await expectFailedAt(outcome, ['Train(als)', 'Evaluate(als)', 'Gate(als)', 'Accept(als)', 'Publish']);
    const { changed, added } = changes(before, after);
    expect(changed).toEqual([]);
    // The candidate of this run (the same content as the last one's, so the same version: already there) and the snapshot.
    expect(added).toEqual(snapshotKeys());
    expect(await latestVersion()).toBe(published);
  });

  it('fails visibly when the answer to the pointer write is lost, and the pointer is put back byte for byte', async () => {
    // Prepare
    const before = await snapshot();

    // Act
    let pointerWrites = 0;
    // Publish's write loses its answer; the restore's write (the second) goes through.
    const outcome = await run((command, key) =>
      command === 'PutObjectCommand' && key === 'models/als/latest.json' && ++pointerWrites === 1 ? 'lose-answer' : undefined,
    );
    const after = await snapshot();

    // Assess
    await expectFailedAt(outcome, ['Train(als)', 'Evaluate(als)', 'Gate(als)', 'Accept(als)', 'Publish']);
    expect(pointerWrites).toBe(2);
    expect(changes(before, after)).toEqual({ changed: [], added: snapshotKeys() });
    expect(await latestVersion()).toBe(published);
    const [notification] = await readRetrainingNotifications(dataDir, 1);
    expect(notification.message).toMatchObject({ restored: { restored: ['models/als/latest.json'], left: [] } });
  });

  it('publishes on a rerun without the fault', async () => {
    // Act
    const outcome = await run(undefined);

    // Assess
    expect(outcome.status).toBe('SUCCEEDED');
    expect(outcome.path).toEqual([
      'Snapshot',
      'TrainEach',
      'Train(als)',
      'Evaluate(als)',
      'Gate(als)',
      'Accept(als)',
      'Publish',
      'SwitchFollowers',
      'Notify',
      'Done',
    ]);
    expect(outcome.output).toMatchObject({ published: { versions: { als: candidate } } });
    expect(await latestVersion()).toBe(candidate);
  });
});
