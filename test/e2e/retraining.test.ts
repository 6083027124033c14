/**
 * End to end: a fresh local runtime (`abrec serve` as a child process) logs a week of feedback
 * through POST /events/batch; `abrec retrain` (a child process, as `npx abrec retrain` runs)
 * executes the synthesized state machine and publishes new versions of every model, trained on
 * a snapshot that holds the logged interactions; the experiment that follows latest switches to
 * them and GET /recommend serves them, while the pinned default experiment keeps its versions;
 * the notification is in the data directory and behind the dashboard's route; the runtime's
 * scheduler then runs the weekly rule on simulated time.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRun } from '../../local/scheduler.ts';
import defaultSet from '../../model-artifacts/default-set.json' with { type: 'json' };
import { serveProcess as serve, stopProcess as stop, type ServedProcess as Served } from '../helpers/serve-process.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);
const versionOf = (id: string) => defaultSet.models.find((m) => m.model_id === id)!.model_version;
const FOLLOWS = 'follows-latest';

interface Notification {
  state: string;
  message: {
    outcome: string;
    snapshot: { logged: Record<string, number>; ratings: number; base_ratings: number };
    models: { model_id: string; decision: string; reason: string; candidate_version: string }[];
    published: Record<string, string>;
    switched: { experiment_id: string; switched: boolean; versions?: Record<string, string> }[];
  };
}

let dataDir: string;
let served: Served | undefined;

const admin = async <T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: T }> => {
  const response = await fetch(`${served!.url}${path}`, {
    method: init.method ?? 'GET',
    headers: { 'x-admin-key': served!.adminKey, 'content-type': 'application/json' },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  return { status: response.status, body: (await response.json()) as T };
};
const recommend = async (experimentId: string, userId: string) =>
  (await (
    await fetch(`${served!.url}/recommend?user_id=${userId}&experiment_id=${experimentId}&top_n=3`, { headers: { 'x-api-key': served!.apiKey } })
  ).json()) as { variant: string; model_version: string; fallback: string | null };

/** A week of feedback: two new users (9001, 9002) and three users of the base data set, every kind of feedback. */
function weekOfFeedback(now: number) {
  const events: Record<string, unknown>[] = [];
  let n = 0;
  const add = (event: Record<string, unknown>) =>
    events.push({ event_id: `e2e-${++n}`, experiment_id: FOLLOWS, timestamp: now - (n % 6) * 86_400_000, ...event });
  for (const user of ['9001', '9002']) {
    for (let item = 1; item <= 12; item++) add({ event_type: 'rating', user_id: user, item_id: String(item), value: 5 });
    for (let item = 13; item <= 16; item++) add({ event_type: 'click', user_id: user, item_id: String(item) });
    add({ event_type: 'purchase', user_id: user, item_id: '17', value: 20 });
    add({ event_type: 'watch_time', user_id: user, item_id: '18', value: 2400 });
  }
  for (const user of ['1', '2', '3']) add({ event_type: 'click', user_id: user, item_id: '50' });
  return events;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'abrec-e2e-retrain-'));
  served = await serve(dataDir);
});

afterAll(async () => {
  if (served) await stop(served);
  await rm(dataDir, { recursive: true, force: true });
});

