import { GetObjectCommand, ListObjectsV2Command, S3Client, type ListObjectsV2CommandInput } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createExperiment } from '../../lambdas/domain/experiments/lifecycle.ts';
import type { Experiment } from '../../lambdas/domain/experiments/model.ts';
import { analysisFromCounters } from '../../lambdas/services/experiment-results.ts';
import { addDays, syntheticDailyCounters, type SyntheticArm } from '../../lambdas/services/synthetic-counters.ts';
import { apiEvent, bodyOf, fieldsOf, jsonPost, lambdaContext, type ErrorResponseBody } from './support/api-gateway.ts';
import { FakeBucket, FakeTables, conditionalCheckFailed } from './support/aws.ts';
import { TABLE, stubHandlerEnv } from './support/env.ts';
import './support/matchers.ts';
import { NOW, tinyArtifact, tinyModel } from './support/models.ts';
import { encodeArtifact } from '../../lambdas/domain/recommenders/artifact.ts';
import type { DailyCounter } from '../../lambdas/storage/counter-store.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const s3 = mockClient(S3Client);
const control = tinyArtifact({ modelId: 'popularity-test' });
const treatment = tinyArtifact({ modelId: 'factors-test', shift: 3 });
const ID = 'ranker-test';

let handler: typeof import('../../lambdas/experiments.ts').handler;
let tables: FakeTables;
let bucket: FakeBucket;

/** A create request pinning the two tiny artifacts, 50/50. */
function createRequest(overrides: Record<string, unknown> = {}) {
  return {
    id: ID,
    name: 'Ranker test',
    variants: [
      { name: 'control', model_id: control.manifest.model_id, model_version: control.manifest.version, weight: 0.5, is_control: true },
      { name: 'treatment', model_id: treatment.manifest.model_id, model_version: treatment.manifest.version, weight: 0.5 },
    ],
    target_metric: { kind: 'click_through' },
    ...overrides,
  };
}

const stored = (status: 'draft' | 'running'): Experiment => createExperiment({ request: createRequest({ status }), now: NOW });
const action = (name: string, body: unknown = {}) =>
  handler(jsonPost(`/experiments/${ID}/${name}`, body, { resource: `/experiments/{id}/${name}`, pathParameters: { id: ID } }), lambdaContext());
const DAY = NOW.toISOString().slice(0, 10);
const arm = (variant: string, overrides: Partial<SyntheticArm> = {}): SyntheticArm => ({ variant, users: 5000, ctr: 0.05, conversionRate: 0.05, ...overrides });

/** Seven days of counters ending on DAY; returns them as the counter repository reads them. */
function seedCounters(arms: SyntheticArm[]): Record<string, DailyCounter[]> {
  const out: Record<string, DailyCounter[]> = {};
  for (const row of syntheticDailyCounters({ arms, days: 7, firstDay: addDays(DAY, -6) })) {
    tables.seedCounter(ID, row.variant, row.day, row.increments as Record<string, number>);
    (out[row.variant] ??= []).push({ day: row.day, ...(row.increments as Record<string, number>) });
  }
  return out;
}

/** S3 ListObjectsV2 over the fake bucket's keys, `pageSize` keys a page, with a Delimiter folding keys into CommonPrefixes. */
function listing(keys: string[], pageSize = 1000) {
  s3.on(ListObjectsV2Command).callsFake((input: ListObjectsV2CommandInput) => {
    const matching = keys.filter((key) => key.startsWith(input.Prefix ?? '')).sort();
    if (input.Delimiter) {
      const prefixes = [
        ...new Set(
          matching.map((key) => key.slice(0, key.indexOf(input.Delimiter!, (input.Prefix ?? '').length) + 1)).filter((p) => p.endsWith(input.Delimiter!)),
        ),
      ];
      return { CommonPrefixes: prefixes.map((Prefix) => ({ Prefix })) };
    }
    const start = Number(input.ContinuationToken ?? 0);
    const page = matching.slice(start, start + pageSize);
    const more = start + pageSize < matching.length;
    return { Contents: page.map((Key) => ({ Key })), IsTruncated: more, NextContinuationToken: more ? String(start + pageSize) : undefined };
  });
}

