import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { generateSyntheticMovieLens } from '../../lambdas/domain/recommenders/data/synthetic.ts';
import { formatMovieLensFiles } from '../../lambdas/domain/recommenders/data/writers.ts';
import { encodeArtifact } from '../../lambdas/domain/recommenders/artifact.ts';
import { getModel } from '../../lambdas/domain/recommenders/models/registry.ts';
import type { Candidate, ModelRunResult } from '../../lambdas/services/retraining.ts';
import { FakeBucket } from './support/aws.ts';
import { BUCKET, stubHandlerEnv } from './support/env.ts';
import './support/matchers.ts';
import { NOW, tinyArtifact } from './support/models.ts';

const s3 = mockClient(S3Client);
const MODEL_ID = 'ranker';
const DATASET_PREFIX = 'datasets/ratings/';
let bucket: FakeBucket;

// 40 users x 60 items, 1,000 ratings: enough for a holdout split, trains in milliseconds.
const synthetic = generateSyntheticMovieLens({ users: 40, items: 60, ratings: 1000, seed: 7 });
const files = formatMovieLensFiles(synthetic.dataset, synthetic.items, 'ml-100k');

/** The published version, with the gate metric the candidate is compared against. */
const published = tinyArtifact({ modelId: MODEL_ID, metrics: { ndcg_at_10: 0.5 } });

const candidate = (ndcg: number): Candidate => ({
  model_id: MODEL_ID,
  model_version: 'abcdef0123456789',
  algorithm: 'popularity',
  metrics: { ndcg_at_10: ndcg },
});
const input = { model_id: MODEL_ID, algorithm: 'popularity', dataset_prefix: DATASET_PREFIX, run_id: 'run-1' };
const SPLIT = { ndcg_at_10: 0.5, precision_at_10: 0.1, recall_at_10: 0.1, map_at_10: 0.1, users_evaluated: 40 };
const putKeys = () => s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key);

