/**
 * In-memory stand-ins behind aws-sdk-client-mock: reads (GetItem, Query, GetObject) answer from
 * seeded items and objects, writes succeed without storing anything. Tests assert on the
 * commands received and override single commands (`.on(PutCommand, {...}).rejects(...)`)
 * to make one dependency fail.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, HeadObjectCommand, NoSuchKey, PutObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { BatchWriteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import { artifactPrefix, type EncodedArtifact } from '../../../lambdas/domain/recommenders/artifact.ts';
import type { Experiment } from '../../../lambdas/domain/experiments/model.ts';
import { TABLE } from './env.ts';

type DocumentMock = AwsClientStub<DynamoDBDocumentClient>;
type S3Mock = AwsClientStub<S3Client>;

/** The error DynamoDB raises when a condition expression is false. */
export function conditionalCheckFailed(): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: { httpStatusCode: 400 } });
}

/** The error S3 raises for a missing key. */
export function noSuchKey(key: string | undefined): NoSuchKey {
  return new NoSuchKey({ message: `The specified key does not exist: ${key}`, $metadata: { httpStatusCode: 404 } });
}

/** A GetObject body: the storage code only calls transformToByteArray / transformToString. */
export function objectBody(bytes: Uint8Array): GetObjectCommandOutput['Body'] {
  const copy = new Uint8Array(bytes);
  return {
    transformToByteArray: async () => new Uint8Array(copy),
    transformToString: async () => new TextDecoder().decode(copy),
    transformToWebStream: () => new Blob([copy]).stream(),
  } as unknown as GetObjectCommandOutput['Body'];
}

type Item = Record<string, unknown>;

/** DynamoDB tables held in memory for reads. */
export class FakeTables {
  private readonly items: { table: string; item: Item }[] = [];

  constructor(ddb: DocumentMock) {
    ddb.on(GetCommand).callsFake((input: { TableName?: string; Key?: Item }) => ({
      Item: this.items.find((e) => e.table === input.TableName && e.item.pk === input.Key?.pk && e.item.sk === input.Key?.sk)?.item,
    }));
    ddb.on(QueryCommand).callsFake((input: { TableName?: string; ExpressionAttributeValues?: Item }) => ({
      Items: this.items.filter((e) => e.table === input.TableName && e.item.pk === input.ExpressionAttributeValues?.[':pk']).map((e) => e.item),
    }));
    ddb.on(PutCommand).resolves({});
    ddb.on(UpdateCommand).resolves({});
    // The interaction log's writes (interaction-log.ts): every item processed.
    ddb.on(BatchWriteCommand).resolves({ UnprocessedItems: {} });
  }

  seed(table: string, item: Item): this {
    this.items.push({ table, item });
    return this;
  }

  /** An experiment as DynamoExperimentRepository stores it. */
  seedExperiment(experiment: Experiment): this {
    return this.seed(TABLE.experiments, { pk: 'EXPERIMENT', sk: experiment.id, revision: experiment.revision, data: experiment });
  }

  /** A user's sticky assignment as DynamoExperimentRepository stores it. */
  seedAssignment(experimentId: string, userId: string, variant: string, propensity = 0.5, extra: Record<string, unknown> = {}): this {
    return this.seed(TABLE.experiments, {
      pk: `ASSIGN#${experimentId}#${userId}`,
      sk: 'A',
      assignment: { experimentId, userId, variant, bucket: 1234, propensity, assignedAt: '2026-01-15T10:00:00.000Z', ...extra },
    });
  }

  /** One day of one variant's counters as DynamoCounterRepository stores them. */
  seedCounter(experimentId: string, variant: string, day: string, metrics: Record<string, number>): this {
    return this.seed(TABLE.counters, { pk: `EXP#${experimentId}#VAR#${variant}`, sk: `DAY#${day}`, ...metrics });
  }
}

/** An S3 bucket held in memory for reads; PutObject succeeds without storing. */
export class FakeBucket {
  private readonly objects = new Map<string, Uint8Array>();

  constructor(s3: S3Mock) {
    s3.on(GetObjectCommand).callsFake((input: { Key?: string }) => {
      const bytes = this.objects.get(input.Key ?? '');
      if (!bytes) throw noSuchKey(input.Key);
      return { Body: objectBody(bytes), ContentLength: bytes.byteLength };
    });
    s3.on(HeadObjectCommand).callsFake((input: { Key?: string }) => {
      const bytes = this.objects.get(input.Key ?? '');
      if (!bytes) throw Object.assign(new Error('NotFound'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } });
      return { ContentLength: bytes.byteLength };
    });
    s3.on(PutObjectCommand).resolves({});
  }

  put(key: string, body: Uint8Array | string): this {
    this.objects.set(key, typeof body === 'string' ? new TextEncoder().encode(body) : body);
    return this;
  }

  /** Every file of an artifact under `models/<id>/<version>/`, as S3ModelArtifactStore writes it. */
  putArtifact({ manifest, files }: EncodedArtifact): this {
    const prefix = artifactPrefix(manifest.model_id, manifest.version);
    for (const [path, bytes] of files) this.put(prefix + path, bytes);
    return this.put(`${prefix}manifest.json`, JSON.stringify(manifest));
  }
}
