import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError, type CliIO } from '../../../cli/command.ts';
import {
  benchSurprise,
  benchSurpriseCommand,
  compileSurpriseReference,
  formatReferenceRatings,
  formatRowList,
  hasCompiler,
  kFoldShuffle,
  parseReferenceOutput,
  REFERENCE_ROW_NAME,
  runSurpriseReference,
  SurpriseReferenceError,
  surpriseTrainOrder,
  type SurpriseSvdSettings,
} from '../../../cli/commands/bench-surprise.ts';
import { kFoldSplits } from '../../../lambdas/domain/recommenders/data/splits.ts';
import { generateSyntheticMovieLens } from '../../../lambdas/domain/recommenders/data/synthetic.ts';
import type { RatingsDataset } from '../../../lambdas/domain/recommenders/types.ts';

const io: CliIO = { stdout: () => undefined, stderr: () => undefined, readStdin: async () => '', env: {}, signal: new AbortController().signal };

/** A few hundred ratings: 20 users with at least 20 ratings each. */
const tiny = generateSyntheticMovieLens({ users: 20, items: 60, ratings: 500, seed: 7 }).dataset;

/** Fold 1 of 5 with seed 0, as `abrec evaluate --task rating` cuts it, in Surprise's training order. */
const split = kFoldSplits(tiny, { folds: 5, seed: 0 })[0];
const trainOrder = surpriseTrainOrder(kFoldShuffle(tiny.rating.length, 0), split.train, tiny.rating.length);

