import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createExperiment } from '../../lambdas/domain/experiments/lifecycle.ts';
import type { Experiment } from '../../lambdas/domain/experiments/model.ts';
import { FakeTables } from './support/aws.ts';
import { ALERTS_TOPIC_ARN, BUCKET, TABLE, stubHandlerEnv } from './support/env.ts';
import './support/matchers.ts';
import { NOW } from './support/models.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const s3 = mockClient(S3Client);
const sns = mockClient(SNSClient);
const DAY = NOW.toISOString().slice(0, 10);
let handler: typeof import('../../lambdas/analysis.ts').handler;
let tables: FakeTables;

function experiment(id: string, status: 'draft' | 'running' = 'running'): Experiment {
  return createExperiment({
    now: NOW,
    request: {
      id,
      name: id,
      status,
      variants: [
        { name: 'control', model_id: 'popularity', model_version: 'v1', weight: 0.5, is_control: true },
        { name: 'treatment', model_id: 'als', model_version: 'v2', weight: 0.5 },
      ],
      target_metric: { kind: 'click_through' },
    },
  });
}

/** exp-clear: treatment clicks 7% vs 5% of 10,000 impressions each (a decision); exp-early: no data yet. */
function seedTwoRunningExperiments() {
  tables.seedExperiment(experiment('exp-clear')).seedExperiment(experiment('exp-early')).seedExperiment(experiment('exp-draft', 'draft'));
  tables.seedCounter('exp-clear', 'control', DAY, { exposed_users: 5000, impressions: 10_000, clicks: 500 });
  tables.seedCounter('exp-clear', 'treatment', DAY, { exposed_users: 5000, impressions: 10_000, clicks: 700 });
}

const reportKeys = () => s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key).sort();

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
      `reports/exp-clear/${DAY}/report.html`,
      `reports/exp-clear/${DAY}/report.json`,
      `reports/exp-early/${DAY}/report.html`,
      `reports/exp-early/${DAY}/report.json`,
    ]);
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { Bucket: BUCKET, Key: `reports/exp-clear/${DAY}/report.json`, ContentType: 'application/json' });
    expect(summary.analysed.map((a) => a.experiment_id).sort()).toEqual(['exp-clear', 'exp-early']);
    expect(summary.failed).toEqual([]);
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
});
