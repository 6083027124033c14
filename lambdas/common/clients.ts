/**
 * AWS SDK clients, built once per container at module scope. Endpoints come from the SDK's own
 * configuration (AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_S3 on the local runtime), so the
 * handlers run unchanged in Lambda and on a laptop. In Lambda each client is captured by the
 * Powertools tracer, so every AWS call is a subsegment in X-Ray.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ENV } from '../../lib/resources.ts';
import { booleanEnv } from './env.ts';
import { traced } from './observability.ts';

// AWS_MAX_ATTEMPTS is the SDK's own variable; honoured here too (fault tests fail fast with 1).
const maxAttempts = Number(process.env.AWS_MAX_ATTEMPTS) || 3;

let dynamo: DynamoDBDocumentClient | undefined;
let s3: S3Client | undefined;
let sns: SNSClient | undefined;

/** The shared DynamoDB document client (numbers as JS numbers, undefined values dropped). */
export function dynamoClient(): DynamoDBDocumentClient {
  dynamo ??= DynamoDBDocumentClient.from(traced(new DynamoDBClient({ maxAttempts })), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return dynamo;
}

/** The shared S3 client; path-style addressing when S3_FORCE_PATH_STYLE is set (s3rver). */
export function s3Client(): S3Client {
  s3 ??= traced(new S3Client({ forcePathStyle: booleanEnv(ENV.s3ForcePathStyle, false), maxAttempts }));
  return s3;
}

/** The shared SNS client. */
export function snsClient(): SNSClient {
  sns ??= traced(new SNSClient({}));
  return sns;
}