describe('retraining workflow steps', () => {
  beforeAll(() => stubHandlerEnv());
  afterAll(() => vi.unstubAllEnvs());
  beforeEach(() => {
    s3.reset();
    bucket = new FakeBucket(s3);
  });

  describe('train', () => {
    let train: typeof import('../../lambdas/retrain-train.ts').handler;
    beforeAll(async () => {
      ({ handler: train } = await import('../../lambdas/retrain-train.ts'));
    });

    it('reads u.data under the dataset prefix and writes an artifact, binaries before the manifest', async () => {
      // Prepare
      bucket.put(`${DATASET_PREFIX}${files.ratings.name}`, files.ratings.bytes).put(`${DATASET_PREFIX}${files.items.name}`, files.items.bytes);

      // Act
      const result = await train(input);

      // Assess
      expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Bucket: BUCKET, Key: 'datasets/ratings/u.data' });
      const prefix = `models/${MODEL_ID}/${result.model_version}/`;
      const keys = putKeys();
      expect(keys).toHaveLength(8);
      expect(keys.every((k) => k?.startsWith(prefix))).toBe(true);
      expect(keys.at(-1)).toBe(`${prefix}manifest.json`);
      expect(result).toMatchObject({ model_id: MODEL_ID, algorithm: 'popularity' });
      expect(result.model_version).toMatch(/^[0-9a-f]{16}$/);
      expect(Number.isFinite(result.metrics.ndcg_at_10)).toBe(true);
    });

    it('fails naming the prefix when there is no ratings file, and writes nothing', async () => {
      // Act
      const run = train({ ...input, dataset_prefix: 'datasets/missing/' });

      // Assess
      await expect(run).rejects.toThrow(/datasets\/missing\//);
      expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
    });
  });

  describe('evaluate', () => {
    let evaluate: typeof import('../../lambdas/retrain-evaluate.ts').handler;
    beforeAll(async () => {
      ({ handler: evaluate } = await import('../../lambdas/retrain-evaluate.ts'));
    });
    beforeEach(() => {
      bucket.put(`${DATASET_PREFIX}${files.ratings.name}`, files.ratings.bytes).put(`${DATASET_PREFIX}${files.items.name}`, files.items.bytes);
    });

    it('accepts the candidate when no version is published yet (no latest.json)', async () => {
      // Act
      const result = await evaluate({ ...input, candidate: candidate(0.1) });

      // Assess
      expect(result).toMatchObject({ accepted: true, reason: 'no published version yet', current_version: null, current_metrics: null });
      expect(Number.isFinite(result.candidate_metrics.ndcg_at_10)).toBe(true);
      expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Key: `models/${MODEL_ID}/latest.json` });
    });

    it('measures the published version on the split, not the figure in its manifest: a version that knows none of the users is beaten whatever its manifest says', async () => {
      // Prepare: the published artifact's manifest claims nDCG@10 0.5, but its ids are not the data set's.
      bucket.putArtifact(published).put(`models/${MODEL_ID}/latest.json`, JSON.stringify({ model_id: MODEL_ID, model_version: published.manifest.version }));

      // Act
      const result = await evaluate({ ...input, max_regression: 0, candidate: candidate(0) });

      // Assess
      expect(result.accepted).toBe(true);
      expect(result.current_version).toBe(published.manifest.version);
      expect(result.current_value).toBeLessThan(0.5);
      expect(result.candidate_value).toBeGreaterThanOrEqual(result.current_value!);
      expect(result.reason).toMatch(/^not worse: nDCG@10 /);
    });

    it('rejects a candidate worse than the published version on the same split, with the figures in its reason', async () => {
      // Prepare: the published version is ALS fitted on every rating (the held-out ones too); the candidate is popularity.
      const als = getModel('als').train(synthetic.dataset);
      als.modelId = MODEL_ID;
      const strong = encodeArtifact(als, NOW);
      bucket.putArtifact(strong).put(`models/${MODEL_ID}/latest.json`, JSON.stringify({ model_id: MODEL_ID, model_version: strong.manifest.version }));

      // Act
      const result = await evaluate({ ...input, max_regression: 0, candidate: candidate(0) });

      // Assess
      expect(result.accepted).toBe(false);
      expect(result.candidate_value).toBeLessThan(result.current_value!);
      expect(result.reason).toBe(
        `worse than the published version: nDCG@10 ${result.candidate_value.toFixed(4)} vs current ${result.current_value!.toFixed(4)} on the same per-user 75/25 held-out split (floor ${result.current_value!.toFixed(4)}, max regression 0)`,
      );
    });
  });

  describe('publish', () => {
    let publish: typeof import('../../lambdas/retrain-publish.ts').handler;
    beforeAll(async () => {
      ({ handler: publish } = await import('../../lambdas/retrain-publish.ts'));
    });
    beforeEach(() => vi.useFakeTimers({ toFake: ['Date'], now: NOW }));
    afterEach(() => vi.useRealTimers());

    const result = (version: string, accepted: boolean): ModelRunResult => ({
      ...input,
      candidate: { ...candidate(0.5), model_version: version },
      evaluation: {
        accepted,
        reason: accepted ? 'not worse' : 'worse',
        gate_metric: 'ndcg_at_10',
        candidate_value: 0.5,
        current_version: null,
        current_value: null,
        candidate_metrics: SPLIT,
        current_metrics: null,
        held_out_ratings: 10,
        split: 'per-user-75-25',
      },
    });

    it('points latest.json at each accepted candidate whose artifact is complete, then moves the snapshot marker; a rejected one is reported, not published', async () => {
      // Prepare
      bucket.putArtifact(published);

      // Act
      const out = await publish({
        run_id: 'run-1',
        results: [result(published.manifest.version, true), { ...result('0000000000000000', false), model_id: 'other' }],
        snapshot: { dataset_prefix: 'datasets/snapshots/run-1/', until_ms: NOW.getTime() },
      });

      // Assess
      expect(out.versions).toEqual({ [MODEL_ID]: published.manifest.version });
      expect(out.models.map((m) => [m.model_id, m.decision, m.reason])).toEqual([
        [MODEL_ID, 'published', 'not worse'],
        ['other', 'rejected', 'worse'],
      ]);
      expect(putKeys()).toEqual([`models/${MODEL_ID}/latest.json`, 'datasets/snapshots/latest.json']);
      expect(s3).toHaveReceivedCommandWith(PutObjectCommand, {
        Key: `models/${MODEL_ID}/latest.json`,
        Body: JSON.stringify({ model_id: MODEL_ID, model_version: published.manifest.version, published_at: NOW.toISOString(), run_id: 'run-1' }),
      });
    });

    it('moves no pointer when an accepted candidate has no manifest (an incomplete artifact)', async () => {
      // Act
      const run = publish({
        run_id: 'run-1',
        results: [result('abcdef0123456789', true)],
        snapshot: { dataset_prefix: 'datasets/snapshots/run-1/', until_ms: 0 },
      });

      // Assess
      await expect(run).rejects.toThrow();
      expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
    });
  });

  describe('restore', () => {
    let restore: typeof import('../../lambdas/retrain-restore.ts').handler;
    beforeAll(async () => {
      ({ handler: restore } = await import('../../lambdas/retrain-restore.ts'));
    });

    it('writes back the exact bytes of every pointer that changed, and reports one that did not exist before', async () => {
      // Prepare
      const before = '{"model_id":"ranker","model_version":"1111111111111111","published_at":"2026-01-01T00:00:00.000Z","run_id":null}';
      bucket
        .put(`models/${MODEL_ID}/latest.json`, '{"model_id":"ranker","model_version":"2222222222222222"}')
        .put('models/same/latest.json', 'same')
        .put('datasets/snapshots/latest.json', '{}');

      // Act
      const out = await restore({
        snapshot: {
          pointers_before: { [`models/${MODEL_ID}/latest.json`]: before, 'models/same/latest.json': 'same', 'datasets/snapshots/latest.json': null },
        },
      });

      // Assess
      expect(out).toEqual({ restored: [`models/${MODEL_ID}/latest.json`], left: ['datasets/snapshots/latest.json'] });
      expect(s3).toHaveReceivedCommandExactlyOnceWith(PutObjectCommand, { Key: `models/${MODEL_ID}/latest.json`, Body: before });
    });

    it('writes nothing when the run failed before its snapshot', async () => {
      // Act
      const out = await restore({});

      // Assess
      expect(out).toEqual({ restored: [], left: [] });
      expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
    });
  });
});
