import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError, type CliIO } from '../../../../cli/command.ts';
import { benchTrainCommand, SEARCH_SPACES } from '../../../../cli/commands/bench-train.ts';
import { evaluateCommand } from '../../../../cli/commands/evaluate.ts';
import { s3ClientFromEnvironment, trainCommand } from '../../../../cli/commands/train.ts';
import { generateSyntheticMovieLens } from '../../../../lambdas/domain/recommenders/data/synthetic.ts';
import { ALS_DEFAULTS } from '../../../../lambdas/domain/recommenders/models/als.ts';
import { SVD_TUNED_DEFAULTS } from '../../../../lambdas/domain/recommenders/models/svd.ts';
import { writeMovieLensFiles } from '../../../../lambdas/domain/recommenders/data/files.ts';
import { DirectoryModelArtifactStore } from '../../../../lambdas/storage/artifact-store.ts';

function fakeIo(): CliIO & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    readStdin: async () => '',
    env: {},
    signal: new AbortController().signal,
  };
}

function lastJson(lines: string[]): Record<string, unknown> {
  const text = lines.join('').trimEnd().split('\n');
  return JSON.parse(text[text.length - 1]) as Record<string, unknown>;
}

let dir: string;
let data: string;
let items: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'abrec-models-'));
  const synthetic = generateSyntheticMovieLens({ users: 60, items: 80, ratings: 2_000, seed: 3 });
  [data, items] = writeMovieLensFiles(dir, synthetic.dataset, synthetic.items, 'ml-100k').map((file) => file.path);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('abrec evaluate', () => {
  it('prints the rating protocol result as JSON on the last line', async () => {
    // prepare
    const io = fakeIo();
    // act
    const code = await evaluateCommand.run(['--data', data, '--task', 'rating', '--model', 'baseline', '--folds', '3', '--seed', '0', '--json'], io);
    // assess
    expect(code).toBe(0);
    expect(lastJson(io.out)).toMatchObject({
      task: 'rating',
      model: 'baseline',
      folds: 3,
      rmse: expect.any(Number),
      mae: expect.any(Number),
      fit_seconds: expect.any(Number),
    });
    expect(io.err.join('')).toMatch(/fold 3\/3/);
  });

  it('prints the ranking protocol result as JSON on the last line', async () => {
    // prepare
    const io = fakeIo();
    // act
    const code = await evaluateCommand.run(
      ['--data', data, '--items', items, '--task', 'ranking', '--model', 'content', '--split', '0.75', '--k', '5', '--json'],
      io,
    );
    // assess
    expect(code).toBe(0);
    const result = lastJson(io.out);
    for (const key of ['precision_at_k', 'recall_at_k', 'ndcg_at_k', 'map_at_k', 'auc', 'coverage', 'fit_seconds'])
      expect(result[key]).toEqual(expect.any(Number));
    expect(result).toMatchObject({ k: 5, seed: 42 });
  });

  it('passes --param overrides to the model', async () => {
    // prepare
    const io = fakeIo();
    // act
    await evaluateCommand.run(
      ['--data', data, '--task', 'rating', '--model', 'svd', '--param', 'factors=3', '--param', 'epochs=2', '--folds', '2', '--json'],
      io,
    );
    // assess
    expect(lastJson(io.out).hyperparameters).toMatchObject({ factors: 3, epochs: 2 });
  });

  it.each([
    [['--data', 'x', '--model', 'svd'], /--task/],
    [['--data', 'x', '--task', 'rating', '--model', 'nope'], /unknown model 'nope'/],
    [['--data', 'x', '--task', 'rating', '--model', 'svd', '--param', 'colour=red'], /unknown hyperparameter 'colour'/],
    [['--data', 'x', '--task', 'ranking', '--model', 'content'], /--items/],
    [['--data', 'x', '--task', 'rating', '--model', 'svd', '--folds', 'two'], /--folds must be an integer/],
    [['--data', 'missing.data', '--task', 'rating', '--model', 'svd'], /--data: cannot read missing.data/],
    [['--bogus'], /bogus/],
  ])('rejects %j with a usage error', async (argv, message) => {
    // prepare
    const io = fakeIo();
    // act
    const run = evaluateCommand.run(argv, io);
    // assess
    await expect(run).rejects.toThrow(UsageError);
    await expect(run).rejects.toThrow(message);
  });
});

