/**
 * Hostile inputs and the invariants every HTTP answer must keep, shared by the property tests
 * (validation-properties.test.ts) and the hostile-input table (hostile-input.test.ts).
 *
 * The invariants: never a 5xx for anything a client can send; a 4xx is the product's JSON error
 * (`{error: {code, message, details: [{field, message}]}}`) naming at least one field; and a
 * refused request writes nothing (no DynamoDB or S3 call other than a read).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { expect } from 'vitest';
import type { ErrorResponseBody } from './api-gateway.ts';

/** Commands that only read; anything else sent to a mocked client counts as a write. */
const READ_COMMANDS = new Set([
  'GetCommand',
  'QueryCommand',
  'BatchGetCommand',
  'GetObjectCommand',
  'HeadObjectCommand',
  'HeadBucketCommand',
  'ListObjectsV2Command',
]);

/** Names of the write commands a mocked client received since its history was last reset. */
export function writesSent(...clients: (AwsClientStub<DynamoDBDocumentClient> | AwsClientStub<S3Client>)[]): string[] {
  return clients.flatMap((client) => client.calls().map((call) => (call.args[0] as object).constructor.name)).filter((name) => !READ_COMMANDS.has(name));
}

/** The parsed error of a 4xx, after checking its shape: a code, a message and at least one named field. */
export function errorOf(
  result: Pick<APIGatewayProxyResult, 'statusCode' | 'body'>,
): ErrorResponseBody['error'] & { details: { field: string; message: string }[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(result.body);
  } catch {
    throw new Error(`a ${result.statusCode} whose body is not JSON: ${result.body.slice(0, 200)}`);
  }
  const error = (parsed as Partial<ErrorResponseBody>)?.error;
  expect(error, `a ${result.statusCode} without an error object: ${result.body.slice(0, 300)}`).toBeTypeOf('object');
  expect(error!.code).toMatch(/^[a-z_]+$/);
  expect(error!.message).toBeTypeOf('string');
  expect(error!.details, `a ${result.statusCode} naming no field: ${result.body.slice(0, 300)}`).toBeInstanceOf(Array);
  expect(error!.details!.length, `a ${result.statusCode} naming no field: ${result.body.slice(0, 300)}`).toBeGreaterThan(0);
  for (const detail of error!.details!) {
    expect(detail.field).toBeTypeOf('string');
    expect(detail.field.length).toBeGreaterThan(0);
    expect(detail.message).toBeTypeOf('string');
  }
  return error as ErrorResponseBody['error'] & { details: { field: string; message: string }[] };
}

/** The fields a 4xx names. */
export const namedFields = (result: Pick<APIGatewayProxyResult, 'statusCode' | 'body'>) => errorOf(result).details.map((d) => d.field);

/**
 * Checks the invariants of one answer: below 500, and a 4xx in the error shape naming a field.
 * Returns the named fields (empty for a 2xx).
 */
export function expectWellFormed(result: APIGatewayProxyResult, request: string): string[] {
  expect(result.statusCode, `${request} answered ${result.statusCode}: ${result.body.slice(0, 300)}`).toBeLessThan(500);
  if (result.statusCode < 400) return [];
  return namedFields(result);
}

/** The top-level field a detail names: `events[3].user_id` → `events`, `variants[0].weight` → `variants`. */
export const topField = (field: string) => field.split(/[.[]/)[0];

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** C0, DEL and C1 control characters: refused in every id. */
export const CONTROL_CHARACTERS = [
  ...Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i)),
  ...Array.from({ length: 0x21 }, (_, i) => String.fromCharCode(0x7f + i)),
];

/** Lone UTF-16 surrogates (high and low), alone and next to ordinary text. */
export const LONE_SURROGATES = ['\ud800', '\udbff', '\udc00', '\udfff', 'a\ud83d', '\ude00b', 'x\ud800y', '\udc00\ud800'];

/** Strings that look like numbers to a lenient parser. */
export const NUMBER_LIKE = [
  'NaN',
  'Infinity',
  '-Infinity',
  '1e309',
  '-1e309',
  '0x10',
  '0b11',
  '0o7',
  '1e1',
  '+5',
  '-1',
  '-0',
  ' 5',
  '5 ',
  '5.0',
  '5.',
  '.5',
  '1_000',
  '٥',
  '５',
  '0',
  '00',
  '101',
  '10000',
  '9'.repeat(400),
];

/** Object keys that a careless merge turns into prototype pollution. */
export const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '__defineGetter__', 'valueOf'];

/** Numbers at and around every bound the API has. */
export const BOUNDARY_NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.5,
  1.5,
  4.999999,
  5,
  5.000001,
  6,
  99,
  100,
  101,
  255,
  256,
  257,
  999,
  1000,
  1001,
  2048,
  9999,
  10000,
  86_399,
  86_400,
  86_401,
  99_999,
  100_000,
  100_000.5,
  100_001,
  2 ** 31,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  1e21,
  1e308,
  -1e308,
  Number.MIN_VALUE,
  -Number.MIN_VALUE,
  Number.MAX_VALUE,
  Number.EPSILON,
];

