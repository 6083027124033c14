/**
 * Real dynalite and s3rver for integration tests, on free loopback ports in a temporary
 * directory, with the project's tables and bucket created from lib/resources.ts.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBucket, ensureTables } from '../../local/provision.ts';
import { LOCAL_CREDENTIALS } from '../../lambdas/common/client-options.ts';
import { startLocalServers, type LocalServers } from '../../local/servers.ts';

export interface LocalAws {
  dataDir: string;
  servers: LocalServers;
  dynamo: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  s3: S3Client;
  stop: () => Promise<void>;
}

export async function startLocalAws(): Promise<LocalAws> {
  const dataDir = await mkdtemp(join(tmpdir(), 'abrec-it-'));
  const servers = await startLocalServers({ dataDir });
  const config = { region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 };
  const dynamo = new DynamoDBClient({ ...config, endpoint: servers.dynamoEndpoint });
  const s3 = new S3Client({ ...config, endpoint: servers.s3Endpoint, forcePathStyle: true });
  await ensureTables(dynamo);
  await ensureBucket(s3);
  return {
    dataDir,
    servers,
    dynamo,
    doc: DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } }),
    s3,
    stop: async () => {
      dynamo.destroy();
      s3.destroy();
      await servers.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
