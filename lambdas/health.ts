/** GET /health: the service is up and can reach its table and bucket. */
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { ARTIFACTS_BUCKET, TABLES } from '../lib/resources.ts';
import { dynamoClient, s3Client } from './common/clients.ts';
import { requiredEnv } from './common/env.ts';
import { httpGetHandler, json } from './common/http.ts';
import { logger } from './common/observability.ts';

const experimentsTable = requiredEnv(TABLES.experiments.envVar);
const bucket = requiredEnv(ARTIFACTS_BUCKET.envVar);

type CheckResult = 'ok' | 'unavailable';

async function check(name: string, probe: () => Promise<unknown>): Promise<CheckResult> {
  try {
    await probe();
    return 'ok';
  } catch (error) {
    logger.warn('Health check failed', { dependency: name, error });
    return 'unavailable';
  }
}

export const handler = httpGetHandler(async () => {
  const [dynamodb, s3] = await Promise.all([
    check('dynamodb', () => dynamoClient().send(new GetCommand({ TableName: experimentsTable, Key: { pk: 'HEALTH', sk: 'HEALTH' } }))),
    check('s3', () => s3Client().send(new HeadBucketCommand({ Bucket: bucket }))),
  ]);
  const healthy = dynamodb === 'ok' && s3 === 'ok';
  return json(healthy ? 200 : 503, { status: healthy ? 'ok' : 'degraded', checks: { dynamodb, s3 }, time: new Date().toISOString() });
});