function mean(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** RMSE of predicting the training mean for every test rating. */
function globalMeanRmse(dataset: RatingsDataset, train: ArrayLike<number>, test: ArrayLike<number>): number {
  const mu = mean(Array.from(train, (row) => dataset.rating[row]));
  return Math.sqrt(mean(Array.from(test, (row) => (dataset.rating[row] - mu) ** 2)));
}

/**
 * The oracle: Surprise's Dataset.construct_trainset, SVD.sgd and SVD.estimate + clipping,
 * transliterated statement by statement, with the constant initialisation init_mean = 0.1,
 * init_std_dev = 0 so that no random stream is involved.
 */
function surpriseSvdRmse(
  dataset: RatingsDataset,
  trainRows: ArrayLike<number>,
  testRows: ArrayLike<number>,
  s: { factors: number; epochs: number; lr: number; reg: number },
): number {
  const innerUser = new Map<string, number>();
  const innerItem = new Map<string, number>();
  const ur = new Map<number, [number, number][]>();
  for (const row of Array.from(trainRows)) {
    const rawUser = dataset.userIds[dataset.userIndex[row]];
    const rawItem = dataset.itemIds[dataset.itemIndex[row]];
    if (!innerUser.has(rawUser)) innerUser.set(rawUser, innerUser.size);
    if (!innerItem.has(rawItem)) innerItem.set(rawItem, innerItem.size);
    const u = innerUser.get(rawUser)!;
    if (!ur.has(u)) ur.set(u, []);
    ur.get(u)!.push([innerItem.get(rawItem)!, dataset.rating[row]]);
  }
  const allRatings = [...ur.entries()].flatMap(([u, ratings]) => ratings.map(([i, r]) => [u, i, r] as const));
  const globalMean = mean(allRatings.map(([, , r]) => r));
  const bu = new Array<number>(innerUser.size).fill(0);
  const bi = new Array<number>(innerItem.size).fill(0);
  const pu = Array.from({ length: innerUser.size }, () => new Array<number>(s.factors).fill(0.1));
  const qi = Array.from({ length: innerItem.size }, () => new Array<number>(s.factors).fill(0.1));
  for (let epoch = 0; epoch < s.epochs; epoch++) {
    for (const [u, i, r] of allRatings) {
      let dot = 0;
      for (let f = 0; f < s.factors; f++) dot += qi[i][f] * pu[u][f];
      const err = r - (globalMean + bu[u] + bi[i] + dot);
      bu[u] += s.lr * (err - s.reg * bu[u]);
      bi[i] += s.lr * (err - s.reg * bi[i]);
      for (let f = 0; f < s.factors; f++) {
        const puf = pu[u][f];
        const qif = qi[i][f];
        pu[u][f] += s.lr * (err * qif - s.reg * puf);
        qi[i][f] += s.lr * (err * puf - s.reg * qif);
      }
    }
  }
  const squared = Array.from(testRows, (row) => {
    const u = innerUser.get(dataset.userIds[dataset.userIndex[row]]);
    const i = innerItem.get(dataset.itemIds[dataset.itemIndex[row]]);
    let est = globalMean + (u === undefined ? 0 : bu[u]) + (i === undefined ? 0 : bi[i]);
    if (u !== undefined && i !== undefined) for (let f = 0; f < s.factors; f++) est += qi[i][f] * pu[u][f];
    est = Math.max(1, Math.min(5, est));
    return (dataset.rating[row] - est) ** 2;
  });
  return Math.sqrt(mean(squared));
}

describe('surpriseTrainOrder', () => {
  it("keeps exactly the fold's training rows, in the shuffled order", () => {
    // prepare
    const shuffled = [4, 0, 3, 1, 5, 2];
    // act
    const ordered = surpriseTrainOrder(shuffled, Int32Array.from([0, 2, 4, 5]), 6);
    // assess
    expect(Array.from(ordered)).toEqual([4, 0, 5, 2]);
  });

  it('equals the shuffled order with the test block left out, as Surprise KFold builds it', () => {
    // prepare
    const shuffled = kFoldShuffle(tiny.rating.length, 0);
    const testBlock = new Set(split.test);
    // act
    const ordered = Array.from(trainOrder);
    // assess: fold 1's test rows are the first block of the shuffle
    expect(new Set(shuffled.subarray(0, split.test.length))).toEqual(testBlock);
    expect(ordered).toEqual(Array.from(shuffled.subarray(split.test.length)));
  });
});

describe('parseReferenceOutput', () => {
  it('rejects a result with a non-finite number, naming the field', () => {
    // prepare
    const line = JSON.stringify({
      fit_seconds: 0.1,
      rmse: null,
      mae: 1,
      global_mean: 3,
      train_ratings: 4,
      test_ratings: 1,
      test_unknown: 0,
      users: 2,
      items: 2,
    });
    // act / assess
    expect(() => parseReferenceOutput(`${line}\n`)).toThrow(/rmse = null/);
  });
});

describe('compileSurpriseReference', () => {
  it('says the compiler is missing and how to install it', () => {
    // prepare
    const dir = mkdtempSync(join(tmpdir(), 'abrec-surprise-test-'));
    try {
      // act / assess
      expect(() => compileSurpriseReference({ outDir: dir, compiler: 'abrec-no-such-compiler' })).toThrow(
        new SurpriseReferenceError(
          'abrec-no-such-compiler was not found on PATH: the Surprise SVD reference is C and needs gcc to build (Debian/Ubuntu: apt-get install gcc)',
        ),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('abrec bench surprise', () => {
  it('is the command at path bench surprise', () => {
    expect(benchSurpriseCommand.path).toEqual(['bench', 'surprise']);
  });

  it('refuses a single fold with a usage error naming --folds', async () => {
    await expect(benchSurpriseCommand.run(['--folds', '1'], io)).rejects.toThrow(UsageError);
    await expect(benchSurpriseCommand.run(['--folds', '1'], io)).rejects.toThrow(/--folds/);
  });
});

const gcc = hasCompiler('gcc');

describe.skipIf(!gcc)(gcc ? 'the C port of Surprise SVD' : 'the C port of Surprise SVD [skipped: gcc is not on PATH, the reference cannot be built]', () => {
  let dir: string;
  let binary: string;
  let files: { data: string; train: string; test: string };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'abrec-surprise-test-'));
    binary = compileSurpriseReference({ outDir: dir });
    files = { data: join(dir, 'u.data'), train: join(dir, 'fold.train'), test: join(dir, 'fold.test') };
    writeFileSync(files.data, formatReferenceRatings(tiny));
    writeFileSync(files.train, formatRowList(trainOrder));
    writeFileSync(files.test, formatRowList(split.test));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('predicts better than the global mean after 2 epochs with 4 factors', () => {
    // prepare
    const settings: Partial<SurpriseSvdSettings> = { factors: 4, epochs: 2 };
    // act
    const run = runSurpriseReference(binary, files, settings);
    // assess
    expect(Number.isFinite(run.rmse)).toBe(true);
    expect(run.rmse).toBeLessThan(globalMeanRmse(tiny, split.train, split.test));
  });

  it("centres on the mean of the fold's training ratings", () => {
    // act
    const run = runSurpriseReference(binary, files, { factors: 4, epochs: 2 });
    // assess
    expect(run.global_mean).toBeCloseTo(mean(Array.from(split.train, (row) => tiny.rating[row])), 9);
    expect([run.train_ratings, run.test_ratings]).toEqual([split.train.length, split.test.length]);
  });

  it("matches Surprise's SVD step for step with a constant initialisation", () => {
    // prepare: init_mean 0.1, init_std_dev 0 (Surprise's own parameters) removes the RNG
    const settings = { factors: 5, epochs: 3, lr: 0.005, reg: 0.02 };
    // act
    const run = runSurpriseReference(binary, files, { ...settings, initMean: 0.1, initStd: 0 });
    // assess
    expect(run.rmse).toBeCloseTo(surpriseSvdRmse(tiny, trainOrder, split.test, settings), 9);
  });

  it('rejects a malformed ratings line, naming the file and the line', () => {
    // prepare
    const bad = join(dir, 'bad.data');
    writeFileSync(bad, '1\t1\t5\t100\n2\t1\t4\n');
    // act
    const result = spawnSync(binary, ['--data', bad, '--train', files.train, '--test', files.test], { encoding: 'utf8' });
    // assess
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`${bad}:2: expected 4 tab-separated fields`);
  });

  it('compares the reference with our models on the same folds, ratios to the reference', () => {
    // act
    const result = benchSurprise({ dataset: tiny, source: 'tiny', folds: 2, seed: 0, models: ['svd'] });
    // assess
    expect(result.reference.model).toBe(REFERENCE_ROW_NAME);
    expect(result.results.map((row) => row.model)).toEqual(['svd']);
    expect(result.results[0].per_fold.map((fold) => fold.fold)).toEqual([1, 2]);
    expect(result.results[0].fit_ratio).toBeCloseTo(result.results[0].fit_seconds / result.reference.fit_seconds, 12);
  });
});
