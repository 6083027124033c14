/**
 * `abrec experiments patch ID --body JSON | --file FILE|-`: one PATCH /experiments/{id} with
 * the given fields to the admin API, its answer printed.
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { experimentsCommand } from '../../../cli/commands/experiments.ts';
import { recordingIO } from '../../helpers/cli-io.ts';

let server: Server;
let url: string;
let received: { method?: string; path?: string; adminKey?: string | string[]; body: string }[] = [];
let answer: { status: number; body: unknown } = { status: 200, body: {} };

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push({ method: request.method, path: request.url, adminKey: request.headers['x-admin-key'], body });
      response.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  received = [];
  answer = { status: 200, body: { id: 'exp', description: 'new' } };
});

describe('abrec experiments patch', () => {
  it('sends --body as PATCH /experiments/{id} and prints the answer', async () => {
    const io = recordingIO();

    const code = await experimentsCommand.run(['patch', 'exp', '--body', '{"description":"new"}', '--url', url, '--admin-key', 'k'], io);

    expect(code).toBe(0);
    expect(received).toEqual([{ method: 'PATCH', path: '/experiments/exp', adminKey: 'k', body: JSON.stringify({ description: 'new' }) }]);
    expect(io.lastJson()).toEqual({ id: 'exp', description: 'new' });
  });

  it('reads the body from --file, or standard input with --file -', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'abrec-patch-')), 'patch.json');
    writeFileSync(file, '{"min_sample_size": 500}');

    const fromFile = await experimentsCommand.run(['patch', 'exp', '--file', file, '--url', url, '--admin-key', 'k'], recordingIO());
    const fromStdin = await experimentsCommand.run(
      ['patch', 'exp', '--file', '-', '--url', url, '--admin-key', 'k'],
      recordingIO({ stdin: '{"name": "renamed"}' }),
    );

    expect([fromFile, fromStdin]).toEqual([0, 0]);
    expect(received.map((r) => JSON.parse(r.body) as unknown)).toEqual([{ min_sample_size: 500 }, { name: 'renamed' }]);
  });

  it('exits 1 with the API error printed when the service refuses the patch', async () => {
    answer = { status: 409, body: { error: { code: 'illegal-transition', message: 'experiment exp is running: variants can only change while draft' } } };
    const io = recordingIO();

    const code = await experimentsCommand.run(['patch', 'exp', '--body', '{"salt":"x"}', '--url', url, '--admin-key', 'k'], io);

    expect(code).toBe(1);
    expect(io.lastJson()).toEqual(answer.body);
    expect(io.stderrText()).toContain('HTTP 409');
  });

  it.each([
    [['patch', '--body', '{}'], 'patch needs an experiment ID'],
    [['patch', 'exp'], 'patch needs the fields to change as --body JSON or --file FILE|-'],
    [['patch', 'exp', '--body', '{}', '--file', 'x.json'], 'patch needs the fields to change as --body JSON or --file FILE|-'],
    [['patch', 'exp', '--body', '{"description":'], '--body is not valid JSON'],
    [['patch', 'exp', '--body', '[1]'], 'the patch body must be a JSON object'],
  ])('refuses %j before any request: %s', async (argv, message) => {
    await expect(experimentsCommand.run([...argv, '--url', url, '--admin-key', 'k'], recordingIO())).rejects.toThrow(message);
    expect(received).toEqual([]);
  });
});
