/**
 * Property-based tests (fast-check) of every HTTP route's validation, through the real handler
 * entry points with aws-sdk-client-mock behind them. For arbitrary hostile input (random JSON,
 * wrong types, huge, unicode and control-character strings, lone surrogates, numbers at the
 * bounds, extra and prototype-polluting keys) every answer keeps the invariants of
 * support/hostile.ts: never a 5xx, a 4xx in the JSON error shape naming a field, nothing
 * written on a refusal; and valid input is accepted.
 */
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { BatchGetCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createExperiment } from '../../lambdas/domain/experiments/lifecycle.ts';
import type { Experiment } from '../../lambdas/domain/experiments/model.ts';
import { MAX_EVENT_AGE_MS, eventTypes } from '../../lambdas/domain/events/event.ts';
import { apiEvent, bodyOf, jsonPost, lambdaContext } from './support/api-gateway.ts';
import { FakeBucket, FakeTables } from './support/aws.ts';
import { stubHandlerEnv } from './support/env.ts';
import {
  NUMBER_LIKE,
  breaksIdRules,
  expectWellFormed,
  extraKey,
  hostileJson,
  hostileString,
  parserRefuses,
  refuseUnstorable,
  topField,
  validId,
  writesSent,
} from './support/hostile.ts';
import './support/matchers.ts';
import { NOW, experimentPinning, tinyArtifact } from './support/models.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const s3 = mockClient(S3Client);
const control = tinyArtifact({ modelId: 'popularity-test' });
const treatment = tinyArtifact({ modelId: 'factors-test', shift: 3 });
/** `default`, running 50/50 over the tiny artifacts. */
const running = experimentPinning(control, treatment);
/** A draft pinning the same artifacts, for PATCH and start. */
const draft: Experiment = createExperiment({
  request: {
    id: 'draft-exp',
    name: 'Draft',
    variants: [
      { name: 'control', model_id: control.manifest.model_id, model_version: control.manifest.version, weight: 0.5, is_control: true },
      { name: 'treatment', model_id: treatment.manifest.model_id, model_version: treatment.manifest.version, weight: 0.5 },
    ],
    target_metric: { kind: 'click_through' },
  },
  now: NOW,
});

type Handler = (event: ReturnType<typeof apiEvent>, context: ReturnType<typeof lambdaContext>) => Promise<APIGatewayProxyResult>;
let recommend: Handler;
let events: Handler;
let experiments: Handler;
let health: Handler;

/** Property runs per property: enough to hit every branch of the arbitraries several times. */
const RUNS = { numRuns: 150 };

/** Calls a handler with a clean call history, so writesSent() sees this request only. */
async function call(handler: Handler, event: ReturnType<typeof apiEvent>): Promise<APIGatewayProxyResult> {
  ddb.resetHistory();
  s3.resetHistory();
  return handler(event, lambdaContext());
}

/** Checks the invariants and, for a refusal, that nothing was written. Returns the named fields. */
function assess(result: APIGatewayProxyResult, request: string): string[] {
  const fields = expectWellFormed(result, request);
  if (result.statusCode >= 400) expect(writesSent(ddb, s3), `${request} answered ${result.statusCode} but wrote`).toEqual([]);
  return fields;
}

const describeInput = (value: unknown) => JSON.stringify(value)?.slice(0, 200) ?? String(value);
/** A path segment as a client would escape it; a lone surrogate has no escape, so it stays raw. */
const safeEncode = (segment: string) => {
  try {
    return encodeURIComponent(segment);
  } catch {
    return segment;
  }
};
/** The field a 400 names for an unknown key: the key itself (an empty key cannot be named, so the body is). */
const keyField = (key: string) => (key === '' ? 'body' : key);
/** The fields a 400 for `body` must name: `body` when the JSON parser refuses it (a prototype key), else `fields`. */
const expectedFields = (body: unknown, fields: string[]) => (parserRefuses(body) ? ['body'] : fields);

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ['Date'], now: NOW });
  stubHandlerEnv();
  ({ handler: recommend } = await import('../../lambdas/recommend.ts'));
  ({ handler: events } = await import('../../lambdas/events.ts'));
  ({ handler: experiments } = await import('../../lambdas/experiments.ts'));
  ({ handler: health } = await import('../../lambdas/health.ts'));
});
afterAll(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});
beforeEach(() => {
  ddb.reset();
  s3.reset();
  new FakeTables(ddb).seedExperiment(running).seedExperiment(draft);
  // Writes fail as DynamoDB's would for numbers it cannot hold: a handler letting one through answers 5xx.
  refuseUnstorable(ddb);
  new FakeBucket(s3).putArtifact(control).putArtifact(treatment);
  // No user has a stored assignment (their events count as unassigned); no report exists yet.
  ddb.on(BatchGetCommand).callsFake((input: { RequestItems: Record<string, unknown> }) => ({
    Responses: Object.fromEntries(Object.keys(input.RequestItems).map((table) => [table, []])),
    UnprocessedKeys: {},
  }));
  s3.on(ListObjectsV2Command).resolves({});
});

