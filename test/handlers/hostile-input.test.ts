/**
 * The hostile-input table: one concrete hostile request per row (method, path, query, headers,
 * body) with the exact status it must get and the field its error must name. Rows about the
 * request line, percent-escapes, keys and raw bytes go over HTTP through the local gateway
 * (local/gateway.ts), which does that work in front of the functions; the others go straight
 * into the handler entry points as API Gateway events. Every route runs over the same mocked
 * DynamoDB and S3 (aws-sdk-client-mock), so each refusal is also checked to have written
 * nothing.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { HeadBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { BatchGetCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ROUTES, type FunctionName } from '../../lib/resources.ts';
import { startGateway, type RunningGateway } from '../../local/gateway.ts';
import { acceptEvent, contentFingerprint, deriveEventId, eventSchema } from '../../lambdas/domain/events/event.ts';
import { createExperiment } from '../../lambdas/domain/experiments/lifecycle.ts';
import type { Experiment } from '../../lambdas/domain/experiments/model.ts';
import { apiEvent, lambdaContext } from './support/api-gateway.ts';
import { FakeBucket, FakeTables, conditionalCheckFailed } from './support/aws.ts';
import { TABLE, stubHandlerEnv } from './support/env.ts';
import { errorOf, refuseUnstorable, writesSent } from './support/hostile.ts';
import './support/matchers.ts';
import { NOW, experimentPinning, tinyArtifact } from './support/models.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const s3 = mockClient(S3Client);
const control = tinyArtifact({ modelId: 'popularity-test' });
const treatment = tinyArtifact({ modelId: 'factors-test', shift: 3 });
const pin = (artifact: typeof control) => ({ model_id: artifact.manifest.model_id, model_version: artifact.manifest.version });
/** `default`: running, 50/50. */
const running = experimentPinning(control, treatment);
/** `draft-exp`: a draft over the same artifacts. */
const draft: Experiment = createExperiment({
  request: {
    id: 'draft-exp',
    name: 'Draft',
    variants: [
      { name: 'control', ...pin(control), weight: 0.5, is_control: true },
      { name: 'treatment', ...pin(treatment), weight: 0.5 },
    ],
    target_metric: { kind: 'click_through' },
  },
  now: NOW,
});
/** `ctor-exp`: running, its control named like an Object.prototype key. */
const ctorNamed: Experiment = createExperiment({
  request: {
    id: 'ctor-exp',
    name: 'Ctor',
    status: 'running',
    variants: [
      { name: 'constructor', ...pin(control), weight: 0.5, is_control: true },
      { name: 'treatment', ...pin(treatment), weight: 0.5 },
    ],
    target_metric: { kind: 'click_through' },
  },
  now: NOW,
});

const KEYS = { apiKey: 'pk_hostile_test', adminKey: 'ak_hostile_test' };
const JSON_CT = { 'content-type': 'application/json' };

/** One hostile request and what it must get. */
interface HostileRow {
  /** What is hostile about it. */
  name: string;
  /** `handler`: the API Gateway event straight into the function; `gateway`: raw HTTP through the local gateway. */
  via: 'handler' | 'gateway';
  method: string;
  /** The path; through the gateway, the request target exactly as sent (query included). */
  path: string;
  /** Handler rows: the query string parameters. */
  query?: Record<string, string>;
  /** Handler rows: path parameters no URL can carry (default: the path's segments, decoded). */
  pathParameters?: Record<string, string>;
  /** A header given as a list is sent once per value (gateway rows). */
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  /** Gateway rows: send the key the route needs (default true). */
  auth?: boolean;
  status: number;
  /** The field(s) the error names (all of them); null for a 2xx. */
  field: string | string[] | null;
  /** The error code, where the row is about it. */
  code?: string;
  /** What the 2xx body must hold. */
  answer?: Record<string, unknown>;
  /** Stubs a store answer before the request. */
  prepare?: () => void;
  /** Checks what was written, after the request. */
  written?: () => void;
}

const json = (value: unknown) => JSON.stringify(value);
const click = (overrides: Record<string, unknown> = {}) => ({ event_type: 'click', user_id: 'u1', experiment_id: 'default', item_id: 'i1', ...overrides });
const postEvent = (body: string | Buffer, extra: Partial<HostileRow> = {}) => ({
  via: 'handler' as const,
  method: 'POST',
  path: '/events',
  headers: JSON_CT,
  body,
  ...extra,
});
const postBatch = (body: string, extra: Partial<HostileRow> = {}) => ({
  via: 'handler' as const,
  method: 'POST',
  path: '/events/batch',
  headers: JSON_CT,
  body,
  ...extra,
});
const recommend = (query: Record<string, string>) => ({ via: 'handler' as const, method: 'GET', path: '/recommend', query });
const createBody = (overrides: Record<string, unknown> = {}) => ({
  id: 'new-exp',
  name: 'New',
  variants: [
    { name: 'control', ...pin(control), weight: 0.5, is_control: true },
    { name: 'treatment', ...pin(treatment), weight: 0.5 },
  ],
  target_metric: { kind: 'click_through' },
  ...overrides,
});
const create = (body: string, extra: Partial<HostileRow> = {}) => ({
  via: 'handler' as const,
  method: 'POST',
  path: '/experiments',
  headers: JSON_CT,
  body,
  ...extra,
});
const action = (id: string, name: string, body: string, extra: Partial<HostileRow> = {}) => ({
  via: 'handler' as const,
  method: 'POST',
  path: `/experiments/${id}/${name}`,
  headers: JSON_CT,
  body,
  ...extra,
});
const patch = (id: string, body: string) => ({ via: 'handler' as const, method: 'PATCH', path: `/experiments/${id}`, headers: JSON_CT, body });
const adminGet = (path: string, extra: Partial<HostileRow> = {}) => ({ via: 'handler' as const, method: 'GET', path, ...extra });
const viaGateway = (method: string, path: string, extra: Partial<HostileRow> = {}) => ({ via: 'gateway' as const, method, path, ...extra });

/** The stored item of an event id, reported by DynamoDB with the failed conditional put. */
const storedWith = (fingerprint: string) => () =>
  void ddb.on(PutCommand, { TableName: TABLE.events }).rejects(
    new ConditionalCheckFailedException({
      message: 'The conditional request failed',
      $metadata: { httpStatusCode: 400 },
      Item: { counted: { BOOL: true }, content_sha256: { S: fingerprint } },
    }),
  );
