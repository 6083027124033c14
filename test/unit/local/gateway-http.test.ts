import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sameSecret, startGateway, type RunningGateway } from '../../../local/gateway.ts';

/** The gateway over real HTTP, with stub handlers that record what they were called with. */
const keys = { apiKey: 'pk_test', adminKey: 'ak_test' };
const admin = { 'x-admin-key': keys.adminKey };
const calls: APIGatewayProxyEvent[] = [];
const stub = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  calls.push(event);
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: event.pathParameters?.id ?? null }) };
};
let gateway: RunningGateway;

beforeAll(async () => {
  gateway = await startGateway({
    handlers: {
      experiments: stub,
      recommend: async () => {
        throw new Error('boom');
      },
    },
    ...keys,
    port: 0,
    maxBodyBytes: 16,
    localRoutes: async ({ pathname }) => (pathname === '/local/clock' ? { status: 200, body: { ok: true } } : undefined),
  });
});
afterAll(() => gateway.close());

const request = (path: string, init: RequestInit = {}) => fetch(`${gateway.url}${path}`, init);

describe('path parameters with malformed percent-escapes', () => {
  it.each(['/experiments/%E0%A4%A', '/experiments/%FF', '/experiments/%ED%A0%80/start', '/experiments/a%/results'])(
    'answers 400 naming id for %s, without calling the function',
    async (path) => {
      calls.length = 0;
      const method = path.endsWith('/start') ? 'POST' : 'GET';

      const response = await request(path, { method, headers: admin });

      expect(response.status).toBe(400);
      const body = (await response.json()) as { error: { code: string; message: string; details: { field: string; message: string }[] } };
      expect(body.error.code).toBe('validation_failed');
      expect(body.error.details).toEqual([{ field: 'id', message: expect.any(String) }]);
      expect(calls).toHaveLength(0);
    },
  );

  it('refuses a non-UTF-8 escape in a query value rather than passing U+FFFD, naming the parameter', async () => {
    calls.length = 0;

    const response = await request('/experiments/exp-1/results?day=%FF', { headers: admin });

    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { details: { field: string }[] } }).error.details).toEqual([{ field: 'day', message: expect.any(String) }]);
    expect(calls).toHaveLength(0);
  });

  it('still decodes well-formed escapes in ids and queries', async () => {
    calls.length = 0;

    const response = await request('/experiments/caf%C3%A9%20x?q=a+b%2Bc', { headers: admin });

    expect(response.status).toBe(200);
    expect(calls[0].pathParameters).toEqual({ id: 'café x' });
    expect(calls[0].queryStringParameters).toEqual({ q: 'a b+c' });
  });
});

describe('security headers on the answers the gateway makes itself', () => {
  const cases: [string, string, RequestInit][] = [
    ['400', '/experiments/%FF', { headers: admin }],
    ['401', '/experiments', {}],
    ['403', '/experiments', { headers: { 'x-admin-key': 'wrong' } }],
    ['404', '/nowhere', {}],
    ['405', '/health', { method: 'DELETE' }],
    [
      '413',
      '/experiments',
      { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ much: 'more than sixteen bytes' }) },
    ],
    ['502', '/recommend', { headers: { 'x-api-key': keys.apiKey } }],
    ['502', '/health', {}],
    ['200', '/local/clock', { method: 'POST', headers: admin, body: '{}' }],
    ['401', '/local/clock', { method: 'POST' }],
  ];

  it.each(cases)('%s for %s carries the headers middy sets on handler responses', async (status, path, init) => {
    const response = await request(path, init);

    expect(String(response.status)).toBe(status);
    expect(response.headers.get('strict-transport-security')).toMatch(/^max-age=\d+/);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(response.headers.get('content-type')).toBe('application/json');
  });
});

describe('key comparison', () => {
  it('accepts an equal key', () => {
    expect(sameSecret('ak_0123456789abcdef', 'ak_0123456789abcdef')).toBe(true);
  });

  it.each(['', 'ak_0123456789abcde', 'ak_0123456789abcdef0', 'ak_0123456789abcdeF', 'ak_0123456789abcdef'.repeat(10)])(
    'refuses %j, whatever its length',
    (given) => {
      expect(sameSecret(given, 'ak_0123456789abcdef')).toBe(false);
    },
  );

  it('refuses a wrong key of another length over HTTP with 403', async () => {
    expect((await request('/experiments', { headers: { 'x-admin-key': `${keys.adminKey}-longer` } })).status).toBe(403);
    expect((await request('/experiments', { headers: { 'x-admin-key': keys.adminKey.slice(0, 3) } })).status).toBe(403);
  });
});
