import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { apiEvent, bodyOf, lambdaContext } from './support/api-gateway.ts';
import { BUCKET, TABLE, stubHandlerEnv } from './support/env.ts';
import './support/matchers.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const s3 = mockClient(S3Client);
let handler: typeof import('../../lambdas/health.ts').handler;

describe('GET /health', () => {
  beforeAll(async () => {
    stubHandlerEnv();
    ({ handler } = await import('../../lambdas/health.ts'));
  });
  afterAll(() => vi.unstubAllEnvs());
  beforeEach(() => {
    ddb.reset();
    s3.reset();
  });

  it('answers 200 ok when the table and the bucket both answer', async () => {
    // Prepare
    ddb.on(GetCommand).resolves({});
    s3.on(HeadBucketCommand).resolves({});

    // Act
    const result = await handler(apiEvent({ path: '/health' }), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toMatchObject({ status: 'ok', checks: { dynamodb: 'ok', s3: 'ok' } });
    expect(ddb).toHaveReceivedCommandWith(GetCommand, { TableName: TABLE.experiments });
    expect(s3).toHaveReceivedCommandWith(HeadBucketCommand, { Bucket: BUCKET });
  });

  it('answers 503 degraded naming DynamoDB when GetItem throws', async () => {
    // Prepare
    ddb.on(GetCommand).rejects(new Error('connect ECONNREFUSED'));
    s3.on(HeadBucketCommand).resolves({});

    // Act
    const result = await handler(apiEvent({ path: '/health' }), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(503);
    expect(bodyOf(result)).toMatchObject({ status: 'degraded', checks: { dynamodb: 'unavailable', s3: 'ok' } });
  });

  it('answers 503 degraded naming S3 when HeadBucket throws', async () => {
    // Prepare
    ddb.on(GetCommand).resolves({});
    s3.on(HeadBucketCommand).rejects(new Error('Access Denied'));

    // Act
    const result = await handler(apiEvent({ path: '/health' }), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(503);
    expect(bodyOf(result)).toMatchObject({ status: 'degraded', checks: { dynamodb: 'ok', s3: 'unavailable' } });
  });

  it('answers 503 timeout (not a generic 500) when the function is about to reach its timeout', async () => {
    // Prepare: 1.2 s left, the table answers after 2 s; the answer is due at 0.2 s (1 s reserve)
    ddb.on(GetCommand).callsFake(() => new Promise((resolve) => setTimeout(() => resolve({}), 2_000)));
    s3.on(HeadBucketCommand).resolves({});
    const context = { ...lambdaContext(), getRemainingTimeInMillis: () => 1_200 };

    // Act
    const result = await handler(apiEvent({ path: '/health' }), context);

    // Assess: answered before the table did (its answer would be a 200)
    expect(result.statusCode).toBe(503);
    expect(bodyOf(result)).toMatchObject({ error: { code: 'timeout' } });
  });
});
