/**
 * The experiment schedule through the Lambda handlers, with aws-sdk-client-mock: the admin API
 * validates end_time and max_duration_days and shows the schedule's outcome, GET /recommend
 * serves the control from the request time the schedule ends, and the scheduled analysis stops
 * the experiment on EventBridge's time, writes the final report and publishes one alert.
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createExperiment, endExperimentOnSchedule, recordFinalReport } from '../../lambdas/domain/experiments/lifecycle.ts';
import type { Experiment } from '../../lambdas/domain/experiments/model.ts';
import { addDays, syntheticDailyCounters } from '../../lambdas/services/synthetic-counters.ts';
import { apiEvent, bodyOf, fieldsOf, jsonPost, lambdaContext } from './support/api-gateway.ts';
import { FakeBucket, FakeTables, conditionalCheckFailed } from './support/aws.ts';
import { ALERTS_TOPIC_ARN, TABLE, stubHandlerEnv } from './support/env.ts';
import './support/matchers.ts';
import { NOW, experimentPinning, tinyArtifact } from './support/models.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const s3 = mockClient(S3Client);
const sns = mockClient(SNSClient);
const control = tinyArtifact({ modelId: 'popularity-test' });
const treatment = tinyArtifact({ modelId: 'factors-test', shift: 3 });
const ID = 'scheduled-test';
const HOUR = 3_600_000;
const DAY_MS = 86_400_000;
const iso = (offsetMs: number) => new Date(NOW.getTime() + offsetMs).toISOString();

let tables: FakeTables;

/** A create request pinning the two tiny artifacts, 50/50. */
function createRequest(overrides: Record<string, unknown> = {}) {
  return {
    id: ID,
    name: 'Scheduled test',
    variants: [
      { name: 'control', model_id: control.manifest.model_id, model_version: control.manifest.version, weight: 0.5, is_control: true },
      { name: 'treatment', model_id: treatment.manifest.model_id, model_version: treatment.manifest.version, weight: 0.5 },
    ],
    target_metric: { kind: 'click_through' },
    ...overrides,
  };
}

/** A running experiment started at NOW that ends 30 hours later (on the day after NOW). */
const endsSoon = () => createExperiment({ request: createRequest({ status: 'running', end_time: iso(30 * HOUR) }), now: NOW });
const experimentPuts = () => ddb.commandCalls(PutCommand).filter((c) => c.args[0].input.TableName === TABLE.experiments);
const putData = (i: number) => experimentPuts()[i].args[0].input.Item?.data as Experiment;

beforeEach(() => {
  stubHandlerEnv();
  ddb.reset();
  s3.reset();
  sns.reset();
  tables = new FakeTables(ddb);
  new FakeBucket(s3).putArtifact(control).putArtifact(treatment);
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
});
afterEach(() => vi.useRealTimers());
afterAll(() => vi.unstubAllEnvs());