// ---------------------------------------------------------------------------------------------

describe('GET /recommend', () => {
  const get = (query: Record<string, string>) => call(recommend, apiEvent({ path: '/recommend', query }));
  const QUERY_KEYS = ['user_id', 'top_n', 'experiment_id'];

  /** What the API must answer for a query: 400 with exactly these fields, 404 naming experiment_id, or 200. */
  function expected(query: Record<string, string>): { status: 200 } | { status: 400 | 404; fields: string[] } {
    const fields = Object.keys(query)
      .filter((key) => !QUERY_KEYS.includes(key))
      .map(keyField);
    if (!('user_id' in query) || breaksIdRules(query.user_id)) fields.push('user_id');
    if ('top_n' in query && !(/^[0-9]+$/.test(query.top_n) && Number(query.top_n) >= 1 && Number(query.top_n) <= 100)) fields.push('top_n');
    if ('experiment_id' in query && breaksIdRules(query.experiment_id)) fields.push('experiment_id');
    if (fields.length > 0) return { status: 400, fields };
    if ('experiment_id' in query && query.experiment_id.normalize('NFC') !== 'default') return { status: 404, fields: ['experiment_id'] };
    return { status: 200 };
  }

  it('answers any query with 200, or a 400 / 404 naming exactly the offending parameters, writing nothing when it refuses', async () => {
    const query = fc.dictionary(fc.oneof(fc.constantFrom(...QUERY_KEYS), extraKey), fc.oneof(hostileString, fc.constantFrom(...NUMBER_LIKE), validId), {
      maxKeys: 4,
    });
    await fc.assert(
      fc.asyncProperty(query, async (q) => {
        const result = await get(q);
        const fields = assess(result, `GET /recommend ${describeInput(q)}`);
        const want = expected(q);
        expect(result.statusCode, describeInput(q)).toBe(want.status);
        if (want.status !== 200) expect(new Set(fields)).toEqual(new Set((want as { fields: string[] }).fields));
      }),
      RUNS,
    );
  });

  it('refuses every top_n that is not a decimal integer from 1 to 100, naming top_n', async () => {
    const topN = fc
      .oneof(fc.constantFrom(...NUMBER_LIKE), hostileString, fc.integer({ min: -1000, max: 100_000 }).map(String))
      .filter((s) => !(/^[0-9]+$/.test(s) && Number(s) >= 1 && Number(s) <= 100));
    await fc.assert(
      fc.asyncProperty(topN, async (top_n) => {
        const result = await get({ user_id: 'u1', top_n });
        expect(result.statusCode, describeInput(top_n)).toBe(400);
        expect(assess(result, `top_n=${describeInput(top_n)}`)).toEqual(['top_n']);
      }),
      RUNS,
    );
  });

  it('serves every valid user id and top_n: at most top_n items ranked 1..n, the user id echoed in NFC', async () => {
    const topN = fc.integer({ min: 1, max: 100 });
    await fc.assert(
      fc.asyncProperty(validId, topN, fc.boolean(), async (userId, n, zeroPadded) => {
        const result = await get({ user_id: userId, top_n: zeroPadded ? `00${n}` : String(n) });
        assess(result, `user ${describeInput(userId)}`);
        expect(result.statusCode, describeInput(userId)).toBe(200);
        const body = bodyOf<{ user_id: string; items: { rank: number }[] }>(result);
        expect(body.user_id).toBe(userId.normalize('NFC'));
        expect(body.items.length).toBeLessThanOrEqual(n);
        expect(body.items.map((item) => item.rank)).toEqual(body.items.map((_, i) => i + 1));
      }),
      RUNS,
    );
  });

  it('gives the NFC and NFD spellings of a user the same variant and the same stored assignment key', async () => {
    // Letters with combining marks and Hangul syllables: their NFD forms differ from their NFC forms.
    const composable = fc
      .string({
        unit: fc.constantFrom('a', 'e', 'o', 'u', 'n', 'c', 'é', 'ñ', 'ö', 'ç', 'Å', 'ệ', '한', '글', '\u0301', '\u0308', '\u0323'),
        minLength: 1,
        maxLength: 20,
      })
      .filter((s) => !breaksIdRules(s));
    await fc.assert(
      fc.asyncProperty(composable, async (name) => {
        const answers = [];
        for (const form of ['NFC', 'NFD'] as const) {
          const result = await get({ user_id: name.normalize(form) });
          expect(result.statusCode).toBe(200);
          const assignmentKeys = ddb
            .commandCalls(PutCommand)
            .filter((c) => String(c.args[0].input.Item?.pk).startsWith('ASSIGN#'))
            .map((c) => c.args[0].input.Item!.pk);
          answers.push({ variant: bodyOf<{ variant: string }>(result).variant, assignmentKeys });
        }
        expect(answers[1]).toEqual(answers[0]);
        expect(answers[0].assignmentKeys).toEqual([`ASSIGN#default#${name.normalize('NFC')}`]);
      }),
      { numRuns: 60 },
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('POST /events and /events/batch', () => {
  const postEvent = (body: unknown) => call(events, jsonPost('/events', typeof body === 'string' ? body : JSON.stringify(body)));
  const postBatch = (body: unknown) => call(events, jsonPost('/events/batch', JSON.stringify(body), { resource: '/events/batch' }));
  const EVENT_FIELDS = ['event_id', 'event_type', 'user_id', 'experiment_id', 'item_id', 'request_id', 'position', 'value', 'timestamp'];
  const ID_FIELDS = ['event_id', 'user_id', 'experiment_id', 'item_id', 'request_id'] as const;

  /** Events the API must store: every rule of event.ts kept, for the existing experiment. */
  const validEvent = fc
    .record({
      // Ids of the derived form (d-...) are the server's, accepted only as the event's own.
      event_id: fc.option(
        validId.filter((id) => !id.startsWith('d-')),
        { nil: undefined },
      ),
      event_type: fc.constantFrom(...eventTypes),
      user_id: validId,
      item_id: validId,
      position: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }),
      timestamp: fc.option(
        fc.oneof(fc.integer({ min: NOW.getTime() - MAX_EVENT_AGE_MS + 60_000, max: NOW.getTime() + 60_000 }), fc.constant(NOW.toISOString())),
        { nil: undefined },
      ),
      rating: fc.integer({ min: 1, max: 5 }),
      // 0, or from a millionth: DynamoDB cannot hold a number (or its square in a counter) below 1e-130.
      seconds: fc.oneof(fc.constant(0), fc.double({ min: 1e-6, max: 86_400, noNaN: true })),
      amount: fc.option(fc.oneof(fc.constant(0), fc.double({ min: 1e-6, max: 100_000, noNaN: true })), { nil: undefined }),
    })
    .map(({ rating, seconds, amount, ...event }) => {
      const value = event.event_type === 'rating' ? rating : event.event_type === 'watch_time' ? seconds : event.event_type === 'purchase' ? amount : undefined;
      return Object.fromEntries(Object.entries({ ...event, experiment_id: 'default', value }).filter(([, v]) => v !== undefined)) as Record<string, unknown>;
    });

  /** A value each field must refuse, whatever the rest of the event says. */
  const invalidFor: Record<string, fc.Arbitrary<unknown>> = {
    ...Object.fromEntries(
      ID_FIELDS.map((field) => [
        field,
        fc.oneof(
          hostileJson.filter((v) => typeof v !== 'string' && v !== undefined),
          hostileString.filter(breaksIdRules),
        ),
      ]),
    ),
    event_type: hostileJson.filter((v) => !(eventTypes as readonly unknown[]).includes(v)),
    position: fc.oneof(fc.constantFrom(0, -1, 1001, 1.5, 2 ** 53, -0.5, 1e308), hostileString, fc.constantFrom(null, true, [], {})),
    value: fc.oneof(
      fc.constantFrom(-1, -0.001, 100_000.001, 1e21, 1e308, -1e308, 2 ** 53),
      fc.double({ min: Number.MIN_VALUE, max: 1e-6, maxExcluded: true, noNaN: true }),
      hostileString,
      fc.constantFrom(null, true, [], {}),
    ),
    timestamp: fc.oneof(
      fc.constantFrom(
        0,
        -1,
        1.5,
        NOW.getTime() + 3_600_000,
        NOW.getTime() - MAX_EVENT_AGE_MS - 1,
        2 ** 53 + 2,
        '2026-02-30T00:00:00Z',
        '2026-01-15',
        '2026-01-15T10:00:00',
        'yesterday',
        '1768471200000',
        null,
        true,
        {},
      ),
      hostileString.filter((s) => Number.isNaN(Date.parse(s))),
    ),
  };

  it('answers arbitrary JSON bodies without a 5xx, refusing with a named field and writing nothing', async () => {
    await fc.assert(
      fc.asyncProperty(hostileJson, async (body) => {
        const result = await postEvent(body);
        const fields = assess(result, `POST /events ${describeInput(body)}`);
        expect(result.statusCode).toBe(400);
        const sent = typeof body === 'object' && body !== null && !Array.isArray(body) ? Object.keys(body) : [];
        for (const field of fields) expect([...sent, ...EVENT_FIELDS, 'body']).toContain(field);
      }),
      RUNS,
    );
  });

  it('answers arbitrary text bodies declared as JSON with 400 malformed_json naming body when they do not parse', async () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc.constantFrom(
        '',
        ' ',
        '{',
        '{"a":',
        'NaN',
        'Infinity',
        "{'a':1}",
        '{"a":1,}',
        '[1,]',
        '\ufeff{}',
        '{"a":1}{"b":2}',
        '{"a":01}',
        '{"a":.5}',
        '{"a":"\\x41"}',
        '{"a":"\\ud800"}',
      ),
    );
    await fc.assert(
      fc.asyncProperty(text, async (body) => {
        const result = await postEvent(body);
        const fields = assess(result, `POST /events ${describeInput(body)}`);
        expect(result.statusCode).toBe(400);
        let parses = true;
        try {
          JSON.parse(body);
        } catch {
          parses = false;
        }
        if (!parses) expect(fields).toEqual(['body']);
      }),
      RUNS,
    );
  });

  it('stores every valid event (201)', async () => {
    await fc.assert(
      fc.asyncProperty(validEvent, async (event) => {
        const result = await postEvent(event);
        assess(result, `POST /events ${describeInput(event)}`);
        expect(result.statusCode, `${describeInput(event)}: ${result.body}`).toBe(201);
        expect(writesSent(ddb)).toContain('PutCommand');
      }),
      RUNS,
    );
  });

  it('refuses one bad field of an otherwise valid event with a 400 naming that field, writing nothing', async () => {
    const broken = fc.constantFrom(...Object.keys(invalidFor)).chain((field) => fc.tuple(fc.constant(field), validEvent, invalidFor[field]));
    await fc.assert(
      fc.asyncProperty(broken, async ([field, event, bad]) => {
        const body = { ...event, [field]: bad };
        const result = await postEvent(body);
        const fields = assess(result, `POST /events ${describeInput(body)}`);
        expect(result.statusCode, describeInput(body)).toBe(400);
        expect(fields).toEqual(expect.arrayContaining(expectedFields(body, [field])));
      }),
      RUNS,
    );
  });

  it('refuses an event with an extra key, naming the key (prototype keys included), writing nothing', async () => {
    const extra = extraKey.filter((key) => !EVENT_FIELDS.includes(key));
    await fc.assert(
      fc.asyncProperty(validEvent, extra, hostileJson, async (event, key, value) => {
        const body = { ...event };
        Object.defineProperty(body, key, { value, enumerable: true, configurable: true, writable: true });
        const result = await postEvent(body);
        const fields = assess(result, `POST /events ${describeInput(body)}`);
        expect(result.statusCode).toBe(400);
        expect(fields).toEqual(expectedFields(body, [keyField(key)]));
      }),
      RUNS,
    );
  });

  it('refuses a batch with any bad event, naming events[i].<field> for exactly the bad indices, writing nothing', async () => {
    // Valid events without an explicit id: an id shared by two events with different content is a 409 conflict by design.
    const item = fc.oneof(
      validEvent.map(({ event_id: _id, ...event }) => ({ event: event as Record<string, unknown>, bad: undefined as string | undefined })),
      fc
        .constantFrom(...Object.keys(invalidFor))
        .chain((field) => fc.tuple(validEvent, invalidFor[field]).map(([event, bad]) => ({ event: { ...event, [field]: bad }, bad: field }))),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(item, { minLength: 1, maxLength: 12 }), async (items) => {
        const body = { events: items.map((i) => i.event) };
        const result = await postBatch(body);
        const fields = assess(result, `POST /events/batch ${describeInput(items)}`);
        const badIndices = items.flatMap((i, index) => (i.bad ? [index] : []));
        if (parserRefuses(body)) {
          expect(result.statusCode).toBe(400);
          expect(fields).toEqual(['body']);
          return;
        }
        if (badIndices.length === 0) {
          expect(result.statusCode, result.body).toBe(200);
          expect(bodyOf<{ received: number }>(result).received).toBe(items.length);
          return;
        }
        expect(result.statusCode).toBe(400);
        const namedIndices = new Set(fields.map((f) => Number(/^events\[(\d+)\]/.exec(f)?.[1])));
        expect(namedIndices).toEqual(new Set(badIndices));
        for (const index of badIndices) expect(fields).toContain(`events[${index}].${items[index].bad}`);
      }),
      { numRuns: 100 },
    );
  });

  it('answers arbitrary batch bodies without a 5xx, refusing with a named field and writing nothing', async () => {
    const body = fc.oneof(
      hostileJson,
      fc.record({ events: hostileJson }),
      fc.record({ events: fc.array(hostileJson, { maxLength: 5 }) }),
      fc.dictionary(extraKey, hostileJson, { maxKeys: 3 }),
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const result = await postBatch(b);
        const fields = assess(result, `POST /events/batch ${describeInput(b)}`);
        expect(result.statusCode).toBe(400);
        const sent = typeof b === 'object' && b !== null && !Array.isArray(b) ? Object.keys(b) : [];
        for (const field of fields) expect(field === 'events' || field === 'body' || field.startsWith('events[') || sent.includes(field), field).toBe(true);
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('admin API', () => {
  const admin = (
    method: 'GET' | 'POST' | 'PATCH',
    resource: string,
    pathParameters: Record<string, string> | undefined,
    body?: unknown,
    query?: Record<string, string>,
  ) =>
    call(
      experiments,
      apiEvent({
        method,
        path: resource.replace(/\{(\w+)\}/g, (_, name: string) => safeEncode(pathParameters?.[name] ?? '')),
        resource,
        pathParameters,
        query,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );

  /** Every route under /experiments/{id}, with a body its POSTs and PATCH accept. */
  const ID_ROUTES: ['GET' | 'POST' | 'PATCH', string, unknown][] = [
    ['GET', '/experiments/{id}', undefined],
    ['PATCH', '/experiments/{id}', { name: 'x' }],
    ['POST', '/experiments/{id}/start', {}],
    ['POST', '/experiments/{id}/stop', {}],
    ['POST', '/experiments/{id}/ramp', { weights: { control: 0.5, treatment: 0.5 } }],
    ['POST', '/experiments/{id}/promote', { winner: 'treatment', force: true }],
    ['GET', '/experiments/{id}/results', undefined],
    ['GET', '/experiments/{id}/reports', undefined],
  ];
  const REPORT_ID = /^[a-z0-9_-]{1,64}$/;

  it('refuses every path id that breaks the id rules with 400 naming id, and answers 404 naming id for an unknown one, writing nothing', async () => {
    const id = fc.oneof(hostileString, validId).filter((s) => s.normalize('NFC') !== running.id && s.normalize('NFC') !== draft.id);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ID_ROUTES), id, async ([method, resource, body], pathId) => {
        const result = await admin(method, resource, { id: pathId }, body);
        const fields = assess(result, `${method} ${resource} id=${describeInput(pathId)}`);
        const refused = breaksIdRules(pathId) || (resource.endsWith('/reports') && !REPORT_ID.test(pathId.normalize('NFC')));
        expect(result.statusCode, `${resource} ${describeInput(pathId)}: ${result.body}`).toBe(refused ? 400 : 404);
        expect(new Set(fields)).toEqual(new Set(['id']));
      }),
      RUNS,
    );
  });

  it('refuses a report day that is not a calendar date, or a format other than json and html, naming each; 404 naming day when there is no report', async () => {
    const day = fc.oneof(
      hostileString,
      fc.date({ min: new Date('1970-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
      fc.constantFrom('2026-02-29', '2024-02-29', '2026-13-01', '2026-00-10', '2026-01-32', '2026-1-5', '20260115', '2026-01-15T00:00:00Z', '٢٠٢٦-٠١-١٥'),
    );
    const format = fc.option(fc.oneof(fc.constantFrom('json', 'html', 'JSON', 'pdf', 'html '), hostileString), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(day, format, async (d, f) => {
        const result = await admin(
          'GET',
          '/experiments/{id}/reports/{day}',
          { id: running.id, day: d },
          undefined,
          f === undefined ? undefined : { format: f },
        );
        const fields = assess(result, `reports/${describeInput(d)}?format=${describeInput(f)}`);
        const time = /^\d{4}-\d{2}-\d{2}$/.test(d) ? Date.parse(`${d}T00:00:00Z`) : Number.NaN;
        const dayOk = !Number.isNaN(time) && new Date(time).toISOString().slice(0, 10) === d;
        const formatOk = f === undefined || f === 'json' || f === 'html';
        const want = [...(dayOk ? [] : ['day']), ...(formatOk ? [] : ['format'])];
        expect(result.statusCode, `${describeInput(d)} ${describeInput(f)}: ${result.body}`).toBe(want.length > 0 ? 400 : 404);
        expect(fields).toEqual(want.length > 0 ? want : ['day']);
      }),
      RUNS,
    );
  });

  /** A create request pinning the tiny artifacts with 2..5 variants whose weights sum to 1. */
  const validCreate = fc
    .record({
      id: fc.stringMatching(/^[a-z0-9_-]{1,64}$/),
      name: fc.string({ minLength: 1, maxLength: 50 }).filter((s) => s.trim().length > 0),
      shares: fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 2, maxLength: 5 }),
      status: fc.constantFrom('draft', 'running'),
      mode: fc.constantFrom('ab', 'bandit'),
    })
    // Ids with the reserved salt prefix need a salt of their own (the salt defaults to the id).
    .filter(({ id }) => id !== running.id && id !== draft.id && !id.startsWith('__'))
    .map(({ id, name, shares, status, mode }) => {
      // Weights in basis points, the last one taking the rounding, so they sum to 1 within the tolerance.
      const total = shares.reduce((a, b) => a + b, 0);
      const bp = shares.map((s) => Math.floor((s / total) * 10_000));
      bp[bp.length - 1] += 10_000 - bp.reduce((a, b) => a + b, 0);
      return {
        id,
        name,
        status,
        mode,
        variants: bp.map((w, i) => ({
          name: `v${i}`,
          model_id: (i === 0 ? control : treatment).manifest.model_id,
          model_version: (i === 0 ? control : treatment).manifest.version,
          weight: w / 10_000,
          is_control: i === 0,
        })),
        target_metric: { kind: 'click_through' },
      } as Record<string, unknown>;
    });

  it('creates every valid experiment (201, one conditional put)', async () => {
    await fc.assert(
      fc.asyncProperty(validCreate, async (request) => {
        const result = await admin('POST', '/experiments', undefined, request);
        assess(result, `POST /experiments ${describeInput(request)}`);
        expect(result.statusCode, result.body).toBe(201);
        expect(writesSent(ddb)).toEqual(['PutCommand']);
      }),
      RUNS,
    );
  });

  it('answers a create request with any one field replaced or added without a 5xx; a refusal names a field and writes nothing', async () => {
    const CREATE_FIELDS = [
      'id',
      'name',
      'description',
      'status',
      'variants',
      'target_metric',
      'guardrails',
      'min_sample_size',
      'minimum_detectable_effect',
      'confidence_level',
      'analysis_method',
      'mode',
      'start_time',
      'end_time',
      'max_duration_days',
      'traffic_coverage',
      'holdout_share',
      'bandit',
      'salt',
      'layer',
      'follow_latest',
    ];
    const field = fc.oneof(fc.constantFrom(...CREATE_FIELDS), extraKey);
    await fc.assert(
      fc.asyncProperty(validCreate, field, hostileJson, async (request, key, value) => {
        const body = { ...request };
        Object.defineProperty(body, key, { value, enumerable: true, configurable: true, writable: true });
        const result = await admin('POST', '/experiments', undefined, body);
        const fields = assess(result, `POST /experiments ${describeInput(body)}`);
        if (!CREATE_FIELDS.includes(key) || parserRefuses(body)) {
          expect(result.statusCode).toBe(400);
          expect(fields).toEqual(expectedFields(body, [keyField(key)]));
        }
        // A refusal names fields of the request (or the cross-field rules' variants), never something else.
        for (const named of fields)
          expect(Object.keys(body).includes(named) || [...Object.keys(body), 'variants', 'body'].includes(topField(named)), named).toBe(true);
      }),
      RUNS,
    );
  });

  it('answers arbitrary bodies on PATCH, start, stop, ramp and promote without a 5xx; a refusal names a field and writes nothing', async () => {
    const routes: ['PATCH' | 'POST', string, Experiment][] = [
      ['PATCH', '/experiments/{id}', draft],
      ['POST', '/experiments/{id}/start', draft],
      ['POST', '/experiments/{id}/stop', running],
      ['POST', '/experiments/{id}/ramp', running],
      ['POST', '/experiments/{id}/promote', running],
    ];
    const body = fc.oneof(
      hostileJson,
      fc.dictionary(fc.oneof(extraKey, fc.constantFrom('expected_revision', 'weights', 'winner', 'force', 'name', 'variants', 'salt', 'status')), hostileJson, {
        maxKeys: 3,
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), body, async ([method, resource, experiment], b) => {
        const result = await admin(method, resource, { id: experiment.id }, b);
        const fields = assess(result, `${method} ${resource} ${describeInput(b)}`);
        if (result.statusCode >= 400) expect(fields.length).toBeGreaterThan(0);
        // A body that is not a JSON object is never taken for an empty one.
        if (typeof b !== 'object' || b === null || Array.isArray(b)) {
          expect(result.statusCode, `${resource} ${describeInput(b)}: ${result.body}`).toBe(400);
          expect(fields).toEqual(['body']);
        }
      }),
      RUNS,
    );
  });
});

describe('GET /experiments and GET /models', () => {
  it('answer 200 whatever query comes with them, and refuse a body only as JSON, naming body or content-type', async () => {
    const request = fc.record({
      resource: fc.constantFrom('/experiments', '/models'),
      query: fc.option(fc.dictionary(fc.oneof(extraKey, hostileString), hostileString, { maxKeys: 3 }), { nil: undefined }),
      body: fc.option(
        fc.oneof(
          hostileString,
          hostileJson.map((v) => JSON.stringify(v) ?? ''),
        ),
        { nil: undefined },
      ),
      contentType: fc.constantFrom(undefined, 'application/json', 'text/plain'),
    });
    await fc.assert(
      fc.asyncProperty(request, async ({ resource, query, body, contentType }) => {
        const result = await call(experiments, apiEvent({ path: resource, query, headers: contentType ? { 'content-type': contentType } : {}, body }));
        const fields = assess(result, `GET ${resource} ${describeInput({ query, body, contentType })}`);
        if (body === undefined || body === '') expect(result.statusCode, result.body).toBe(200);
        else if (result.statusCode !== 200) expect(['body', 'content-type']).toEqual(expect.arrayContaining(fields));
        expect(writesSent(ddb, s3)).toEqual([]);
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('GET /health', () => {
  it('answers 200 whatever query, headers and body come with it, when its dependencies answer', async () => {
    const request = fc.record({
      query: fc.option(fc.dictionary(hostileString, hostileString, { maxKeys: 3 }), { nil: undefined }),
      headers: fc.dictionary(fc.oneof(fc.constantFrom('content-type', 'x-api-key', 'accept', 'origin'), fc.stringMatching(/^[a-z-]{1,20}$/)), hostileString, {
        maxKeys: 4,
      }),
      body: fc.option(
        fc.oneof(
          hostileString,
          hostileJson.map((v) => JSON.stringify(v) ?? ''),
        ),
        { nil: undefined },
      ),
    });
    const { GetCommand } = await import('@aws-sdk/lib-dynamodb');
    const { HeadBucketCommand } = await import('@aws-sdk/client-s3');
    ddb.on(GetCommand).resolves({});
    s3.on(HeadBucketCommand).resolves({});
    await fc.assert(
      fc.asyncProperty(request, async ({ query, headers, body }) => {
        const result = await call(health, apiEvent({ path: '/health', query, headers, body }));
        expect(result.statusCode).toBe(200);
        expect(bodyOf(result)).toMatchObject({ status: 'ok' });
        expect(writesSent(ddb, s3)).toEqual([]);
      }),
      RUNS,
    );
  });
});
