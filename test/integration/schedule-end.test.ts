/**
 * The end of an experiment's schedule through the analysis run, on real protocols (experiments
 * and counters in dynalite, reports in s3rver): the run whose time has passed end_time or
 * max_duration_days stops the experiment with a conditional write, writes the final report and
 * alerts its decision exactly once, however often the run is repeated or fires at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS_BUCKET, TABLES } from '../../lib/resources.ts';
import type { CreateExperimentInput, Experiment } from '../../lambdas/domain/experiments/model.ts';
import { telemetry } from '../../lambdas/common/observability.ts';
import { analyzeRunningExperiments, type AnalysisRunSummary } from '../../lambdas/services/analysis-run.ts';
import type { FinalAnalysis } from '../../lambdas/services/schedule-end.ts';
import { addDays, syntheticDailyCounters, twoArmExperiment, type SyntheticArm } from '../../lambdas/services/synthetic-counters.ts';
import { DynamoCounterRepository } from '../../lambdas/storage/counter-store.ts';
import { DynamoExperimentRepository } from '../../lambdas/storage/experiment-repository.ts';
import { S3ObjectStore } from '../../lambdas/storage/object-store.ts';
import { ObjectReportStore } from '../../lambdas/storage/report-store.ts';
import { startLocalAws, type LocalAws } from '../helpers/local-aws.ts';

const FIRST_DAY = '2026-05-01';
const START = new Date(`${FIRST_DAY}T00:00:00Z`);
/** The 03:00 UTC firing of the daily rule on a day, and the day it analyses (the one before). */
const firing = (day: string) => ({ now: new Date(`${day}T03:00:00Z`), day: addDays(day, -1) });

let aws: LocalAws;
let experiments: DynamoExperimentRepository;
let counters: DynamoCounterRepository;
let reports: ObjectReportStore;
const alerts: { subject: string; message: string }[] = [];

const arm = (variant: string, overrides: Partial<SyntheticArm> = {}): SyntheticArm => ({ variant, users: 5000, ctr: 0.05, conversionRate: 0.05, ...overrides });

/** A running experiment started on FIRST_DAY with a schedule, and 14 days of counters (some after its end). */
async function seed(id: string, schedule: Partial<CreateExperimentInput>): Promise<Experiment> {
  const experiment = twoArmExperiment(id, { now: START, ...schedule });
  await experiments.create(experiment);
  for (const row of syntheticDailyCounters({ arms: [arm('control'), arm('treatment', { ctr: 0.07 })], days: 14, firstDay: FIRST_DAY })) {
    await counters.add(id, row.variant, row.day, row.increments as Record<string, number>);
  }
  return experiment;
}

/** One run of the analysis, as the daily rule starts it, with an alert sink that may fail. */
function run(
  { now, day }: { now: Date; day: string },
  publish: (subject: string, message: string) => Promise<void> = async (subject, message) => void alerts.push({ subject, message }),
) {
  return analyzeRunningExperiments({ experiments, counters, reports, now, day, publishAlert: publish, telemetry });
}

const alertsOf = (id: string) => alerts.filter((alert) => alert.subject.startsWith(`abrec: ${id} `));
const entriesOf = (summary: AnalysisRunSummary, id: string) => summary.analysed.filter((entry) => entry.experiment_id === id);
const stored = async (id: string) => (await experiments.get(id)) as Experiment;

beforeAll(async () => {
  aws = await startLocalAws();
  experiments = new DynamoExperimentRepository(aws.doc, TABLES.experiments.localName);
  counters = new DynamoCounterRepository(aws.doc, TABLES.counters.localName);
  reports = new ObjectReportStore(new S3ObjectStore(aws.s3, ARTIFACTS_BUCKET.localName));
});
afterAll(async () => aws?.stop());

