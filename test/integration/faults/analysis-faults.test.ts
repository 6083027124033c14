/**
 * Fault: the daily analysis fails halfway: a report write to S3 fails for some experiments
 * (report.json for one, report.html for another), the counters of one experiment cannot be read,
 * and an alert cannot be published. The analysis handler runs in process against dynalite and
 * s3rver; the faults are injected on its own S3, DynamoDB and SNS clients (SNS publishes are
 * recorded, never sent).
 *
 * Documented behaviour:
 * - experiments are analysed one by one and each stands alone: the others' reports are written
 *   and their alerts sent, the run returns a summary naming the failed experiments (logged) and
 *   does not throw; it throws (so Lambda retries it twice, then hands it to the on-failure queue)
 *   only when every experiment failed;
 * - a report is visible only once complete: report.html is written first and report.json last,
 *   and the history lists a day only when its report.json exists, so a failed write never makes
 *   a partial report the latest (the previous day stays the latest; an orphan report.html of the
 *   failed day is listed nowhere and is overwritten by the rerun);
 * - an alert is sent once per experiment, day and decision: after a publish succeeds, the run
 *   records it (`reports/<experiment>/<day>/alert.json`), so a rerun of the day does not send it
 *   again, while an alert whose publish failed is sent by the rerun; a decision the previous
 *   day's report already carried is not sent again (unchanged);
 * - a rerun of the day (by hand or by Lambda's retries) writes the missing reports.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS_BUCKET, ENV, TABLES } from '../../../lib/resources.ts';
import { localEnvironment } from '../../../local/runtime.ts';
import type { AnalysisRunSummary } from '../../../lambdas/services/analysis-run.ts';
import { createReportHistory } from '../../../lambdas/services/report-history.ts';
import { addDays, syntheticDailyCounters, twoArmExperiment, type SyntheticArm } from '../../../lambdas/services/synthetic-counters.ts';
import { DynamoCounterRepository } from '../../../lambdas/storage/counter-store.ts';
import { DynamoExperimentRepository } from '../../../lambdas/storage/experiment-repository.ts';
import { S3ObjectStore } from '../../../lambdas/storage/object-store.ts';
import { ObjectReportStore } from '../../../lambdas/storage/report-store.ts';
import { startLocalAws, type LocalAws } from '../../helpers/local-aws.ts';
import { CALL_LEVEL, interceptCalls, serviceError, type Intercept } from './support/faults.ts';

const FIRST_DAY = '2026-03-01';
const DAY = addDays(FIRST_DAY, 13);
const PREVIOUS_DAY = addDays(DAY, -1);
/** ok: nothing fails. alert: its alert cannot be published. json / html: that form of its report cannot be written. counters: its counters cannot be read. */
const IDS = ['exp-ok', 'exp-alert', 'exp-json', 'exp-html', 'exp-counters'] as const;

type Handler = (event: { experiment_id?: string; day?: string; time?: string }) => Promise<AnalysisRunSummary>;
let aws: LocalAws;
let analysisHandler: Handler;
/** Runs the analysis Lambda for a day, fired at 03:00 UTC the day after (as the schedule fires for it). */
const handler = (event: { experiment_id?: string; day: string }) => analysisHandler({ ...event, time: `${addDays(event.day, 1)}T03:00:00Z` });
let reports: ObjectReportStore;
let experiments: DynamoExperimentRepository;
/** Faults switched on for the next run. */
let faulty = false;
/** Every alert published, as the experiment and day its message names. */
const published: { experiment_id: string; day: string; decision: string }[] = [];

const arm = (variant: string, overrides: Partial<SyntheticArm> = {}): SyntheticArm => ({ variant, users: 5000, ctr: 0.05, conversionRate: 0.05, ...overrides });

/** S3: report.json of exp-json and report.html of exp-html fail to be written (for any day). */
function s3Fault(commandName: string | undefined, input: Record<string, unknown>): Intercept {
  if (!faulty || commandName !== 'PutObjectCommand') return undefined;
  const key = String(input.Key);
  if (/^reports\/exp-json\/[^/]+\/report\.json$/.test(key) || /^reports\/exp-html\/[^/]+\/report\.html$/.test(key)) {
    return { fail: serviceError('InternalError', `Injected: ${key} could not be written`) };
  }
  return undefined;
}

/** DynamoDB: the counters of exp-counters cannot be read. */
function dynamoFault(commandName: string | undefined, input: Record<string, unknown>): Intercept {
  const values = (input.ExpressionAttributeValues ?? {}) as Record<string, unknown>;
  if (faulty && commandName === 'QueryCommand' && String(values[':pk']).startsWith('EXP#exp-counters#')) {
    return { fail: serviceError('InternalServerError', 'Injected: the counters could not be read') };
  }
  return undefined;
}

/** SNS: every publish is recorded and answered here; exp-alert's fails. */
function snsFault(commandName: string | undefined, input: Record<string, unknown>): Intercept {
  if (commandName !== 'PublishCommand') return undefined;
  const alert = JSON.parse(String(input.Message)) as { experiment_id: string; day: string; decision: string };
  if (faulty && alert.experiment_id === 'exp-alert') return { fail: serviceError('InternalErrorException', 'Injected: the alert could not be published') };
  published.push({ experiment_id: alert.experiment_id, day: alert.day, decision: alert.decision });
  return { answer: { MessageId: `m-${published.length}` } };
}

const alertsOf = (id: string) => published.filter((alert) => alert.experiment_id === id).map((alert) => `${alert.day} ${alert.decision}`);

/** A day's report as a reader of the bucket sees it: both forms, or what is missing. */
async function readable(id: string, day: string): Promise<{ json: boolean; html: boolean }> {
  return { json: (await reports.getJson(id, day)) !== undefined, html: (await reports.getHtml(id, day)) !== undefined };
}