/** `userId` holds a stored assignment to the treatment of `default` (so a request_id must name a slate of theirs). */
const assigned = (userId: string) => () =>
  void ddb.on(BatchGetCommand).callsFake((input: { RequestItems: Record<string, unknown> }) => ({
    Responses: Object.fromEntries(
      Object.keys(input.RequestItems).map((table) => [
        table,
        table === TABLE.experiments
          ? [{ assignment: { experimentId: 'default', userId, variant: 'treatment', bucket: 1, propensity: 0.5, assignedAt: NOW.toISOString() } }]
          : [],
      ]),
    ),
    UnprocessedKeys: {},
  }));
const fingerprintOf = (event: Record<string, unknown>) => contentFingerprint(acceptEvent(eventSchema.parse(event), NOW.getTime()));
/** The id the server derives for an event sent without one. */
const derivedId = (event: Record<string, unknown>) => deriveEventId(eventSchema.parse(event));
const putItems = () => ddb.commandCalls(PutCommand).map((c) => c.args[0].input.Item as Record<string, unknown>);

const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const over2048 = 'k'.repeat(2049);

const ROWS: HostileRow[] = [
  // GET /recommend: ids, bytes, control characters, normalisation
  { name: 'no user_id', ...recommend({}), status: 400, field: 'user_id' },
  { name: 'empty user_id', ...recommend({ user_id: '' }), status: 400, field: 'user_id' },
  { name: 'blank user_id', ...recommend({ user_id: '   ' }), status: 400, field: 'user_id' },
  { name: 'user_id of one ideographic space (blank)', ...recommend({ user_id: '\u3000' }), status: 400, field: 'user_id' },
  { name: 'user_id of 257 bytes', ...recommend({ user_id: 'x'.repeat(257) }), status: 400, field: 'user_id' },
  { name: 'user_id over the 2,048-byte key limit', ...recommend({ user_id: over2048 }), status: 400, field: 'user_id' },
  { name: 'user_id of 86 characters but 258 bytes', ...recommend({ user_id: '€'.repeat(86) }), status: 400, field: 'user_id' },
  { name: 'user_id of exactly 256 bytes', ...recommend({ user_id: 'x'.repeat(256) }), status: 200, field: null, answer: { user_id: 'x'.repeat(256) } },
  { name: 'user_id a lone high surrogate', ...recommend({ user_id: '\ud800' }), status: 400, field: 'user_id' },
  { name: 'user_id with a lone low surrogate inside', ...recommend({ user_id: 'a\udc00b' }), status: 400, field: 'user_id' },
  { name: 'user_id with the C1 control NEL', ...recommend({ user_id: 'u\u0085' }), status: 400, field: 'user_id' },
  { name: 'user_id with the C1 control APC', ...recommend({ user_id: '\u009f' }), status: 400, field: 'user_id' },
  { name: 'user_id with NUL', ...recommend({ user_id: 'a\u0000b' }), status: 400, field: 'user_id' },
  { name: 'user_id with DEL', ...recommend({ user_id: '\u007f' }), status: 400, field: 'user_id' },
  { name: 'user_id in NFD is served as its NFC form', ...recommend({ user_id: 'e\u0301' }), status: 200, field: null, answer: { user_id: '\u00e9' } },
  {
    name: 'user_id of 384 bytes in NFD but 256 in NFC (limit after NFC)',
    ...recommend({ user_id: 'e\u0301'.repeat(128) }),
    status: 200,
    field: null,
    answer: { user_id: '\u00e9'.repeat(128) },
  },
  { name: 'user_id of 258 bytes in NFC', ...recommend({ user_id: 'A\u030a'.repeat(129) }), status: 400, field: 'user_id' },
  // GET /recommend: top_n
  { name: 'top_n hexadecimal 0x10', ...recommend({ user_id: 'u1', top_n: '0x10' }), status: 400, field: 'top_n' },
  { name: 'top_n exponent 1e1', ...recommend({ user_id: 'u1', top_n: '1e1' }), status: 400, field: 'top_n' },
  { name: 'top_n -1', ...recommend({ user_id: 'u1', top_n: '-1' }), status: 400, field: 'top_n' },
  { name: 'top_n 0', ...recommend({ user_id: 'u1', top_n: '0' }), status: 400, field: 'top_n' },
  { name: 'top_n 10000', ...recommend({ user_id: 'u1', top_n: '10000' }), status: 400, field: 'top_n' },
  { name: 'top_n 101 (one over)', ...recommend({ user_id: 'u1', top_n: '101' }), status: 400, field: 'top_n' },
  { name: 'top_n 100 (the bound)', ...recommend({ user_id: 'u1', top_n: '100' }), status: 200, field: null },
  { name: 'top_n with a leading space', ...recommend({ user_id: 'u1', top_n: ' 5' }), status: 400, field: 'top_n' },
  { name: 'top_n +5', ...recommend({ user_id: 'u1', top_n: '+5' }), status: 400, field: 'top_n' },
  { name: 'top_n 5.0', ...recommend({ user_id: 'u1', top_n: '5.0' }), status: 400, field: 'top_n' },
  { name: 'top_n NaN', ...recommend({ user_id: 'u1', top_n: 'NaN' }), status: 400, field: 'top_n' },
  { name: 'top_n Infinity', ...recommend({ user_id: 'u1', top_n: 'Infinity' }), status: 400, field: 'top_n' },
  { name: 'top_n of 400 nines (Infinity as a number)', ...recommend({ user_id: 'u1', top_n: '9'.repeat(400) }), status: 400, field: 'top_n' },
  { name: 'top_n empty', ...recommend({ user_id: 'u1', top_n: '' }), status: 400, field: 'top_n' },
  { name: 'top_n an Arabic-Indic digit', ...recommend({ user_id: 'u1', top_n: '\u0665' }), status: 400, field: 'top_n' },
  { name: 'top_n a fullwidth digit', ...recommend({ user_id: 'u1', top_n: '\uff15' }), status: 400, field: 'top_n' },
  { name: 'top_n 005 (decimal digits with leading zeros)', ...recommend({ user_id: 'u1', top_n: '005' }), status: 200, field: null },
  // GET /recommend: experiment_id and unknown parameters
  { name: 'unknown experiment_id', ...recommend({ user_id: 'u1', experiment_id: 'nope' }), status: 404, field: 'experiment_id', code: 'not_found' },
  { name: 'experiment_id in another case', ...recommend({ user_id: 'u1', experiment_id: 'DEFAULT' }), status: 404, field: 'experiment_id' },
  { name: 'experiment_id of 300 bytes', ...recommend({ user_id: 'u1', experiment_id: 'x'.repeat(300) }), status: 400, field: 'experiment_id' },
  { name: 'experiment_id a lone surrogate', ...recommend({ user_id: 'u1', experiment_id: '\ud83d' }), status: 400, field: 'experiment_id' },
  { name: 'an unknown parameter', ...recommend({ user_id: 'u1', debug: '1' }), status: 400, field: 'debug' },
  { name: 'a constructor parameter', ...recommend({ user_id: 'u1', constructor: 'x' }), status: 400, field: 'constructor' },
  { name: 'a toString parameter', ...recommend({ user_id: 'u1', toString: 'x' }), status: 400, field: 'toString' },
  { name: 'two bad parameters at once', ...recommend({ user_id: '\ud800', top_n: '0x10' }), status: 400, field: ['user_id', 'top_n'] },

  // GET /recommend over HTTP: percent-escapes, keys, the request line
  { name: 'user_id %FF (not UTF-8)', ...viaGateway('GET', '/recommend?user_id=%FF'), status: 400, field: 'user_id' },
  { name: 'user_id with a truncated escape', ...viaGateway('GET', '/recommend?user_id=%E0%A4%A'), status: 400, field: 'user_id' },
  { name: 'user_id an escaped UTF-8 surrogate', ...viaGateway('GET', '/recommend?user_id=%ED%A0%80'), status: 400, field: 'user_id' },
  { name: 'user_id an overlong UTF-8 slash', ...viaGateway('GET', '/recommend?user_id=%C0%AF'), status: 400, field: 'user_id' },
  { name: 'user_id a lone % sign', ...viaGateway('GET', '/recommend?user_id=50%'), status: 400, field: 'user_id' },
  { name: 'user_id an escaped C1 control', ...viaGateway('GET', '/recommend?user_id=%C2%85'), status: 400, field: 'user_id' },
  { name: 'user_id an escaped NUL', ...viaGateway('GET', '/recommend?user_id=%00'), status: 400, field: 'user_id' },
  { name: 'top_n an escaped +5', ...viaGateway('GET', '/recommend?user_id=u1&top_n=%2B5'), status: 400, field: 'top_n' },
  { name: 'a malformed escape in a parameter name', ...viaGateway('GET', '/recommend?%ZZ=1&user_id=u1'), status: 400, field: 'query' },
  { name: 'user_id escaped in NFD', ...viaGateway('GET', '/recommend?user_id=e%CC%81'), status: 200, field: null, answer: { user_id: '\u00e9' } },
  { name: 'user_id sent twice, the second not UTF-8', ...viaGateway('GET', '/recommend?user_id=u1&user_id=%FF'), status: 400, field: 'user_id' },
  { name: 'no API key', ...viaGateway('GET', '/recommend?user_id=u1', { auth: false }), status: 401, field: 'x-api-key', code: 'unauthorized' },
  {
    name: 'a wrong API key',
    ...viaGateway('GET', '/recommend?user_id=u1', { auth: false, headers: { 'x-api-key': 'pk_wrong' } }),
    status: 403,
    field: 'x-api-key',
    code: 'forbidden',
  },
  {
    name: 'the admin key instead of the API key',
    ...viaGateway('GET', '/recommend?user_id=u1', { auth: false, headers: { 'x-admin-key': KEYS.adminKey } }),
    status: 401,
    field: 'x-api-key',
  },
  {
    name: 'the API key sent twice (joined)',
    ...viaGateway('GET', '/recommend?user_id=u1', { headers: { 'x-api-key': [KEYS.apiKey, KEYS.apiKey] } }),
    status: 403,
    field: 'x-api-key',
  },
  { name: 'a method the route does not have', ...viaGateway('DELETE', '/recommend?user_id=u1'), status: 405, field: 'method', code: 'method_not_allowed' },
  { name: 'an escaped dot-dot segment climbing to the admin API', ...viaGateway('GET', '/recommend/%2e%2e/experiments'), status: 400, field: 'path' },
  { name: 'a protocol-relative target naming another host', ...viaGateway('GET', '//evil.example/health', { auth: false }), status: 404, field: 'path' },
  { name: 'a target the URL parser refuses as a host', ...viaGateway('GET', '//[', { auth: false }), status: 404, field: 'path' },
  { name: 'literal dot-dot segments climbing to /health', ...viaGateway('GET', '/experiments/../../health', { auth: false }), status: 400, field: 'path' },
  { name: 'a path with no route', ...viaGateway('GET', '/nowhere', { auth: false }), status: 404, field: 'path', code: 'not_found' },

  // POST /events: bodies that are not one JSON object
  { name: 'a valid click (baseline)', ...postEvent(json(click())), status: 201, field: null, answer: { status: 'stored' } },
  { name: 'an empty body', ...postEvent(''), status: 400, field: 'body', code: 'malformed_json' },
  { name: 'no body', via: 'handler', method: 'POST', path: '/events', headers: JSON_CT, status: 400, field: 'body' },
  { name: 'the body null', ...postEvent('null'), status: 400, field: 'body' },
  { name: 'an array body', ...postEvent('[]'), status: 400, field: 'body' },
  { name: 'a string body', ...postEvent('"click"'), status: 400, field: 'body' },
  { name: 'a number body', ...postEvent('42'), status: 400, field: 'body' },
  { name: 'truncated JSON', ...postEvent('{"event_type":'), status: 400, field: 'body', code: 'malformed_json' },
  { name: 'single-quoted JSON', ...postEvent("{'event_type':'click'}"), status: 400, field: 'body', code: 'malformed_json' },
  { name: 'a byte-order mark before the JSON', ...postEvent(`\ufeff${json(click())}`), status: 400, field: 'body', code: 'malformed_json' },
  { name: 'two JSON documents', ...postEvent(`${json(click())}${json(click())}`), status: 400, field: 'body', code: 'malformed_json' },
  { name: 'JSON nested 100,000 deep', ...postEvent(deep(100_000)), status: 400, field: 'body' },
  { name: 'JSON nested 1,000 deep in an extra field', ...postEvent(json(click()).replace(/}$/, `,"x":${deep(1000)}}`)), status: 400, field: 'x' },
  {
    name: 'content-type text/plain',
    ...postEvent(json(click()), { headers: { 'content-type': 'text/plain' } }),
    status: 400,
    field: 'content-type',
    code: 'unsupported_media_type',
  },
  { name: 'no content-type', ...postEvent(json(click()), { headers: {} }), status: 400, field: 'content-type' },
  {
    name: 'content-type form-urlencoded',
    ...postEvent(json(click()), { headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
    status: 400,
    field: 'content-type',
  },
  {
    name: 'content-type application/jsonx',
    ...postEvent(json(click()), { headers: { 'content-type': 'application/jsonx' } }),
    status: 400,
    field: 'content-type',
  },
  {
    name: 'content-type JSON with a charset',
    ...postEvent(json(click()), { headers: { 'content-type': 'application/json; charset=utf-8' } }),
    status: 201,
    field: null,
  },
  // POST /events: keys
  {
    name: 'a key sent twice',
    ...postEvent('{"event_type":"click","event_type":"purchase","user_id":"u1","experiment_id":"default","item_id":"i1"}'),
    status: 400,
    field: 'event_type',
    code: 'malformed_json',
  },
  {
    name: 'a key sent twice, once escaped',
    ...postEvent('{"event_type":"click","user_id":"u1","\\u0075ser_id":"u2","experiment_id":"default","item_id":"i1"}'),
    status: 400,
    field: 'user_id',
  },
  { name: 'a __proto__ key', ...postEvent(json(click()).replace(/}$/, ',"__proto__":{"counted":false}}')), status: 400, field: 'body' },
  { name: 'a constructor.prototype key', ...postEvent(json(click()).replace(/}$/, ',"constructor":{"prototype":{"x":1}}}')), status: 400, field: 'body' },
  { name: 'a constructor key', ...postEvent(json(click({ constructor: 1 }))), status: 400, field: 'constructor' },
  { name: 'an unknown field', ...postEvent(json(click({ admin: true }))), status: 400, field: 'admin' },
  { name: 'a server-side field (variant)', ...postEvent(json(click({ variant: 'treatment' }))), status: 400, field: 'variant' },
  // POST /events: values and bounds
  { name: "value the string 'NaN'", ...postEvent(json(click({ event_type: 'purchase', value: 'NaN' }))), status: 400, field: 'value' },
  { name: "value the string 'Infinity'", ...postEvent(json(click({ event_type: 'purchase', value: 'Infinity' }))), status: 400, field: 'value' },
  {
    name: 'value 1e309 (Infinity once parsed)',
    ...postEvent(json(click({ event_type: 'purchase' })).replace(/}$/, ',"value":1e309}')),
    status: 400,
    field: 'value',
  },
  { name: 'value -1', ...postEvent(json(click({ event_type: 'purchase', value: -1 }))), status: 400, field: 'value' },
  { name: 'purchase value just over 100,000', ...postEvent(json(click({ event_type: 'purchase', value: 100_000.01 }))), status: 400, field: 'value' },
  { name: 'purchase value 100,000 (the bound)', ...postEvent(json(click({ event_type: 'purchase', value: 100_000 }))), status: 201, field: null },
  { name: 'value 2^53', ...postEvent(json(click({ event_type: 'purchase', value: 2 ** 53 }))), status: 400, field: 'value' },
  {
    name: 'value 1e-70 (its square underflows a DynamoDB number)',
    ...postEvent(json(click({ event_type: 'purchase', value: 1e-70 }))),
    status: 400,
    field: 'value',
  },
  { name: 'value 5e-324 (the smallest double)', ...postEvent(json(click({ event_type: 'watch_time', value: 5e-324 }))), status: 400, field: 'value' },
  { name: 'value 0.000001 (the smallest above 0)', ...postEvent(json(click({ event_type: 'purchase', value: 0.000001 }))), status: 201, field: null },
  { name: 'watch time one second over a day', ...postEvent(json(click({ event_type: 'watch_time', value: 86_401 }))), status: 400, field: 'value' },
  { name: 'rating 0', ...postEvent(json(click({ event_type: 'rating', value: 0 }))), status: 400, field: 'value' },
  { name: 'rating 5.5', ...postEvent(json(click({ event_type: 'rating', value: 5.5 }))), status: 400, field: 'value' },
  { name: 'rating without a value', ...postEvent(json(click({ event_type: 'rating' }))), status: 400, field: 'value' },
  { name: 'position 0', ...postEvent(json(click({ position: 0 }))), status: 400, field: 'position' },
  { name: 'position 1.5', ...postEvent(json(click({ position: 1.5 }))), status: 400, field: 'position' },
  { name: 'position 1001', ...postEvent(json(click({ position: 1001 }))), status: 400, field: 'position' },
  { name: "position the string '1'", ...postEvent(json(click({ position: '1' }))), status: 400, field: 'position' },
  { name: 'timestamp 30 February', ...postEvent(json(click({ timestamp: '2026-02-30T00:00:00Z' }))), status: 400, field: 'timestamp' },
  { name: 'timestamp without an offset', ...postEvent(json(click({ timestamp: '2026-01-15T10:00:00' }))), status: 400, field: 'timestamp' },
  { name: 'timestamp an hour ahead', ...postEvent(json(click({ timestamp: NOW.getTime() + 3_600_000 }))), status: 400, field: 'timestamp' },
  { name: 'timestamp eight days old', ...postEvent(json(click({ timestamp: NOW.getTime() - 8 * 86_400_000 }))), status: 400, field: 'timestamp' },
  { name: "timestamp the string 'Infinity'", ...postEvent(json(click({ timestamp: 'Infinity' }))), status: 400, field: 'timestamp' },
  { name: 'event_type in capitals', ...postEvent(json(click({ event_type: 'CLICK' }))), status: 400, field: 'event_type' },
  { name: 'a click without item_id', ...postEvent(json(click({ item_id: undefined }))), status: 400, field: 'item_id' },
  // POST /events: ids
  { name: 'user_id of 257 bytes', ...postEvent(json(click({ user_id: 'u'.repeat(257) }))), status: 400, field: 'user_id' },
  { name: 'event_id over the 2,048-byte key limit', ...postEvent(json(click({ event_id: over2048 }))), status: 400, field: 'event_id' },
  { name: 'item_id a lone surrogate', ...postEvent(json(click({ item_id: '\ud800' }))), status: 400, field: 'item_id' },
  { name: 'request_id with a C1 control', ...postEvent(json(click({ request_id: 'r\u0085' }))), status: 400, field: 'request_id' },
  { name: 'user_id a number', ...postEvent(json(click({ user_id: 42 }))), status: 400, field: 'user_id' },
  { name: 'experiment_id unknown', ...postEvent(json(click({ experiment_id: 'nope' }))), status: 404, field: 'experiment_id', code: 'not_found' },
  {
    name: 'user_id in NFD is stored in NFC',
    ...postEvent(json(click({ event_id: 'nfd-1', user_id: 'Jose\u0301' }))),
    status: 201,
    field: null,
    written: () => expect(putItems()).toContainEqual(expect.objectContaining({ pk: 'EVENT#nfd-1', user_id: 'Jos\u00e9' })),
  },
  {
    name: 'a request_id naming no slate of an assigned user',
    ...postEvent(json(click({ request_id: 'req-never-served' })), { prepare: assigned('u1') }),
    status: 422,
    field: 'request_id',
    code: 'slate_mismatch',
  },
  {
    name: "an event_id claiming another user's derived id",
    ...postEvent(json(click({ user_id: 'attacker', event_type: 'impression', event_id: derivedId(click({ user_id: 'victim' })) }))),
    status: 400,
    field: 'event_id',
  },
  {
    name: 'an event_id that is its own derived id (a resend)',
    ...postEvent(json(click({ event_id: derivedId(click()) }))),
    status: 201,
    field: null,
    written: () => expect(putItems()).toContainEqual(expect.objectContaining({ pk: `EVENT#${derivedId(click())}` })),
  },
  {
    name: 'an event id reused with different content',
    ...postEvent(json(click({ event_id: 'evt-reused' })), { prepare: storedWith('0'.repeat(64)) }),
    status: 409,
    field: 'event_id',
    code: 'conflict',
  },
  {
    name: 'an event id resent with the same content',
    ...postEvent(json(click({ event_id: 'evt-same' })), { prepare: storedWith(fingerprintOf(click({ event_id: 'evt-same' }))) }),
    status: 200,
    field: null,
    answer: { status: 'duplicate' },
  },
  // POST /events over HTTP: bytes the gateway turns into the body
  {
    name: 'a JSON body that is not UTF-8',
    ...viaGateway('POST', '/events', {
      headers: JSON_CT,
      body: Buffer.concat([
        Buffer.from('{"event_type":"click","user_id":"'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('","experiment_id":"default","item_id":"i1"}'),
      ]),
    }),
    status: 400,
    field: 'body',
    code: 'malformed_json',
  },
  {
    name: 'a body over 6 MB',
    ...viaGateway('POST', '/events', { headers: JSON_CT, body: `{"x":"${'a'.repeat(6 * 1024 * 1024)}"}` }),
    status: 413,
    field: 'body',
    code: 'payload_too_large',
  },

  // POST /events/batch
  { name: 'an empty batch', ...postBatch(json({ events: [] })), status: 400, field: 'events' },
  {
    name: 'a batch of 1,001 events',
    ...postBatch(json({ events: Array.from({ length: 1001 }, (_, i) => click({ event_id: `e${i}` })) })),
    status: 400,
    field: 'events',
  },
  {
    name: 'a batch of 1,000 valid events (the bound)',
    ...postBatch(json({ events: Array.from({ length: 1000 }, (_, i) => click({ event_type: 'impression', event_id: `imp${i}`, user_id: `u${i % 50}` })) })),
    status: 200,
    field: null,
    answer: { received: 1000, stored: 1000 },
  },
  { name: 'a batch of a million numbers', ...postBatch(`{"events":[${Array(1_000_000).fill('0').join(',')}]}`), status: 400, field: 'events' },
  { name: 'events an object', ...postBatch(json({ events: {} })), status: 400, field: 'events' },
  { name: 'events missing', ...postBatch(json({})), status: 400, field: 'events' },
  { name: 'a top-level array', ...postBatch(json([click()])), status: 400, field: 'body' },
  { name: 'an extra top-level field', ...postBatch(json({ events: [click()], dry_run: true })), status: 400, field: 'dry_run' },
  {
    name: 'a lone surrogate in the second event',
    ...postBatch(json({ events: [click(), click({ user_id: '\udfff' })] })),
    status: 400,
    field: 'events[1].user_id',
  },
  {
    name: "value 'NaN' in the third event",
    ...postBatch(json({ events: [click(), click(), click({ event_type: 'purchase', value: 'NaN' })] })),
    status: 400,
    field: 'events[2].value',
  },
  { name: 'an unknown field in the first event', ...postBatch(json({ events: [click({ debug: 1 })] })), status: 400, field: 'events[0].debug' },
  {
    name: 'a key sent twice in the second event',
    ...postBatch(
      '{"events":[{"event_type":"click","user_id":"u1","experiment_id":"default","item_id":"i1"},{"event_type":"click","user_id":"u1","user_id":"u2","experiment_id":"default","item_id":"i1"}]}',
    ),
    status: 400,
    field: 'events[1].user_id',
    code: 'malformed_json',
  },
  { name: 'an event that is null', ...postBatch(json({ events: [click(), null] })), status: 400, field: 'events[1]' },
  {
    name: 'an unknown experiment in the second event',
    ...postBatch(json({ events: [click(), click({ experiment_id: 'nope' })] })),
    status: 404,
    field: 'events[1].experiment_id',
    code: 'not_found',
  },
  {
    name: 'a request_id naming no slate in the second event of a batch',
    ...postBatch(json({ events: [click(), click({ request_id: 'req-never-served' })] }), { prepare: assigned('u1') }),
    status: 422,
    field: 'events[1].request_id',
    code: 'slate_mismatch',
  },
  {
    name: 'an event id reused with different content in a batch',
    ...postBatch(json({ events: [click({ event_id: 'evt-reused' })] }), { prepare: storedWith('0'.repeat(64)) }),
    status: 409,
    field: 'events[0].event_id',
    code: 'conflict',
  },
  {
    name: 'one id twice in a batch with different content',
    ...postBatch(json({ events: [click({ event_id: 'twice' }), click({ event_id: 'twice', item_id: 'i2' })] })),
    status: 409,
    field: 'events[1].event_id',
    code: 'conflict',
  },

  // Admin API: path ids
  { name: 'an unknown experiment', ...adminGet('/experiments/nope'), status: 404, field: 'id', code: 'not_found' },
  { name: 'an id of 3,000 characters', ...adminGet(`/experiments/${'x'.repeat(3000)}`), status: 400, field: 'id' },
  { name: 'an id with a lone surrogate', ...adminGet('/experiments/a\ud800'), status: 400, field: 'id' },
  { name: 'an id with a C1 control', ...adminGet('/experiments/\u0085'), status: 400, field: 'id' },
  { name: 'the results of an unknown experiment', ...adminGet('/experiments/nope/results'), status: 404, field: 'id' },
  { name: 'starting an experiment whose id is blank', ...action(' ', 'start', '{}'), status: 400, field: 'id' },
  { name: 'the reports of an id that is no experiment slug', ...adminGet('/experiments/UPPER/reports'), status: 400, field: 'id' },
  { name: 'the reports of an unknown experiment', ...adminGet('/experiments/nope/reports'), status: 404, field: 'id' },
  { name: 'a report day 30 February', ...adminGet('/experiments/default/reports/2026-02-30'), status: 400, field: 'day' },
  { name: 'a report day without zero padding', ...adminGet('/experiments/default/reports/2026-1-5'), status: 400, field: 'day' },
  { name: 'a report format pdf', ...adminGet('/experiments/default/reports/2026-01-14', { query: { format: 'pdf' } }), status: 400, field: 'format' },
  {
    name: 'a bad day and a bad format at once',
    ...adminGet('/experiments/default/reports/yesterday', { query: { format: 'HTML' } }),
    status: 400,
    field: ['day', 'format'],
  },
  {
    name: 'a report that does not exist',
    ...adminGet('/experiments/default/reports/2026-01-14', { query: { format: 'html' } }),
    status: 404,
    field: 'day',
    code: 'not_found',
  },
  // Admin API: create
  { name: 'create with the body null', ...create('null'), status: 400, field: 'body' },
  { name: 'create with an array body', ...create('[]'), status: 400, field: 'body' },
  { name: 'create with an empty object', ...create('{}'), status: 400, field: ['id', 'name', 'variants', 'target_metric'] },
  { name: 'create with an id that is no slug', ...create(json(createBody({ id: 'Bad Id' }))), status: 400, field: 'id' },
  { name: 'create with an id of the reserved prefix and no salt', ...create(json(createBody({ id: '__internal' }))), status: 400, field: 'id' },
  {
    name: 'create with a variant named __proto__',
    ...create(
      json(
        createBody({
          variants: [
            { name: '__proto__', ...pin(control), weight: 0.5, is_control: true },
            { name: 'treatment', ...pin(treatment), weight: 0.5 },
          ],
        }),
      ),
    ),
    status: 400,
    field: 'variants[0].name',
  },
  {
    name: 'create with weights summing to 0.9',
    ...create(
      json(
        createBody({
          variants: [
            { name: 'control', ...pin(control), weight: 0.5, is_control: true },
            { name: 'treatment', ...pin(treatment), weight: 0.4 },
          ],
        }),
      ),
    ),
    status: 400,
    field: 'variants',
  },
  {
    name: "create with the weight 'NaN'",
    ...create(
      json(
        createBody({
          variants: [
            { name: 'control', ...pin(control), weight: 0.5, is_control: true },
            { name: 'treatment', ...pin(treatment), weight: 'NaN' },
          ],
        }),
      ),
    ),
    status: 400,
    field: 'variants[1].weight',
  },
  {
    name: 'create with the weight 1e309',
    ...create(json(createBody()).replace('"weight":0.5}]', '"weight":1e309}]')),
    status: 400,
    field: 'variants[1].weight',
  },
  { name: 'create with min_sample_size 1.5', ...create(json(createBody({ min_sample_size: 1.5 }))), status: 400, field: 'min_sample_size' },
  {
    name: 'create with a weight of 1e-200 (below what DynamoDB holds)',
    ...create(
      json(
        createBody({
          variants: [
            { name: 'control', ...pin(control), weight: 1, is_control: true },
            { name: 'treatment', ...pin(treatment), weight: 1e-200 },
          ],
        }),
      ),
    ),
    status: 400,
    field: 'variants[1].weight',
  },
  {
    name: 'create with a rating bound of 1e300',
    ...create(json(createBody({ target_metric: { kind: 'rating', min: 1, max: 1e300 } }))),
    status: 400,
    field: 'target_metric.max',
  },
  {
    name: 'create with a watch-time cap past 2^53',
    ...create(json(createBody({ target_metric: { kind: 'watch_time', cap_seconds: 1e16 } }))),
    status: 400,
    field: 'target_metric.cap_seconds',
  },
  { name: 'create with a traffic coverage of 5e-324', ...create(json(createBody({ traffic_coverage: 5e-324 }))), status: 400, field: 'traffic_coverage' },
  {
    name: 'create with a guardrail degradation of 1e-131',
    ...create(json(createBody({ guardrails: [{ metric: 'conversion', max_relative_degradation: 1e-131 }] }))),
    status: 400,
    field: 'guardrails[0].max_relative_degradation',
  },
  { name: 'create with confidence_level 1', ...create(json(createBody({ confidence_level: 1 }))), status: 400, field: 'confidence_level' },
  { name: 'create with a salt of the reserved prefix', ...create(json(createBody({ salt: '__layer:x' }))), status: 400, field: 'salt' },
  { name: 'create with an unknown field', ...create(json(createBody({ admin: true }))), status: 400, field: 'admin' },
  { name: 'create with a __proto__ key', ...create(json(createBody()).replace(/}$/, ',"__proto__":{"status":"completed"}}')), status: 400, field: 'body' },
  {
    name: 'create with a key sent twice',
    ...create(json(createBody()).replace('"name":', '"name":"first","name":')),
    status: 400,
    field: 'name',
    code: 'malformed_json',
  },
  { name: 'create as text/plain', ...create(json(createBody()), { headers: { 'content-type': 'text/plain' } }), status: 400, field: 'content-type' },
  {
    name: 'create pinning a version that does not exist',
    ...create(
      json(
        createBody({
          variants: [
            { name: 'control', ...pin(control), weight: 0.5, is_control: true },
            { name: 'treatment', model_id: 'factors-test', model_version: '0123456789abcdef', weight: 0.5 },
          ],
        }),
      ),
    ),
    status: 400,
    field: 'variants[1].model_version',
  },
  {
    name: 'create an id that exists',
    ...create(json(createBody({ id: 'default' })), {
      prepare: () => void ddb.on(PutCommand, { TableName: TABLE.experiments }).rejects(conditionalCheckFailed()),
    }),
    status: 409,
    field: 'id',
    code: 'conflict',
  },
  // Admin API: changes
  { name: 'PATCH with the body null', ...patch('draft-exp', 'null'), status: 400, field: 'body' },
  { name: 'PATCH with a string body', ...patch('draft-exp', '"x"'), status: 400, field: 'body' },
  { name: 'PATCH the status', ...patch('draft-exp', json({ status: 'running' })), status: 400, field: 'status' },
  {
    name: 'PATCH the weights of a running experiment',
    ...patch(
      'default',
      json({
        variants: [
          { name: 'control', ...pin(control), weight: 0.9, is_control: true },
          { name: 'treatment', ...pin(treatment), weight: 0.1 },
        ],
      }),
    ),
    status: 409,
    field: 'variants',
  },
  { name: 'PATCH an unknown experiment', ...patch('nope', json({ name: 'x' })), status: 404, field: 'id' },
  { name: 'start a running experiment', ...action('default', 'start', '{}'), status: 409, field: 'status', code: 'conflict' },
  { name: 'start with the body null', ...action('draft-exp', 'start', 'null'), status: 400, field: 'body' },
  { name: 'stop at a stale revision', ...action('default', 'stop', json({ expected_revision: 99 })), status: 409, field: 'expected_revision' },
  { name: 'stop at revision -1', ...action('default', 'stop', json({ expected_revision: -1 })), status: 400, field: 'expected_revision' },
  { name: "stop at revision '0' (a string)", ...action('default', 'stop', json({ expected_revision: '0' })), status: 400, field: 'expected_revision' },
  { name: 'ramp a constructor weight', ...action('default', 'ramp', json({ weights: { constructor: 0.5 } })), status: 400, field: 'weights.constructor' },
  { name: 'ramp to weights summing to 0.9', ...action('default', 'ramp', json({ weights: { control: 0.5, treatment: 0.4 } })), status: 400, field: 'weights' },
  {
    name: 'ramp a weight of 1e-200',
    ...action('default', 'ramp', json({ weights: { control: 1, treatment: 1e-200 } })),
    status: 400,
    field: 'weights.treatment',
  },
  {
    name: 'ramp the treatment of an experiment whose control is named constructor',
    ...action('ctor-exp', 'ramp', json({ weights: { treatment: 0.5 } })),
    status: 200,
    field: null,
    answer: { revision: 1 },
  },
  { name: 'promote an unknown variant', ...action('default', 'promote', json({ winner: 'nope', force: true })), status: 400, field: 'winner' },
  { name: "promote with force 'yes'", ...action('default', 'promote', json({ winner: 'treatment', force: 'yes' })), status: 400, field: 'force' },

  // Admin API over HTTP: escapes in path ids, keys, the request line
  { name: 'an id %FF', ...viaGateway('GET', '/experiments/%FF'), status: 400, field: 'id' },
  { name: 'an id with a truncated escape', ...viaGateway('GET', '/experiments/%E0%A4%A'), status: 400, field: 'id' },
  {
    name: 'an id an escaped UTF-8 surrogate',
    ...viaGateway('POST', '/experiments/%ED%A0%80/start', { headers: JSON_CT, body: '{}' }),
    status: 400,
    field: 'id',
  },
  { name: 'an id ending in a lone %', ...viaGateway('GET', '/experiments/a%/results'), status: 400, field: 'id' },
  { name: 'an id with an escaped NUL', ...viaGateway('GET', '/experiments/a%00b'), status: 400, field: 'id' },
  { name: 'an id of 3,000 characters over HTTP', ...viaGateway('GET', `/experiments/${'y'.repeat(3000)}`), status: 400, field: 'id' },
  { name: 'an id with an escaped slash (decoded, unknown)', ...viaGateway('GET', '/experiments/a%2Fb'), status: 404, field: 'id' },
  { name: 'an id escaped in NFD (unknown)', ...viaGateway('GET', '/experiments/cafe%CC%81'), status: 404, field: 'id' },
  { name: 'a report day with a lone %', ...viaGateway('GET', '/experiments/default/reports/2026-01-1%'), status: 400, field: 'day' },
  { name: 'a query value %FF on an admin route', ...viaGateway('GET', '/experiments/default/reports/2026-01-14?format=%FF'), status: 400, field: 'format' },
  { name: 'an escaped dot segment as the id', ...viaGateway('GET', '/experiments/%2e'), status: 400, field: 'path' },
  {
    name: 'an escaped dot-dot after an action',
    ...viaGateway('POST', '/experiments/default/start/%2E%2E', { headers: JSON_CT, body: '{}' }),
    status: 400,
    field: 'path',
  },
  { name: 'no admin key', ...viaGateway('GET', '/experiments', { auth: false }), status: 401, field: 'x-admin-key', code: 'unauthorized' },
  {
    name: 'the public API key on an admin route',
    ...viaGateway('GET', '/experiments', { auth: false, headers: { 'x-api-key': KEYS.apiKey } }),
    status: 403,
    field: 'x-api-key',
    code: 'forbidden',
  },
  {
    name: 'a wrong admin key',
    ...viaGateway('GET', '/experiments', { auth: false, headers: { 'x-admin-key': 'ak_wrong' } }),
    status: 403,
    field: 'x-admin-key',
  },
  {
    name: 'a wrong bearer token',
    ...viaGateway('GET', '/experiments', { auth: false, headers: { authorization: 'Bearer ak_wrong' } }),
    status: 403,
    field: 'authorization',
  },
  { name: 'DELETE an experiment', ...viaGateway('DELETE', '/experiments/default'), status: 405, field: 'method' },
  {
    name: 'a create body that is not UTF-8',
    ...viaGateway('POST', '/experiments', { headers: JSON_CT, body: Buffer.concat([Buffer.from('{"id":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]) }),
    status: 400,
    field: 'body',
  },

  // GET /models
  {
    name: 'models with an unknown query and a body',
    ...adminGet('/models', { query: { page: '-1', constructor: 'x' }, headers: { 'content-type': 'application/json' }, body: '{}' }),
    status: 200,
    field: null,
    answer: { models: [] },
  },

  // GET /health
  {
    name: 'health with a body and a query',
    via: 'handler',
    method: 'GET',
    path: '/health',
    query: { '\ud800': '%FF' },
    headers: { 'content-type': 'text/plain' },
    body: '{{{',
    status: 200,
    field: null,
    answer: { status: 'ok' },
  },
  { name: 'health with a malformed escape in the query', ...viaGateway('GET', '/health?%FF', { auth: false }), status: 400, field: 'query' },
];

type Handler = (event: APIGatewayProxyEvent, context: ReturnType<typeof lambdaContext>) => Promise<APIGatewayProxyResult>;
let handlers: Partial<Record<FunctionName, Handler>>;
let gateway: RunningGateway;

const compiled = ROUTES.map((route) => {
  const params: string[] = [];
  const source = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    params.push(name);
    return '([^/]+)';
  });
  return { ...route, pattern: new RegExp(`^${source}/?$`), params };
});

const decodeOrKeep = (segment: string) => {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
};

/** The API Gateway event of a handler row: the resource and path parameters API Gateway would match. */
function handlerEvent(row: HostileRow): { function: FunctionName; event: APIGatewayProxyEvent } {
  const candidates = compiled.filter((r) => r.pattern.test(row.path));
  const route = candidates.find((r) => r.method === row.method) ?? candidates[0];
  if (!route) throw new Error(`no route for ${row.path}`);
  const match = route.pattern.exec(row.path)!;
  const pathParameters =
    row.pathParameters ?? (route.params.length ? Object.fromEntries(route.params.map((name, i) => [name, decodeOrKeep(match[i + 1])])) : undefined);
  const event = apiEvent({
    method: row.method as 'GET',
    path: row.path,
    resource: route.path,
    query: row.query,
    pathParameters,
    headers: row.headers as Record<string, string> | undefined,
    body: typeof row.body === 'string' ? row.body : undefined,
  });
  return { function: route.function, event };
}

/** Sends a gateway row over HTTP exactly as written (the target is not re-encoded). */
function overHttp(row: HostileRow): Promise<{ statusCode: number; body: string }> {
  const route = compiled.find((r) => r.pattern.test(row.path.split('?')[0]));
  const key =
    row.auth === false || !route || route.auth === 'none' ? {} : route.auth === 'apiKey' ? { 'x-api-key': KEYS.apiKey } : { 'x-admin-key': KEYS.adminKey };
  const body = row.body === undefined ? undefined : Buffer.isBuffer(row.body) ? row.body : Buffer.from(row.body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: gateway.port,
        method: row.method,
        path: row.path,
        headers: { ...key, ...row.headers, ...(body ? { 'content-length': body.length } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('hostile input', () => {
  beforeAll(async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: NOW });
    stubHandlerEnv();
    handlers = {
      health: (await import('../../lambdas/health.ts')).handler,
      recommend: (await import('../../lambdas/recommend.ts')).handler,
      events: (await import('../../lambdas/events.ts')).handler,
      experiments: (await import('../../lambdas/experiments.ts')).handler,
    };
    gateway = await startGateway({ handlers, ...KEYS, port: 0, clock: () => NOW.getTime() });
  });
  afterAll(async () => {
    await gateway.close();
    vi.useRealTimers();
    vi.unstubAllEnvs();
  });
  beforeEach(() => {
    ddb.reset();
    s3.reset();
    new FakeTables(ddb).seedExperiment(running).seedExperiment(draft).seedExperiment(ctorNamed);
    // Writes fail as DynamoDB's would for numbers it cannot hold.
    refuseUnstorable(ddb);
    new FakeBucket(s3).putArtifact(control).putArtifact(treatment);
    // No stored assignments (events count as unassigned), no reports yet, a reachable bucket.
    ddb.on(BatchGetCommand).callsFake((input: { RequestItems: Record<string, unknown> }) => ({
      Responses: Object.fromEntries(Object.keys(input.RequestItems).map((table) => [table, []])),
      UnprocessedKeys: {},
    }));
    s3.on(ListObjectsV2Command).resolves({});
    s3.on(HeadBucketCommand).resolves({});
  });

  it('has a row for every route', () => {
    const routed = new Set(
      ROWS.map((row) => {
        const candidates = compiled.filter((r) => r.pattern.test(row.path.split('?')[0]));
        const route = candidates.find((r) => r.method === row.method);
        return route ? `${route.method} ${route.path}` : undefined;
      }),
    );
    for (const route of ROUTES) expect(routed, `${route.method} ${route.path}`).toContain(`${route.method} ${route.path}`);
    expect(ROWS.length).toBeGreaterThanOrEqual(100);
  });

  const titled = ROWS.map(
    (row) =>
      [
        `${row.via}: ${row.method} ${row.path.length > 60 ? `${row.path.slice(0, 57)}...` : row.path} (${row.name}) → ${row.status}${row.field ? ` naming ${[row.field].flat().join(', ')}` : ''}`,
        row,
      ] as const,
  );

  it.each(titled)('%s', async (_title, row) => {
    row.prepare?.();
    ddb.resetHistory();
    s3.resetHistory();

    let result: { statusCode: number; body: string };
    if (row.via === 'handler') {
      const { function: name, event } = handlerEvent(row);
      result = await handlers[name]!(event, lambdaContext());
    } else {
      result = await overHttp(row);
    }

    expect(result.statusCode, result.body.slice(0, 400)).toBe(row.status);
    if (row.field === null) {
      if (row.answer) expect(JSON.parse(result.body)).toMatchObject(row.answer);
    } else {
      const error = errorOf(result);
      expect([...new Set(error.details.map((d) => d.field))].sort()).toEqual([row.field].flat().sort());
      if (row.code) expect(error.code).toBe(row.code);
    }
    // A refusal writes nothing (a 409 has tried its conditional write: that is how it knows).
    if (row.status >= 400 && row.status !== 409) expect(writesSent(ddb, s3)).toEqual([]);
    row.written?.();
  });
});
