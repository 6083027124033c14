/**
 * Creates on the local servers exactly what the stack defines (tables and bucket from
 * lib/resources.ts), uploads the default model artifacts and creates the default experiment
 * at first start. Idempotent: a restart finds everything in place and changes nothing.
 */
import { CreateTableCommand, type DynamoDBClient, ListTablesCommand, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadBucketCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { readFile, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { ARTIFACTS_BUCKET, TABLES } from '../lib/resources.ts';
import { DOCUMENT_CLIENT_OPTIONS } from '../lambdas/common/client-options.ts';
import { DEFAULT_EXPERIMENT_ID, defaultExperiment, type ModelRef } from '../lambdas/domain/experiments/defaults.ts';
import { DynamoExperimentRepository } from '../lambdas/storage/experiment-repository.ts';

export interface ProvisionOptions {
  dynamo: DynamoDBClient;
  s3: S3Client;
  /** Directory holding `models/<id>/<version>/...` and `default-set.json`. */
  artifactsDir: string;
  /** The clock's now, the default experiment's start (default: real time). */
  now?: Date;
  log?: (line: string) => void;
}

/** The default model set shipped in model-artifacts/. */
export interface DefaultModelSet {
  control: ModelRef;
  treatment: ModelRef;
  models: (ModelRef & { algorithm: string })[];
}

export async function readDefaultModelSet(artifactsDir: string): Promise<DefaultModelSet> {
  return JSON.parse(await readFile(join(artifactsDir, 'default-set.json'), 'utf8')) as DefaultModelSet;
}

export async function ensureTables(dynamo: DynamoDBClient): Promise<string[]> {
  const existing = new Set((await dynamo.send(new ListTablesCommand({}))).TableNames ?? []);
  const created: string[] = [];
  for (const table of Object.values(TABLES)) {
    if (existing.has(table.localName)) continue;
    await dynamo.send(
      new CreateTableCommand({
        TableName: table.localName,
        AttributeDefinitions: [
          { AttributeName: table.partitionKey.name, AttributeType: table.partitionKey.type },
          { AttributeName: table.sortKey.name, AttributeType: table.sortKey.type },
        ],
        KeySchema: [
          { AttributeName: table.partitionKey.name, KeyType: 'HASH' },
          { AttributeName: table.sortKey.name, KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    if ('timeToLiveAttribute' in table) {
      // dynalite does not implement TTL; the attribute is still written so AWS can expire items.
      await dynamo
        .send(new UpdateTimeToLiveCommand({ TableName: table.localName, TimeToLiveSpecification: { AttributeName: table.timeToLiveAttribute, Enabled: true } }))
        .catch(() => undefined);
    }
    created.push(table.localName);
  }
  return created;
}

export async function ensureBucket(s3: S3Client): Promise<boolean> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: ARTIFACTS_BUCKET.localName }));
    return false;
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: ARTIFACTS_BUCKET.localName }));
    return true;
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** Writes an object unless the key exists (artifacts and pointers are never overwritten); reads the body only when needed. */
async function putIfAbsent(s3: S3Client, key: string, body: () => Promise<Uint8Array | string> | Uint8Array | string, contentType: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: ARTIFACTS_BUCKET.localName, Key: key }));
    return false;
  } catch {
    await s3.send(new PutObjectCommand({ Bucket: ARTIFACTS_BUCKET.localName, Key: key, Body: await body(), ContentType: contentType }));
    return true;
  }
}

/** Uploads artifact files that are not in the bucket yet (artifacts are immutable). */
export async function uploadDefaultArtifacts(s3: S3Client, artifactsDir: string): Promise<number> {
  const modelsDir = join(artifactsDir, 'models');
  let uploaded = 0;
  // Manifests last, so a reader never finds a manifest whose binaries are missing.
  const files = (await listFiles(modelsDir)).sort((a, b) => Number(a.endsWith('manifest.json')) - Number(b.endsWith('manifest.json')));
  for (const file of files) {
    const key = `models/${relative(modelsDir, file).split(sep).join('/')}`;
    const type = file.endsWith('.json') ? 'application/json' : 'application/octet-stream';
    if (await putIfAbsent(s3, key, () => readFile(file), type)) uploaded++;
  }
  return uploaded;
}

/**
 * Uploads the bundled ratings to `datasets/ratings/` (the weekly retraining's input) and marks
 * the default versions as the published ones (`models/<id>/latest.json`), unless present.
 */
export async function ensureDatasetAndPointers(s3: S3Client, artifactsDir: string): Promise<number> {
  let written = 0;
  const dataDir = join(artifactsDir, 'data');
  for (const file of await listFiles(dataDir)) {
    if (await putIfAbsent(s3, `datasets/ratings/${relative(dataDir, file).split(sep).join('/')}`, () => readFile(file), 'application/octet-stream')) written++;
  }
  const set = await readDefaultModelSet(artifactsDir);
  for (const model of set.models) {
    const pointer = { model_id: model.model_id, model_version: model.model_version, published_at: '2026-01-01T00:00:00.000Z', run_id: null };
    if (await putIfAbsent(s3, `models/${model.model_id}/latest.json`, () => JSON.stringify(pointer), 'application/json')) written++;
  }
  return written;
}

/** Creates the running default experiment unless it exists. */
export async function ensureDefaultExperiment(dynamo: DynamoDBClient, artifactsDir: string, now: Date = new Date()): Promise<boolean> {
  const repository = new DynamoExperimentRepository(DynamoDBDocumentClient.from(dynamo, DOCUMENT_CLIENT_OPTIONS), TABLES.experiments.localName);
  if (await repository.get(DEFAULT_EXPERIMENT_ID)) return false;
  const set = await readDefaultModelSet(artifactsDir);
  await repository.create(defaultExperiment({ controlModel: set.control, treatmentModel: set.treatment, now }));
  return true;
}

export async function provision({ dynamo, s3, artifactsDir, now, log = () => {} }: ProvisionOptions): Promise<void> {
  const tables = await ensureTables(dynamo);
  if (tables.length > 0) log(`created tables ${tables.join(', ')}`);
  if (await ensureBucket(s3)) log(`created bucket ${ARTIFACTS_BUCKET.localName}`);
  const uploaded = await uploadDefaultArtifacts(s3, artifactsDir);
  if (uploaded > 0) log(`uploaded ${uploaded} default model artifact files`);
  const extras = await ensureDatasetAndPointers(s3, artifactsDir);
  if (extras > 0) log(`uploaded the bundled ratings and ${extras} dataset/pointer objects`);
  if (await ensureDefaultExperiment(dynamo, artifactsDir, now)) log(`created running experiment "${DEFAULT_EXPERIMENT_ID}"`);
}
