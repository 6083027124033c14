/**
 * `abrec bench train --scale ml-1m,ml-10m,ml-25m`: how large a training set the Lambda train
 * step handles within Lambda's limits (15 minutes, 10,240 MB), for the default training model
 * (ALS, its shipped defaults: 14 factors, 25 iterations, 3 CG steps).
 *
 * Each size is generated as seeded synthetic MovieLens-like data, written as a ratings file
 * and handed to a child process (bench-train-scale-worker.ts) that does what the train step
 * does: parse, holdout metrics (fit on the 75 % split, evaluate top-10 over every item), fit
 * on all ratings, encode the artifact. A size is either measured in full, or measured on a
 * fraction of its users (same catalogue, same ratings per user) with 2 ALS iterations, and
 * extrapolated with the model of {@link extrapolateTrainStep}.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALS_DEFAULTS } from '../../lambdas/domain/recommenders/models/als.ts';
import { generateSyntheticMovieLens, ML_1M_SIZE } from '../../lambdas/domain/recommenders/data/synthetic.ts';
import { formatRatings } from '../../lambdas/domain/recommenders/data/writers.ts';
import { numberOption, UsageError } from '../command.ts';
import { textTable } from '../text-table.ts';

/** The three MovieLens sizes of the scale benchmark. */
export const SCALE_SIZES = {
  'ml-1m': ML_1M_SIZE,
  'ml-10m': { users: 69_878, items: 10_677, ratings: 10_000_054 },
  'ml-25m': { users: 162_541, items: 59_047, ratings: 25_000_095 },
} as const;
export type ScaleSizeName = keyof typeof SCALE_SIZES;

/** Lambda's limits: the train step must finish within both. */
export const LAMBDA_LIMITS = { seconds: 900, memoryMb: 10_240 } as const;

/** What the worker measures on one ratings file; times are CPU seconds of the worker process. */
export interface TrainStepMeasurement {
  ratings: number;
  users: number;
  items: number;
  /** ALS iterations of both fits (the holdout fit and the fit on all ratings). */
  iterations: number;
  parse_seconds: number;
  holdout_fit_seconds: number;
  holdout_evaluate_seconds: number;
  fit_seconds: number;
  per_iteration_seconds: number;
  encode_seconds: number;
  /** Wall time of all phases (the phase times above are CPU seconds). */
  wall_seconds: number;
  baseline_rss_mb: number;
  peak_rss_mb: number;
  /** Largest V8 heap in use between phases. */
  heap_used_mb: number;
  heap_limit_mb: number;
  artifact_bytes: number;
}

/** One printed row: measured, or extrapolated from a partial measurement. */
export interface ScaleRow {
  size: string;
  mode: 'measured' | 'extrapolated';
  /** For an extrapolated row: what was measured (share of users, iterations). */
  basis?: string;
  ratings: number;
  users: number;
  items: number;
  parse_seconds: number;
  holdout_seconds: number;
  fit_seconds: number;
  encode_seconds: number;
  total_seconds: number;
  peak_rss_mb: number;
  fits_lambda: boolean;
}

/** Total time of the train step's phases. */
function totalOf(row: Pick<ScaleRow, 'parse_seconds' | 'holdout_seconds' | 'fit_seconds' | 'encode_seconds'>): number {
  return row.parse_seconds + row.holdout_seconds + row.fit_seconds + row.encode_seconds;
}

function fits(totalSeconds: number, peakRssMb: number): boolean {
  return totalSeconds <= LAMBDA_LIMITS.seconds && peakRssMb <= LAMBDA_LIMITS.memoryMb;
}

/** A full measurement as a row. */
export function measuredRow(size: string, m: TrainStepMeasurement): ScaleRow {
  const row = {
    size,
    mode: 'measured' as const,
    ratings: m.ratings,
    users: m.users,
    items: m.items,
    parse_seconds: m.parse_seconds,
    holdout_seconds: m.holdout_fit_seconds + m.holdout_evaluate_seconds,
    fit_seconds: m.fit_seconds,
    encode_seconds: m.encode_seconds,
    peak_rss_mb: m.peak_rss_mb,
  };
  const total = totalOf(row);
  return { ...row, total_seconds: total, fits_lambda: fits(total, row.peak_rss_mb) };
}

/**
 * The stated model that carries a partial measurement (n ratings, u users, i items, m
 * iterations) to a full size (N, U, I, `iterations`):
 * - ALS time per iteration is linear in the ratings: each half-step visits every rating 1 + cgSteps
 *   times at O(factors) each; the per-row O(factors^2) terms are under 4 % at ML-1M and shrink as
 *   the ratings per row grow. So fit = (set-up + iterations x per-iteration) x N / n, where the
 *   set-up (grouping, summary, assembling) is the measured fit minus its m iterations;
 * - the holdout fit keeps its measured ratio to the full fit (it fits 75 % of the ratings);
 * - the holdout evaluation scores every item for every user: time x (U / u) x (I / i);
 * - parsing and encoding are linear in the ratings;
 * - memory: the process's baseline RSS plus the measured growth above it, scaled by N / n (the
 *   ratings arrays, both groupings and the seen-items index; the factors, 8 x factors x (U + I)
 *   bytes, are 25 MB at ML-25M).
 */