/** Strings a hostile client may send where an id or a name is expected. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: fc.constantFrom(...CONTROL_CHARACTERS, 'a', 'é', '\u00a0'), minLength: 1, maxLength: 8 }),
  fc.constantFrom(
    ...LONE_SURROGATES,
    ...NUMBER_LIKE,
    ...PROTOTYPE_KEYS,
    '',
    ' ',
    '\t',
    '\u3000',
    '\u200b',
    '\ufeff',
    '\ufffd',
    'e\u0301',
    '\u00e9',
    '%FF',
    '%E0%A4%A',
    '%00',
    '../..',
    '${x}',
    "'; DROP TABLE",
    '<script>',
  ),
  fc.integer({ min: 250, max: 3000 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 60, max: 800 }).map((n) => '€'.repeat(n)),
  fc.integer({ min: 30, max: 300 }).map((n) => '😀'.repeat(n)),
);

/** Any JSON value, numbers at the bounds and hostile strings included. */
export const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 3, arbitrary: hostileString },
  { weight: 2, arbitrary: fc.constantFrom(...BOUNDARY_NUMBERS) },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, [], {}, [null], { '': '' }) },
  { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 3 }) },
);

/** A key a client might add to an object besides the known ones. */
export const extraKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...PROTOTYPE_KEYS.filter((k) => k !== '__proto__'), 'admin', 'variant', 'counted', 'pk', 'is_control', ''),
  fc.string({ minLength: 1, maxLength: 12 }),
);

/** Ids the API must accept: well-formed, no control characters, not blank, at most 256 UTF-8 bytes in NFC. */
export const validId: fc.Arbitrary<string> = fc
  .oneof(
    fc.stringMatching(/^[A-Za-z0-9_.:@-]{1,64}$/),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }),
    fc.constantFrom('u1', 'e\u0301', '\u00e9'.repeat(128), 'x'.repeat(256), '用户-42', '%FF', '__proto__', 'constructor', '😀'.repeat(64)),
  )
  .filter((s) => s.trim().length > 0 && !/\p{Surrogate}|\p{Cc}/u.test(s) && Buffer.byteLength(s.normalize('NFC')) <= 256);

/** Whether `s` breaks the id rules (the oracle the properties check the API against). */
export function breaksIdRules(s: unknown): boolean {
  if (typeof s !== 'string') return true;
  return s.trim().length === 0 || /\p{Surrogate}/u.test(s) || /\p{Cc}/u.test(s) || Buffer.byteLength(s.normalize('NFC')) > 256;
}

/**
 * Whether middy's JSON parser refuses `value` as a body (a 400 malformed_json naming `body`):
 * it holds a `__proto__` key, or a `constructor` key whose value has its own `prototype`.
 */
export function parserRefuses(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(parserRefuses);
  return Object.entries(value).some(
    ([key, v]) =>
      key === '__proto__' || (key === 'constructor' && Boolean(v) && typeof v === 'object' && Object.hasOwn(v as object, 'prototype')) || parserRefuses(v),
  );
}

/**
 * Why DynamoDB or the document client would refuse to store `value`, or undefined: a number
 * anywhere in it that is not finite, past 2^53 (the document client refuses to marshal it), or of
 * magnitude outside DynamoDB's 1e-130 .. 1e125.
 */
export function unstorable(value: unknown, path = 'item'): string | undefined {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return `${path}: ${value} is not a number DynamoDB holds`;
    if (Math.abs(value) > Number.MAX_SAFE_INTEGER) return `${path}: ${value} is greater than Number.MAX_SAFE_INTEGER`;
    if (value !== 0 && Math.abs(value) < 1e-130) return `${path}: ${value} underflows (DynamoDB: magnitude at least 1e-130)`;
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const problem = unstorable(inner, `${path}.${key}`);
    if (problem) return problem;
  }
  return undefined;
}

/**
 * Makes the mocked document client refuse what the real store refuses (numbers out of range in a
 * put's item or an update's values), as DynamoDB's ValidationException, so a handler that lets
 * such a number through answers the 5xx it would answer in AWS.
 */
export function refuseUnstorable(ddb: AwsClientStub<DynamoDBDocumentClient>): void {
  const validation = (message: string) => Object.assign(new Error(message), { name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
  ddb.on(PutCommand).callsFake((input: { Item?: unknown }) => {
    const problem = unstorable(input.Item);
    if (problem) throw validation(problem);
    return {};
  });
  ddb.on(UpdateCommand).callsFake((input: { ExpressionAttributeValues?: unknown }) => {
    const problem = unstorable(input.ExpressionAttributeValues, 'values');
    if (problem) throw validation(problem);
    return {};
  });
}
