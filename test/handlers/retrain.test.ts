import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { generateSyntheticMovieLens } from '../../lambdas/domain/recommenders/data/synthetic.ts';
import { formatMovieLensFiles } from '../../lambdas/domain/recommenders/data/writers.ts';
import type { Candidate } from '../../lambdas/services/retraining.ts';
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

const candidate = (ndcg: number): Candidate => ({ model_id: MODEL_ID, model_version: 'abcdef0123456789', algorithm: 'popularity', metrics: { ndcg_at_10: ndcg } });
const input = { model_id: MODEL_ID, algorithm: 'popularity', dataset_prefix: DATASET_PREFIX, run_id: 'run-1' };
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

    it('accepts the candidate when no version is published yet (no latest.json)', async () => {
      // Act
      const result = await evaluate({ ...input, candidate: candidate(0.1) });

      // Assess
      expect(result).toMatchObject({ accepted: true, current_version: null });
      expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Key: `models/${MODEL_ID}/latest.json` });
    });

    it('rejects a candidate whose ndcg falls more than max_regression below the published version', async () => {
      // Prepare
      bucket.putArtifact(published).put(`models/${MODEL_ID}/latest.json`, JSON.stringify({ model_id: MODEL_ID, model_version: published.manifest.version }));

      // Act
      const result = await evaluate({ ...input, max_regression: 0.1, candidate: candidate(0.4) });

      // Assess
      expect(result).toMatchObject({ accepted: false, current_version: published.manifest.version, current_value: 0.5, candidate_value: 0.4 });
    });

    it('accepts a candidate within max_regression of the published version', async () => {
      // Prepare
      bucket.putArtifact(published).put(`models/${MODEL_ID}/latest.json`, JSON.stringify({ model_id: MODEL_ID, model_version: published.manifest.version }));

      // Act
      const result = await evaluate({ ...input, max_regression: 0.1, candidate: candidate(0.46) });

      // Assess
      expect(result).toMatchObject({ accepted: true, current_value: 0.5 });
    });
  });

  describe('publish', () => {
    let publish: typeof import('../../lambdas/retrain-publish.ts').handler;
    beforeAll(async () => {
      ({ handler: publish } = await import('../../lambdas/retrain-publish.ts'));
    });
    beforeEach(() => vi.useFakeTimers({ toFake: ['Date'], now: NOW }));
    afterEach(() => vi.useRealTimers());

    it('points models/<id>/latest.json at the candidate version', async () => {
      // Act
      const pointer = await publish({ ...input, candidate: candidate(0.5) });

      // Assess
      expect(pointer).toEqual({ model_id: MODEL_ID, model_version: 'abcdef0123456789', published_at: NOW.toISOString(), run_id: 'run-1' });
      expect(s3).toHaveReceivedCommandExactlyOnceWith(PutObjectCommand, {
        Bucket: BUCKET,
        Key: `models/${MODEL_ID}/latest.json`,
        Body: JSON.stringify(pointer),
        ContentType: 'application/json',
      });
    });
  });
});
