/**
 * `abrec tune`: random or Bayesian (TPE) search over the user's own hyperparameter space,
 * cross-validated on the training part of the evaluation protocol, with the best settings
 * scored once on the test part the search never saw. Each trial is appended to a JSONL
 * results file as it finishes; a rerun with the same file and settings skips the trials it
 * holds. See lambdas/domain/recommenders/tuning.ts for the protocol and the samplers.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { numberOption, parseCommandArgs, UsageError, type CliCommand, type CliIO } from '../command.ts';
import { progressBar } from '../progress.ts';
import { tunedDefaultsPath, writeTunedDefaults } from '../tuned-defaults.ts';
import { fingerprintRatings } from '../../lambdas/domain/recommenders/models/common.ts';
import { getModel, MODEL_NAMES, type ModelDefinition } from '../../lambdas/domain/recommenders/models/registry.ts';
import { describeHoldout, type HoldoutOptions } from '../../lambdas/domain/recommenders/protocol.ts';
import {
  bestTrial,
  checkSpace,
  parseMetric,
  parseParamSpec,
  parseSpaceJson,
  proposeTrial,
  scoreOnSplit,
  TuningError,
  tuningSplit,
  validationSplits,
  type SearchSpace,
  type TrialRecord,
  type TuningMetric,
} from '../../lambdas/domain/recommenders/tuning.ts';
import type { Hyperparameters } from '../../lambdas/domain/recommenders/types.ts';
import { applyMinRatings, asUsageErrors, holdoutOption, loadRatingsFiles, DATASET_OPTIONS, PROTOCOL_OPTIONS } from './evaluate.ts';
import { errorMessage } from '../../lambdas/domain/assert-error.ts';

const HELP = `Usage:
  abrec tune --data FILE --model NAME (--space FILE | --param NAME=SPEC ...) [--trials 20]
             [--search random|bayes] [--folds 3] [--metric rmse|mae|precision@K|ndcg@K|recall@K|map@K]
             [--split random|temporal|leave-last-n] [--train-ratio 0.75] [--n 1] [--min-ratings K]
             [--results FILE] [--write-defaults] [--defaults-file FILE] [--seed 0] [--items FILE] [--format F] [--json]

Searches the model's hyperparameters. The data are split once by the evaluation protocol
(--split, as abrec evaluate; default random 75/25 per user); every trial is cross-validated on
the training part only (--folds folds for rmse/mae; for ranking metrics --folds repeated
per-user splits of the training part, or one inner split for temporal / leave-last-n), and at
the end the best settings and the model's defaults are scored on the test part, which the
search never saw.

Space (--param repeatable, or --space FILE with the same in JSON):
  --param factors=10,20,50        choices
  --param lr=0.001..0.05          uniform over a range (integers when both bounds are integers)
  --param reg=0.001..0.1:log      log-uniform
  space.json: {"factors": [10, 20, 50], "reg": {"min": 0.001, "max": 0.1, "log": true}}

Options:
  --data FILE          ratings file (required)
  --items FILE         item file, for models that need it
  --format FORMAT      ml-100k | ml-1m | ml-latest (default: detected)
  --model NAME         ${MODEL_NAMES.join(' | ')}
  --trials N           trials in all, counting those already in --results (default 20)
  --search S           random (default) | bayes (Tree-structured Parzen Estimator after
                       max(5, trials/4) random trials)
  --folds K            inner folds on the training part (default 3)
  --metric M           default rmse for rating models, ndcg@10 for ranking models
  --split, --train-ratio, --n, --min-ratings   the evaluation protocol, as abrec evaluate
  --results FILE       JSONL: a header line, then one line per finished trial; rerun with the
                       same file to resume (its settings must match)
  --write-defaults     write the best settings as the model's defaults to --defaults-file
  --defaults-file FILE default model-artifacts/tuned-defaults.json (or $ABREC_TUNED_DEFAULTS),
                       which abrec evaluate and abrec train read
  --seed S             split, folds and sampling seed (default 0)
  --json               print the summary as one JSON object on the last line of stdout
Progress goes to stderr.

Example: abrec tune --data data/synthetic/u.data --model svd --param reg=0.001..0.1:log --trials 10`;

/** The first line of a results file: a trial may only be reused under the same settings. */
interface ResultsHeader {
  type: 'tune';
  model: string;
  metric: string;
  search: 'random' | 'bayes';
  seed: number;
  folds: number;
  protocol: HoldoutOptions;
  min_ratings: number;
  space: SearchSpace;
  data: { fingerprint: string; ratings: number };
}

interface TrialLine {
  type: 'trial';
  index: number;
  params: Hyperparameters;
  score: number;
  fold_scores: number[];
  fit_seconds: number;
}

