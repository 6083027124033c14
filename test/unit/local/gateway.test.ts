import { describe, expect, it } from 'vitest';
import { ROUTES } from '../../../lib/resources.ts';
import { authorize, toProxyEvent } from '../../../local/gateway.ts';

const keys = { apiKey: 'pk_test', adminKey: 'ak_test' };
const route = (path: string, method = 'GET') => ROUTES.find((r) => r.path === path && r.method === method)!;

describe('local gateway auth (API Gateway stand-in)', () => {
  it('lets /health through without credentials', () => {
    expect(authorize(route('/health'), {}, keys)).toBeUndefined();
  });

  it('answers 401 without an API key and 403 with a wrong one on public routes', () => {
    expect(authorize(route('/recommend'), {}, keys)?.status).toBe(401);
    expect(authorize(route('/recommend'), { 'x-api-key': 'nope' }, keys)?.status).toBe(403);
    expect(authorize(route('/recommend'), { 'x-api-key': 'pk_test' }, keys)).toBeUndefined();
  });

  it('refuses the public API key on admin routes', () => {
    const denied = authorize(route('/experiments'), { 'x-api-key': 'pk_test' }, keys);

    expect(denied?.status).toBe(403);
    expect(denied?.body).toContain('cannot be used on admin routes');
  });

  it('accepts the admin key as x-admin-key or a bearer token', () => {
    expect(authorize(route('/experiments'), { 'x-admin-key': 'ak_test' }, keys)).toBeUndefined();
    expect(authorize(route('/experiments'), { authorization: 'Bearer ak_test' }, keys)).toBeUndefined();
    expect(authorize(route('/experiments'), { 'x-admin-key': 'pk_test' }, keys)?.status).toBe(403);
  });
});

describe('API Gateway proxy events', () => {
  it('carries resource, path parameters, query and body as API Gateway would', () => {
    const event = toProxyEvent(route('/experiments/{id}/start', 'POST'), {
      method: 'POST',
      url: new URL('http://localhost/experiments/exp-1/start?x=1'),
      headers: { 'content-type': 'application/json' },
      body: Buffer.from('{"a":1}'),
      pathParameters: { id: 'exp-1' },
      requestId: 'r-1',
    });

    expect(event).toMatchObject({
      resource: '/experiments/{id}/start',
      path: '/experiments/exp-1/start',
      httpMethod: 'POST',
      pathParameters: { id: 'exp-1' },
      queryStringParameters: { x: '1' },
      body: '{"a":1}',
      isBase64Encoded: false,
      requestContext: { requestId: 'r-1', resourcePath: '/experiments/{id}/start' },
    });
  });

  it('sends null query parameters and body when there are none', () => {
    const event = toProxyEvent(route('/health'), {
      method: 'GET',
      url: new URL('http://localhost/health'),
      headers: {},
      body: Buffer.alloc(0),
      pathParameters: null,
      requestId: 'r',
    });

    expect(event.queryStringParameters).toBeNull();
    expect(event.body).toBeNull();
  });
});
