/**
 * AWS SDK clients, built once per container at module scope. Endpoints come from the SDK's own
 * variables (AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_S3 on the local runtime, read by
 * client-options.ts), so the handlers run unchanged in Lambda and on a laptop. In Lambda each client is captured by the
 * Powertools tracer, so every AWS call is a subsegment in X-Ray.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DOCUMENT_CLIENT_OPTIONS, environmentClientOptions } from './client-options.ts';
import { traced } from './observability.ts';

let dynamo: DynamoDBDocumentClient | undefined;
let s3: S3Client | undefined;
let sns: SNSClient | undefined;

/** The shared DynamoDB document client (numbers as JS numbers, undefined values dropped). */
export function dynamoClient(): DynamoDBDocumentClient {
  dynamo ??= DynamoDBDocumentClient.from(traced(new DynamoDBClient(environmentClientOptions('dynamodb'))), DOCUMENT_CLIENT_OPTIONS);
  return dynamo;
}

/** The shared S3 client; path-style addressing when S3_FORCE_PATH_STYLE is set (s3rver). */
export function s3Client(): S3Client {
  s3 ??= traced(new S3Client(environmentClientOptions('s3')));
  return s3;
}

/** The shared SNS client. */
export function snsClient(): SNSClient {
  sns ??= traced(new SNSClient(environmentClientOptions('sns')));
  return sns;
}
