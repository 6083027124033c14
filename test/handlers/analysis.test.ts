import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CreateExperimentInput, Experiment } from '../../lambdas/domain/experiments/model.ts';
import type { ExperimentAnalysis } from '../../lambdas/services/experiment-results.ts';
import { addDays, twoArmExperiment, syntheticDailyCounters, type SyntheticArm } from '../../lambdas/services/synthetic-counters.ts';
import { FakeTables, objectBody } from './support/aws.ts';
import { ALERTS_TOPIC_ARN, BUCKET, TABLE, stubHandlerEnv } from './support/env.ts';
import './support/matchers.ts';
import { NOW } from './support/models.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const s3 = mockClient(S3Client);
const sns = mockClient(SNSClient);
const DAY = NOW.toISOString().slice(0, 10);
let handler: typeof import('../../lambdas/analysis.ts').handler;
let tables: FakeTables;

function experiment(id: string, overrides: Partial<CreateExperimentInput> = {}): Experiment {
  return twoArmExperiment(id, {
    now: NOW,
    variants: [
      { name: 'control', model_id: 'popularity', model_version: 'v1', weight: 0.5, is_control: true },
      { name: 'treatment', model_id: 'als', model_version: 'v1', weight: 0.5 },
    ],
    ...overrides,
  });
}

/** Seven days of counters ending on DAY, as the events path writes them. */
function seedCounters(experimentId: string, arms: SyntheticArm[]): void {
  for (const row of syntheticDailyCounters({ arms, days: 7, firstDay: addDays(DAY, -6) })) {
    tables.seedCounter(experimentId, row.variant, row.day, row.increments as Record<string, number>);
  }
}

const arm = (variant: string, overrides: Partial<SyntheticArm> = {}): SyntheticArm => ({ variant, users: 5000, ctr: 0.05, conversionRate: 0.05, ...overrides });

/** exp-clear: treatment clicks 7% vs 5% (ship); exp-early: no data yet; exp-draft: not running. */
function seedTwoRunningExperiments() {
  tables
    .seedExperiment(experiment('exp-clear'))
    .seedExperiment(experiment('exp-early'))
    .seedExperiment(experiment('exp-draft', { status: 'draft' }));
  seedCounters('exp-clear', [arm('control'), arm('treatment', { ctr: 0.07 })]);
}

const reportKeys = () =>
  s3
    .commandCalls(PutObjectCommand)
    .map((c) => c.args[0].input.Key)
    .sort();
const writtenJson = (key: string) =>
  JSON.parse(String(s3.commandCalls(PutObjectCommand).find((c) => c.args[0].input.Key === key)?.args[0].input.Body)) as ExperimentAnalysis;