const experimentPuts = () => ddb.commandCalls(PutCommand).filter((c) => c.args[0].input.TableName === TABLE.experiments);

describe('admin API /experiments', () => {
  beforeAll(async () => {
    stubHandlerEnv();
    ({ handler } = await import('../../lambdas/experiments.ts'));
  });
  afterAll(() => vi.unstubAllEnvs());
  beforeEach(() => {
    ddb.reset();
    s3.reset();
    tables = new FakeTables(ddb);
    bucket = new FakeBucket(s3).putArtifact(control).putArtifact(treatment);
  });

  describe('POST /experiments', () => {
    it('creates the experiment (201) after reading the manifest of every pinned version', async () => {
      // Act
      const result = await handler(jsonPost('/experiments', createRequest()), lambdaContext());

      // Assess
      expect(result.statusCode).toBe(201);
      expect(bodyOf(result)).toMatchObject({ id: ID, status: 'draft', revision: 0 });
      expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Key: `models/popularity-test/${control.manifest.version}/manifest.json` });
      expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Key: `models/factors-test/${treatment.manifest.version}/manifest.json` });
      expect(ddb).toHaveReceivedCommandWith(PutCommand, {
        TableName: TABLE.experiments,
        ConditionExpression: 'attribute_not_exists(pk)',
        Item: expect.objectContaining({ pk: 'EXPERIMENT', sk: ID, revision: 0 }),
      });
    });

    it('answers 400 naming variants[i].model_version when a pinned version does not exist, and stores nothing', async () => {
      // Prepare
      const request = createRequest();
      request.variants[1] = { ...request.variants[1], model_version: '0123456789abcdef' };

      // Act
      const result = await handler(jsonPost('/experiments', request), lambdaContext());

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['variants[1].model_version']);
      expect(ddb).not.toHaveReceivedCommand(PutCommand);
    });

    it('answers 400 naming the field for weights that do not sum to 1', async () => {
      // Prepare
      const request = createRequest();
      request.variants[1] = { ...request.variants[1], weight: 0.3 };

      // Act
      const result = await handler(jsonPost('/experiments', request), lambdaContext());

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['variants']);
      expect(ddb).not.toHaveReceivedCommand(PutCommand);
    });

    it('answers 409 when the id exists (the conditional put fails)', async () => {
      // Prepare
      ddb.on(PutCommand, { TableName: TABLE.experiments }).rejects(conditionalCheckFailed());

      // Act
      const result = await handler(jsonPost('/experiments', createRequest()), lambdaContext());

      // Assess
      expect(result.statusCode).toBe(409);
      expect(bodyOf<{ error: { message: string } }>(result).error.message).toContain(ID);
    });

    it('answers 400 malformed_json for a body that is not JSON', async () => {
      // Act
      const result = await handler(jsonPost('/experiments', '{"id": '), lambdaContext());

      // Assess
      expect(result.statusCode).toBe(400);
      expect(bodyOf<{ error: { code: string } }>(result).error.code).toBe('malformed_json');
    });

    it('answers 400 naming a key sent twice, writing nothing', async () => {
      // Prepare
      const body = JSON.stringify(createRequest()).replace('"name":', '"name":"first","name":');

      // Act
      const result = await handler(jsonPost('/experiments', body), lambdaContext());

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['name']);
      expect(experimentPuts()).toHaveLength(0);
    });

    it('answers 400 naming content-type for a body that is not declared as JSON, writing nothing', async () => {
      // Act
      const result = await handler(
        apiEvent({ method: 'POST', path: '/experiments', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(createRequest()) }),
        lambdaContext(),
      );

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['content-type']);
      expect(experimentPuts()).toHaveLength(0);
    });
  });

  describe('GET /experiments', () => {
    it('lists the experiments with a Query on pk EXPERIMENT', async () => {
      // Prepare
      tables.seedExperiment(stored('draft'));

      // Act
      const result = await handler(apiEvent({ path: '/experiments' }), lambdaContext());

      // Assess
      expect(result.statusCode).toBe(200);
      expect(bodyOf<{ experiments: Experiment[] }>(result).experiments.map((e) => e.id)).toEqual([ID]);
      expect(ddb).toHaveReceivedCommandWith(QueryCommand, { TableName: TABLE.experiments, ExpressionAttributeValues: { ':pk': 'EXPERIMENT' } });
    });
  });

  describe('GET /experiments/{id}/results', () => {
    // The analysis day is the UTC day of the request.
    beforeEach(() => vi.useFakeTimers({ toFake: ['Date'], now: NOW }));
    afterEach(() => vi.useRealTimers());
    const results = () =>
      handler(apiEvent({ path: `/experiments/${ID}/results`, resource: '/experiments/{id}/results', pathParameters: { id: ID } }), lambdaContext());

    it('returns the analysis document the scheduled run writes, from the same counters', async () => {
      // Prepare
      const experiment = stored('running');
      tables.seedExperiment(experiment);
      const counters = seedCounters([arm('control'), arm('treatment', { ctr: 0.07 })]);

      // Act
      const result = await results();

      // Assess
      expect(result.statusCode).toBe(200);
      expect(bodyOf(result)).toEqual(JSON.parse(JSON.stringify(analysisFromCounters(experiment, counters, { day: DAY }))));
      expect(bodyOf(result)).toMatchObject({ experiment_id: ID, result: 'ok', decision: 'ship', winner: 'treatment' });
    });

    it('reads one Query per variant from the counters table, and one of its shown-item markers', async () => {
      // Prepare
      tables.seedExperiment(stored('running'));
      seedCounters([arm('control'), arm('treatment')]);

      // Act
      await results();

      // Assess
      const counterQueries = ddb.commandCalls(QueryCommand).filter((c) => c.args[0].input.TableName === TABLE.counters);
      expect(counterQueries.map((c) => c.args[0].input.ExpressionAttributeValues?.[':pk']).sort()).toEqual([
        `EXP#${ID}#SHOWN#control`,
        `EXP#${ID}#SHOWN#treatment`,
        `EXP#${ID}#VAR#control`,
        `EXP#${ID}#VAR#treatment`,
      ]);
    });

    it('sums the daily counters of each variant into the totals', async () => {
      // Prepare
      tables.seedExperiment(stored('running'));
      tables.seedCounter(ID, 'control', '2026-01-14', { exposed_users: 10, impressions: 40, clicks: 4 });
      tables.seedCounter(ID, 'control', '2026-01-15', { exposed_users: 5, impressions: 20, clicks: 1 });
      tables.seedCounter(ID, 'treatment', '2026-01-15', { exposed_users: 12, impressions: 50, clicks: 9 });

      // Act
      const result = await results();

      // Assess
      expect(bodyOf(result)).toMatchObject({
        experiment_id: ID,
        totals: { control: { exposed_users: 15, impressions: 60, clicks: 5 }, treatment: { exposed_users: 12, impressions: 50, clicks: 9 } },
      });
    });

    it('answers insufficient-data with a reason, not an error, when there are no counters', async () => {
      // Prepare
      tables.seedExperiment(stored('running'));

      // Act
      const result = await results();

      // Assess
      expect(result.statusCode).toBe(200);
      expect(bodyOf(result)).toMatchObject({ result: 'insufficient-data', reason: 'no counters yet', decision: 'keep-running', report: null });
    });

    it('answers 422 naming the field when the counters are impossible', async () => {
      // Prepare
      tables.seedExperiment(stored('running'));
      tables.seedCounter(ID, 'control', '2026-01-15', { exposed_users: -5 });
      tables.seedCounter(ID, 'treatment', '2026-01-15', { exposed_users: 10 });

      // Act
      const result = await results();

      // Assess
      expect(result.statusCode).toBe(422);
      expect(bodyOf<{ error: { code: string; message: string } }>(result).error).toMatchObject({
        code: 'inconsistent_counters',
        message: expect.stringContaining('exposed_users'),
      });
    });
  });

  describe('GET /experiments/{id}', () => {
    it('returns a stored experiment', async () => {
      // Prepare
      const experiment = stored('draft');
      tables.seedExperiment(experiment);

      // Act
      const result = await handler(apiEvent({ path: `/experiments/${ID}`, resource: '/experiments/{id}', pathParameters: { id: ID } }), lambdaContext());

      // Assess
      expect(result.statusCode).toBe(200);
      expect(bodyOf(result)).toEqual(experiment);
    });

    it('answers 404 for an unknown id', async () => {
      // Act
      const result = await handler(apiEvent({ path: '/experiments/nope', resource: '/experiments/{id}', pathParameters: { id: 'nope' } }), lambdaContext());

      // Assess
      expect(result.statusCode).toBe(404);
    });
  });

  describe('an id in the path', () => {
    const routes = [
      ['GET', '/experiments/{id}'],
      ['PATCH', '/experiments/{id}'],
      ['GET', '/experiments/{id}/results'],
      ['POST', '/experiments/{id}/start'],
      ['POST', '/experiments/{id}/stop'],
      ['POST', '/experiments/{id}/ramp'],
      ['POST', '/experiments/{id}/promote'],
      ['GET', '/experiments/{id}/reports'],
    ] as const;
    const request = (method: 'GET' | 'POST' | 'PATCH', resource: string, id: string) =>
      handler(
        apiEvent({
          method,
          path: resource.replace('{id}', 'bad-id'),
          resource,
          pathParameters: { id },
          ...(method === 'GET' ? {} : { headers: { 'content-type': 'application/json' }, body: '{}' }),
        }),
        lambdaContext(),
      );
    const storesAsked = () => ddb.calls().length + s3.calls().length;

    it.each(routes)("over DynamoDB's key limit (3,000 characters) answers 400 naming id on %s %s, before any store is asked", async (method, resource) => {
      // Act
      const result = await request(method, resource, 'x'.repeat(3000));

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['id']);
      expect(storesAsked()).toBe(0);
    });

    it.each([
      ['257 bytes of UTF-8', 'x'.repeat(257)],
      ['a control character', 'exp\u0000'],
      ['a C1 control character', 'exp\u0085'],
      ['a lone surrogate', 'exp\ud800'],
      ['only blanks', '   '],
    ])('with %s answers 400 naming id, before any store is asked', async (_case, id) => {
      // Act
      const result = await request('GET', '/experiments/{id}', id);

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['id']);
      expect(storesAsked()).toBe(0);
    });
  });

  describe('transitions', () => {
    it('starts a draft: status running, revision + 1, written on the condition of the revision read', async () => {
      // Prepare
      tables.seedExperiment(stored('draft'));

      // Act
      const result = await action('start');

      // Assess
      expect(result.statusCode).toBe(200);
      expect(bodyOf(result)).toMatchObject({ status: 'running', revision: 1 });
      expect(ddb).toHaveReceivedCommandWith(PutCommand, {
        TableName: TABLE.experiments,
        ConditionExpression: 'revision = :expected',
        ExpressionAttributeValues: { ':expected': 0 },
        Item: expect.objectContaining({ revision: 1, data: expect.objectContaining({ status: 'running' }) }),
      });
    });

    it('stops a running experiment', async () => {
      // Prepare
      tables.seedExperiment(stored('running'));

      // Act
      const result = await action('stop');

      // Assess
      expect(result.statusCode).toBe(200);
      expect(bodyOf(result)).toMatchObject({ status: 'stopped', revision: 1 });
    });

    it('answers 409 for an illegal transition (starting a running experiment) and writes nothing', async () => {
      // Prepare
      tables.seedExperiment(stored('running'));

      // Act
      const result = await action('start');

      // Assess
      expect(result.statusCode).toBe(409);
      expect(experimentPuts()).toHaveLength(0);
    });

    it('answers 409 when the experiment changed since it was read (the conditional put fails)', async () => {
      // Prepare
      tables.seedExperiment(stored('draft'));
      ddb.on(PutCommand, { TableName: TABLE.experiments }).rejects(conditionalCheckFailed());

      // Act
      const result = await action('start');

      // Assess
      expect(result.statusCode).toBe(409);
    });

    it('answers 409 when expected_revision is not the current revision', async () => {
      // Prepare
      tables.seedExperiment(stored('draft'));

      // Act
      const result = await action('start', { expected_revision: 3 });

      // Assess
      expect(result.statusCode).toBe(409);
      expect(experimentPuts()).toHaveLength(0);
    });
  });

  describe('ramp', () => {
    it('changes the weights of a running experiment', async () => {
      // Prepare
      tables.seedExperiment(stored('running'));

      // Act
      const result = await action('ramp', { weights: { control: 0.8, treatment: 0.2 } });

      // Assess
      expect(result.statusCode).toBe(200);
      expect(bodyOf<Experiment>(result).variants.map((v) => v.weight)).toEqual([0.8, 0.2]);
    });

    it('answers 400 naming weights when the new weights do not sum to 1', async () => {
      // Prepare
      tables.seedExperiment(stored('running'));

      // Act
      const result = await action('ramp', { weights: { control: 0.7, treatment: 0.2 } });

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['weights']);
      expect(experimentPuts()).toHaveLength(0);
    });
  });

  describe('PATCH /experiments/{id}', () => {
    const patch = (body: unknown) =>
      handler(
        apiEvent({
          method: 'PATCH',
          path: `/experiments/${ID}`,
          resource: '/experiments/{id}',
          pathParameters: { id: ID },
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }),
        lambdaContext(),
      );
    const reweighted = (control: number, treatment: number) =>
      createRequest().variants.map((v) => ({ ...v, weight: v.name === 'control' ? control : treatment }));

    it('answers 409 pointing to /ramp for a weight change on a running experiment, writing nothing', async () => {
      // Prepare
      tables.seedExperiment(stored('running'));

      // Act
      const result = await patch({ variants: reweighted(0.8, 0.2) });

      // Assess
      expect(result.statusCode).toBe(409);
      expect(bodyOf<{ error: { message: string } }>(result).error.message).toContain('/ramp');
      expect(experimentPuts()).toHaveLength(0);
    });

    it('lets a running experiment change its description', async () => {
      // Prepare
      tables.seedExperiment(stored('running'));

      // Act
      const result = await patch({ description: 'now with a better treatment' });

      // Assess
      expect(result.statusCode).toBe(200);
      expect(bodyOf<Experiment>(result)).toMatchObject({ description: 'now with a better treatment', revision: 1 });
    });

    it('lets a draft change its weights', async () => {
      // Prepare
      tables.seedExperiment(stored('draft'));

      // Act
      const result = await patch({ variants: reweighted(0.7, 0.3) });

      // Assess
      expect(result.statusCode).toBe(200);
      expect(bodyOf<Experiment>(result).variants.map((v) => v.weight)).toEqual([0.7, 0.3]);
    });
  });

  describe('promote', () => {
    beforeEach(() => vi.useFakeTimers({ toFake: ['Date'], now: NOW }));
    afterEach(() => vi.useRealTimers());
    it('answers 409 when the analysis is not significant', async () => {
      // Prepare
      tables.seedExperiment(stored('running'));

      // Act
      const result = await action('promote', { winner: 'treatment' });

      // Assess
      expect(result.statusCode).toBe(409);
      expect(bodyOf<{ error: { message: string } }>(result).error.message).toContain('not significant');
      expect(experimentPuts()).toHaveLength(0);
    });

    it('promotes the winner the report ships, without naming it', async () => {
      // Prepare
      tables.seedExperiment(stored('running'));
      seedCounters([arm('control'), arm('treatment', { ctr: 0.07 })]);

      // Act
      const result = await action('promote');

      // Assess
      expect(result.statusCode).toBe(200);
      expect(bodyOf<Experiment>(result)).toMatchObject({ status: 'completed', winner: 'treatment' });
    });

    it('answers 409 on a sample ratio mismatch even with a clear lift', async () => {
      // Prepare
      tables.seedExperiment(stored('running'));
      seedCounters([arm('control', { users: 5200 }), arm('treatment', { users: 4800, ctr: 0.07 })]);

      // Act
      const result = await action('promote', { winner: 'treatment' });

      // Assess
      expect(result.statusCode).toBe(409);
      expect(bodyOf<{ error: { message: string } }>(result).error.message).toContain('sample ratio mismatch');
      expect(experimentPuts()).toHaveLength(0);
    });

    it('promotes when forced even if the counters cannot be analysed', async () => {
      // Prepare
      tables.seedExperiment(stored('running'));
      tables.seedCounter(ID, 'control', DAY, { exposed_users: -5 });

      // Act
      const result = await action('promote', { winner: 'treatment', force: true });

      // Assess
      expect(result.statusCode).toBe(200);
      expect(bodyOf<Experiment>(result)).toMatchObject({ status: 'completed', winner: 'treatment' });
    });

    it('completes the experiment with the named winner when forced', async () => {
      // Prepare
      tables.seedExperiment(stored('running'));

      // Act
      const result = await action('promote', { winner: 'treatment', force: true });

      // Assess
      expect(result.statusCode).toBe(200);
      const body = bodyOf<Experiment>(result);
      expect(body).toMatchObject({ status: 'completed', winner: 'treatment' });
      expect(body.variants.map((v) => [v.name, v.weight, v.active])).toEqual([
        ['control', 0, false],
        ['treatment', 1, true],
      ]);
    });
  });

  describe('daily reports', () => {
    const report = (day: string, decision: string, winner: string | null = null) => ({
      experiment_id: ID,
      day,
      result: 'ok',
      decision,
      decision_reason: `because ${day}`,
      winner,
    });
    /** Stores both forms of a report in the fake bucket and returns their keys. */
    function storeReport(day: string, decision: string, winner: string | null = null): string[] {
      const base = `reports/${ID}/${day}/report`;
      bucket.put(`${base}.json`, JSON.stringify(report(day, decision, winner))).put(`${base}.html`, `<!doctype html><title>${day}</title>`);
      return [`${base}.json`, `${base}.html`];
    }
    const history = (id = ID) =>
      handler(apiEvent({ path: `/experiments/${id}/reports`, resource: '/experiments/{id}/reports', pathParameters: { id } }), lambdaContext());
    const oneDay = (day: string, query?: Record<string, string>, id = ID) =>
      handler(
        apiEvent({ path: `/experiments/${id}/reports/${day}`, resource: '/experiments/{id}/reports/{day}', pathParameters: { id, day }, query }),
        lambdaContext(),
      );
    const storesAsked = () => ddb.calls().length + s3.calls().length;

    it("lists the report days newest first with their decisions, reading every page of the experiment's prefix", async () => {
      // Prepare
      tables.seedExperiment(stored('running'));
      listing(
        [
          ...storeReport('2026-01-13', 'keep-running'),
          ...storeReport('2026-01-15', 'ship', 'treatment'),
          ...storeReport('2026-01-14', 'keep-running'),
          'reports/other/2026-01-15/report.json',
        ],
        2,
      );

      // Act
      const result = await history();

      // Assess
      expect(result.statusCode).toBe(200);
      expect(bodyOf(result)).toEqual({
        experiment_id: ID,
        reports: [
          {
            day: '2026-01-15',
            decision: 'ship',
            decision_reason: 'because 2026-01-15',
            winner: 'treatment',
            result: 'ok',
            json_key: `reports/${ID}/2026-01-15/report.json`,
            html_key: `reports/${ID}/2026-01-15/report.html`,
          },
          expect.objectContaining({ day: '2026-01-14', decision: 'keep-running', winner: null }),
          expect.objectContaining({ day: '2026-01-13', decision: 'keep-running' }),
        ],
      });
      expect(s3).toHaveReceivedCommandTimes(ListObjectsV2Command, 3);
      expect(s3).toHaveReceivedCommandWith(ListObjectsV2Command, { Prefix: `reports/${ID}/`, ContinuationToken: '4' });
    });

    it('reads the history from S3 and the experiment by its key: no Query or Scan of any table', async () => {
      // Prepare
      tables.seedExperiment(stored('running'));
      listing(storeReport('2026-01-15', 'keep-running'));

      // Act
      await history();

      // Assess
      expect(ddb).toHaveReceivedCommandTimes(GetCommand, 1);
      expect(ddb).not.toHaveReceivedCommand(QueryCommand);
      expect(ddb).not.toHaveReceivedCommand(ScanCommand);
    });

    it('answers an empty history for an experiment without reports', async () => {
      // Prepare
      tables.seedExperiment(stored('draft'));
      listing([]);

      // Act
      const result = await history();

      // Assess
      expect(result.statusCode).toBe(200);
      expect(bodyOf(result)).toEqual({ experiment_id: ID, reports: [] });
    });

    it('answers 404 for the history of an unknown experiment', async () => {
      // Prepare
      listing([]);

      // Act
      const result = await history('nope');

      // Assess
      expect(result.statusCode).toBe(404);
      expect(bodyOf<ErrorResponseBody>(result).error.code).toBe('not_found');
    });

    it('answers 400 naming id for a malformed experiment id, before any store is asked', async () => {
      // Act
      const result = await history('Not An Id');

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['id']);
      expect(storesAsked()).toBe(0);
    });

    it("returns one day's report JSON", async () => {
      // Prepare
      storeReport('2026-01-15', 'ship', 'treatment');

      // Act
      const result = await oneDay('2026-01-15');

      // Assess
      expect(result.statusCode).toBe(200);
      expect(result.headers?.['Content-Type']).toBe('application/json');
      expect(bodyOf(result)).toEqual(report('2026-01-15', 'ship', 'treatment'));
      expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Key: `reports/${ID}/2026-01-15/report.json` });
    });

    it('returns the self-contained HTML page with ?format=html, as text/html', async () => {
      // Prepare
      storeReport('2026-01-15', 'ship');

      // Act
      const result = await oneDay('2026-01-15', { format: 'html' });

      // Assess
      expect(result.statusCode).toBe(200);
      expect(result.headers?.['Content-Type']).toBe('text/html; charset=utf-8');
      expect(result.body).toBe('<!doctype html><title>2026-01-15</title>');
      expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Key: `reports/${ID}/2026-01-15/report.html` });
    });

    it.each([
      ['json', undefined],
      ['html', { format: 'html' }],
    ] as const)('answers 404 for a day without a report (%s)', async (_, query) => {
      // Act
      const result = await oneDay('2026-01-10', query);

      // Assess
      expect(result.statusCode).toBe(404);
      expect(bodyOf<ErrorResponseBody>(result).error).toMatchObject({ code: 'not_found', message: `No report of ${ID} for 2026-01-10` });
    });

    it.each(['yesterday', '2026-1-15', '2026-02-30', '2026-13-01'])('answers 400 naming day for %s, before any store is asked', async (day) => {
      // Act
      const result = await oneDay(day);

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['day']);
      expect(storesAsked()).toBe(0);
    });

    it('answers 400 naming format for a form reports are not stored in, before any store is asked', async () => {
      // Act
      const result = await oneDay('2026-01-15', { format: 'pdf' });

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['format']);
      expect(storesAsked()).toBe(0);
    });

    it('answers 400 naming both id and day when both are malformed', async () => {
      // Act
      const result = await oneDay('today', undefined, '../secrets');

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['id', 'day']);
      expect(storesAsked()).toBe(0);
    });
  });

  describe('GET /models', () => {
    const models = () => handler(apiEvent({ path: '/models', resource: '/models' }), lambdaContext());

    it('lists every model with its versions, their offline metrics and the published latest version', async () => {
      // Prepare
      const older = tinyArtifact({ modelId: 'factors-test', shift: 1, metrics: { ndcg_at_10: 0.2 } });
      const newer = encodeArtifact(
        tinyModel({ modelId: 'factors-test', shift: 5, metrics: { ndcg_at_10: 0.3, precision_at_10: 0.25 } }),
        new Date('2026-01-16T00:00:00Z'),
      );
      bucket.putArtifact(older).putArtifact(newer);
      bucket.put(
        'models/factors-test/latest.json',
        JSON.stringify({ model_id: 'factors-test', model_version: older.manifest.version, published_at: '2026-01-15T04:00:00.000Z', run_id: null }),
      );
      const keys = [control, treatment, older, newer].flatMap(({ manifest }) => [
        `models/${manifest.model_id}/${manifest.version}/manifest.json`,
        `models/${manifest.model_id}/${manifest.version}/item_factors.f32`,
      ]);
      listing([...keys, 'models/factors-test/latest.json']);

      // Act
      const result = await models();

      // Assess
      expect(result.statusCode).toBe(200);
      const body = bodyOf<{
        models: { model_id: string; latest_version: string | null; versions: { version: string; latest: boolean; metrics?: Record<string, number> }[] }[];
      }>(result);
      expect(body.models.map((m) => m.model_id)).toEqual(['factors-test', 'popularity-test']);
      const factors = body.models[0];
      expect(factors).toMatchObject({ latest_version: older.manifest.version, published_at: '2026-01-15T04:00:00.000Z' });
      expect(factors.versions[0]).toEqual({
        version: newer.manifest.version,
        latest: false,
        algorithm: 'test-mf',
        created_at: '2026-01-16T00:00:00.000Z',
        dimensions: newer.manifest.dimensions,
        metrics: { ndcg_at_10: 0.3, precision_at_10: 0.25 },
      });
      expect(factors.versions.filter((v) => v.latest).map((v) => v.version)).toEqual([older.manifest.version]);
      expect(factors.versions.map((v) => v.version)).toHaveLength(3);
      expect(body.models[1]).toMatchObject({ latest_version: null, versions: [{ version: control.manifest.version, latest: false }] });
      expect(s3).toHaveReceivedCommandWith(ListObjectsV2Command, { Prefix: 'models/', Delimiter: '/' });
    });

    it('still lists a version whose manifest cannot be read, with the reason', async () => {
      // Prepare
      bucket.put('models/broken/0123456789abcdef/manifest.json', '{not json');
      listing(['models/broken/0123456789abcdef/manifest.json']);

      // Act
      const result = await models();

      // Assess
      expect(result.statusCode).toBe(200);
      expect(bodyOf(result)).toEqual({
        models: [
          {
            model_id: 'broken',
            latest_version: null,
            published_at: null,
            versions: [{ version: '0123456789abcdef', latest: false, error: expect.any(String) }],
          },
        ],
      });
    });
  });
});