/** The trials a results file already holds (those numbered 0, 1, ... without a gap), checked against `header`. */
export function readResults(path: string, header: ResultsHeader, onNote: (line: string) => void): TrialRecord[] {
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
  if (lines.length === 0) return [];
  let stored: unknown;
  try {
    stored = JSON.parse(lines[0]);
  } catch {
    throw new UsageError(`--results ${path}: line 1 is not a tune header; use another file`);
  }
  const differs = (Object.keys(header) as (keyof ResultsHeader)[]).filter(
    (key) => JSON.stringify((stored as Record<string, unknown>)[key]) !== JSON.stringify(header[key]),
  );
  if (differs.length > 0) {
    throw new UsageError(`--results ${path} was written by a different search (${differs.join(', ')} differ); use another file or the same settings`);
  }
  const byIndex = new Map<number, TrialRecord>();
  for (const [at, line] of lines.slice(1).entries()) {
    let trial: TrialLine;
    try {
      trial = JSON.parse(line) as TrialLine;
    } catch {
      // A line cut short by an interrupted run: that trial runs again.
      if (at === lines.length - 2) {
        onNote(`--results ${path}: ignoring the unfinished last line`);
        continue;
      }
      throw new UsageError(`--results ${path} line ${at + 2}: not JSON`);
    }
    if (trial.type !== 'trial' || !Number.isInteger(trial.index) || typeof trial.score !== 'number')
      throw new UsageError(`--results ${path} line ${at + 2}: not a trial record`);
    byIndex.set(trial.index, { index: trial.index, params: trial.params, score: trial.score, foldScores: trial.fold_scores, fitSeconds: trial.fit_seconds });
  }
  const trials: TrialRecord[] = [];
  while (byIndex.has(trials.length)) trials.push(byIndex.get(trials.length)!);
  return trials;
}

function parseSpaceOptions(spaceFile: string | undefined, params: string[] | undefined): SearchSpace {
  if (spaceFile !== undefined && params !== undefined) throw new UsageError('give the space either as --space FILE or as --param options, not both');
  if (spaceFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(spaceFile, 'utf8');
    } catch (error) {
      throw new UsageError(`--space: cannot read ${spaceFile}: ${errorMessage(error)}`);
    }
    return asTuningUsage(() => parseSpaceJson(text, `--space ${spaceFile}`));
  }
  if (params === undefined || params.length === 0) throw new UsageError('a search space is required: --space FILE or --param NAME=SPEC (repeatable)');
  const space: SearchSpace = {};
  for (const text of params) {
    const [name, spec] = asTuningUsage(() => parseParamSpec(text));
    if (Object.hasOwn(space, name)) throw new UsageError(`--param ${name} is given twice`);
    space[name] = spec;
  }
  return space;
}

function asTuningUsage<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof TuningError) throw new UsageError(error.message);
    throw error;
  }
}

const format = (value: number): string => value.toFixed(4);
const showParams = (params: Hyperparameters): string =>
  Object.entries(params)
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(' ');

