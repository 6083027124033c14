import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError, type CliIO } from '../../../cli/command.ts';
import { evaluateCommand } from '../../../cli/commands/evaluate.ts';
import { trainCommand } from '../../../cli/commands/train.ts';
import { parseRatings } from '../../../lambdas/domain/recommenders/data/formats.ts';
import { writeMovieLensFiles } from '../../../lambdas/domain/recommenders/data/files.ts';
import { generateSyntheticMovieLens } from '../../../lambdas/domain/recommenders/data/synthetic.ts';
import { cleanMinRatings, holdoutSplit } from '../../../lambdas/domain/recommenders/protocol.ts';
import type { RatingsDataset } from '../../../lambdas/domain/recommenders/types.ts';

function fakeIo(): CliIO & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (t) => out.push(t), stderr: (t) => err.push(t), readStdin: async () => '', env: {}, signal: new AbortController().signal };
}

function lastJson(lines: string[]): Record<string, unknown> {
  const text = lines.join('').trimEnd().split('\n');
  return JSON.parse(text[text.length - 1]) as Record<string, unknown>;
}

/** Test rows as "user:item" strings. */
function testPairs(dataset: RatingsDataset, rows: Int32Array): string[] {
  return Array.from(rows, (row) => `${dataset.userIds[dataset.userIndex[row]]}:${dataset.itemIds[dataset.itemIndex[row]]}`);
}

describe('held-out splits', () => {
  // User 1 rated items 1..8 at times 8..1 (newest first in the file), user 2 items 1..4, user 3 one item.
  const lines = [
    ...Array.from({ length: 8 }, (_, k) => `1\t${k + 1}\t4\t${100 + 8 - k}`),
    ...Array.from({ length: 4 }, (_, k) => `2\t${k + 1}\t3\t${200 + k}`),
    '3\t1\t5\t300',
  ];
  const dataset = parseRatings(`${lines.join('\n')}\n`, { fileName: 'u.data' });

  it("temporal tests each user's latest quarter, whatever the line order", () => {
    const split = holdoutSplit(dataset, { kind: 'temporal', trainRatio: 0.75, n: 1, seed: 0 });
    expect(testPairs(dataset, split.test)).toEqual(['1:1', '1:2', '2:4']);
  });

  it("leave-last-n tests each user's n latest and keeps one in training", () => {
    const split = holdoutSplit(dataset, { kind: 'leave-last-n', trainRatio: 0.75, n: 3, seed: 0 });
    expect(testPairs(dataset, split.test)).toEqual(['1:1', '1:2', '1:3', '2:2', '2:3', '2:4']);
  });

  it('random keeps the per-user share and is the same for the same seed', () => {
    const a = holdoutSplit(dataset, { kind: 'random', trainRatio: 0.75, n: 1, seed: 7 });
    const b = holdoutSplit(dataset, { kind: 'random', trainRatio: 0.75, n: 1, seed: 7 });
    expect([a.test.length, Array.from(a.test)]).toEqual([3, Array.from(b.test)]);
  });
});

describe('min-ratings cleaning', () => {
  it('repeats to a fixed point: dropping a rare item takes a user under K', () => {
    // Item c has one rating (by user 3): pass 1 drops it, pass 2 user 3 (now one rating), pass 3 item b
    // (now one rating, by user 2); pass 4 finds nothing under K = 2.
    const dataset = parseRatings(
      '1\ta\t1\t1\n2\ta\t1\t1\n2\tb\t1\t1\n3\tb\t1\t1\n3\tc\t1\t1\n1\td\t1\t1\n2\td\t1\t1\n'.replace(
        /\t([a-d])\t/g,
        (_, c: string) => `\t${c.charCodeAt(0)}\t`,
      ),
      {
        fileName: 'u.data',
      },
    );
    const { dataset: cleaned, report } = cleanMinRatings(dataset, 2);
    expect([cleaned.userIds, cleaned.itemIds.map((id) => String.fromCharCode(Number(id))), report]).toEqual([
      ['1', '2'],
      ['a', 'd'],
      { minRatings: 2, droppedUsers: 1, droppedItems: 2, droppedRatings: 3, passes: 4 },
    ]);
  });
});

