/**
 * The experiment schedule on the local runtime (`abrec serve` in-process), driven by its virtual
 * clock: POST /local/clock moves time past an experiment's end_time, the scheduled analysis that
 * fires on the way stops the experiment and writes its final report, one alert is sent, and
 * neither later firings nor the same firing delivered twice send another.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../cli/main.ts';
import type { Experiment } from '../../lambdas/domain/experiments/model.ts';
import type { AnalysisRunSummary } from '../../lambdas/services/analysis-run.ts';
import type { ReportSummary } from '../../lambdas/services/report-history.ts';
import type { FinalAnalysis } from '../../lambdas/services/schedule-end.ts';
import type { JobRun } from '../../local/scheduler.ts';
import { scheduledEvent, startLocalRuntime, type LocalRuntime } from '../../local/runtime.ts';
import defaultSet from '../../model-artifacts/default-set.json' with { type: 'json' };
import { recordingIO } from '../helpers/cli-io.ts';

const ID = 'scheduled-on-clock';
const MONDAY = '2030-01-07T06:00:00Z';
const HOUR = 3_600_000;
let dataDir: string;
let runtime: LocalRuntime;
let endTime: string;
/** Every analysis run the clock fired, in order. */
const analysisRuns: AnalysisRunSummary[] = [];
/** The alerts the analysis logged (the local runtime has no SNS topic: an alert is logged). */
const loggedAlerts: string[] = [];

const admin = async <T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
  const response = await fetch(`${runtime.url}${path}`, {
    ...init,
    headers: { 'x-admin-key': runtime.adminKey, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
  const text = await response.text();
  return { status: response.status, body: (text.startsWith('{') ? JSON.parse(text) : text) as T };
};

/** Moves the virtual clock and keeps the analysis runs it fired. */
async function moveClockTo(at: number): Promise<JobRun[]> {
  const { status, body } = await admin<{ runs: JobRun[] }>('/local/clock', { method: 'POST', body: JSON.stringify({ now: new Date(at).toISOString() }) });
  expect(status).toBe(200);
  for (const run of body.runs.filter((r) => r.job === 'analysis')) {
    expect(run.ok, run.error).toBe(true);
    analysisRuns.push(run.result as AnalysisRunSummary);
  }
  return body.runs;
}

const entriesFor = (runs: AnalysisRunSummary[]) => runs.flatMap((run) => run.analysed.filter((entry) => entry.experiment_id === ID));
const recommend = async (userId: string) =>
  (await (await fetch(`${runtime.url}/recommend?user_id=${userId}&experiment_id=${ID}&top_n=3`, { headers: { 'x-api-key': runtime.apiKey } })).json()) as {
    variant: string;
    in_experiment: boolean;
  };

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'abrec-schedule-'));
  // The virtual clock starts on a Monday morning, so the days these tests move through hold only
  // the daily analysis (the weekly retraining fires on Sundays).
  await writeFile(join(dataDir, 'clock.json'), `${JSON.stringify({ offset_ms: Date.parse(MONDAY) - Date.now() })}\n`);
  runtime = await startLocalRuntime({ dataDir, port: 0, scheduleCheckMs: 0 });
  // Powertools writes warnings to stderr, other levels to stdout.
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream);
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk);
      if (text.includes('No alerts topic configured') && text.includes(`abrec: ${ID} `)) loggedAlerts.push(text);
      return write(chunk, ...(rest as []));
    });
  }
});

