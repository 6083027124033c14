/**
 * Child process of `abrec bench train`: one (data size, model) row of the table in a process
 * of its own, so its peak memory is that row's and no other model's. Generates the seeded
 * synthetic data, notes the resident memory with the data loaded, runs the row's protocol
 * (benchTrainSize) and prints the row as one JSON line with the process's peak RSS.
 *
 * Usage: node --import tsx bench-train-row-worker.ts SIZE MODEL FOLDS SEED
 */
import { benchTrainSize } from './bench-train.ts';
import type { ModelName } from '../../lambdas/domain/recommenders/models/registry.ts';

const [size, model, foldsText, seedText] = process.argv.slice(2);
const MB = 2 ** 20;
const rows = benchTrainSize(size, [model as ModelName], {
  folds: Number(foldsText),
  seed: Number(seedText),
  onProgress: (message) => process.stderr.write(`${message}\n`),
  onDataReady: () => process.memoryUsage().rss / MB,
});
// maxRSS is in kilobytes: the high-water mark of the whole process, the data included.
const peak = process.resourceUsage().maxRSS / 1024;
process.stdout.write(`${JSON.stringify({ ...rows[0], peak_rss_mb: peak })}\n`);
