/**
 * End to end over HTTP on `abrec serve` (child process): recommendations for known and unknown
 * users, batch limits, exactly-once counting of a 1,000-event batch sent twice, and bad input.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveProcess as serve, stopProcess as stop, type ServedProcess as Served } from '../helpers/serve-process.ts';

interface RecommendResponse {
  user_id: string;
  variant: string;
  items: { item_id: string; score: number; rank: number }[];
  fallback: string | null;
}
interface ErrorResponse {
  error: { code: string; details: { field: string; message: string }[] };
}
interface ResultsResponse {
  totals: Record<string, Record<string, number>>;
}

let dataDir: string;
let served: Served;
const USERS = Array.from({ length: 20 }, (_, i) => `e2e-batch-user-${i}`);

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${served.url}${path}`, { headers: { 'x-api-key': served.apiKey, ...headers } });
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${served.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': served.apiKey, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
const results = async () =>
  (await (await fetch(`${served.url}/experiments/default/results`, { headers: { 'x-admin-key': served.adminKey } })).json()) as ResultsResponse;
/** Every counter summed over the variants. */
const counted = (r: ResultsResponse) =>
  Object.values(r.totals).reduce<Record<string, number>>((sum, t) => {
    for (const [k, v] of Object.entries(t)) sum[k] = (sum[k] ?? 0) + v;
    return sum;
  }, {});

/** 1,000 distinct events (or `size`) over the users, in a fixed pattern. */
function batchOf(size: number, prefix: string) {
  return Array.from({ length: size }, (_, i) => {
    // Every user gets every type: the type changes once per round over the users.
    const type = ['impression', 'click', 'impression', 'purchase', 'rating'][Math.floor(i / USERS.length) % 5];
    return {
      event_id: `${prefix}-${i}`,
      event_type: type,
      user_id: USERS[i % USERS.length],
      experiment_id: 'default',
      item_id: type === 'click' || type === 'purchase' ? `${(i % 50) + 1}` : undefined,
      value: type === 'purchase' ? 10 : type === 'rating' ? (i % 5) + 1 : undefined,
    };
  });
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'abrec-e2e-events-'));
  served = await serve(dataDir);
  // Events are only accepted for users the experiment has assigned.
  for (const user of USERS) expect((await get(`/recommend?user_id=${user}&top_n=3`)).status).toBe(200);
});

afterAll(async () => {
  if (served) await stop(served);
  await rm(dataDir, { recursive: true, force: true });
});

describe('recommendations over HTTP', () => {
  it('gives a user the model knows personal scores, not the fallback', async () => {
    const response = await get('/recommend?user_id=1&top_n=5');
    const body = (await response.json()) as RecommendResponse;

    expect(response.status).toBe(200);
    expect(body.fallback).toBeNull();
    expect(body.items.map((i) => i.rank)).toEqual([1, 2, 3, 4, 5]);
  });

  it('gives an unknown user the popularity list, flagged unknown-user, and counts it as a fallback impression', async () => {
    const before = counted(await results());

    const response = await get('/recommend?user_id=never-seen-by-the-model&top_n=4');
    const body = (await response.json()) as RecommendResponse;

    expect(response.status).toBe(200);
    expect(body.fallback).toBe('unknown-user');
    expect(body.items).toHaveLength(4);
    expect((counted(await results()).fallback_impressions ?? 0) - (before.fallback_impressions ?? 0)).toBe(1);
  });
});

describe('batches over HTTP', () => {
  it('refuses a batch of 1,001 events with 400 and stores nothing', async () => {
    const before = counted(await results());

    const response = await post('/events/batch', { events: batchOf(1001, 'too-many') });

    expect(response.status).toBe(400);
    expect(((await response.json()) as ErrorResponse).error.details[0].field).toBe('events');
    expect(counted(await results())).toEqual(before);
  });

  it('stores a batch of 1,000 events and counts each once', async () => {
    const before = counted(await results());

    const response = await post('/events/batch', { events: batchOf(1000, 'full') });

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ received: 1000, stored: 1000, duplicates: 0 });
    const after = counted(await results());
    expect(after.clicks - (before.clicks ?? 0)).toBe(200);
    expect(after.conversions - (before.conversions ?? 0)).toBe(200);
    expect(after.clickers).toBe(USERS.length);
  });

  it('acknowledges the same batch sent again as duplicates and leaves every counter unchanged', async () => {
    const before = counted(await results());

    const response = await post('/events/batch', { events: batchOf(1000, 'full') });

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ received: 1000, stored: 0, duplicates: 1000 });
    expect(counted(await results())).toEqual(before);
  });
});

describe('bad input over HTTP', () => {
  const click = { event_type: 'click', user_id: USERS[0], experiment_id: 'default', item_id: '1' };

  it.each([
    ['malformed JSON on /events', () => post('/events', '{"event_type": "click",'), 'body'],
    ['malformed JSON on /events/batch', () => post('/events/batch', '{"events": ['), 'body'],
    ['a text/plain body', () => post('/events', JSON.stringify(click), { 'content-type': 'text/plain' }), 'content-type'],
    ['an empty user_id in an event', () => post('/events', { ...click, user_id: '' }), 'user_id'],
    ['an oversized user_id in an event', () => post('/events', { ...click, user_id: 'u'.repeat(257) }), 'user_id'],
    ['an oversized user_id inside a batch', () => post('/events/batch', { events: [click, { ...click, user_id: 'é'.repeat(129) }] }), 'events[1].user_id'],
    ['an empty user_id on /recommend', () => get('/recommend?user_id=&top_n=3'), 'user_id'],
    ['an oversized user_id on /recommend', () => get(`/recommend?user_id=${'u'.repeat(257)}&top_n=3`), 'user_id'],
  ])('answers 400 naming the field for %s', async (_case, send, field) => {
    const response = await send();

    expect(response.status).toBe(400);
    expect(((await response.json()) as ErrorResponse).error.details.map((d) => d.field)).toContain(field);
  });
});
