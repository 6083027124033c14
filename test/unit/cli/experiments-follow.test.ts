/**
 * `abrec experiments follow ID [--off]`: one PATCH of follow_latest to the admin API.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { experimentsCommand } from '../../../cli/commands/experiments.ts';
import { recordingIO } from '../../helpers/cli-io.ts';

let server: Server;
let url: string;
let received: { method?: string; path?: string; body: string }[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push({ method: request.method, path: request.url, body });
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'exp', follow_latest: JSON.parse(body).follow_latest }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  received = [];
});

describe('abrec experiments follow', () => {
  it('patches follow_latest true, and false with --off', async () => {
    // Act
    const on = await experimentsCommand.run(['follow', 'exp', '--url', url, '--admin-key', 'k'], recordingIO());
    const off = await experimentsCommand.run(['follow', 'exp', '--off', '--url', url, '--admin-key', 'k'], recordingIO());

    // Assess
    expect([on, off]).toEqual([0, 0]);
    expect(received).toEqual([
      { method: 'PATCH', path: '/experiments/exp', body: JSON.stringify({ follow_latest: true }) },
      { method: 'PATCH', path: '/experiments/exp', body: JSON.stringify({ follow_latest: false }) },
    ]);
  });

  it('needs an experiment id', async () => {
    await expect(experimentsCommand.run(['follow', '--url', url, '--admin-key', 'k'], recordingIO())).rejects.toThrow('follow needs an experiment ID');
    expect(received).toEqual([]);
  });
});
