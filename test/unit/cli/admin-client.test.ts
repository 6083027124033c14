import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { adminRequest, regionOfApiUrl, resolveAdminTarget, signedHeaders } from '../../../cli/admin-client.ts';

afterEach(() => vi.unstubAllEnvs());

describe('admin API client', () => {
  it('reads the region of a deployed execute-api URL', () => {
    expect(regionOfApiUrl('https://abc123.execute-api.eu-west-1.amazonaws.com/v1')).toBe('eu-west-1');
    expect(regionOfApiUrl('http://127.0.0.1:3000')).toBeUndefined();
  });

  it('uses IAM for a deployed API and the admin key for the local runtime', async () => {
    expect(await resolveAdminTarget({ url: 'https://abc.execute-api.us-east-2.amazonaws.com/v1' }, {})).toEqual({
      url: 'https://abc.execute-api.us-east-2.amazonaws.com/v1',
      auth: 'iam',
      region: 'us-east-2',
    });
    expect(await resolveAdminTarget({ url: 'http://127.0.0.1:3000' }, { ABREC_ADMIN_KEY: 'ak_1' })).toMatchObject({ auth: 'admin-key', adminKey: 'ak_1' });
  });

  it('refuses to guess when no admin key can be found', async () => {
    await expect(resolveAdminTarget({ url: 'http://127.0.0.1:3000', dataDir: '/nonexistent' }, {})).rejects.toThrow(/no admin key/);
  });

  it('signs requests with SigV4 for execute-api from the standard credential chain', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    vi.stubEnv('AWS_SESSION_TOKEN', '');

    const headers = await signedHeaders(
      { url: 'https://abc.execute-api.us-east-2.amazonaws.com/v1', region: 'us-east-2' },
      'POST',
      '/experiments/x/start',
      '{}',
      { 'content-type': 'application/json' },
    );

    expect(headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-2\/execute-api\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
    );
    expect(headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
  });

  it('sends the admin key and parses the JSON answer', async () => {
    let seen: IncomingHttpHeaders = {};
    const server = createServer((req, res) => {
      seen = req.headers;
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"not_found"}}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const response = await adminRequest({ url, auth: 'admin-key', adminKey: 'ak_2' }, 'GET', '/experiments/none');
    server.close();

    expect(seen['x-admin-key']).toBe('ak_2');
    expect(response).toEqual({ status: 404, body: { error: { code: 'not_found' } } });
  });
});
