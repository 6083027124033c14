/** Builders of the API Gateway (REST, proxy) events and the Lambda context the HTTP handlers receive. */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';

export interface ApiEventOptions {
  method?: 'GET' | 'POST' | 'PATCH';
  /** Request path, e.g. `/experiments/exp-1/start`. */
  path: string;
  /** API Gateway resource, e.g. `/experiments/{id}/start`; defaults to the path. */
  resource?: string;
  query?: Record<string, string>;
  pathParameters?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
}

/** An APIGatewayProxyEvent as API Gateway's proxy integration sends it. */
export function apiEvent({ method = 'GET', path, resource = path, query, pathParameters, headers = {}, body }: ApiEventOptions): APIGatewayProxyEvent {
  return {
    httpMethod: method,
    path,
    resource,
    headers,
    multiValueHeaders: {},
    queryStringParameters: query ?? null,
    multiValueQueryStringParameters: null,
    pathParameters: pathParameters ?? null,
    stageVariables: null,
    body: body ?? null,
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'test-api',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: '127.0.0.1',
        user: null,
        userAgent: 'vitest',
        userArn: null,
      },
      path,
      stage: 'test',
      requestId: 'test-request',
      // API Gateway stamps its own clock; the tests' (possibly faked) clock stands in for it.
      requestTimeEpoch: Date.now(),
      resourceId: 'test-resource',
      resourcePath: resource,
    },
  };
}

/** A POST with a JSON body (already serialised when `body` is a string). */
export function jsonPost(path: string, body: unknown, options: Omit<ApiEventOptions, 'path' | 'method' | 'body'> = {}): APIGatewayProxyEvent {
  return apiEvent({
    ...options,
    method: 'POST',
    path,
    headers: { 'Content-Type': 'application/json', ...options.headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A minimal Lambda context. */
export function lambdaContext(functionName = 'test-function'): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: 'test-aws-request-id',
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'test-stream',
    getRemainingTimeInMillis: () => 10_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The error shape every 4xx / 5xx carries. */
export interface ErrorResponseBody {
  error: { code: string; message: string; details?: { field: string; message: string }[] };
}

/** The parsed JSON body of a handler result. */
export function bodyOf<T = Record<string, unknown>>(result: APIGatewayProxyResult): T {
  return JSON.parse(result.body) as T;
}

/** Field names listed in an error response's details. */
export function fieldsOf(result: APIGatewayProxyResult): string[] {
  return (bodyOf<ErrorResponseBody>(result).error.details ?? []).map((d) => d.field);
}
