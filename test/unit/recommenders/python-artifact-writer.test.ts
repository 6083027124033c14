/**
 * The distributed training jobs (training/spark_als.py, training/sagemaker_als.py) write their
 * artifacts through training/artifact_writer.py. These tests run that writer with python3 and
 * load what it wrote with the TypeScript loader serving uses, so the two sides of the artifact
 * contract cannot drift apart. (pyspark is not installed here: the writer is tested, not Spark.)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeArtifact, parseManifest } from '../../../lambdas/domain/recommenders/artifact.ts';
import { RatingsBuilder } from '../../../lambdas/domain/recommenders/data/dataset.ts';
import { parseRatings } from '../../../lambdas/domain/recommenders/data/formats.ts';
import { fingerprintRatings } from '../../../lambdas/domain/recommenders/models/common.ts';
import { DirectoryModelArtifactStore } from '../../../lambdas/storage/artifact-store.ts';

const TRAINING_DIR = join(import.meta.dirname, '..', '..', '..', 'training');

/** A tiny trained model: 3 users, 4 items, 2 factors, with the awkward values a manifest can hold. */
const spec = {
  model_id: 'als-spark',
  algorithm: 'spark-als',
  user_ids: ['u1', 'ü2', '3'],
  item_ids: ['10', '2', 'film "x"', 'i\t4'],
  user_factors: [
    [0.5, -1.25],
    [1e-7, 3.0000001],
    [0, 2],
  ],
  item_factors: [
    [1, 0],
    [0, 1],
    [0.1, 0.2],
    [-0.3333333, 123456.789],
  ],
  seen_offsets: [0, 2, 3, 3],
  seen_items: [0, 2, 1],
  item_popularity: [1, 1, 1, 0],
  global_bias: 0,
  rating_scale: [1, 5],
  training_data: { fingerprint: 'f'.repeat(64), ratings: 3, users: 2, items: 3, source: 's3://bucket/datasets/ratings/u.data (spark)' },
  hyperparameters: { factors: 2, iterations: 15, regParam: 0.1, alpha: 1.5, implicitPrefs: true, engine: 'emr-serverless', '10': 1, '2': 2 },
  metrics: { training_seconds: 12.5, tiny: 1.5e-9, huge: 1e21 },
  created_at: '2026-12-01T10:00:00.123Z',
};

