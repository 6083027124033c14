/**
 * End to end over HTTP: `abrec serve` as a child process, exactly as `npm start` runs it,
 * then Ctrl-C (SIGINT) and a restart on the same data directory.
 */
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main.ts';
import { serveProcess as serve, stopProcess as stop, type ServedProcess as Served } from '../helpers/serve-process.ts';

interface ErrorResponse {
  error: { code: string; message: string; details: { field: string; message: string }[] };
}
interface RecommendResponse {
  variant: string;
  items: { item_id: string; score: number; rank: number }[];
}
interface ResultsResponse {
  totals: Record<string, { clicks?: number }>;
}

let dataDir: string;
let served: Served;

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${served.url}${path}`, { headers });
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${served.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'abrec-e2e-'));
  served = await serve(dataDir);
});

afterAll(async () => {
  if (served.child.exitCode === null) await stop(served);
  await rm(dataDir, { recursive: true, force: true });
});

describe('the local runtime over HTTP', () => {
  it('reports healthy dependencies', async () => {
    const response = await get('/health');

    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok', checks: { dynamodb: 'ok', s3: 'ok' } });
  });

  it('refuses /recommend without an API key (401) and with a wrong one (403)', async () => {
    expect((await get('/recommend?user_id=1&top_n=5')).status).toBe(401);
    expect((await get('/recommend?user_id=1&top_n=5', { 'x-api-key': 'wrong' })).status).toBe(403);
  });

  it('recommends N items from the default experiment', async () => {
    const response = await get('/recommend?user_id=1&top_n=5', { 'x-api-key': served.apiKey });
    const body = (await response.json()) as RecommendResponse;

    expect(response.status).toBe(200);
    expect(body).toMatchObject({
      user_id: '1',
      experiment_id: 'default',
      variant: expect.stringMatching(/^(control|treatment)$/),
      model_version: expect.stringMatching(/^[0-9a-f]{16}$/),
      request_id: expect.any(String),
      fallback: null,
    });
    expect(body.items.map((i: { rank: number }) => i.rank)).toEqual([1, 2, 3, 4, 5]);
    expect(body.items[0]).toEqual({ item_id: expect.any(String), score: expect.any(Number), rank: 1 });
  });

  it('answers bad input with a 400 naming the field, never a 500', async () => {
    const cases = [
      await get('/recommend?top_n=5', { 'x-api-key': served.apiKey }),
      await get('/recommend?user_id=1&top_n=0', { 'x-api-key': served.apiKey }),
      await get(`/recommend?user_id=${'x'.repeat(300)}`, { 'x-api-key': served.apiKey }),
      await post('/events', '{not json', { 'x-api-key': served.apiKey }),
      await post('/events', { event_type: 'teleport', user_id: '1', experiment_id: 'default' }, { 'x-api-key': served.apiKey }),
    ];
    const bodies = (await Promise.all(cases.map((r) => r.json()))) as ErrorResponse[];

    expect(cases.map((r) => r.status)).toEqual([400, 400, 400, 400, 400]);
    expect(bodies.map((b) => b.error.details[0].field)).toEqual(['user_id', 'top_n', 'user_id', 'body', 'event_type']);
  });

  it('stores an event once and acknowledges the retry as a duplicate', async () => {
    const event = { event_id: 'e2e-click-1', event_type: 'click', user_id: '1', experiment_id: 'default', item_id: '42' };

    const first = await post('/events', event, { 'x-api-key': served.apiKey });
    const retry = await post('/events', event, { 'x-api-key': served.apiKey });

    expect([first.status, retry.status]).toEqual([201, 200]);
    expect(await retry.json()).toMatchObject({ status: 'duplicate' });
  });

  it('keeps admin routes behind the admin key, refusing the public API key', async () => {
    expect((await get('/experiments')).status).toBe(401);
    expect((await get('/experiments', { 'x-api-key': served.apiKey })).status).toBe(403);
    const response = await get('/experiments/default', { 'x-admin-key': served.adminKey });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ id: 'default', status: 'running' });
  });

  it('is administered from the command line through the admin API', async () => {
    const out: string[] = [];
    const io = {
      stdout: (t: string) => void out.push(t),
      stderr: () => {},
      readStdin: async () => '',
      env: { ABREC_URL: served.url, ABREC_ADMIN_KEY: served.adminKey },
      signal: new AbortController().signal,
    };

    expect(await runCli(['experiments', 'list'], io)).toBe(0);
    expect((JSON.parse(out.pop()!) as { experiments: { id: string }[] }).experiments.map((e) => e.id)).toContain('default');
    expect(await runCli(['experiments', 'ramp', 'default', '--weights', 'control=0.7,treatment=0.7'], io)).toBe(1);
    expect(JSON.parse(out.pop()!)).toMatchObject({ error: { code: 'validation_failed' } });
    expect(await runCli(['experiments', 'get', 'no-such-experiment'], io)).toBe(1);
    expect(JSON.parse(out.pop()!)).toMatchObject({ error: { code: 'not_found' } });
  });

  it('stops on Ctrl-C and keeps every piece of data across a restart', async () => {
    const users = Array.from({ length: 20 }, (_, i) => `sticky-${i}`);
    const variantsOf = async () =>
      Promise.all(
        users.map(async (u) => ((await (await get(`/recommend?user_id=${u}&top_n=1`, { 'x-api-key': served.apiKey })).json()) as RecommendResponse).variant),
      );
    const variantsBefore = await variantsOf();
    const before = (await (await get('/recommend?user_id=1&top_n=5', { 'x-api-key': served.apiKey })).json()) as RecommendResponse;
    const resultsBefore = (await (await get('/experiments/default/results', { 'x-admin-key': served.adminKey })).json()) as ResultsResponse;

    expect(await stop(served)).toBe(0);
    const { apiKey, adminKey } = served;
    served = await serve(dataDir);

    expect([served.apiKey, served.adminKey]).toEqual([apiKey, adminKey]);
    const after = (await (await get('/recommend?user_id=1&top_n=5', { 'x-api-key': served.apiKey })).json()) as RecommendResponse;
    expect(after.variant).toBe(before.variant);
    expect(await variantsOf()).toEqual(variantsBefore);
    expect(new Set(variantsBefore).size).toBe(2);
    const resultsAfter = (await (await get('/experiments/default/results', { 'x-admin-key': served.adminKey })).json()) as ResultsResponse;
    const clicks = (r: ResultsResponse) => Object.values(r.totals).reduce((s, t) => s + (t.clicks ?? 0), 0);
    expect(clicks(resultsAfter)).toBe(clicks(resultsBefore));
    expect(clicks(resultsAfter)).toBe(1);
    const retry = await post(
      '/events',
      { event_id: 'e2e-click-1', event_type: 'click', user_id: '1', experiment_id: 'default', item_id: '42' },
      { 'x-api-key': served.apiKey },
    );
    expect(await retry.json()).toMatchObject({ status: 'duplicate' });
  });
});

describe('key hygiene of the local runtime', () => {
  const mode = async (path: string) => (await stat(path)).mode & 0o777;

  it('keeps the data directory private (0700) and the keys file 0600', async () => {
    expect(await mode(dataDir)).toBe(0o700);
    expect(await mode(join(dataDir, 'keys.json'))).toBe(0o600);
  });

  it('does not print keys supplied by the environment, and tightens loose permissions left by an older run', async () => {
    expect(await stop(served)).toBe(0);
    await chmod(dataDir, 0o755);
    await chmod(join(dataDir, 'keys.json'), 0o644);
    const env = { ABREC_API_KEY: 'pk_from_env_2f6b1c0e9d', ABREC_ADMIN_KEY: 'ak_from_env_7a3e5d4c1b' };

    served = await serve(dataDir, { env });

    expect(served.output()).not.toContain(env.ABREC_API_KEY);
    expect(served.output()).not.toContain(env.ABREC_ADMIN_KEY);
    expect(served.output()).toMatch(/API key:\s+\(from ABREC_API_KEY\)/);
    expect(served.output()).toMatch(/admin key:\s+\(from ABREC_ADMIN_KEY\)/);
    expect((await get('/recommend?user_id=1&top_n=1', { 'x-api-key': env.ABREC_API_KEY })).status).toBe(200);
    expect((await get('/experiments', { 'x-admin-key': env.ABREC_ADMIN_KEY })).status).toBe(200);
    expect(await mode(dataDir)).toBe(0o700);
    expect(await mode(join(dataDir, 'keys.json'))).toBe(0o600);
  });
});
