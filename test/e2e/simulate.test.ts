/**
 * `abrec simulate` against the local runtime over HTTP: simulated days land on distinct days of
 * the virtual clock with a scheduled report each; every real MovieLens ratings format drives it;
 * --aa builds an A/A test; and the benchmark's in-process target produces exactly the counters
 * the service does for the same seed, which is what lets the benchmark stand in for it.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main.ts';
import { formatMovieLensFiles } from '../../lambdas/domain/recommenders/data/writers.ts';
import { generateSyntheticMovieLens } from '../../lambdas/domain/recommenders/data/synthetic.ts';
import { loadRatingsFile } from '../../lambdas/domain/recommenders/data/files.ts';
import { prepareForServing, recommendTopN } from '../../lambdas/domain/recommenders/top-n.ts';
import type { Experiment } from '../../lambdas/domain/experiments/model.ts';
import { analysisFromCounters, type ExperimentAnalysis } from '../../lambdas/services/experiment-results.ts';
import { DirectoryModelArtifactStore } from '../../lambdas/storage/artifact-store.ts';
import { DEFAULT_ARTIFACTS_DIR, startLocalRuntime, type LocalRuntime } from '../../local/runtime.ts';
import { createInProcessTarget } from '../../simulator/in-process-target.ts';
import { userProfileOf } from '../../lambdas/domain/experiments/user-profile.ts';
import { buildPopulation } from '../../simulator/population.ts';
import { runSimulation, type SimulationTarget } from '../../simulator/run.ts';
import { DEFAULT_SIMULATION_DATA } from '../../simulator/session.ts';
import type { SimulationSessionResult } from '../../simulator/session.ts';
import { recordingIO } from '../helpers/cli-io.ts';

let dataDir: string;
let runtime: LocalRuntime;

const admin = (path: string, init: RequestInit = {}) =>
  fetch(`${runtime.url}${path}`, { ...init, headers: { 'x-admin-key': runtime.adminKey, 'content-type': 'application/json', ...(init.headers ?? {}) } });

async function simulate(args: string[], url = runtime.url): Promise<SimulationSessionResult> {
  const io = recordingIO({ env: { ABREC_URL: url, ABREC_DATA_DIR: dataDir } });
  const code = await runCli(['simulate', ...args, '--json'], io);
  expect(code, io.stderrText()).toBe(0);
  return io.lastJson() as unknown as SimulationSessionResult;
}

async function defaultVersion(modelId: string): Promise<string> {
  const set = (await import('../../model-artifacts/default-set.json', { with: { type: 'json' } })).default as {
    models: { model_id: string; model_version: string }[];
  };
  return set.models.find((m) => m.model_id === modelId)!.model_version;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'abrec-sim-'));
  runtime = await startLocalRuntime({ dataDir, port: 0, scheduleCheckMs: 0 });
});

afterAll(async () => {
  await runtime?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('abrec simulate on the local runtime', () => {
  it('lands D simulated days on D distinct days, with each day reported by the scheduled analysis before the next starts', async () => {
    // Act
    const result = await simulate(['--users', '150', '--days', '3', '--seed', '5']);

    // Assess: three consecutive days in the counters, the report, and the daily report history
    expect(result.days).toBe(3);
    expect(result.requests).toBeGreaterThan(100);
    expect(result.events).toBeGreaterThan(0);
    const days = [0, 1, 2].map((k) => new Date(Date.parse(`${result.first_day}T00:00:00Z`) + k * 86_400_000).toISOString().slice(0, 10));
    expect(result.last_day).toBe(days[2]);
    expect(result.reports).toEqual(days.map((day) => ({ day, ok: true })));
    const analysis = (await (await admin('/experiments/default/results')).json()) as ExperimentAnalysis;
    expect(analysis.report?.timeline.map((point) => point.day)).toEqual(days);
    const history = (await (await admin('/experiments/default/reports')).json()) as { reports: { day: string }[] };
    expect(history.reports.map((r) => r.day).sort()).toEqual(days);
    // What the simulator counted is what the service stored and counted, per variant.
    for (const [variant, tally] of Object.entries(result.by_variant)) {
      expect(analysis.totals[variant]).toMatchObject({ impressions: tally.impressions, clicks: tally.clicks, exposed_users: tally.users });
    }
  });

  it('resends a batch whose answer was lost on the network, and the service counts it once', async () => {
    // Prepare: a proxy that delivers every second event batch to the service, then drops the
    // connection instead of passing the answer on (the events are stored; the client cannot know).
    let batches = 0;
    let dropped = 0;
    const proxy: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', async () => {
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'content-length')) as Record<string, string>;
        const body = chunks.length ? Buffer.concat(chunks) : undefined;
        const upstream = await fetch(`${runtime.url}${req.url}`, { method: req.method, headers, body });
        const answer = Buffer.from(await upstream.arrayBuffer());
        if (req.url === '/events/batch' && ++batches % 2 === 0) {
          dropped++;
          req.socket.destroy();
          return;
        }
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
        res.end(answer);
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const created = await admin('/experiments', {
      method: 'POST',
      body: JSON.stringify({
        id: 'lossy',
        name: 'lossy network',
        status: 'running',
        variants: [
          { name: 'control', model_id: 'popularity', model_version: await defaultVersion('popularity'), weight: 0.5, is_control: true },
          { name: 'treatment', model_id: 'popularity', model_version: await defaultVersion('popularity'), weight: 0.5 },
        ],
        target_metric: { kind: 'click_through' },
      }),
    });
    expect(created.status).toBe(201);

    try {
      // Act: enough users for several batches a day
      const result = await simulate(
        ['--experiment', 'lossy', '--users', '600', '--days', '2', '--top-n', '40', '--seed', '2'],
        `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      );

      // Assess: answers were lost, yet every click is counted exactly once
      expect(dropped).toBeGreaterThan(0);
      const analysis = (await (await admin('/experiments/lossy/results')).json()) as ExperimentAnalysis;
      for (const [variant, tally] of Object.entries(result.by_variant))
        expect(analysis.totals[variant]).toMatchObject({ clicks: tally.clicks, impressions: tally.impressions });
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('drives the same traffic from every MovieLens ratings format as GroupLens ships it', async () => {
    // Prepare: one small data set written as ML-100K u.data, ML-1M ratings.dat and ml-latest ratings.csv
    const { dataset, items } = generateSyntheticMovieLens({ users: 40, items: 120, ratings: 1600, seed: 11 });
    const files: string[] = [];
    for (const format of ['ml-100k', 'ml-1m', 'ml-latest'] as const) {
      const written = formatMovieLensFiles(dataset, items, format);
      const path = join(dataDir, `${format}-${written.ratings.name}`);
      await writeFile(path, written.ratings.bytes);
      files.push(path);
    }

    // Act
    const results = [];
    for (const file of files) results.push(await simulate(['--data', file, '--users', '40', '--days', '1', '--seed', '9', '--experiment', 'default']));

    // Assess: the same users come back and produce the same events whatever the file's format
    expect(files.map((f) => f.split('-').pop())).toEqual(['u.data', 'ratings.dat', 'ratings.csv']);
    for (const result of results) {
      expect(result.users).toBe(results[0].users);
      expect(result.requests).toBe(results[0].requests);
      expect(result.data).toMatch(/u\.data|ratings\.dat|ratings\.csv$/);
    }
    expect(results[0].requests).toBeGreaterThan(5);
  });

  it('--train trains both models on the 75 % part of a real-format file, publishes them and drives an experiment pinning them', async () => {
    // Prepare: ML-1M files (ratings.dat and movies.dat, as GroupLens ships them) in their own folder
    const { dataset, items } = generateSyntheticMovieLens({ users: 120, items: 300, ratings: 6000, seed: 23 });
    const folder = join(dataDir, 'ml-1m');
    await mkdir(folder, { recursive: true });
    const written = formatMovieLensFiles(dataset, items, 'ml-1m');
    await writeFile(join(folder, written.ratings.name), written.ratings.bytes);
    await writeFile(join(folder, written.items.name), written.items.bytes);

    // Act
    const result = await simulate(['--data', join(folder, 'ratings.dat'), '--train', 'content,als', '--users', '120', '--days', '2', '--seed', '6']);

    // Assess: the experiment pins what was trained, and serves it (no fallback) to the file's users
    expect(result.trained.map((m) => m.model_id)).toEqual(['content', 'als']);
    expect(result.experiment_id).toMatch(/^sim-content-vs-als-[0-9a-f]{8}$/);
    const experiment = (await (await admin(`/experiments/${result.experiment_id}`)).json()) as Experiment;
    expect(experiment.variants.map((v) => [v.name, v.model_id, v.model_version, v.is_control])).toEqual([
      ['control', 'content', result.trained[0].model_version, true],
      ['treatment', 'als', result.trained[1].model_version, false],
    ]);
    const served = await fetch(`${runtime.url}/recommend?user_id=${dataset.userIds[0]}&experiment_id=${result.experiment_id}`, {
      headers: { 'x-api-key': runtime.apiKey },
    });
    const body = (await served.json()) as { model_version: string; fallback?: string | null; items: unknown[] };
    expect(body.fallback ?? null).toBeNull();
    expect(body.items).toHaveLength(10);
    expect(result.trained.map((m) => m.model_version)).toContain(body.model_version);
    // The same file and code give the same versions: a second run reuses the experiment.
    const again = await simulate(['--data', join(folder, 'ratings.dat'), '--train', 'content,als', '--users', '20', '--days', '1', '--seed', '7']);
    expect(again.experiment_id).toBe(result.experiment_id);
  });

  it('simulates with the public API key alone, as against a deployed API: no clock to move, the days are rounds of real time', async () => {
    // Act: admin credentials that the service refuses
    const result = await simulate(['--users', '30', '--days', '2', '--seed', '3', '--admin-key', 'not-the-admin-key']);

    // Assess
    expect(result.requests).toBeGreaterThan(5);
    expect(result).toMatchObject({ first_day: null, last_day: null, reports: [] });
  });

  it('--aa creates a running A/A experiment whose two arms serve the default control model', async () => {
    // Act
    const result = await simulate(['--aa', '--users', '60', '--days', '1', '--planted-lift', '0.1', '--seed', '17']);

    // Assess
    expect(result).toMatchObject({ experiment_id: 'default-aa-17', aa: true, planted_lift: 0.1, lifted_variants: ['treatment'] });
    const experiment = (await (await admin('/experiments/default-aa-17')).json()) as Experiment;
    const control = ((await (await admin('/experiments/default')).json()) as Experiment).variants.find((v) => v.is_control)!;
    expect(experiment.status).toBe('running');
    expect(experiment.variants.map((v) => [v.name, v.model_id, v.model_version])).toEqual([
      ['control', control.model_id, control.model_version],
      ['treatment', control.model_id, control.model_version],
    ]);
  });
});

describe('the local clock routes', () => {
  interface ClockAnswer {
    now: string;
    day: string;
    offset_ms: number;
    runs?: { job: string; fired_at: string; ok: boolean; result?: { status?: string } }[];
  }

  it('are admin routes: 401 without a key, 403 with the public one', async () => {
    expect((await fetch(`${runtime.url}/local/clock`)).status).toBe(401);
    expect((await fetch(`${runtime.url}/local/clock`, { headers: { 'x-api-key': runtime.apiKey } })).status).toBe(403);
  });

  it('refuse a malformed move with a 400 naming the field, and a move backwards with a 409', async () => {
    const bad = await admin('/local/clock', { method: 'POST', body: JSON.stringify({ advance_ms: -5 }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { details: { field: string }[] } }).error.details[0].field).toBe('advance_ms');
    const back = await admin('/local/clock', { method: 'POST', body: JSON.stringify({ now: '2020-01-01T00:00:00Z' }) });
    expect(back.status).toBe(409);
  });

  it('fire the weekly retraining state machine when the clock passes Sunday 04:00 UTC, and the daily analysis for each day passed', async () => {
    // Prepare: the next Sunday after the clock's now, at 05:00 UTC
    const before = (await (await admin('/local/clock')).json()) as ClockAnswer;
    const now = new Date(before.now);
    const daysToSunday = (7 - now.getUTCDay()) % 7 || 7;
    const sunday = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + daysToSunday, 5));

    // Act
    const moved = (await (await admin('/local/clock', { method: 'POST', body: JSON.stringify({ now: sunday.toISOString() }) })).json()) as ClockAnswer;

    // Assess
    expect(moved.day).toBe(sunday.toISOString().slice(0, 10));
    const retraining = moved.runs?.filter((run) => run.job === 'retraining') ?? [];
    expect(retraining).toHaveLength(1);
    expect(retraining[0]).toMatchObject({ ok: true, fired_at: `${sunday.toISOString().slice(0, 10)}T04:00:00.000Z`, result: { status: 'SUCCEEDED' } });
    expect(moved.runs?.filter((run) => run.job === 'analysis').length).toBeGreaterThanOrEqual(daysToSunday - 1);
    expect(moved.runs?.every((run) => run.ok)).toBe(true);
  }, 120_000);
});

describe('the benchmark target in process', () => {
  it('counts exactly what the service counts for the same seed: every counter field of every variant', async () => {
    // Prepare: a fresh experiment on the runtime, a copy of the default one
    const base = (await (await admin('/experiments/default')).json()) as Experiment;
    const created = await admin('/experiments', {
      method: 'POST',
      body: JSON.stringify({
        id: 'parity',
        name: 'parity',
        status: 'running',
        variants: base.variants.map(({ name, model_id, model_version, weight, is_control }) => ({ name, model_id, model_version, weight, is_control })),
        target_metric: base.target_metric,
        min_sample_size: 50,
      }),
    });
    expect(created.status).toBe(201);
    const experiment = (await created.json()) as Experiment;
    const population = buildPopulation(loadRatingsFile(DEFAULT_SIMULATION_DATA), { maxUsers: 120 });
    const store = new DirectoryModelArtifactStore(DEFAULT_ARTIFACTS_DIR);
    const serving = new Map(
      await Promise.all(experiment.variants.map(async (v) => [v.name, prepareForServing(await store.loadModel(v.model_id, v.model_version))] as const)),
    );

    // Act: the HTTP path (two simulated days), then the in-process target with the same seed
    const overHttp = await simulate(['--experiment', 'parity', '--users', '120', '--days', '2', '--seed', '21']);
    const first = Date.parse(`${overHttp.first_day}T00:00:00Z`);
    const inProcess = createInProcessTarget({
      experiment,
      firstDayMs: first,
      slateOf: (variant, userId) => recommendTopN(serving.get(variant)!, userId, 10).items.map((item) => ({ item_id: item.itemId, rank: item.rank })),
      // The service records each user's covariate from the control's artifact at exposure.
      profileOf: (userId) => userProfileOf(serving.get(experiment.variants.find((v) => v.is_control)!.name), userId),
    });
    const target: SimulationTarget = inProcess;
    await runSimulation({ population, target, experimentId: 'parity', days: 2, seed: 21 });

    // Assess
    const served = (await (await admin('/experiments/parity/results')).json()) as ExperimentAnalysis;
    const local = analysisFromCounters(experiment, inProcess.countersByVariant(), { day: overHttp.last_day! });
    expect(served.totals.control.impressions).toBeGreaterThan(0);
    expect(local.totals).toEqual(served.totals);
    expect(local.decision).toBe(served.decision);
  });
});
