import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../cli/main.ts';
import { bar, progressBar } from '../../../cli/progress.ts';
import { recordingIO } from '../../helpers/cli-io.ts';

let empty: string;
beforeAll(async () => {
  empty = await mkdtemp(join(tmpdir(), 'abrec-nokeys-'));
});
afterAll(() => rm(empty, { recursive: true, force: true }));

describe('abrec simulate, before it reaches any server', () => {
  it.each([
    [['--planted-lift', 'lots'], "--planted-lift must be a number >= 0 and <= 10, got 'lots'"],
    [['--days', '0'], "--days must be an integer >= 1, got '0'"],
    [['--users', '2.5'], "--users must be an integer >= 1, got '2.5'"],
    [['--seed', 'x'], "--seed must be an integer, got 'x'"],
    [['--train', 'content'], '--train takes two algorithms, control then treatment (e.g. content,als), got "content"'],
    [['--train', 'nope,als'], "--train: unknown model 'nope'"],
    [['--train', 'content,als', '--aa'], '--aa and --train contradict each other'],
  ])('refuses %j with a usage error naming the flag (exit 2)', async (args, message) => {
    const io = recordingIO({ env: { ABREC_DATA_DIR: empty } });
    expect(await runCli(['simulate', ...args], io)).toBe(2);
    expect(io.stderrText()).toContain(message);
  });

  it('says where the API key comes from, and how to start the service, when there is none', async () => {
    const io = recordingIO({ env: { ABREC_DATA_DIR: empty } });
    expect(await runCli(['simulate'], io)).toBe(2);
    expect(io.stderrText()).toContain('no API key: pass --api-key, set ABREC_API_KEY');
    expect(io.stderrText()).toContain('npm start');
  });

  it('reports an unreachable service as a failure naming the address (exit 1), after its retries', async () => {
    const io = recordingIO({ env: { ABREC_DATA_DIR: empty, ABREC_API_KEY: 'pk', ABREC_URL: 'http://127.0.0.1:9' } });
    expect(await runCli(['simulate', '--users', '1', '--days', '1'], io)).toBe(1);
    expect(io.stderrText()).toMatch(/GET \/recommend failed after 6 attempts; last: cannot reach http:\/\/127\.0\.0\.1:9/);
  }, 30_000);
});

describe('abrec serve, before it starts anything', () => {
  it('refuses --no-simulate with --resimulate', async () => {
    const io = recordingIO({ env: {} });
    expect(await runCli(['serve', '--no-simulate', '--resimulate'], io)).toBe(2);
    expect(io.stderrText()).toContain('--no-simulate and --resimulate contradict each other');
  });
});

describe('the progress bar', () => {
  it('draws the share done', () => {
    expect(bar(0, 10)).toBe(`[${'.'.repeat(24)}]   0%`);
    expect(bar(5, 10)).toBe(`[${'#'.repeat(12)}${'.'.repeat(12)}]  50%`);
    expect(bar(10, 10)).toBe(`[${'#'.repeat(24)}] 100%`);
  });

  it('redraws in place on a terminal and writes only finished steps elsewhere', () => {
    const tty: string[] = [];
    const log: string[] = [];
    for (const [out, interactive] of [
      [tty, true],
      [log, false],
    ] as const) {
      const progress = progressBar((text) => void out.push(text), { interactive });
      progress.update(10, 10, 'day 1');
      progress.finish('day 1 done');
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the ANSI erase-line sequence (ESC [2K) is the output under test
    expect(tty[0]).toMatch(/^\r\u001b\[2K\[#+\] 100% day 1$/);
    expect(tty[1]).toBe('\r\u001b[2Kday 1 done\n');
    expect(log).toEqual(['day 1 done\n']);
  });
});
