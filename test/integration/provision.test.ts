import { DescribeTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS_BUCKET, TABLES } from '../../lib/resources.ts';
import { DEFAULT_EXPERIMENT_ID } from '../../lambdas/domain/experiments/defaults.ts';
import { DynamoExperimentRepository } from '../../lambdas/storage/experiment-repository.ts';
import { S3ModelArtifactStore } from '../../lambdas/storage/artifact-store.ts';
import { ensureTables, provision, readDefaultModelSet } from '../../local/provision.ts';
import { DEFAULT_ARTIFACTS_DIR } from '../../local/runtime.ts';
import { startLocalAws, type LocalAws } from '../helpers/local-aws.ts';

let aws: LocalAws;

beforeAll(async () => {
  aws = await startLocalAws();
  await provision({ dynamo: aws.dynamo, s3: aws.s3, artifactsDir: DEFAULT_ARTIFACTS_DIR });
});
afterAll(async () => aws.stop());

describe('local provisioning', () => {
  it('creates every table of resources.ts with its key schema', async () => {
    const names = (await aws.dynamo.send(new ListTablesCommand({}))).TableNames;
    for (const table of Object.values(TABLES)) {
      expect(names).toContain(table.localName);
      const { Table } = await aws.dynamo.send(new DescribeTableCommand({ TableName: table.localName }));
      expect(Table?.KeySchema).toEqual([
        { AttributeName: table.partitionKey.name, KeyType: 'HASH' },
        { AttributeName: table.sortKey.name, KeyType: 'RANGE' },
      ]);
    }
  });

  it('changes nothing when run again', async () => {
    expect(await ensureTables(aws.dynamo)).toEqual([]);
    await provision({ dynamo: aws.dynamo, s3: aws.s3, artifactsDir: DEFAULT_ARTIFACTS_DIR });
    const repo = new DynamoExperimentRepository(aws.doc, TABLES.experiments.localName);
    expect((await repo.list()).filter((e) => e.id === DEFAULT_EXPERIMENT_ID)).toHaveLength(1);
  });

  it('uploads the default models so every pinned version loads and verifies', async () => {
    const set = await readDefaultModelSet(DEFAULT_ARTIFACTS_DIR);
    const store = new S3ModelArtifactStore(aws.s3, ARTIFACTS_BUCKET.localName);

    for (const ref of [set.control, set.treatment]) {
      const model = await store.loadModel(ref.model_id, ref.model_version);
      expect(model.itemIds.length).toBeGreaterThan(100);
    }
  });

  it('creates the default experiment running, pinned to the default set', async () => {
    const set = await readDefaultModelSet(DEFAULT_ARTIFACTS_DIR);
    const experiment = await new DynamoExperimentRepository(aws.doc, TABLES.experiments.localName).get(DEFAULT_EXPERIMENT_ID);

    expect(experiment?.status).toBe('running');
    expect(experiment?.variants.map((v) => v.model_version)).toEqual([set.control.model_version, set.treatment.model_version]);
  });

  it('uploads the bundled ratings as the retraining input', async () => {
    const object = await aws.s3.send(new GetObjectCommand({ Bucket: ARTIFACTS_BUCKET.localName, Key: 'datasets/ratings/u.data' }));
    const text = await object.Body!.transformToString();

    expect(text.split('\n').filter(Boolean).length).toBe(40_000);
  });
});