describe('abrec train', () => {
  it('writes an artifact that loads back with the trained dimensions', async () => {
    // prepare
    const io = fakeIo();
    const out = join(dir, 'artifacts');
    // act
    const code = await trainCommand.run(['--data', data, '--model', 'als', '--param', 'factors=4', '--out', out, '--json'], io);
    // assess
    expect(code).toBe(0);
    const summary = lastJson(io.out) as { model_id: string; version: string };
    const model = await new DirectoryModelArtifactStore(out).loadModel(summary.model_id, summary.version);
    expect(model).toMatchObject({ modelId: 'als', algorithm: 'als', factors: 4 });
    expect(model.userFactors.length).toBe(model.userIds.length * 4);
  });

  it('stores the offline figures in the manifest metrics with --evaluate', async () => {
    // prepare
    const io = fakeIo();
    const out = join(dir, 'evaluated');
    // act
    await trainCommand.run(['--data', data, '--model', 'baseline', '--model-id', 'bias-only', '--out', out, '--evaluate', '--json'], io);
    // assess
    const summary = lastJson(io.out) as { model_id: string; version: string };
    const manifest = await new DirectoryModelArtifactStore(out).getManifest(summary.model_id, summary.version);
    expect(manifest.model_id).toBe('bias-only');
    expect(manifest.metrics).toMatchObject({ rmse: expect.any(Number), mae: expect.any(Number), fit_seconds: expect.any(Number) });
  });

  it.each([
    ['s3://bucket/prefix', /PREFIX must be empty or 'models', got 'prefix'/],
    ['s3://Not_A_Bucket', /'Not_A_Bucket' is not a valid S3 bucket name/],
    ['s3://', /'' is not a valid S3 bucket name/],
  ])('refuses --out %s with a usage error before training', async (out, message) => {
    // prepare
    const io = fakeIo();
    // act
    const run = trainCommand.run(['--data', data, '--model', 'popularity', '--out', out], io);
    // assess
    await expect(run).rejects.toThrow(UsageError);
    await expect(run).rejects.toThrow(message);
    expect(io.err).toEqual([]);
  });
});

describe('s3ClientFromEnvironment', () => {
  it.each([
    ['true', true],
    ['TRUE', true],
    ['false', false],
    [undefined, false],
  ])('uses path-style addressing when S3_FORCE_PATH_STYLE is %s: %s', async (flag, pathStyle) => {
    // prepare
    const env = { AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4569', ...(flag === undefined ? {} : { S3_FORCE_PATH_STYLE: flag }) };
    // act
    const client = s3ClientFromEnvironment(env);
    // assess
    expect(client.config.forcePathStyle).toBe(pathStyle);
    expect(await client.config.region()).toBe('eu-west-1');
    client.destroy();
  });
});

describe('abrec bench train', () => {
  it('searches a space that contains the shipped ALS defaults, so --search can reproduce them', () => {
    // prepare
    const als = SEARCH_SPACES.find((entry) => entry.model === 'als');
    // act
    const outside = Object.entries(als?.space ?? {}).filter(([name, values]) => !values.includes(ALS_DEFAULTS[name as keyof typeof ALS_DEFAULTS]));
    // assess
    expect(als).toBeDefined();
    expect(outside).toEqual([]);
  });

  it('searches a space that contains the shipped svd-tuned defaults, so --search can reproduce them', () => {
    // prepare
    const svd = SEARCH_SPACES.find((entry) => entry.model === 'svd-tuned');
    // act
    const outside = Object.entries(svd?.space ?? {}).filter(([name, values]) => !values.includes(SVD_TUNED_DEFAULTS[name as keyof typeof SVD_TUNED_DEFAULTS]));
    // assess
    expect(svd).toBeDefined();
    expect(outside).toEqual([]);
  });

  it('prints a table and the results as JSON on the last line', async () => {
    // prepare
    const io = fakeIo();
    // act
    const code = await benchTrainCommand.run(['--quick', '--models', 'popularity,baseline', '--json'], io);
    // assess
    expect(code).toBe(0);
    expect(io.out.join('')).toMatch(/model\s+task/);
    const { results } = lastJson(io.out) as { results: { model: string; task: string }[] };
    expect(results.map((row) => [row.model, row.task])).toEqual([
      ['popularity', 'ranking'],
      ['baseline', 'rating'],
    ]);
  });

  it('runs each row in its own process and prints its peak memory and the goals beside the best models', async () => {
    // prepare
    const io = fakeIo();
    // act
    const code = await benchTrainCommand.run(['--quick', '--models', 'ease-lowrank,ease,svd,svdpp', '--json'], io);
    // assess
    expect(code).toBe(0);
    const text = io.out.join('');
    expect(text).toMatch(/peak MB/);
    const { results } = lastJson(io.out) as { results: { model: string; peak_rss_mb: number; data_rss_mb: number; precision_at_10?: number; rmse?: number }[] };
    for (const row of results) expect(row.peak_rss_mb).toBeGreaterThanOrEqual(row.data_rss_mb);
    const ease = results.find((row) => row.model === 'ease')?.precision_at_10 ?? 0;
    const best = Math.max(...results.map((row) => row.precision_at_10 ?? 0));
    const bestRating = results.filter((row) => row.rmse !== undefined).sort((a, b) => (a.rmse ?? 0) - (b.rmse ?? 0))[0];
    expect(text).toContain(`best P@10 ${results.find((row) => row.precision_at_10 === best)?.model} ${best.toFixed(4)}`);
    if (best > ease) expect(text).toContain(`vs ease ${ease.toFixed(4)}`);
    expect(text).toMatch(/goal P@10 >= 0\.42/);
    expect(text).toContain(`best RMSE ${bestRating.model} ${(bestRating.rmse ?? 0).toFixed(4)}`);
    expect(text).toMatch(/goal RMSE <= 0\.905/);
  });

  it('refuses an unknown model, naming --models', async () => {
    // act / assess
    await expect(benchTrainCommand.run(['--quick', '--models', 'nonsense'], fakeIo())).rejects.toThrow(/--models/);
  });
});