export function extrapolateTrainStep(
  size: string,
  m: TrainStepMeasurement,
  target: { users: number; items: number; ratings: number },
  iterations: number = ALS_DEFAULTS.iterations,
): ScaleRow {
  const byRatings = target.ratings / m.ratings;
  const setUp = Math.max(0, m.fit_seconds - m.iterations * m.per_iteration_seconds);
  const fitSeconds = (setUp + iterations * m.per_iteration_seconds) * byRatings;
  const holdoutFit = fitSeconds * (m.holdout_fit_seconds / m.fit_seconds);
  const holdoutEvaluate = m.holdout_evaluate_seconds * (target.users / m.users) * (target.items / m.items);
  const row = {
    size,
    mode: 'extrapolated' as const,
    basis: `${((100 * m.users) / target.users).toFixed(1)} % of the users (${m.ratings.toLocaleString('en-US')} ratings), ${m.iterations} iterations`,
    ratings: target.ratings,
    users: target.users,
    items: target.items,
    parse_seconds: m.parse_seconds * byRatings,
    holdout_seconds: holdoutFit + holdoutEvaluate,
    fit_seconds: fitSeconds,
    encode_seconds: m.encode_seconds * byRatings,
    peak_rss_mb: m.baseline_rss_mb + (m.peak_rss_mb - m.baseline_rss_mb) * byRatings,
  };
  const total = totalOf(row);
  return { ...row, total_seconds: total, fits_lambda: fits(total, row.peak_rss_mb) };
}

/**
 * The largest number of ratings one Lambda trains within both limits, by the same linear model
 * at the shape of `row` (users and items growing with the ratings, so the evaluation's U x I
 * term is charged per rating as it is at that size: conservative below it).
 */
export function largestWithinLambda(row: ScaleRow, baselineRssMb: number): { ratings: number; bound: 'time' | 'memory' } {
  const byTime = (LAMBDA_LIMITS.seconds / row.total_seconds) * row.ratings;
  const byMemory = ((LAMBDA_LIMITS.memoryMb - baselineRssMb) / (row.peak_rss_mb - baselineRssMb)) * row.ratings;
  return byTime <= byMemory ? { ratings: Math.floor(byTime), bound: 'time' } : { ratings: Math.floor(byMemory), bound: 'memory' };
}

/** Runs the worker on one ratings file. */
function runWorker(file: string, iterations: number): Promise<TrainStepMeasurement> {
  const worker = fileURLToPath(new URL('./bench-train-scale-worker.ts', import.meta.url));
  const tsx = import.meta.resolve('tsx');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', tsx, worker, file, String(iterations)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`train step worker exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as TrainStepMeasurement);
    });
  });
}

