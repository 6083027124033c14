import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateCommand } from '../../../../cli/commands/generate.ts';
import { UsageError } from '../../../../cli/command.ts';
import { recordingIO } from '../../../helpers/cli-io.ts';
import { loadRatingsFile } from '../../../../lambdas/domain/recommenders/data/files.ts';

const directory = mkdtempSync(join(tmpdir(), 'abrec-generate-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const fakeIO = () => recordingIO();

function lastJson(io: { out: string[] }): Record<string, unknown> {
  const lines = io.out.join('').trimEnd().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

describe('abrec generate', () => {
  it('writes u.data and u.item and prints a JSON summary as the last line', async () => {
    const io = fakeIO();
    const out = join(directory, 'small');
    const code = await generateCommand.run(['--users', '30', '--items', '80', '--ratings', '900', '--seed', '3', '--out', out, '--json'], io);
    expect([code, lastJson(io)]).toEqual([
      0,
      expect.objectContaining({
        format: 'ml-100k',
        users: 30,
        items: 80,
        ratings: 900,
        seed: 3,
        files: [expect.objectContaining({ path: join(out, 'u.data') }), expect.objectContaining({ path: join(out, 'u.item') })],
      }),
    ]);
  });

  it('writes files the loader reads back with the summary counts', async () => {
    const out = join(directory, 'latest');
    await generateCommand.run(['--users', '25', '--items', '60', '--ratings', '700', '--format', 'ml-latest', '--out', out], fakeIO());
    const dataset = loadRatingsFile(join(out, 'ratings.csv'));
    expect([dataset.userIds.length, dataset.rating.length, dataset.ratingScale]).toEqual([25, 700, [0.5, 5]]);
  });

  it('is byte-for-byte reproducible for a seed', async () => {
    const args = ['--users', '25', '--items', '60', '--ratings', '700', '--seed', '8', '--format', 'ml-1m'];
    await generateCommand.run([...args, '--out', join(directory, 'r1')], fakeIO());
    await generateCommand.run([...args, '--out', join(directory, 'r2')], fakeIO());
    expect(readFileSync(join(directory, 'r1', 'ratings.dat'))).toEqual(readFileSync(join(directory, 'r2', 'ratings.dat')));
  });

  it('reports progress on stderr for large sizes', async () => {
    const io = fakeIO();
    await generateCommand.run(['--users', '2000', '--items', '400', '--ratings', '200000', '--out', join(directory, 'large')], io);
    expect(io.err.join('')).toContain('generating: 100% of users');
  });

  it('stays quiet on stderr for small sizes', async () => {
    const io = fakeIO();
    await generateCommand.run(['--users', '25', '--items', '60', '--ratings', '700', '--out', join(directory, 'quiet')], io);
    expect(io.err).toEqual([]);
  });

  it('requires --out', async () => {
    await expect(generateCommand.run(['--users', '10'], fakeIO())).rejects.toThrow(new UsageError('--out DIR is required'));
  });

  it('rejects an unknown format', async () => {
    await expect(generateCommand.run(['--out', directory, '--format', 'ml-20m'], fakeIO())).rejects.toThrow(
      "--format must be one of ml-100k, ml-1m, ml-latest, got 'ml-20m'",
    );
  });

  it('rejects a non-integer count', async () => {
    await expect(generateCommand.run(['--out', directory, '--users', '1.5'], fakeIO())).rejects.toThrow("--users must be an integer >= 1, got '1.5'");
  });

  it('rejects fewer ratings than 20 per user', async () => {
    await expect(generateCommand.run(['--out', directory, '--users', '10', '--ratings', '100'], fakeIO())).rejects.toThrow(
      '--ratings (100) must be at least --users x --min-user-ratings = 200',
    );
  });

  it('turns an unknown option into a usage error', async () => {
    await expect(generateCommand.run(['--out', directory, '--colour'], fakeIO())).rejects.toBeInstanceOf(UsageError);
  });
});
