/**
 * Child process of `abrec bench train --scale`: runs the Lambda train step's work
 * (lambdas/services/retraining.ts trainCandidate: parse the ratings file, holdout metrics from
 * the 75/25 split, fit on all ratings, encode the artifact) on one ratings file, timing each
 * phase, and prints one JSON line with the times and the peak memory of this process. A
 * process of its own, so the peak RSS is the train step's and not the data generator's.
 *
 * Usage: node --import tsx bench-train-scale-worker.ts FILE ITERATIONS
 */
import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { encodeArtifact } from '../../lambdas/domain/recommenders/artifact.ts';
import { parseRatings } from '../../lambdas/domain/recommenders/data/formats.ts';
import { holdoutEvaluation } from '../../lambdas/domain/recommenders/evaluation.ts';
import { getModel } from '../../lambdas/domain/recommenders/models/registry.ts';
import type { TrainStepMeasurement } from './bench-train-scale.ts';

const [file, iterationsText] = process.argv.slice(2);
const iterations = Number(iterationsText);
if (!file || !Number.isInteger(iterations) || iterations < 2) {
  process.stderr.write('usage: bench-train-scale-worker.ts FILE ITERATIONS (ITERATIONS >= 2)\n');
  process.exit(2);
}

const MB = 2 ** 20;
let heapPeak = 0;
/** The V8 heap in use after a phase (typed arrays live outside it, in the RSS). */
const sampleHeap = (): void => {
  const usage = process.memoryUsage();
  heapPeak = Math.max(heapPeak, usage.heapUsed);
};
// CPU seconds of this process (user + system), not wall time: the machine the benchmark runs
// on may be shared, and the train step is single-threaded, so CPU time is what one Lambda vCPU
// would spend. (V8's GC helper threads are counted too, which can only over-report.)
const cpuNow = (): number => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};
const seconds = (from: number): number => cpuNow() - from;
const wallStart = performance.now();

const baselineRss = process.memoryUsage().rss;
const als = getModel('als');

let at = cpuNow();
const dataset = parseRatings(readFileSync(file), { fileName: file });
const parseSeconds = seconds(at);
sampleHeap();

// The holdout's fit timed in CPU seconds too (holdoutEvaluation's own fit_seconds is wall time).
let holdoutFitSeconds = 0;
const timedAls = {
  ...als,
  train: (...args: Parameters<typeof als.train>) => {
    const from = cpuNow();
    const trained = als.train(...args);
    holdoutFitSeconds += seconds(from);
    return trained;
  },
};
at = cpuNow();
holdoutEvaluation(dataset, timedAls, { params: { iterations } });
const holdoutSeconds = seconds(at);
sampleHeap();

// Iteration ends as the trainer reports them: the first is preceded by the set-up (grouping
// the ratings both ways, the training summary), the last followed by assembling the model.
const iterationEnds: number[] = [];
at = cpuNow();
const model = als.train(dataset, { iterations }, { onProgress: () => iterationEnds.push(cpuNow()) });
const fitSeconds = seconds(at);
sampleHeap();
const perIterationSeconds = (iterationEnds[iterationEnds.length - 1] - iterationEnds[0]) / (iterationEnds.length - 1);

at = cpuNow();
const artifact = encodeArtifact(model);
const encodeSeconds = seconds(at);
sampleHeap();

const result: TrainStepMeasurement = {
  ratings: dataset.rating.length,
  users: dataset.userIds.length,
  items: dataset.itemIds.length,
  iterations,
  parse_seconds: parseSeconds,
  holdout_fit_seconds: holdoutFitSeconds,
  holdout_evaluate_seconds: holdoutSeconds - holdoutFitSeconds,
  fit_seconds: fitSeconds,
  per_iteration_seconds: perIterationSeconds,
  encode_seconds: encodeSeconds,
  wall_seconds: (performance.now() - wallStart) / 1000,
  baseline_rss_mb: baselineRss / MB,
  // maxRSS is in kilobytes: the high-water mark of the whole process, set-up included.
  peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  heap_used_mb: heapPeak / MB,
  heap_limit_mb: getHeapStatistics().heap_size_limit / MB,
  artifact_bytes: [...artifact.files.values()].reduce((sum, bytes) => sum + bytes.byteLength, 0),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