describe('abrec retrain on a fresh local runtime', () => {
  const logged = { rating: 24, click: 11, purchase: 2, watch_time: 2 };
  let notification: Notification;

  it('publishes new versions of every model from a snapshot holding the logged feedback, and switches the experiment that follows latest', async () => {
    // Prepare: an experiment that follows latest, started; a week of feedback through the API.
    const created = await admin('/experiments', {
      method: 'POST',
      body: {
        id: FOLLOWS,
        name: 'Follows the latest models',
        variants: [
          { name: 'control', model_id: 'popularity', model_version: versionOf('popularity'), weight: 0.5, is_control: true },
          { name: 'treatment', model_id: 'als', model_version: versionOf('als'), weight: 0.5 },
        ],
        target_metric: { kind: 'click_through' },
        follow_latest: true,
      },
    });
    expect(created.status).toBe(201);
    expect((await admin(`/experiments/${FOLLOWS}/start`, { method: 'POST', body: {} })).status).toBe(200);
    const events = weekOfFeedback(Date.now());
    const posted = await fetch(`${served!.url}/events/batch`, {
      method: 'POST',
      headers: { 'x-api-key': served!.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ events }),
    });
    expect(posted.status).toBe(200);
    // The DynamoDB files take one process: the runtime stops while `abrec retrain` runs.
    await stop(served!);
    served = undefined;

    // Act
    const { stdout, stderr } = await run(join(ROOT, 'node_modules', '.bin', 'node'), [join(ROOT, 'bin', 'abrec.mjs'), 'retrain', '--data-dir', dataDir], {
      cwd: ROOT,
      maxBuffer: 1 << 24,
    });

    // Assess: each state printed as it ran, the published versions at the end.
    for (const state of ['Snapshot', 'TrainEach', 'Train(content)', 'Evaluate(als)', 'Gate(popularity)', 'Publish', 'SwitchFollowers', 'Notify'])
      expect(stderr).toContain(`entered ${state}`);
    expect(stdout).toMatch(/^SUCCEEDED: Snapshot -> TrainEach -> /);
    const published = Object.fromEntries(
      [...stdout.match(/published versions: (.*)/)![1].matchAll(/(\w+)@([0-9a-f]{16})/g)].map(([, id, version]) => [id, version]),
    );
    expect(Object.keys(published).sort()).toEqual(['als', 'content', 'popularity']);
    for (const [id, version] of Object.entries(published)) expect(version).not.toBe(versionOf(id));

    const lines = (await readFile(join(dataDir, 'notifications', 'retraining.jsonl'), 'utf8')).trim().split('\n');
    notification = JSON.parse(lines.at(-1)!) as Notification;
    expect(notification.state).toBe('Notify');
    expect(notification.message.snapshot.logged).toEqual(logged);
    // The two new users' 36 pairs are added; the base users' clicks on item 50 add or replace one line each.
    expect(notification.message.snapshot.ratings).toBeGreaterThanOrEqual(notification.message.snapshot.base_ratings + 36);
    expect(notification.message.published).toEqual(published);
    expect(notification.message.models.map((m) => m.decision)).toEqual(['published', 'published', 'published']);
    expect(notification.message.switched).toEqual([
      { experiment_id: FOLLOWS, switched: true, versions: { control: published.popularity, treatment: published.als } },
    ]);
  });

  it('serves the new versions to the experiment that follows latest, the pinned default experiment keeping its own, and the new users are known to the new model', async () => {
    // Prepare
    served = await serve(dataDir);
    const { published } = notification.message;

    // Act
    const following = await Promise.all(['9001', '9002', '4', '5', '6', '7'].map((user) => recommend(FOLLOWS, user)));
    const pinned = await Promise.all(['4', '5', '6', '7'].map((user) => recommend('default', user)));
    const models = await admin<{ models: { model_id: string; latest_version: string }[] }>('/models');

    // Assess
    for (const answer of following) expect(answer.model_version).toBe(answer.variant === 'control' ? published.popularity : published.als);
    // 9001 and 9002 exist only in the logged feedback: the new versions know them (no cold-start fallback).
    expect(following.slice(0, 2).map((answer) => answer.fallback)).toEqual([null, null]);
    for (const answer of pinned) expect(answer.model_version).toBe(answer.variant === 'control' ? versionOf('content') : versionOf('als'));
    expect(Object.fromEntries(models.body.models.map((m) => [m.model_id, m.latest_version]))).toMatchObject(published);
    const experiment = await admin<{ variants: { name: string; model_version: string }[] }>(`/experiments/${FOLLOWS}`);
    expect(experiment.body.variants.map((v) => v.model_version)).toEqual([published.popularity, published.als]);
  });

  it("retrains on the weekly rule of the runtime's scheduler in simulated time, and the dashboard route lists both runs, newest first", async () => {
    // Prepare: the next Sunday 04:00 UTC after the clock's now.
    const clock = await admin<{ now: string }>('/local/clock');
    const sunday = new Date(clock.body.now);
    sunday.setUTCDate(sunday.getUTCDate() + ((7 - sunday.getUTCDay()) % 7 || 7));
    sunday.setUTCHours(4, 0, 1, 0);

    // Act
    const moved = await admin<{ runs: JobRun[] }>('/local/clock', { method: 'POST', body: { now: sunday.toISOString() } });
    const listed = await admin<{ notifications: Notification[] }>('/local/notifications/retraining');

    // Assess
    const retraining = moved.body.runs.filter((r) => r.job === 'retraining');
    expect(retraining).toHaveLength(1);
    expect(retraining[0]).toMatchObject({ ok: true, result: { status: 'SUCCEEDED' } });
    expect(listed.body.notifications).toHaveLength(2);
    // Nothing was logged since the first run: the snapshot is the previous one.
    expect(listed.body.notifications[0].message.snapshot.logged).toEqual({ rating: 0, click: 0, purchase: 0, watch_time: 0 });
    expect(listed.body.notifications[0].message.snapshot.ratings).toBe(notification.message.snapshot.ratings);
    expect(listed.body.notifications[1].message.published).toEqual(notification.message.published);
  });
});