afterAll(async () => {
  vi.restoreAllMocks();
  await runtime?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the schedule on the virtual clock', () => {
  it('creates a running experiment that ends in a day and a half, and serves its variants until then', async () => {
    // Prepare
    endTime = new Date(runtime.clock.now() + 36 * HOUR).toISOString();
    const io = recordingIO({ env: { ABREC_URL: runtime.url, ABREC_DATA_DIR: dataDir } });

    // Act
    const created = await admin<Experiment>('/experiments', {
      method: 'POST',
      body: JSON.stringify({
        id: ID,
        name: 'Ends on the virtual clock',
        status: 'running',
        end_time: endTime,
        variants: [
          { name: 'control', ...defaultSet.control, weight: 0.5, is_control: true },
          { name: 'treatment', ...defaultSet.treatment, weight: 0.5 },
        ],
        target_metric: { kind: 'click_through' },
      }),
    });
    const served = await Promise.all(Array.from({ length: 20 }, (_, i) => recommend(String(i + 1))));
    const code = await runCli(['experiments', 'get', ID], io);

    // Assess
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: 'running', end_time: endTime, max_duration_days: 90 });
    expect(new Set(served.map((s) => s.variant))).toEqual(new Set(['control', 'treatment']));
    expect(code).toBe(0);
    expect(io.lastJson()).toMatchObject({ id: ID, status: 'running', end_time: endTime });
  });

  it('stops the experiment with the scheduled analysis that fires after the end, writes the final report and alerts once', async () => {
    // Act: a full day past the end, so the clock passes at least one 03:00 firing after it
    await moveClockTo(Date.parse(endTime) + 24 * HOUR);

    // Assess: the experiment, as GET and the CLI show it
    const { body: experiment } = await admin<Experiment>(`/experiments/${ID}`);
    const finalDay = new Date(Date.parse(endTime) - 1).toISOString().slice(0, 10);
    expect(experiment).toMatchObject({
      status: 'stopped',
      stop_reason: 'schedule: end_time reached',
      end_time: endTime,
      final_report: { day: finalDay, alert: 'sent' },
    });
    // One final report, marked final, listed in the history and openable as a page with its banner
    const finals = entriesFor(analysisRuns).filter((entry) => entry.final);
    expect(finals).toMatchObject([{ json_key: `reports/${ID}/${finalDay}/report.json`, alerted: true, stop_reason: 'schedule: end_time reached' }]);
    const report = await admin<FinalAnalysis>(`/experiments/${ID}/reports/${finalDay}`);
    expect(report.body).toMatchObject({ status: 'stopped', day: finalDay, final: { ended_at: endTime, reason: 'schedule: end_time reached' } });
    const page = await admin<string>(`/experiments/${ID}/reports/${finalDay}?format=html`);
    expect(page.body).toContain('<strong>Final report</strong>');
    const history = await admin<{ reports: ReportSummary[] }>(`/experiments/${ID}/reports`);
    expect(history.body.reports.filter((r) => r.final).map((r) => r.day)).toEqual([finalDay]);
    // Exactly one alert
    expect(entriesFor(analysisRuns).filter((entry) => entry.alerted)).toHaveLength(1);
    expect(loggedAlerts).toHaveLength(1);
    expect(loggedAlerts[0]).toContain(`abrec: ${ID} final: `);
  });

  it('serves the control outside the test once the schedule has ended', async () => {
    // Act
    const served = await Promise.all(Array.from({ length: 20 }, (_, i) => recommend(String(i + 1))));

    // Assess
    expect(served.every((s) => s.variant === 'control' && !s.in_experiment)).toBe(true);
  });

  it('sends nothing more when the same firing is delivered twice at once, nor on the days after', async () => {
    // Prepare
    const before = (await admin<Experiment>(`/experiments/${ID}`)).body;
    const firedAt = new Date(`${new Date(runtime.clock.now()).toISOString().slice(0, 10)}T03:00:00Z`);

    // Act
    const duplicates = (await Promise.all([
      runtime.invoke('analysis', scheduledEvent(firedAt)),
      runtime.invoke('analysis', scheduledEvent(firedAt)),
    ])) as AnalysisRunSummary[];
    await moveClockTo(runtime.clock.now() + 2 * 24 * HOUR);

    // Assess
    expect(entriesFor(duplicates)).toEqual([]);
    expect(entriesFor(analysisRuns).filter((entry) => entry.alerted)).toHaveLength(1);
    expect(loggedAlerts).toHaveLength(1);
    expect((await admin<Experiment>(`/experiments/${ID}`)).body.revision).toBe(before.revision);
  });

  it('prints the stopped experiment with `abrec experiments get`, and refuses a new schedule for it', async () => {
    // Prepare
    const io = recordingIO({ env: { ABREC_URL: runtime.url, ABREC_DATA_DIR: dataDir } });

    // Act
    const get = await runCli(['experiments', 'get', ID], io);
    const printed = io.lastJson();
    const schedule = await runCli(['experiments', 'schedule', ID, '--max-duration-days', '120'], io);

    // Assess
    expect(get).toBe(0);
    expect(printed).toMatchObject({ status: 'stopped', stop_reason: 'schedule: end_time reached', final_report: { alert: 'sent' } });
    expect(schedule).toBe(1);
    expect(io.lastJson()).toMatchObject({ error: { code: 'conflict', details: [{ field: 'max_duration_days' }] } });
  });
});
