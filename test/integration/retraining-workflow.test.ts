/**
 * The retraining state machine synthesized from the CDK stack, executed by
 * aws-local-stepfunctions against dynalite and s3rver with the real retraining handlers: the
 * gate on the same split, a retried transient error, a failed Train, and the notifications file.
 * (The faults of each step are in faults/retraining-faults.test.ts; a fresh runtime with logged
 * events retrained by `abrec retrain` is in e2e/retraining.test.ts.)
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS_BUCKET, type FunctionName } from '../../lib/resources.ts';
import { readRetrainingNotifications } from '../../local/notifications.ts';
import { startLocalRetraining, type LocalRetraining } from '../../local/retrain.ts';
import { LOCAL_CREDENTIALS } from '../../lambdas/common/client-options.ts';
import { synthesizeRetrainingDefinition } from '../../local/state-machine.ts';

let dataDir: string;
let session: LocalRetraining;
let s3: S3Client;
/** Invocations of each handler, and the throttled invokes still to answer per function. */
const invocations: FunctionName[] = [];
const throttle = new Map<FunctionName, number>();
let runs = 0;

const pointer = async (modelId: string) =>
  (await s3.send(new GetObjectCommand({ Bucket: ARTIFACTS_BUCKET.localName, Key: `models/${modelId}/latest.json` }))).Body!.transformToString();
const input = (models: { model_id: string; algorithm: string }[], maxRegression: number) => ({
  run_id: `workflow-run-${++runs}`,
  dataset_prefix: 'datasets/ratings/',
  models,
  max_regression: maxRegression,
});

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'abrec-retrain-'));
  session = await startLocalRetraining({
    dataDir,
    interceptInvoke: async (name, event, invoke) => {
      invocations.push(name);
      const left = throttle.get(name) ?? 0;
      if (left > 0) {
        throttle.set(name, left - 1);
        // What Lambda answers when the function's reserved concurrency is taken.
        throw Object.assign(new Error('Rate Exceeded.'), { name: 'Lambda.TooManyRequestsException' });
      }
      return invoke(event);
    },
  });
  s3 = new S3Client({ region: 'us-east-1', endpoint: session.servers.s3Endpoint, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
});
afterAll(async () => {
  s3?.destroy();
  await session?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the weekly retraining workflow, run locally', () => {
  it('is the state machine of the stack: Snapshot, a Map of Train, Evaluate and Gate, Publish, SwitchFollowers, Notify', () => {
    // Act
    const definition = synthesizeRetrainingDefinition() as {
      StartAt: string;
      States: Record<string, { Type: string; Next?: string; ItemProcessor?: { StartAt: string; States: Record<string, { Type: string; Next?: string }> } }>;
    };

    // Assess
    expect(definition.StartAt).toBe('Snapshot');
    expect(definition.States.Snapshot.Next).toBe('TrainEach');
    expect(definition.States.TrainEach.Type).toBe('Map');
    expect(definition.States.TrainEach.ItemProcessor?.StartAt).toBe('Train');
    expect(definition.States.TrainEach.ItemProcessor?.States.Evaluate.Next).toBe('Gate');
    expect(definition.States.TrainEach.ItemProcessor?.States.Gate.Type).toBe('Choice');
    expect(definition.States.TrainEach.Next).toBe('Publish');
    expect(definition.States.Publish.Next).toBe('SwitchFollowers');
    expect(definition.States.SwitchFollowers.Next).toBe('Notify');
  });

  it('rejects a worse candidate with its reason, measured against the published version on the same split, and leaves its pointer as it was', async () => {
    // Prepare: popularity is far below the published ALS on any split; no drop is allowed.
    const before = await pointer('als');

    // Act
    const run = await session.run(input([{ model_id: 'als', algorithm: 'popularity' }], 0), () => {}, { retryIntervalMs: 0 });

    // Assess
    expect(run.status).toBe('SUCCEEDED');
    expect(run.path).toEqual([
      'Snapshot',
      'TrainEach',
      'Train(als)',
      'Evaluate(als)',
      'Gate(als)',
      'Reject(als)',
      'Publish',
      'SwitchFollowers',
      'Notify',
      'Done',
    ]);
    expect(await pointer('als')).toBe(before);
    const [notification] = await readRetrainingNotifications(dataDir, 1);
    const [decision] = (
      notification.message as {
        models: { decision: string; reason: string; candidate_metrics: { ndcg_at_10: number }; current_metrics: { ndcg_at_10: number } }[];
      }
    ).models;
    expect(decision.decision).toBe('rejected');
    expect(decision.reason).toMatch(/^worse than the published version: nDCG@10 0\.\d{4} vs current 0\.\d{4} on the same per-user 75\/25 held-out split/);
    expect(decision.candidate_metrics.ndcg_at_10).toBeLessThan(decision.current_metrics.ndcg_at_10);
    expect(notification.message).toMatchObject({ outcome: 'succeeded', published: {} });
  });

  it('retries a step whose invoke was throttled, and publishes', async () => {
    // Prepare
    throttle.set('retrainTrain', 1);
    invocations.length = 0;
    const lines: string[] = [];

    // Act
    const run = await session.run(input([{ model_id: 'popularity', algorithm: 'popularity' }], 0.02), (line) => lines.push(line), { retryIntervalMs: 0 });

    // Assess
    expect(run.status).toBe('SUCCEEDED');
    expect(invocations.filter((name) => name === 'retrainTrain')).toHaveLength(2);
    expect(lines.some((line) => line.includes('StateRetried Train(popularity)'))).toBe(true);
    const version = (run.output as { published: { versions: Record<string, string> } }).published.versions.popularity;
    expect(JSON.parse(await pointer('popularity'))).toMatchObject({ model_version: version, run_id: `workflow-run-${runs}` });
  });

  it('fails a run whose Train fails, every pointer byte for byte as it was, and notifies the failure', async () => {
    // Prepare: the second model's algorithm does not exist, so its Train fails after the first model was trained and accepted.
    const before = { content: await pointer('content'), als: await pointer('als') };

    // Act
    const run = await session.run(
      input(
        [
          { model_id: 'content', algorithm: 'popularity' },
          { model_id: 'als', algorithm: 'no-such-algorithm' },
        ],
        1,
      ),
      () => {},
      { retryIntervalMs: 0 },
    );

    // Assess
    expect(run.status).toBe('FAILED');
    expect(run.path.slice(-4)).toEqual(['Train(als)', 'RestorePointers', 'NotifyFailure', 'Failed']);
    expect({ content: await pointer('content'), als: await pointer('als') }).toEqual(before);
    const [notification] = await readRetrainingNotifications(dataDir, 1);
    expect(notification).toMatchObject({
      state: 'NotifyFailure',
      subject: 'abrec retraining: run FAILED',
      message: { outcome: 'failed', run_id: `workflow-run-${runs}` },
    });
    expect(JSON.stringify(notification.message)).toContain('no-such-algorithm');
  });
});