describe('admin API: the schedule fields', () => {
  let handler: typeof import('../../lambdas/experiments.ts').handler;
  const at = async (offsetMs: number) => {
    vi.useFakeTimers({ toFake: ['Date'], now: NOW.getTime() + offsetMs });
    vi.resetModules();
    ({ handler } = await import('../../lambdas/experiments.ts'));
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
  const get = (suffix = '') =>
    handler(apiEvent({ path: `/experiments/${ID}${suffix}`, resource: `/experiments/{id}${suffix}`, pathParameters: { id: ID } }), lambdaContext());

  it.each([
    ['max_duration_days of 0', { max_duration_days: 0 }, 'max_duration_days'],
    ['max_duration_days over 365', { max_duration_days: 400 }, 'max_duration_days'],
    ['a fractional max_duration_days', { max_duration_days: 2.5 }, 'max_duration_days'],
    ['an end_time that is not a date-time', { end_time: '2026-02-01' }, 'end_time'],
    ['an end_time before start_time', { start_time: iso(2 * DAY_MS), end_time: iso(DAY_MS) }, 'end_time'],
    ['an end_time already passed', { status: 'running', end_time: iso(-HOUR) }, 'end_time'],
  ])('POST answers 400 naming the field for %s, and writes nothing', async (_, overrides, field) => {
    // Prepare
    await at(0);

    // Act
    const result = await handler(jsonPost('/experiments', createRequest(overrides)), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(400);
    expect(fieldsOf(result)).toEqual([field]);
    expect(experimentPuts()).toHaveLength(0);
  });

  it('POST stores the schedule it is given, and the default maximum of 90 days otherwise', async () => {
    // Prepare
    await at(0);

    // Act
    const given = await handler(jsonPost('/experiments', createRequest({ end_time: iso(7 * DAY_MS), max_duration_days: 10 })), lambdaContext());
    const defaulted = await handler(jsonPost('/experiments', createRequest({ id: 'no-schedule' })), lambdaContext());

    // Assess
    expect(bodyOf(given)).toMatchObject({ end_time: iso(7 * DAY_MS), max_duration_days: 10 });
    expect(bodyOf(defaulted)).toMatchObject({ max_duration_days: 90 });
    expect(bodyOf(defaulted)).not.toHaveProperty('end_time');
  });

  it('PATCH answers 400 naming end_time for an end in the past of a running experiment', async () => {
    // Prepare
    await at(2 * HOUR);
    tables.seedExperiment(endsSoon());

    // Act
    const result = await patch({ end_time: iso(HOUR) });

    // Assess
    expect(result.statusCode).toBe(400);
    expect(fieldsOf(result)).toEqual(['end_time']);
    expect(experimentPuts()).toHaveLength(0);
  });

  it('PATCH moves the end of a running experiment', async () => {
    // Prepare
    await at(2 * HOUR);
    tables.seedExperiment(endsSoon());

    // Act
    const result = await patch({ end_time: iso(3 * DAY_MS), max_duration_days: 14 });

    // Assess
    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toMatchObject({ end_time: iso(3 * DAY_MS), max_duration_days: 14, revision: 1 });
  });

  it('PATCH answers 409 naming max_duration_days once the experiment has stopped', async () => {
    // Prepare
    await at(2 * DAY_MS);
    tables.seedExperiment(endExperimentOnSchedule(endsSoon(), { now: new Date(NOW.getTime() + 2 * DAY_MS) }));

    // Act
    const result = await patch({ max_duration_days: 30 });

    // Assess
    expect(result.statusCode).toBe(409);
    expect(fieldsOf(result)).toEqual(['max_duration_days']);
  });

  it("start answers 409 naming end_time when the draft's end has passed", async () => {
    // Prepare
    await at(2 * DAY_MS);
    tables.seedExperiment(createExperiment({ request: createRequest({ end_time: iso(DAY_MS) }), now: NOW }));

    // Act
    const result = await handler(
      jsonPost(`/experiments/${ID}/start`, {}, { resource: '/experiments/{id}/start', pathParameters: { id: ID } }),
      lambdaContext(),
    );

    // Assess
    expect(result.statusCode).toBe(409);
    expect(fieldsOf(result)).toEqual(['end_time']);
  });

  it('GET shows an experiment its schedule stopped: the reason, the end and the final report', async () => {
    // Prepare
    await at(3 * DAY_MS);
    const stopped = endExperimentOnSchedule(endsSoon(), { now: new Date(NOW.getTime() + 2 * DAY_MS) });
    tables.seedExperiment(
      recordFinalReport(stopped, {
        now: new Date(NOW.getTime() + 2 * DAY_MS),
        changes: { decision: 'keep-running', winner: null, alert: 'sent', alerted_at: iso(2 * DAY_MS) },
      }),
    );

    // Act
    const body = bodyOf(await get());

    // Assess
    expect(body).toMatchObject({
      status: 'stopped',
      stop_reason: 'schedule: end_time reached',
      end_time: iso(30 * HOUR),
      max_duration_days: 90,
      final_report: { day: '2026-01-16', decision: 'keep-running', alert: 'sent' },
    });
  });

  it('GET results of an experiment past its end is the final report: through the day it ended, marked final', async () => {
    // Prepare
    await at(3 * DAY_MS);
    tables.seedExperiment(endsSoon());
    for (const row of syntheticDailyCounters({
      arms: ['control', 'treatment'].map((variant) => ({ variant, users: 500, ctr: 0.05, conversionRate: 0.05 })),
      days: 4,
      firstDay: '2026-01-15',
    })) {
      tables.seedCounter(ID, row.variant, row.day, row.increments as Record<string, number>);
    }

    // Act
    const body = bodyOf(await get('/results'));

    // Assess
    expect(body).toMatchObject({ day: '2026-01-16', through: '2026-01-16', final: { ended_at: iso(30 * HOUR), reason: 'schedule: end_time reached' } });
  });
});

describe('GET /recommend past the end', () => {
  let handler: typeof import('../../lambdas/recommend.ts').handler;
  const experiment: Experiment = { ...experimentPinning(control, treatment), end_time: iso(HOUR) };
  const recommend = async (offsetMs: number, userId: string) => {
    vi.useFakeTimers({ toFake: ['Date'], now: NOW.getTime() + offsetMs });
    return bodyOf<{ variant: string; in_experiment: boolean; impression_recorded: boolean }>(
      await handler(apiEvent({ path: '/recommend', query: { user_id: userId } }), lambdaContext()),
    );
  };

  beforeEach(async () => {
    vi.resetModules();
    ({ handler } = await import('../../lambdas/recommend.ts'));
    tables.seedExperiment(experiment).seedAssignment('default', 'u1', 'treatment');
  });

  it('serves the sticky variant before the end', async () => {
    expect(await recommend(HOUR - 1, 'u1')).toMatchObject({ variant: 'treatment', in_experiment: true, impression_recorded: true });
  });

  it('serves the control outside the test from the request time of the end on, storing and counting nothing', async () => {
    // Act
    const sticky = await recommend(HOUR, 'u1');
    const fresh = await recommend(2 * HOUR, 'u3');

    // Assess
    expect(sticky).toMatchObject({ variant: 'control', in_experiment: false, impression_recorded: false });
    expect(fresh).toMatchObject({ variant: 'control', in_experiment: false, impression_recorded: false });
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });
});

describe('the scheduled analysis at the end', () => {
  let handler: typeof import('../../lambdas/analysis.ts').handler;
  /** EventBridge's event for the 03:00 UTC firing two days after NOW (the experiment ended the day after NOW). */
  const scheduled = { source: 'aws.events', 'detail-type': 'Scheduled Event', time: '2026-01-17T03:00:00Z' };

  beforeEach(async () => {
    s3.on(PutObjectCommand).resolves({});
    vi.resetModules();
    ({ handler } = await import('../../lambdas/analysis.ts'));
  });

  it('stops the experiment on the revision it read, writes the final report and publishes one final alert', async () => {
    // Prepare
    const experiment = endsSoon();
    tables.seedExperiment(experiment);

    // Act
    const summary = await handler(scheduled);

    // Assess
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: TABLE.experiments,
      ConditionExpression: 'revision = :expected',
      ExpressionAttributeValues: { ':expected': experiment.revision },
    });
    expect(putData(0)).toMatchObject({
      status: 'stopped',
      stop_reason: 'schedule: end_time reached',
      end_time: iso(30 * HOUR),
      final_report: { day: '2026-01-16', alert: 'pending' },
      updated_at: '2026-01-17T03:00:00.000Z',
    });
    expect(putData(1)).toMatchObject({ final_report: { alert: 'sent', alerted_at: '2026-01-17T03:00:00.000Z' }, revision: experiment.revision + 2 });
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { Key: `reports/${ID}/2026-01-16/report.json` });
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    expect(sns).toHaveReceivedCommandWith(PublishCommand, {
      TopicArn: ALERTS_TOPIC_ARN,
      Subject: expect.stringMatching(new RegExp(`^abrec: ${ID} final: .*schedule: end_time reached$`)),
    });
    expect(summary).toMatchObject({ day: '2026-01-16', alerts: 1, analysed: [{ experiment_id: ID, final: true, alerted: true }] });
  });

  it('publishes nothing when another run stopped the experiment first', async () => {
    // Prepare: the stop loses its conditional write; reading again finds the experiment stopped
    const experiment = endsSoon();
    tables.seedExperiment(experiment);
    ddb.on(PutCommand, { TableName: TABLE.experiments }).rejects(conditionalCheckFailed());
    ddb
      .on(GetCommand, { TableName: TABLE.experiments, Key: { pk: 'EXPERIMENT', sk: ID } })
      .resolves({ Item: { data: endExperimentOnSchedule(experiment, { now: new Date('2026-01-17T03:00:00Z') }) } });

    // Act
    const summary = await handler(scheduled);

    // Assess
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
    expect(summary).toMatchObject({ analysed: [], failed: [], alerts: 0 });
  });

  it('leaves an experiment whose end is later running', async () => {
    // Prepare
    tables.seedExperiment(createExperiment({ request: createRequest({ status: 'running', end_time: iso(5 * DAY_MS) }), now: NOW }));

    // Act
    const summary = await handler(scheduled);

    // Assess
    expect(experimentPuts()).toHaveLength(0);
    expect(summary.analysed).toMatchObject([{ experiment_id: ID, json_key: `reports/${ID}/${addDays('2026-01-17', -1)}/report.json` }]);
    expect(summary.analysed[0]).not.toHaveProperty('final');
  });
});