describe('the analysis run at the end of a schedule', () => {
  it('stops the experiment at its end_time, writes the final report of the day it ended and alerts its decision once', async () => {
    // Prepare
    const created = await seed('ends-on-time', { end_time: '2026-05-08T12:00:00.000Z' });

    // Act
    const summary = await run(firing('2026-05-09'));

    // Assess: the stop, recorded with its reason, on the revision read
    const experiment = await stored('ends-on-time');
    expect(experiment).toMatchObject({
      status: 'stopped',
      stop_reason: 'schedule: end_time reached',
      end_time: '2026-05-08T12:00:00.000Z',
      final_report: { day: '2026-05-08', decision: 'ship', winner: 'treatment', alert: 'sent', alerted_at: '2026-05-09T03:00:00.000Z' },
      revision: created.revision + 2,
    });
    // The final report: counters through the day it ended, marked final, a banner on the page
    const report = (await reports.getJson('ends-on-time', '2026-05-08')) as FinalAnalysis;
    expect(report).toMatchObject({
      final: { ended_at: '2026-05-08T12:00:00.000Z', reason: 'schedule: end_time reached' },
      status: 'stopped',
      day: '2026-05-08',
      through: '2026-05-08',
      decision: 'ship',
    });
    expect(report.report?.days).toBe(8);
    expect(await reports.getHtml('ends-on-time', '2026-05-08')).toContain(
      '<strong>Final report</strong>: the experiment ended at 2026-05-08T12:00:00.000Z (schedule: end_time reached)',
    );
    // One alert, the final one
    expect(alertsOf('ends-on-time').map((alert) => alert.subject)).toEqual(['abrec: ends-on-time final: ship (treatment), schedule: end_time reached']);
    expect(JSON.parse(alertsOf('ends-on-time')[0].message)).toMatchObject({
      final: true,
      decision: 'ship',
      day: '2026-05-08',
      end_reason: 'schedule: end_time reached',
      report: 'reports/ends-on-time/2026-05-08/report.html',
    });
    expect(entriesOf(summary, 'ends-on-time')).toEqual([
      {
        experiment_id: 'ends-on-time',
        json_key: 'reports/ends-on-time/2026-05-08/report.json',
        html_key: 'reports/ends-on-time/2026-05-08/report.html',
        decision: 'ship',
        alerted: true,
        final: true,
        stop_reason: 'schedule: end_time reached',
      },
    ]);
  });

  it('does nothing more when the run is repeated, or on the days after', async () => {
    // Prepare
    const before = await stored('ends-on-time');

    // Act
    const again = await run(firing('2026-05-09'));
    const nextDay = await run(firing('2026-05-10'));

    // Assess
    expect(entriesOf(again, 'ends-on-time')).toEqual([]);
    expect(entriesOf(nextDay, 'ends-on-time')).toEqual([]);
    expect(alertsOf('ends-on-time')).toHaveLength(1);
    expect((await stored('ends-on-time')).revision).toBe(before.revision);
    expect(await reports.listDays('ends-on-time')).toEqual(['2026-05-08']);
  });

  it('alerts once when two runs fire at the same time', async () => {
    // Prepare
    const created = await seed('fires-twice', { end_time: '2026-05-06T00:00:00.000Z' });

    // Act
    const [first, second] = await Promise.all([run(firing('2026-05-07')), run(firing('2026-05-07'))]);

    // Assess: one run won the conditional stop and alerted; the other skipped it
    expect(alertsOf('fires-twice')).toHaveLength(1);
    expect([...entriesOf(first, 'fires-twice'), ...entriesOf(second, 'fires-twice')].filter((entry) => entry.alerted)).toHaveLength(1);
    expect([first, second].flatMap((summary) => summary.failed)).toEqual([]);
    // An end at midnight: the last day it ran is the day before
    expect(await stored('fires-twice')).toMatchObject({
      status: 'stopped',
      revision: created.revision + 2,
      final_report: { day: '2026-05-05', alert: 'sent' },
    });
  });

  it('stops at the maximum duration when it comes before the end_time', async () => {
    // Prepare
    await seed('runs-too-long', { end_time: '2026-06-30T00:00:00.000Z', max_duration_days: 3 });

    // Act
    await run(firing('2026-05-05'));

    // Assess
    expect(await stored('runs-too-long')).toMatchObject({
      status: 'stopped',
      stop_reason: 'max duration reached',
      end_time: '2026-05-04T00:00:00.000Z',
      final_report: { day: '2026-05-03', alert: 'sent' },
    });
    expect(alertsOf('runs-too-long').map((alert) => alert.subject)).toEqual([expect.stringMatching(/^abrec: runs-too-long final: .*, max duration reached$/)]);
  });

  it('writes the day before as a daily report, without an alert, when the end falls before the 03:00 run', async () => {
    // Prepare
    await seed('ends-at-night', { end_time: '2026-05-09T01:30:00.000Z' });

    // Act
    const summary = await run(firing('2026-05-09'));

    // Assess
    expect(entriesOf(summary, 'ends-at-night').map((entry) => [entry.json_key, entry.alerted, entry.final ?? false])).toEqual([
      ['reports/ends-at-night/2026-05-08/report.json', false, false],
      ['reports/ends-at-night/2026-05-09/report.json', true, true],
    ]);
    expect(await reports.getJson('ends-at-night', '2026-05-08')).not.toHaveProperty('final');
    expect(await reports.getJson('ends-at-night', '2026-05-09')).toMatchObject({ final: { ended_at: '2026-05-09T01:30:00.000Z' }, through: '2026-05-09' });
    expect(alertsOf('ends-at-night')).toHaveLength(1);
  });

  it('writes no daily report of a day before the experiment started', async () => {
    // Prepare: started after midnight, ended before the 03:00 run
    await experiments.create(twoArmExperiment('short-night', { now: new Date('2026-05-20T00:30:00Z'), end_time: '2026-05-20T02:00:00.000Z' }));

    // Act
    const summary = await run(firing('2026-05-20'));

    // Assess
    expect(entriesOf(summary, 'short-night').map((entry) => [entry.json_key, entry.final])).toEqual([['reports/short-night/2026-05-20/report.json', true]]);
    expect(await reports.listDays('short-night')).toEqual(['2026-05-20']);
  });

  it('sends a final alert that failed with the next run, once', async () => {
    // Prepare
    await seed('alert-fails', { end_time: '2026-05-04T08:00:00.000Z' });
    const failing = async () => {
      throw new Error('SNS unavailable');
    };

    // Act: the only experiment of the run failed, so the run throws (Lambda retries it, then the on-failure queue)
    const failed = run(firing('2026-05-05'), failing);
    await expect(failed).rejects.toThrow('analysis failed for every experiment: alert-fails: SNS unavailable');
    const afterFailure = await stored('alert-fails');
    const retried = await run(firing('2026-05-06'));
    await run(firing('2026-05-07'));

    // Assess
    expect(afterFailure).toMatchObject({ status: 'stopped', final_report: { day: '2026-05-04', alert: 'failed' } });
    expect(entriesOf(retried, 'alert-fails')).toMatchObject([{ final: true, alerted: true, json_key: 'reports/alert-fails/2026-05-04/report.json' }]);
    expect(alertsOf('alert-fails')).toHaveLength(1);
    expect(await stored('alert-fails')).toMatchObject({ final_report: { alert: 'sent', alerted_at: '2026-05-06T03:00:00.000Z' } });
  });

  it('analyses an experiment whose end has not come as every day', async () => {
    // Prepare
    await seed('still-running', { end_time: '2026-05-20T00:00:00.000Z' });

    // Act
    const summary = await run(firing('2026-05-09'));

    // Assess
    expect(entriesOf(summary, 'still-running')).toMatchObject([{ json_key: 'reports/still-running/2026-05-08/report.json' }]);
    expect(entriesOf(summary, 'still-running')[0]).not.toHaveProperty('final');
    expect((await stored('still-running')).status).toBe('running');
  });

  it('rewrites the final report, not an ordinary one, when a stopped experiment is analysed on demand for its last day', async () => {
    // Act
    const summary = await analyzeRunningExperiments({
      experiments,
      counters,
      reports,
      now: new Date('2026-05-12T10:00:00Z'),
      experimentId: 'ends-on-time',
      day: '2026-05-08',
      publishAlert: async (subject, message) => void alerts.push({ subject, message }),
      telemetry,
    });

    // Assess
    expect(summary.analysed).toMatchObject([{ final: true, alerted: false }]);
    expect(await reports.getJson('ends-on-time', '2026-05-08')).toHaveProperty('final');
    expect(alertsOf('ends-on-time')).toHaveLength(1);
  });
});