/** Generates the data of one run (a share of the users, the whole catalogue) and measures it. */
async function measure(
  shape: { users: number; items: number; ratings: number },
  share: number,
  iterations: number,
  seed: number,
): Promise<TrainStepMeasurement> {
  const users = Math.max(1, Math.round(shape.users * share));
  const ratings = Math.round(shape.ratings * (users / shape.users));
  const { dataset } = generateSyntheticMovieLens({ users, items: shape.items, ratings, seed });
  const dir = mkdtempSync(join(tmpdir(), 'abrec-bench-scale-'));
  try {
    const file = join(dir, 'ratings.dat');
    writeFileSync(file, formatRatings(dataset, 'ml-1m'));
    return await runWorker(file, iterations);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Options of the scale run. */
export interface ScaleOptions {
  sizes: ScaleSizeName[];
  /** Ratings of a partial run: each size above this many ratings is measured on a share of its users. */
  partialRatings: number;
  seed: number;
  onProgress?: (message: string) => void;
}

/** The scale benchmark's result. */
export interface ScaleResult {
  rows: ScaleRow[];
  measurements: { size: string; share: number; measurement: TrainStepMeasurement }[];
  /** Per size (checks excluded): the largest training set within Lambda's limits at that size's shape. */
  largest: { ratings: number; bound: 'time' | 'memory'; at: string }[];
}

/**
 * Measures every size, in full when it has at most `partialRatings` ratings, else on a share
 * of its users with 2 iterations. With ml-1m in the list it is also measured partially (10 %
 * of its users) and extrapolated, so the model's error shows beside the full measurement.
 */
export async function benchTrainScale(options: ScaleOptions): Promise<ScaleResult> {
  const rows: ScaleRow[] = [];
  const measurements: ScaleResult['measurements'] = [];
  const log = options.onProgress ?? (() => {});
  for (const size of options.sizes) {
    const shape = SCALE_SIZES[size];
    if (shape.ratings <= options.partialRatings) {
      log(`${size}: measuring the whole train step (${ALS_DEFAULTS.iterations} iterations)`);
      const full = await measure(shape, 1, ALS_DEFAULTS.iterations, options.seed);
      measurements.push({ size, share: 1, measurement: full });
      rows.push(measuredRow(size, full));
      const checkShare = 0.1;
      log(`${size}: measuring ${checkShare * 100} % of the users with 2 iterations, to check the extrapolation against the full run`);
      const partial = await measure(shape, checkShare, 2, options.seed);
      measurements.push({ size, share: checkShare, measurement: partial });
      rows.push(extrapolateTrainStep(`${size} (check)`, partial, full));
      continue;
    }
    const share = options.partialRatings / shape.ratings;
    log(`${size}: measuring ${(share * 100).toFixed(1)} % of the users with 2 iterations`);
    const partial = await measure(shape, share, 2, options.seed);
    measurements.push({ size, share, measurement: partial });
    rows.push(extrapolateTrainStep(size, partial, shape));
  }
  const largest = rows
    .filter((row) => !row.size.endsWith('(check)'))
    .map((row) => ({ ...largestWithinLambda(row, measurements.find((m) => m.size === row.size)!.measurement.baseline_rss_mb), at: row.size }));
  return { rows, measurements, largest };
}

/** The printed table and the conclusion. */
export function formatScaleTable(result: ScaleResult): string {
  const header = ['size', 'mode', 'ratings', 'users', 'items', 'parse s', 'holdout s', 'fit s', 'encode s', 'total s', 'peak RSS MB', 'fits 15 min / 10 GB'];
  const lines = result.rows.map((row) => [
    row.size,
    row.mode.toUpperCase(),
    row.ratings.toLocaleString('en-US'),
    row.users.toLocaleString('en-US'),
    row.items.toLocaleString('en-US'),
    row.parse_seconds.toFixed(1),
    row.holdout_seconds.toFixed(1),
    row.fit_seconds.toFixed(1),
    row.encode_seconds.toFixed(1),
    row.total_seconds.toFixed(1),
    row.peak_rss_mb.toFixed(0),
    row.fits_lambda ? 'yes' : 'NO',
  ]);
  const out = [
    'times are CPU seconds of the train step process (single-threaded), so a busy machine does not inflate them',
    ...textTable([header, ...lines], { leftAligned: header.length }),
  ];
  for (const row of result.rows) if (row.basis) out.push(`${row.size}: EXTRAPOLATED from ${row.basis}`);
  for (const { size, share, measurement: m } of result.measurements) {
    out.push(
      `${size} measured${share < 1 ? ` (${(share * 100).toFixed(1)} % of users)` : ''}: ${m.ratings.toLocaleString('en-US')} ratings, ${m.iterations} iterations, ` +
        `${m.per_iteration_seconds.toFixed(3)} CPU s per iteration, wall ${m.wall_seconds.toFixed(1)} s, peak RSS ${m.peak_rss_mb.toFixed(0)} MB (baseline ${m.baseline_rss_mb.toFixed(0)} MB), ` +
        `heap in use ${m.heap_used_mb.toFixed(0)} MB of ${m.heap_limit_mb.toFixed(0)} MB, artifact ${(m.artifact_bytes / 2 ** 20).toFixed(1)} MB`,
    );
  }
  for (const largest of result.largest) {
    const row = result.rows.find((candidate) => candidate.size === largest.at)!;
    out.push(
      `largest training set for one Lambda train step at ${largest.at}'s shape (15 min, 10,240 MB, ALS defaults, one core of this machine, linear in the ratings): ` +
        `about ${largest.ratings.toLocaleString('en-US')} ratings, bound by ${largest.bound}; ` +
        `without the holdout evaluation (parse, fit, encode) ${largest.at} takes ${(row.parse_seconds + row.fit_seconds + row.encode_seconds).toFixed(0)} s`,
    );
  }
  return out.join('\n');
}

/** `bench train --scale LIST`: parses the options, runs, prints the table (and JSON with --json). */
export async function runScaleMode(
  raw: { sizes: string; partialRatings?: string; seed?: string; json: boolean },
  io: { stdout: (text: string) => void; stderr: (text: string) => void },
): Promise<number> {
  const sizes = raw.sizes
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const known = Object.keys(SCALE_SIZES);
  for (const size of sizes) if (!known.includes(size)) throw new UsageError(`--scale: unknown size '${size}', expected ${known.join(', ')}`);
  if (sizes.length === 0) throw new UsageError(`--scale: name at least one of ${known.join(', ')}`);
  const partialRatings = numberOption(raw.partialRatings, '--partial-ratings', 1_100_000, { integer: true, min: 10_000 });
  const seed = numberOption(raw.seed, '--seed', 1, { integer: true });
  const result = await benchTrainScale({ sizes: sizes as ScaleSizeName[], partialRatings, seed, onProgress: (message) => io.stderr(`${message}\n`) });
  io.stdout(`${formatScaleTable(result)}\n`);
  if (raw.json) io.stdout(`${JSON.stringify({ seed, partial_ratings: partialRatings, ...result })}\n`);
  return 0;
}