describe('abrec evaluate --split, --n, --min-ratings', () => {
  let dir: string;
  let data: string;
  let dataset: RatingsDataset;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'abrec-protocol-'));
    const synthetic = generateSyntheticMovieLens({ users: 50, items: 60, ratings: 1_500, seed: 5 });
    dataset = synthetic.dataset;
    [data] = writeMovieLensFiles(dir, synthetic.dataset, synthetic.items, 'ml-100k').map((file) => file.path);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('ranking with --split temporal scores the per-user temporal holdout', async () => {
    // prepare
    const io = fakeIo();
    const expected = holdoutSplit(parseRatings(new Uint8Array(readFileSync(data)), { fileName: data }), { kind: 'temporal', trainRatio: 0.75, n: 1, seed: 42 });
    // act
    const code = await evaluateCommand.run(['--data', data, '--task', 'ranking', '--model', 'popularity', '--split', 'temporal', '--json'], io);
    // assess
    expect([code, lastJson(io.out)]).toEqual([
      0,
      expect.objectContaining({
        protocol: 'temporal',
        train_ratio: 0.75,
        train: expected.train.length,
        test: expected.test.length,
        precision_at_k: expect.any(Number),
      }),
    ]);
  });

  it("rating with --split leave-last-n --n 2 is one holdout of each user's 2 latest", async () => {
    // prepare
    const io = fakeIo();
    // act
    const code = await evaluateCommand.run(['--data', data, '--task', 'rating', '--model', 'baseline', '--split', 'leave-last-n', '--n', '2', '--json'], io);
    // assess
    expect([code, lastJson(io.out)]).toEqual([
      0,
      expect.objectContaining({ task: 'rating', protocol: 'leave-last-n', n: 2, test: 2 * dataset.userIds.length, rmse: expect.any(Number) }),
    ]);
  });

  it('--min-ratings prints what it dropped and evaluates the cleaned data', async () => {
    // prepare
    const io = fakeIo();
    const { report } = cleanMinRatings(dataset, 15);
    // act
    const code = await evaluateCommand.run(['--data', data, '--task', 'rating', '--model', 'baseline', '--folds', '2', '--min-ratings', '15', '--json'], io);
    // assess
    expect(report.droppedUsers + report.droppedItems).toBeGreaterThan(0);
    expect([code, io.err.join(''), lastJson(io.out)]).toEqual([
      0,
      expect.stringContaining(`min-ratings 15: dropped ${report.droppedUsers} users, ${report.droppedItems} items, ${report.droppedRatings} ratings`),
      expect.objectContaining({ ratings: dataset.rating.length - report.droppedRatings, cleaning: report }),
    ]);
  });

  it('a numeric --split is still the random training share', async () => {
    const io = fakeIo();
    await evaluateCommand.run(['--data', data, '--task', 'ranking', '--model', 'popularity', '--split', '0.5', '--json'], io);
    expect(lastJson(io.out)).toMatchObject({ protocol: 'random', split: 0.5, train_ratio: 0.5 });
  });

  it('says how many repeated ratings it merged', async () => {
    // prepare
    const path = join(dir, 'dup.data');
    writeFileSync(path, '1\t1\t4\t10\n1\t2\t3\t11\n2\t1\t5\t12\n2\t2\t4\t13\n1\t1\t2\t20\n');
    const io = fakeIo();
    // act
    await evaluateCommand.run(['--data', path, '--task', 'rating', '--model', 'baseline', '--folds', '2'], io);
    // assess
    expect(io.err.join('')).toContain(`${path}: 1 repeated (user, item) ratings merged, the latest by timestamp kept (4 of 5 lines)`);
  });

  it('loads every line of an ML-1M-format file with the real quirks (Latin-1 titles, CRLF, repeats, no final newline)', async () => {
    // prepare: the synthetic data in ML-1M's layout, a Latin-1 title, CRLF line ends, two repeated ratings
    const ml1m = join(dir, 'ml-1m');
    const synthetic = generateSyntheticMovieLens({ users: 50, items: 60, ratings: 1_500, seed: 5 });
    const items = synthetic.items.map((item, i) => (i === 0 ? { ...item, title: 'Mis\u00e9rables, Les (1995)' } : item));
    const [ratingsPath, moviesPath] = writeMovieLensFiles(ml1m, synthetic.dataset, items, 'ml-1m').map((file) => file.path);
    const lines = readFileSync(ratingsPath, 'latin1').trimEnd().split('\n');
    const repeated = lines.slice(0, 2).map((line) => line.replace(/::(\d+)$/, (_, t: string) => `::${Number(t) + 1}`));
    writeFileSync(ratingsPath, [...lines, ...repeated].join('\r\n'), 'latin1');
    const io = fakeIo();
    // act
    const code = await evaluateCommand.run(
      ['--data', ratingsPath, '--items', moviesPath, '--task', 'ranking', '--model', 'content', '--split', 'leave-last-n', '--json'],
      io,
    );
    // assess
    expect([
      code,
      io.err.join('').includes(`2 repeated (user, item) ratings merged, the latest by timestamp kept (${lines.length} of ${lines.length + 2} lines)`),
      (lastJson(io.out).train as number) + (lastJson(io.out).test as number),
    ]).toEqual([0, true, lines.length]);
  });

  it("train --evaluate --split leave-last-n --min-ratings trains on the cleaned data and records that holdout's metrics", async () => {
    // prepare
    const io = fakeIo();
    const { dataset: cleaned } = cleanMinRatings(dataset, 15);
    // act
    const code = await trainCommand.run(
      ['--data', data, '--model', 'popularity', '--out', join(dir, 'artifacts'), '--evaluate', '--split', 'leave-last-n', '--min-ratings', '15', '--json'],
      io,
    );
    // assess
    const summary = lastJson(io.out) as { dimensions: { users: number; items: number }; metrics: Record<string, number> };
    expect([code, summary.dimensions.items, io.err.join('').includes('evaluating on the leave-last-1 per user'), summary.metrics.precision_at_10]).toEqual([
      0,
      cleaned.itemIds.length,
      true,
      expect.any(Number),
    ]);
  });

  it('train refuses a protocol option without --evaluate, naming it', async () => {
    await expect(trainCommand.run(['--data', data, '--model', 'popularity', '--out', dir, '--split', 'temporal'], fakeIo())).rejects.toThrow(
      '--split chooses the --evaluate protocol: add --evaluate',
    );
  });

  it.each([
    [['--split', 'weekly'], "--split must be one of random, temporal, leave-last-n, got 'weekly'"],
    [['--split', 'temporal', '--n', '2'], '--n applies to --split leave-last-n only, not temporal'],
    [['--split', 'leave-last-n', '--n', '0'], "--n must be an integer >= 1, got '0'"],
    [['--split', 'leave-last-n', '--train-ratio', '0.5'], '--train-ratio does not apply to --split leave-last-n'],
    [['--split', 'temporal', '--train-ratio', '1.5'], "--train-ratio must be strictly between 0 and 1, got '1.5'"],
    [['--min-ratings', '0'], "--min-ratings must be an integer >= 1, got '0'"],
    [['--min-ratings', '100000'], '--min-ratings 100000 drops every rating'],
    [['--split', 'temporal', '--folds', '3'], '--folds applies to the rating task with --split random only'],
  ])('usage error for %j names the option', async (extra, message) => {
    await expect(evaluateCommand.run(['--data', data, '--task', 'rating', '--model', 'baseline', ...extra], fakeIo())).rejects.toThrow(
      new UsageError(message).message,
    );
  });
});