function runWriter(root: string, input: object): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('python3', [join(TRAINING_DIR, 'artifact_writer.py'), root], { input: JSON.stringify(input), encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'abrec-pywriter-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('training/artifact_writer.py', () => {
  it('writes an artifact the TypeScript loader accepts, with every value as written', async () => {
    const run = runWriter(root, spec);

    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const candidate = JSON.parse(run.stdout) as { model_id: string; model_version: string; algorithm: string; metrics: Record<string, number> };
    const model = await new DirectoryModelArtifactStore(root).loadModel(candidate.model_id, candidate.model_version);
    expect(candidate).toEqual({ model_id: 'als-spark', model_version: expect.stringMatching(/^[0-9a-f]{16}$/), algorithm: 'spark-als', metrics: spec.metrics });
    expect(model.userIds).toEqual(spec.user_ids);
    expect(model.itemIds).toEqual(spec.item_ids);
    expect(model.factors).toBe(2);
    expect([...model.userFactors]).toEqual([...Float32Array.from(spec.user_factors.flat())]);
    expect([...model.itemFactors]).toEqual([...Float32Array.from(spec.item_factors.flat())]);
    expect([...model.seenOffsets]).toEqual(spec.seen_offsets);
    expect([...model.seenItems]).toEqual(spec.seen_items);
    expect([...model.itemPopularity]).toEqual(spec.item_popularity);
    expect([...model.userBias, ...model.itemBias]).toEqual(new Array(7).fill(0));
    expect(model.hyperparameters).toEqual(spec.hyperparameters);
    expect(model.trainingData).toEqual(spec.training_data);
  });

  it('gives the version the TypeScript encoder gives the same model (the same JSON, byte for byte)', async () => {
    const { model_version } = JSON.parse(runWriter(root, spec).stdout) as { model_version: string };
    const model = await new DirectoryModelArtifactStore(root).loadModel('als-spark', model_version);

    const reencoded = encodeArtifact(model, new Date(spec.created_at));

    expect(reencoded.manifest.version).toBe(model_version);
    const written = parseManifest(readFileSync(join(root, 'models', 'als-spark', model_version, 'manifest.json'), 'utf8'));
    expect(written).toEqual(reencoded.manifest);
  });

  it.each([
    [
      'user_factors',
      {
        user_factors: [
          [0.5, Number.NaN],
          [0, 0],
          [0, 0],
        ],
      },
      'user_factors has a value that is not finite',
    ],
    ['item_factors', { item_factors: [[1, 0]] }, 'item_factors has 2 elements, expected 8'],
    ['seen_offsets', { seen_offsets: [0, 2, 1, 3] }, 'seen_offsets must rise from 0 to the number of seen_items'],
    ['seen_items', { seen_items: [0, 9, 1] }, 'seen_items holds an index outside the item ids'],
    ['user_ids', { user_ids: ['u1', 'u1', '3'] }, 'user_ids has duplicates'],
    ['model_id', { model_id: 'Bad Id' }, 'model_id "Bad Id" must match'],
  ])('refuses a bad %s with a message naming it, and writes nothing', (_field, change, message) => {
    // NaN travels as the bare token Python's json accepts.
    const input = JSON.stringify({ ...spec, ...change }).replace(/null/g, 'NaN');
    const result = spawnSync('python3', [join(TRAINING_DIR, 'artifact_writer.py'), root], { input, encoding: 'utf8' });

    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(message);
    expect(spawnSync('find', [root, '-type', 'f'], { encoding: 'utf8' }).stdout).toBe('');
  });

  it("fingerprints ratings as the TypeScript trainers do, whatever the rows' order", () => {
    const rows: [string, string, number, number][] = [
      ['7', '3', 4, 881250949],
      ['10', '3', 2.5, 891717742],
      ['7', '12', 5, 878887116],
      ['1', '3', 1, 1e10],
      ['7', '3', 3, 881250000],
    ];
    const builder = new RatingsBuilder();
    for (const [user, item, rating, timestamp] of rows) builder.add(user, item, rating, timestamp);

    const python = execFileSync(
      'python3',
      ['-c', 'import json,sys; from artifact_writer import ratings_fingerprint; print(ratings_fingerprint(json.load(sys.stdin)))'],
      {
        cwd: TRAINING_DIR,
        input: JSON.stringify([...rows].reverse()),
        encoding: 'utf8',
      },
    ).trim();

    expect(python).toBe(fingerprintRatings(builder.build([0.5, 5])));
  });
});

describe('training/sagemaker_als.py, run locally', () => {
  it('trains on the bundled ratings and writes an artifact the loader accepts, fingerprinted as the TypeScript trainers fingerprint it', async () => {
    const dataDir = join(import.meta.dirname, '..', '..', '..', 'model-artifacts', 'data');
    const out = execFileSync(
      'python3',
      [join(TRAINING_DIR, 'sagemaker_als.py'), '--ratings-dir', dataDir, '--output-dir', root, '--model-id', 'als-sagemaker', '--iterations', '2'],
      { encoding: 'utf8' },
    );
    const candidate = JSON.parse(out.trim().split('\n').pop()!) as { model_id: string; model_version: string };

    const model = await new DirectoryModelArtifactStore(root).loadModel(candidate.model_id, candidate.model_version);
    const bundled = parseRatings(readFileSync(join(dataDir, 'u.data')), { fileName: 'u.data' });

    expect(model.userIds.length).toBe(bundled.userIds.length);
    expect(model.itemIds.length).toBe(bundled.itemIds.length);
    expect(model.seenItems.length).toBe(bundled.rating.length);
    expect(model.trainingData.fingerprint).toBe(fingerprintRatings(bundled));
    expect(JSON.parse(readFileSync(join(root, 'candidate.json'), 'utf8'))).toEqual(candidate);
  });
});
