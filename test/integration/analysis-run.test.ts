/**
 * The scheduled analysis end to end on real protocols: counters in dynalite, reports in
 * s3rver, through the same repositories and report store the Lambda uses.
 */
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS_BUCKET, TABLES } from '../../lib/resources.ts';
import type { Experiment } from '../../lambdas/domain/experiments/model.ts';
import { telemetry } from '../../lambdas/common/observability.ts';
import { analyzeRunningExperiments, type AnalysisRunSummary } from '../../lambdas/services/analysis-run.ts';
import { analyseExperiment, type ExperimentAnalysis } from '../../lambdas/services/experiment-results.ts';
import { addDays, twoArmExperiment, syntheticDailyCounters, type SyntheticArm } from '../../lambdas/services/synthetic-counters.ts';
import { DynamoCounterRepository } from '../../lambdas/storage/counter-store.ts';
import { DynamoExperimentRepository } from '../../lambdas/storage/experiment-repository.ts';
import { S3ObjectStore } from '../../lambdas/storage/object-store.ts';
import { ObjectReportStore } from '../../lambdas/storage/report-store.ts';
import { startLocalAws, type LocalAws } from '../helpers/local-aws.ts';

const FIRST_DAY = '2026-03-01';
const DAY = addDays(FIRST_DAY, 13);
const NOW = new Date(`${DAY}T03:00:00Z`);
const BUCKET = ARTIFACTS_BUCKET.localName;

let aws: LocalAws;
let experiments: DynamoExperimentRepository;
let counters: DynamoCounterRepository;
let reports: ObjectReportStore;
const alerts: { subject: string; message: string }[] = [];
const runs: AnalysisRunSummary[] = [];

function experiment(id: string): Experiment {
  return twoArmExperiment(id, { now: new Date(`${FIRST_DAY}T00:00:00Z`), guardrails: [{ metric: 'conversion', max_relative_degradation: 0.1 }] });
}

async function seed(id: string, arms: SyntheticArm[]): Promise<void> {
  await experiments.create(experiment(id));
  for (const row of syntheticDailyCounters({ arms, days: 14, firstDay: FIRST_DAY })) {
    await counters.add(id, row.variant, row.day, row.increments as Record<string, number>);
  }
}

const arm = (variant: string, overrides: Partial<SyntheticArm> = {}): SyntheticArm => ({ variant, users: 5000, ctr: 0.05, conversionRate: 0.05, ...overrides });

const run = async (day?: string) => {
  runs.push(
    await analyzeRunningExperiments({
      experiments,
      counters,
      reports,
      now: NOW,
      day,
      publishAlert: async (subject, message) => void alerts.push({ subject, message }),
      telemetry,
    }),
  );
};

async function listReportKeys(): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await aws.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'reports/', ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((object) => object.Key as string));
    token = page.NextContinuationToken;
  } while (token);
  return keys.sort();
}

async function readObject(key: string): Promise<{ body: string; contentType: string | undefined }> {
  const object = await aws.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return { body: await (object.Body as { transformToString: () => Promise<string> }).transformToString(), contentType: object.ContentType };
}

beforeAll(async () => {
  aws = await startLocalAws();
  experiments = new DynamoExperimentRepository(aws.doc, TABLES.experiments.localName);
  counters = new DynamoCounterRepository(aws.doc, TABLES.counters.localName);
  reports = new ObjectReportStore(new S3ObjectStore(aws.s3, BUCKET));
  await seed('exp-ship', [arm('control'), arm('treatment', { ctr: 0.07 })]);
  await seed('exp-srm', [arm('control', { users: 5200 }), arm('treatment', { users: 4800 })]);
  await experiments.create(experiment('exp-empty'));
  await run();
  await run();
  await run(addDays(DAY, -1));
});
afterAll(async () => aws?.stop());

describe('scheduled analysis on dynalite and s3rver', () => {
  it('keeps exactly one JSON and one HTML report per experiment and day after a rerun, and one alert record per day alerted', async () => {
    // Act
    const keys = await listReportKeys();

    // Assess
    const expected = ['exp-empty', 'exp-ship', 'exp-srm'].flatMap((id) =>
      [addDays(DAY, -1), DAY].flatMap((day) => [
        ...(id === 'exp-empty' ? [] : [`reports/${id}/${day}/alert.json`]),
        `reports/${id}/${day}/report.html`,
        `reports/${id}/${day}/report.json`,
      ]),
    );
    expect(keys).toEqual(expected.sort());
  });

  it('ships the clear winner', async () => {
    // Act
    const report = JSON.parse((await readObject(`reports/exp-ship/${DAY}/report.json`)).body) as ExperimentAnalysis;

    // Assess
    expect(report).toMatchObject({ result: 'ok', decision: 'ship', winner: 'treatment', through: DAY, counter_items_read: 28 });
    expect(report.report?.days).toBe(14);
  });

  it('asks to investigate the 5,200 / 4,800 split on 50/50 weights', async () => {
    // Act
    const report = JSON.parse((await readObject(`reports/exp-srm/${DAY}/report.json`)).body) as ExperimentAnalysis;

    // Assess
    expect(report.decision).toBe('investigate-srm');
    expect(report.report?.srm).toMatchObject({ status: 'ok', flagged: true });
  });

  it('writes an insufficient-data report for an experiment without counters', async () => {
    // Act
    const report = JSON.parse((await readObject(`reports/exp-empty/${DAY}/report.json`)).body) as ExperimentAnalysis;

    // Assess
    expect(report).toMatchObject({ result: 'insufficient-data', reason: 'no counters yet', decision: 'keep-running' });
  });

  it('stores a self-contained HTML page with charts', async () => {
    // Act
    const page = await readObject(`reports/exp-ship/${DAY}/report.html`);

    // Assess
    expect(page.contentType).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('<svg');
    expect(page.body).not.toMatch(/<script|https?:\/\//);
  });

  it('stores the same document the results route computes from the same counters', async () => {
    // Prepare
    const stored = JSON.parse((await readObject(`reports/exp-ship/${DAY}/report.json`)).body) as ExperimentAnalysis;

    // Act
    const recomputed = await analyseExperiment((await experiments.get('exp-ship')) as Experiment, counters, { day: DAY });

    // Assess
    expect(JSON.parse(JSON.stringify(recomputed))).toEqual(stored);
  });

  it('alerts on the terminal decisions only, once per experiment and day: the rerun of a day sends nothing again', async () => {
    // Assess
    expect(runs.map((summary) => summary.failed)).toEqual([[], [], []]);
    expect(runs.map((summary) => summary.alerts)).toEqual([2, 0, 2]);
    expect(alerts.map((alert) => alert.subject)).toEqual([
      'abrec: exp-ship ship',
      'abrec: exp-srm investigate-srm',
      'abrec: exp-ship ship',
      'abrec: exp-srm investigate-srm',
    ]);
  });
});