describe('scheduled analysis', () => {
  beforeAll(async () => {
    stubHandlerEnv();
    ({ handler } = await import('../../lambdas/analysis.ts'));
  });
  afterAll(() => vi.unstubAllEnvs());
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'], now: NOW });
    ddb.reset();
    s3.reset();
    sns.reset();
    tables = new FakeTables(ddb);
    s3.on(PutObjectCommand).resolves({});
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });
  afterEach(() => vi.useRealTimers());

  it('writes a JSON and an HTML report for each running experiment under reports/<id>/<day>/', async () => {
    // Prepare
    seedTwoRunningExperiments();

    // Act
    const summary = await handler({});

    // Assess
    expect(reportKeys()).toEqual([
      // exp-clear ships: its alert is recorded beside the report, so a rerun of the day does not send it again.
      `reports/exp-clear/${DAY}/alert.json`,
      `reports/exp-clear/${DAY}/report.html`,
      `reports/exp-clear/${DAY}/report.json`,
      `reports/exp-early/${DAY}/report.html`,
      `reports/exp-early/${DAY}/report.json`,
    ]);
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { Bucket: BUCKET, Key: `reports/exp-clear/${DAY}/report.json`, ContentType: 'application/json' });
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, {
      Bucket: BUCKET,
      Key: `reports/exp-clear/${DAY}/report.html`,
      ContentType: 'text/html; charset=utf-8',
    });
    expect(summary.analysed.map((a) => a.experiment_id).sort()).toEqual(['exp-clear', 'exp-early']);
    expect(summary.failed).toEqual([]);
  });

  it('writes the engine report with its decision into report.json, and an honest insufficient-data document without counters', async () => {
    // Prepare
    seedTwoRunningExperiments();

    // Act
    await handler({});

    // Assess
    expect(writtenJson(`reports/exp-clear/${DAY}/report.json`)).toMatchObject({
      result: 'ok',
      decision: 'ship',
      winner: 'treatment',
      report: { through: DAY, days: 7 },
    });
    expect(writtenJson(`reports/exp-early/${DAY}/report.json`)).toMatchObject({
      result: 'insufficient-data',
      reason: 'no counters yet',
      decision: 'keep-running',
      report: null,
    });
  });

  it('reports the last complete day when started by the daily schedule', async () => {
    // Prepare
    tables.seedExperiment(experiment('exp-clear'));
    seedCounters('exp-clear', [arm('control', { ctr: 0.04 }), arm('treatment', { ctr: 0.06 })]);
    const yesterday = addDays(DAY, -1);

    // Act
    const summary = await handler({ source: 'aws.events', 'detail-type': 'Scheduled Event' });

    // Assess
    expect(summary.day).toBe(yesterday);
    expect(writtenJson(`reports/exp-clear/${yesterday}/report.json`)).toMatchObject({ report: { through: yesterday, days: 6 } });
  });

  it('reports the day before the firing time EventBridge stamped, not the day the function runs', async () => {
    // Prepare
    tables.seedExperiment(experiment('exp-clear'));
    seedCounters('exp-clear', [arm('control', { ctr: 0.04 }), arm('treatment', { ctr: 0.06 })]);
    const fired = `${addDays(DAY, -2)}T03:00:00Z`;

    // Act
    const summary = await handler({ source: 'aws.events', 'detail-type': 'Scheduled Event', time: fired });

    // Assess
    expect(summary.day).toBe(addDays(DAY, -3));
    expect(writtenJson(`reports/exp-clear/${addDays(DAY, -3)}/report.json`)).toMatchObject({ report: { through: addDays(DAY, -3), days: 4 } });
  });

  it('writes the same keys when rerun for the same day', async () => {
    // Prepare
    seedTwoRunningExperiments();
    await handler({ day: DAY });
    const firstRun = reportKeys();
    s3.resetHistory();

    // Act
    await handler({ day: DAY });

    // Assess
    expect(reportKeys()).toEqual(firstRun);
  });

  it("leaves counters after the requested day out of that day's report", async () => {
    // Prepare
    seedTwoRunningExperiments();
    const earlier = addDays(DAY, -3);

    // Act
    await handler({ day: earlier, experiment_id: 'exp-clear' });

    // Assess
    expect(reportKeys()).toEqual([
      `reports/exp-clear/${earlier}/alert.json`,
      `reports/exp-clear/${earlier}/report.html`,
      `reports/exp-clear/${earlier}/report.json`,
    ]);
    expect(writtenJson(`reports/exp-clear/${earlier}/report.json`)).toMatchObject({ through: earlier, report: { days: 4 } });
  });

  it("does not repeat an alert the previous day's report already carried", async () => {
    // Prepare: yesterday's report already says ship
    seedTwoRunningExperiments();
    const yesterday = addDays(DAY, -1);
    s3.on(GetObjectCommand, { Key: `reports/exp-clear/${yesterday}/report.json` }).resolves({
      Body: objectBody(new TextEncoder().encode(JSON.stringify({ experiment_id: 'exp-clear', decision: 'ship', guardrails_breached: [] }))),
    } as never);

    // Act
    const summary = await handler({});

    // Assess
    expect(summary.analysed.find((a) => a.experiment_id === 'exp-clear')).toMatchObject({ decision: 'ship', alerted: false });
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 0);
  });

  it('publishes an alert for the experiment with a decision, and none for one still running', async () => {
    // Prepare
    seedTwoRunningExperiments();

    // Act
    const summary = await handler({});

    // Assess
    expect(summary.analysed.find((a) => a.experiment_id === 'exp-clear')?.decision).toBe('ship');
    expect(summary.analysed.find((a) => a.experiment_id === 'exp-early')?.decision).toBe('keep-running');
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    expect(sns).toHaveReceivedCommandWith(PublishCommand, { TopicArn: ALERTS_TOPIC_ARN, Subject: 'abrec: exp-clear ship' });
  });

  it('publishes an alert when a guardrail trips before any decision', async () => {
    // Prepare
    tables.seedExperiment(experiment('exp-guard', { min_sample_size: 100_000, guardrails: [{ metric: 'conversion', max_relative_degradation: 0.1 }] }));
    seedCounters('exp-guard', [arm('control'), arm('treatment', { conversionRate: 0.025 })]);

    // Act
    const summary = await handler({});

    // Assess
    expect(summary.analysed).toMatchObject([{ experiment_id: 'exp-guard', decision: 'keep-running', alerted: true }]);
    expect(sns).toHaveReceivedCommandWith(PublishCommand, {
      TopicArn: ALERTS_TOPIC_ARN,
      Subject: 'abrec: exp-guard guardrail breached (conversion_rate@treatment)',
    });
  });

  it('publishes an alert to investigate a sample ratio mismatch', async () => {
    // Prepare
    tables.seedExperiment(experiment('exp-srm'));
    seedCounters('exp-srm', [arm('control', { users: 5200 }), arm('treatment', { users: 4800 })]);

    // Act
    await handler({});

    // Assess
    expect(sns).toHaveReceivedCommandWith(PublishCommand, { Subject: 'abrec: exp-srm investigate-srm' });
  });

  it('fails the invocation when every experiment fails', async () => {
    // Prepare
    seedTwoRunningExperiments();
    ddb.on(QueryCommand, { TableName: TABLE.counters }).rejects(new Error('counters unavailable'));

    // Act
    const run = handler({});

    // Assess
    await expect(run).rejects.toThrow(/analysis failed for every experiment/);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('fails the invocation when the reports cannot be written', async () => {
    // Prepare
    seedTwoRunningExperiments();
    s3.on(PutObjectCommand).rejects(new Error('bucket unavailable'));

    // Act
    const run = handler({});

    // Assess
    await expect(run).rejects.toThrow(/bucket unavailable/);
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
  });

  it('reports a single failing experiment in the summary and still writes the others', async () => {
    // Prepare
    seedTwoRunningExperiments();
    ddb
      .on(QueryCommand, { TableName: TABLE.counters, ExpressionAttributeValues: { ':pk': 'EXP#exp-early#VAR#control', ':day': 'DAY#' } })
      .rejects(new Error('throttled'));

    // Act
    const summary = await handler({});

    // Assess
    expect(summary.failed).toEqual([{ experiment_id: 'exp-early', error: 'throttled' }]);
    expect(reportKeys()).toEqual([`reports/exp-clear/${DAY}/alert.json`, `reports/exp-clear/${DAY}/report.html`, `reports/exp-clear/${DAY}/report.json`]);
  });

  it('fails an on-demand run for an experiment that does not exist', async () => {
    // Act
    const run = handler({ experiment_id: 'nope' });

    // Assess
    await expect(run).rejects.toThrow(/experiment nope not found/);
  });

  it('fails a run for a malformed day, naming it', async () => {
    // Act
    const run = handler({ day: '15/01/2026' });

    // Assess
    await expect(run).rejects.toThrow(/day must be a YYYY-MM-DD date, got "15\/01\/2026"/);
  });
});