beforeAll(async () => {
  aws = await startLocalAws();
  Object.assign(process.env, localEnvironment(aws.servers), {
    AWS_MAX_ATTEMPTS: '1',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    [ENV.alertsTopicArn]: 'arn:aws:sns:us-east-1:000000000000:abrec-alerts',
  });
  experiments = new DynamoExperimentRepository(aws.doc, TABLES.experiments.localName);
  const counters = new DynamoCounterRepository(aws.doc, TABLES.counters.localName);
  reports = new ObjectReportStore(new S3ObjectStore(aws.s3, ARTIFACTS_BUCKET.localName));
  for (const id of IDS) {
    await experiments.create(twoArmExperiment(id, { now: new Date(`${FIRST_DAY}T00:00:00Z`) }));
    // Every one ships the treatment, except exp-counters whose 5,200 / 4,800 split is a sample ratio mismatch.
    const arms =
      id === 'exp-counters' ? [arm('control', { users: 5200 }), arm('treatment', { users: 4800 })] : [arm('control'), arm('treatment', { ctr: 0.07 })];
    for (const row of syntheticDailyCounters({ arms, days: 14, firstDay: FIRST_DAY }))
      await counters.add(id, row.variant, row.day, row.increments as Record<string, number>);
  }
  ({ handler: analysisHandler } = (await import('../../../lambdas/analysis.ts')) as unknown as { handler: Handler });
  const { dynamoClient, s3Client, snsClient } = await import('../../../lambdas/common/clients.ts');
  s3Client().middlewareStack.add(interceptCalls(s3Fault) as never, CALL_LEVEL);
  dynamoClient().middlewareStack.add(interceptCalls(dynamoFault) as never, CALL_LEVEL);
  snsClient().middlewareStack.add(interceptCalls(snsFault) as never, CALL_LEVEL);
});

afterAll(async () => {
  await aws?.stop();
});

describe('the daily analysis when it fails halfway', () => {
  it("writes the other experiments' reports, shows no partial report as the latest, and a rerun completes the day without doubling an alert", async () => {
    // Prepare: exp-json already has the previous day's report (and its alert).
    const previous = await handler({ experiment_id: 'exp-json', day: PREVIOUS_DAY });

    // Act
    faulty = true;
    const first = await handler({ day: DAY });
    faulty = false;
    const afterFirst = Object.fromEntries(await Promise.all(IDS.map(async (id) => [id, await reports.listDays(id)] as const)));
    const jsonHistory = await createReportHistory({ experiments, reports }).list('exp-json');
    const rerun = await handler({ day: DAY });
    const again = await handler({ day: DAY });

    // Assess
    expect(previous.analysed.map((a) => a.experiment_id)).toEqual(['exp-json']);
    // The first run: the healthy experiment is analysed and alerted; each faulty one is named, the run does not throw.
    expect(first.analysed.map((a) => a.experiment_id)).toEqual(['exp-ok']);
    expect(first.failed.map((f) => f.experiment_id).sort()).toEqual(['exp-alert', 'exp-counters', 'exp-html', 'exp-json']);
    // No partial report is visible: a day is listed only complete, the previous day stays exp-json's latest.
    expect(afterFirst).toEqual({ 'exp-ok': [DAY], 'exp-alert': [DAY], 'exp-json': [PREVIOUS_DAY], 'exp-html': [], 'exp-counters': [] });
    expect(jsonHistory.reports.map((r) => ({ day: r.day, decision: r.decision }))).toEqual([{ day: PREVIOUS_DAY, decision: 'ship' }]);
    expect(await readable('exp-json', PREVIOUS_DAY)).toEqual({ json: true, html: true });
    for (const id of ['exp-ok', 'exp-alert']) expect({ id, ...(await readable(id, DAY)) }).toEqual({ id, json: true, html: true });
    // The rerun writes every report of the day, complete.
    expect(rerun.failed).toEqual([]);
    expect(rerun.analysed.map((a) => a.experiment_id).sort()).toEqual([...IDS].sort());
    for (const id of IDS)
      expect({ id, latest: (await reports.listDays(id))[0], ...(await readable(id, DAY)) }).toEqual({ id, latest: DAY, json: true, html: true });
    // Each experiment alerted exactly once over all the runs; the second rerun sends nothing.
    expect(Object.fromEntries(IDS.map((id) => [id, alertsOf(id)]))).toEqual({
      'exp-ok': [`${DAY} ship`],
      'exp-alert': [`${DAY} ship`],
      'exp-json': [`${PREVIOUS_DAY} ship`],
      'exp-html': [`${DAY} ship`],
      'exp-counters': [`${DAY} investigate-srm`],
    });
    expect(again.alerts).toBe(0);
  });

  it('throws when every experiment fails, so Lambda retries the run, and makes no report visible', async () => {
    // Prepare: only the two experiments whose report writes fail.
    const nextDay = addDays(DAY, 1);
    for (const id of ['exp-ok', 'exp-alert', 'exp-counters']) {
      const experiment = (await experiments.get(id))!;
      await experiments.update({ ...experiment, status: 'stopped', revision: experiment.revision + 1 }, experiment.revision);
    }
    const alertsBefore = published.length;

    // Act
    faulty = true;
    const run = handler({ day: nextDay });
    await expect(run).rejects.toThrow(/analysis failed for every experiment/);
    faulty = false;

    // Assess
    for (const id of ['exp-json', 'exp-html'])
      expect({ id, days: await reports.listDays(id) }).toEqual({ id, days: id === 'exp-json' ? [DAY, PREVIOUS_DAY] : [DAY] });
    expect(published.length).toBe(alertsBefore);
  });
});
