/**
 * follow_latest through the admin API: accepted at create and PATCH (400 naming the field for a
 * bad value or two arms on one model), model_history read-only and visible in GET.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createExperiment, startExperiment, switchModelVersions } from '../../lambdas/domain/experiments/lifecycle.ts';
import type { Experiment } from '../../lambdas/domain/experiments/model.ts';
import { addDays, syntheticDailyCounters } from '../../lambdas/services/synthetic-counters.ts';
import { apiEvent, bodyOf, fieldsOf, jsonPost, lambdaContext } from './support/api-gateway.ts';
import { FakeBucket, FakeTables } from './support/aws.ts';
import { TABLE, stubHandlerEnv } from './support/env.ts';
import './support/matchers.ts';
import { NOW, tinyArtifact } from './support/models.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const s3 = mockClient(S3Client);
const control = tinyArtifact({ modelId: 'popularity-test' });
const treatment = tinyArtifact({ modelId: 'factors-test', shift: 3 });
const ID = 'follow-test';

let handler: typeof import('../../lambdas/experiments.ts').handler;
let tables: FakeTables;

function createRequest(overrides: Record<string, unknown> = {}) {
  return {
    id: ID,
    name: 'Follows the latest models',
    variants: [
      { name: 'control', model_id: control.manifest.model_id, model_version: control.manifest.version, weight: 0.5, is_control: true },
      { name: 'treatment', model_id: treatment.manifest.model_id, model_version: treatment.manifest.version, weight: 0.5 },
    ],
    target_metric: { kind: 'click_through' },
    ...overrides,
  };
}

const initialVersions = {
  control: { model_id: control.manifest.model_id, model_version: control.manifest.version },
  treatment: { model_id: treatment.manifest.model_id, model_version: treatment.manifest.version },
};
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
const experimentPuts = () => ddb.commandCalls(PutCommand).filter((c) => c.args[0].input.TableName === TABLE.experiments);
const stored = (overrides: Record<string, unknown> = {}): Experiment => createExperiment({ request: createRequest(overrides), now: NOW });

describe('follow_latest in the admin API', () => {
  beforeAll(async () => {
    stubHandlerEnv();
    ({ handler } = await import('../../lambdas/experiments.ts'));
  });
  afterAll(() => vi.unstubAllEnvs());
  beforeEach(() => {
    ddb.reset();
    s3.reset();
    tables = new FakeTables(ddb);
    new FakeBucket(s3).putArtifact(control).putArtifact(treatment);
  });

  it('creates a running experiment that follows latest, its history starting with the versions it serves', async () => {
    // Act
    const result = await handler(jsonPost('/experiments', createRequest({ status: 'running', follow_latest: true })), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(201);
    const created = bodyOf<Experiment>(result);
    expect(created).toMatchObject({ follow_latest: true, model_history: [{ at: created.start_time, versions: initialVersions }] });
  });

  it('creates a pinned experiment by default, with no history', async () => {
    // Act
    const result = await handler(jsonPost('/experiments', createRequest({ status: 'running' })), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(201);
    expect(bodyOf<Experiment>(result).follow_latest).toBeUndefined();
    expect(bodyOf<Experiment>(result).model_history).toBeUndefined();
  });

  it('answers 400 naming follow_latest for a value that is not a boolean, storing nothing', async () => {
    // Act
    const result = await handler(jsonPost('/experiments', createRequest({ follow_latest: 'yes' })), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(400);
    expect(fieldsOf(result)).toEqual(['follow_latest']);
    expect(experimentPuts()).toHaveLength(0);
  });

  it('answers 400 naming follow_latest when two arms serve the same model, storing nothing', async () => {
    // Prepare: both arms on the factors model, two versions of it
    const sameModel = createRequest({ follow_latest: true }).variants.map((v) => ({
      ...v,
      model_id: treatment.manifest.model_id,
      model_version: treatment.manifest.version,
    }));

    // Act
    const result = await handler(jsonPost('/experiments', createRequest({ follow_latest: true, variants: sameModel })), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(400);
    expect(fieldsOf(result)).toEqual(['follow_latest']);
    expect(bodyOf<{ error: { details: { message: string }[] } }>(result).error.details[0].message).toContain('both serve model factors-test');
    expect(experimentPuts()).toHaveLength(0);
  });

  it('answers 400 naming model_history when a client tries to write it', async () => {
    // Act
    const created = await handler(jsonPost('/experiments', createRequest({ model_history: [] })), lambdaContext());
    tables.seedExperiment(stored({ status: 'running' }));
    const patched = await patch({ model_history: [] });

    // Assess
    expect(created.statusCode).toBe(400);
    expect(fieldsOf(created)).toEqual(['model_history']);
    expect(patched.statusCode).toBe(400);
    expect(fieldsOf(patched)).toEqual(['model_history']);
    expect(experimentPuts()).toHaveLength(0);
  });

  it('lets a running experiment start following, recording the versions it serves from now', async () => {
    // Prepare
    tables.seedExperiment(stored({ status: 'running' }));

    // Act
    const result = await patch({ follow_latest: true });

    // Assess
    expect(result.statusCode).toBe(200);
    expect(bodyOf<Experiment>(result)).toMatchObject({ follow_latest: true, revision: 1, model_history: [{ versions: initialVersions }] });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: TABLE.experiments,
      ConditionExpression: 'revision = :expected',
      ExpressionAttributeValues: { ':expected': 0 },
    });
  });

  it('lets a running experiment go back to pinned, keeping its history', async () => {
    // Prepare
    const following = stored({ status: 'running', follow_latest: true });
    tables.seedExperiment(following);

    // Act
    const result = await patch({ follow_latest: false });

    // Assess
    expect(result.statusCode).toBe(200);
    expect(bodyOf<Experiment>(result)).toMatchObject({ follow_latest: false, model_history: following.model_history });
  });

  it('answers 400 naming follow_latest on a PATCH with a non-boolean, writing nothing', async () => {
    // Prepare
    tables.seedExperiment(stored({ status: 'running' }));

    // Act
    const result = await patch({ follow_latest: 1 });

    // Assess
    expect(result.statusCode).toBe(400);
    expect(fieldsOf(result)).toEqual(['follow_latest']);
    expect(experimentPuts()).toHaveLength(0);
  });

  it('shows the history in GET once a draft that follows is started', async () => {
    // Prepare
    const started = startExperiment(stored({ follow_latest: true }), { now: NOW });
    tables.seedExperiment(started);

    // Act
    const result = await handler(apiEvent({ path: `/experiments/${ID}`, resource: '/experiments/{id}', pathParameters: { id: ID } }), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(200);
    expect(bodyOf<Experiment>(result).model_history).toEqual([{ at: NOW.toISOString(), versions: initialVersions }]);
  });

  describe('GET /experiments/{id}/results of a switched experiment', () => {
    // The analysis day is the UTC day of the request.
    beforeEach(() => vi.useFakeTimers({ toFake: ['Date'], now: NOW }));
    afterEach(() => vi.useRealTimers());

    it('marks the switch and compares the target since it beside the whole period', async () => {
      // Prepare: ten days of counters through today, a switch five days ago
      const day = NOW.toISOString().slice(0, 10);
      const switchedAt = `${addDays(day, -5)}T02:00:00.000Z`;
      const following = stored({ status: 'running', follow_latest: true, start_time: `${addDays(day, -9)}T00:00:00.000Z`, min_sample_size: 100 });
      tables.seedExperiment(
        switchModelVersions(following, {
          versions: {
            control: { ...initialVersions.control, model_version: 'retrained-1' },
            treatment: { ...initialVersions.treatment, model_version: 'retrained-1' },
          },
          runId: 'run-1',
          now: new Date(switchedAt),
        }),
      );
      const arms = [
        { variant: 'control', users: 4000, ctr: 0.05, conversionRate: 0.05 },
        { variant: 'treatment', users: 4000, ctr: 0.06, conversionRate: 0.05 },
      ];
      for (const row of syntheticDailyCounters({ arms, days: 10, firstDay: addDays(day, -9) }))
        tables.seedCounter(ID, row.variant, row.day, row.increments as Record<string, number>);

      // Act
      const result = await handler(
        apiEvent({ path: `/experiments/${ID}/results`, resource: '/experiments/{id}/results', pathParameters: { id: ID } }),
        lambdaContext(),
      );

      // Assess
      expect(result.statusCode).toBe(200);
      const body = bodyOf<{
        model_switches: { switches: { day: string; run_id: string }[]; since_last_switch: { from: string; result: string }; whole_period: { result: string } };
      }>(result);
      expect(body.model_switches.switches).toMatchObject([{ day: addDays(day, -5), run_id: 'run-1' }]);
      expect(body.model_switches.since_last_switch).toMatchObject({ from: addDays(day, -4), result: 'ok' });
      expect(body.model_switches.whole_period.result).toBe('ok');
    });
  });
});
