/**
 * Every `abrec` command, in the order `abrec --help` lists them: its words, its one-line summary
 * and a loader. A command's module (and what it imports: the AWS SDK, the CDK, the recommenders)
 * loads only when that command runs or prints its help, so `abrec --help` stays fast.
 */
import type { CommandEntry } from './command.ts';

export const COMMANDS: readonly CommandEntry[] = [
  {
    path: ['serve'],
    summary: 'Run the whole product locally: dynalite, s3rver and the API on localhost',
    load: async () => (await import('./commands/serve.ts')).serveCommand,
  },
  {
    path: ['simulate'],
    summary: 'Drive an experiment with simulated users through the HTTP API, day by day',
    load: async () => (await import('./commands/simulate.ts')).simulateCommand,
  },
  {
    path: ['experiments'],
    summary: 'Administer experiments through the admin API (list, get, create, patch, start, stop, schedule, follow, ramp, promote, results)',
    load: async () => (await import('./commands/experiments.ts')).experimentsCommand,
  },
  {
    path: ['analyze'],
    summary: 'Significance, SRM and Bayesian results from aggregates or an experiment',
    load: async () => (await import('./commands/analyze.ts')).analyzeCommand,
  },
  {
    path: ['power'],
    summary: 'Sample size per variant for a conversion-rate experiment (fixed-horizon and sequential)',
    load: async () => (await import('./commands/power.ts')).powerCommand,
  },
  {
    path: ['generate'],
    summary: 'Write seeded synthetic MovieLens-like data (u.data/u.item, ml-1m or ml-latest files)',
    load: async () => (await import('./commands/generate.ts')).generateCommand,
  },
  {
    path: ['evaluate'],
    summary: 'evaluate a model offline (k-fold RMSE or top-K ranking metrics)',
    load: async () => (await import('./commands/evaluate.ts')).evaluateCommand,
  },
  {
    path: ['train'],
    summary: 'train a model and write a versioned factor artifact',
    load: async () => (await import('./commands/train.ts')).trainCommand,
  },
  {
    path: ['tune'],
    summary: 'search hyperparameters (random or Bayesian), cross-validated on training data, resumable',
    load: async () => (await import('./commands/tune.ts')).tuneCommand,
  },
  {
    path: ['retrain'],
    summary: 'Run the weekly retraining state machine locally (snapshot, train and gate each model, publish, switch followers, notify)',
    load: async () => (await import('./commands/retrain.ts')).retrainCommand,
  },
  {
    path: ['bench', 'train'],
    summary: 'benchmark model fit time and accuracy on synthetic ML-100K / ML-1M sized data',
    load: async () => (await import('./commands/bench-train.ts')).benchTrainCommand,
  },
  {
    path: ['bench', 'analysis'],
    summary: 'Analysis time and DynamoDB reads for 10 thousand vs 10 million events (dynalite + s3rver)',
    load: async () => (await import('./commands/bench-analysis.ts')).benchAnalysisCommand,
  },
  {
    path: ['bench', 'serve'],
    summary: 'Serving benchmark: handler and top-N latency against the memory-bound floor, write units per event batch',
    load: async () => (await import('./commands/bench-serve.ts')).benchServeCommand,
  },
  {
    path: ['bench', 'load'],
    summary: 'Load test over loopback (autocannon): req/s and latency per phase, then every acknowledged event reconciled with the store',
    load: async () => (await import('./commands/bench-load.ts')).benchLoadCommand,
  },
  {
    path: ['bench', 'simulate'],
    summary: 'Decision quality: A/A false-positive rate and MDE ship rate over many simulated experiments',
    load: async () => (await import('./commands/bench-simulate.ts')).benchSimulateCommand,
  },
  {
    path: ['bench', 'surprise'],
    summary: "compare svd / svd-tuned / svdpp with a same-machine C port of Surprise's SVD (RMSE, fit time)",
    load: async () => (await import('./commands/bench-surprise.ts')).benchSurpriseCommand,
  },
  {
    path: ['models', 'build-defaults'],
    summary: 'Regenerate model-artifacts/: bundled synthetic data and the default model set',
    load: async () => (await import('./commands/build-default-models.ts')).buildDefaultModelsCommand,
  },
];