/** The `tune` command. */
export const tuneCommand: CliCommand = {
  path: ['tune'],
  summary: 'search hyperparameters (random or Bayesian), cross-validated on training data, resumable',
  help: HELP,
  run: async (argv: string[], io: CliIO): Promise<number> => {
    const values = parseCommandArgs(argv, {
      ...DATASET_OPTIONS,
      space: { type: 'string' },
      param: { type: 'string', multiple: true },
      trials: { type: 'string' },
      search: { type: 'string' },
      folds: { type: 'string' },
      metric: { type: 'string' },
      ...PROTOCOL_OPTIONS,
      results: { type: 'string' },
      'write-defaults': { type: 'boolean', default: false },
      'defaults-file': { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean', default: false },
    });
    if (!values.data) throw new UsageError('--data FILE is required');
    if (!values.model) throw new UsageError(`--model is required: one of ${MODEL_NAMES.join(', ')}`);
    let definition: ModelDefinition;
    try {
      definition = getModel(values.model);
    } catch (error) {
      throw new UsageError(errorMessage(error));
    }
    if (definition.needsItems && !values.items) throw new UsageError(`model ${definition.name} needs item metadata: pass --items FILE`);
    const space = parseSpaceOptions(values.space, values.param);
    asTuningUsage(() => checkSpace(space, definition));
    const trials = numberOption(values.trials, '--trials', 20, { integer: true, min: 1 });
    const search = values.search ?? 'random';
    if (search !== 'random' && search !== 'bayes') throw new UsageError(`--search must be random or bayes, got '${search}'`);
    const folds = numberOption(values.folds, '--folds', 3, { integer: true, min: 2 });
    const metric: TuningMetric = asTuningUsage(() => parseMetric(values.metric ?? (definition.task === 'rating' ? 'rmse' : 'ndcg@10')));
    const seed = numberOption(values.seed, '--seed', 0, { integer: true });
    const holdout = holdoutOption(values, seed);
    const minRatings = numberOption(values['min-ratings'], '--min-ratings', 1, { integer: true, min: 1 });
    if (values['defaults-file'] !== undefined && !values['write-defaults']) throw new UsageError('--defaults-file is only used with --write-defaults');

    const note = (line: string): void => io.stderr(`${line}\n`);
    const loaded = loadRatingsFiles(values.data, values.items, values.format, note);
    const { dataset } = applyMinRatings(loaded, values['min-ratings'], note);
    const data = asTuningUsage(() => tuningSplit(dataset, holdout));
    const inner = validationSplits(data.train, metric, holdout, folds);
    note(
      `tune ${definition.name}: ${metric.name} over ${Object.keys(space).join(', ')}; ${describeHoldout(holdout)}: ${data.split.train.length} ratings searched, ${data.split.test.length} held out; ${inner.length} validation split(s) each`,
    );

    const header: ResultsHeader = {
      type: 'tune',
      model: definition.name,
      metric: metric.name,
      search,
      seed,
      folds,
      protocol: holdout,
      min_ratings: minRatings,
      space,
      data: { fingerprint: fingerprintRatings(dataset), ratings: dataset.rating.length },
    };
    const done = values.results ? readResults(values.results, header, note) : [];
    if (values.results && done.length === 0) writeFileSync(values.results, `${JSON.stringify(header)}\n`);
    if (done.length > 0) note(`resuming from ${values.results}: ${Math.min(done.length, trials)} of ${trials} trials already done`);

    const history: TrialRecord[] = done.slice(0, trials);
    const startupTrials = Math.max(5, Math.ceil(trials / 4));
    const progress = progressBar(io.stderr, { interactive: Boolean(process.stderr.isTTY) && !values.json });
    for (let index = history.length; index < trials; index++) {
      const candidate = proposeTrial({ space, search, seed, index, history, metric, startupTrials });
      const foldScores: number[] = [];
      let fitSeconds = 0;
      for (const [fold, split] of inner.entries()) {
        progress.update(index * inner.length + fold, trials * inner.length, `trial ${index + 1}/${trials} fold ${fold + 1}/${inner.length}`);
        const result = asUsageErrors(() => scoreOnSplit(data.train, definition, candidate, split, metric));
        foldScores.push(result.score);
        fitSeconds += result.fitSeconds;
      }
      const trial: TrialRecord = {
        index,
        params: candidate,
        score: foldScores.reduce((a, b) => a + b, 0) / foldScores.length,
        foldScores,
        fitSeconds: fitSeconds / inner.length,
      };
      history.push(trial);
      if (values.results) {
        const line: TrialLine = { type: 'trial', index, params: candidate, score: trial.score, fold_scores: foldScores, fit_seconds: trial.fitSeconds };
        appendFileSync(values.results, `${JSON.stringify(line)}\n`);
      }
      const best = bestTrial(history, metric)!;
      progress.finish(
        `trial ${index + 1}/${trials} ${showParams(candidate)}: ${metric.name} ${format(trial.score)} (best ${format(best.score)}, trial ${best.index + 1})`,
      );
    }

    const best = bestTrial(history, metric)!;
    note(`scoring the best settings and the defaults on the ${data.split.test.length} held-out ratings`);
    const bestTest = asUsageErrors(() => scoreOnSplit(dataset, definition, best.params, data.split, metric));
    const defaultsTest = asUsageErrors(() => scoreOnSplit(dataset, definition, {}, data.split, metric));
    const bestParams = { ...definition.defaults, ...best.params };
    io.stdout(
      `best ${definition.name} (trial ${best.index + 1} of ${history.length}): ${showParams(best.params)}\n` +
        `  ${metric.name}: cross-validated ${format(best.score)}, held-out test ${format(bestTest.score)} (defaults ${format(defaultsTest.score)})\n`,
    );
    let defaultsWritten: string | undefined;
    if (values['write-defaults']) {
      defaultsWritten = values['defaults-file'] ?? tunedDefaultsPath(io.env);
      writeTunedDefaults(defaultsWritten, definition.name, {
        params: best.params,
        metric: metric.name,
        cv_score: best.score,
        test_score: bestTest.score,
        trials: history.length,
        search,
        protocol: describeHoldout(holdout),
        data: { source: values.data, fingerprint: header.data.fingerprint, ratings: header.data.ratings },
        written_at: new Date().toISOString(),
      });
      io.stdout(`  written as the defaults of ${definition.name} to ${defaultsWritten}\n`);
    }
    if (values.json) {
      io.stdout(
        `${JSON.stringify({
          model: definition.name,
          metric: metric.name,
          search,
          trials: history.length,
          best: { index: best.index, params: best.params, cv_score: best.score, test_score: bestTest.score, hyperparameters: bestParams },
          defaults_test_score: defaultsTest.score,
          protocol: holdout,
          train_ratings: data.split.train.length,
          test_ratings: data.split.test.length,
          results: values.results ?? null,
          defaults_file: defaultsWritten ?? null,
        })}\n`,
      );
    }
    return 0;
  },
};
