/**
 * `abrec train`: trains one model on a MovieLens-format file and writes it as an immutable,
 * versioned factor artifact under `<out>/models/<model id>/<version>/`, where `<out>` is a
 * directory or an S3 bucket (`s3://BUCKET`, the layout the serving functions read).
 */
import { S3Client } from '@aws-sdk/client-s3';
import { numberOption, parseCommandArgs, UsageError, type CliCommand, type CliIO } from '../command.ts';
import { environmentClientOptions } from '../../lambdas/common/client-options.ts';
import { artifactPrefix, encodeArtifact, type EncodedArtifact } from '../../lambdas/domain/recommenders/artifact.ts';
import {
  evaluateRankingOnSplit,
  evaluateRating,
  evaluateRatingOnSplit,
  HOLDOUT_SPLIT,
  holdoutEvaluation,
} from '../../lambdas/domain/recommenders/evaluation.ts';
import { describeHoldout, holdoutSplit } from '../../lambdas/domain/recommenders/protocol.ts';
import { MODEL_NAMES } from '../../lambdas/domain/recommenders/models/registry.ts';
import { DirectoryModelArtifactStore, S3ModelArtifactStore, type ModelArtifactStore } from '../../lambdas/storage/artifact-store.ts';
import { tunedDefaultsPath } from '../tuned-defaults.ts';
import {
  applyMinRatings,
  asUsageErrors,
  holdoutOption,
  loadRatingsFiles,
  parseParamOptions,
  DATASET_OPTIONS,
  PROTOCOL_OPTIONS,
  resolveModelOption,
} from './evaluate.ts';

const HELP = `Usage:
  abrec train --data FILE [--items FILE] [--format F] --model NAME --out DIR|s3://BUCKET[/models] [--model-id ID] [--param NAME=VALUE]... [--evaluate] [--json]

Trains a model on all ratings of FILE and writes a versioned artifact (manifest.json plus
float32 binaries) to DIR/models/<model id>/<version>/, or to the same keys in an S3 bucket.
The version is a content hash: the same data and settings give the same version, and
publishing a version that exists changes nothing.

Options:
  --data FILE          ratings file (u.data, ratings.dat, ratings.csv) (required)
  --items FILE         item file (u.item, movies.dat, movies.csv); needed by the content model
  --format FORMAT      ml-100k | ml-1m | ml-latest (default: detected from the file)
  --model NAME         ${MODEL_NAMES.join(' | ')}
  --model-id ID        artifact model id (default: the model name); [a-z0-9][a-z0-9._-]*
  --param NAME=VALUE   override a hyperparameter (repeatable); the defaults are the model's, or
                       those of model-artifacts/tuned-defaults.json ($ABREC_TUNED_DEFAULTS) written
                       by abrec tune --write-defaults
  --seed S             training seed (for models that take one)
  --out DIR|s3://BUCKET[/models]
                       output directory, or an S3 bucket: the artifact goes to
                       s3://BUCKET/models/<model id>/<version>/, where the serving functions look,
                       so a PREFIX must be empty or 'models'. The S3 client comes from the
                       standard SDK environment (AWS_REGION, credentials, AWS_ENDPOINT_URL_S3 or
                       AWS_ENDPOINT_URL); S3_FORCE_PATH_STYLE=true selects path-style addressing
                       (s3rver, MinIO)
  --evaluate           also run the offline protocol of the model's task (5-fold rating, or the
                       0.75 per-user split at k 10) and store the figures in the manifest metrics;
                       --split temporal|leave-last-n [--n N] or --split random --train-ratio R
                       evaluate on that held-out split instead, as abrec evaluate and abrec tune
  --min-ratings K      train (and evaluate) on the data without users and items under K ratings,
                       repeated to a fixed point, as abrec evaluate --min-ratings
  --json               print a summary JSON object on the last line of stdout

Example: abrec train --data data/synthetic/u.data --model als --out model-out --evaluate`;

/** The `train` command. */
export const trainCommand: CliCommand = {
  path: ['train'],
  summary: 'train a model and write a versioned factor artifact',
  help: HELP,
  run: async (argv: string[], io: CliIO): Promise<number> => {
    const values = parseCommandArgs(argv, {
      ...DATASET_OPTIONS,
      'model-id': { type: 'string' },
      param: { type: 'string', multiple: true },
      seed: { type: 'string' },
      out: { type: 'string' },
      evaluate: { type: 'boolean', default: false },
      ...PROTOCOL_OPTIONS,
      json: { type: 'boolean', default: false },
    });
    if (!values.data) throw new UsageError('--data FILE is required');
    const protocolGiven = (['split', 'train-ratio', 'n'] as const).find((name) => values[name] !== undefined);
    if (protocolGiven && !values.evaluate) throw new UsageError(`--${protocolGiven} chooses the --evaluate protocol: add --evaluate`);
    if (!values.out) throw new UsageError('--out DIR or --out s3://BUCKET is required');
    const destination = parseOutDestination(values.out);
    const requested = parseParamOptions(values.param);
    const seed = values.seed === undefined ? undefined : numberOption(values.seed, '--seed', 0, { integer: true });
    const { definition, params } = resolveModelOption(values.model, requested, {
      tunedDefaultsPath: tunedDefaultsPath(io.env),
      onNote: (line) => io.stderr(`${line}\n`),
    });
    // Models without randomness (popularity, baseline, content) ignore --seed.
    if (seed !== undefined && Object.hasOwn(definition.defaults, 'seed')) params.seed = seed;
    if (definition.needsItems && !values.items) throw new UsageError(`model ${definition.name} needs item metadata: pass --items FILE`);
    const modelId = values['model-id'] ?? definition.name;
    if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(modelId)) throw new UsageError(`--model-id must match [a-z0-9][a-z0-9._-]{0,63}, got '${modelId}'`);
    const note = (line: string): void => io.stderr(`${line}\n`);
    const { dataset } = applyMinRatings(loadRatingsFiles(values.data, values.items, values.format, note), values['min-ratings'], note);
    const started = performance.now();
    const model = asUsageErrors(() =>
      definition.train(dataset, params, {
        modelId,
        source: values.data,
        onProgress: (p) => io.stderr(`${p.algorithm} ${p.step}/${p.totalSteps}${p.loss === undefined ? '' : ` loss ${p.loss.toFixed(4)}`}\n`),
      }),
    );
    const fitSeconds = (performance.now() - started) / 1000;
    const metrics: Record<string, number> = { ...model.metrics, fit_seconds: fitSeconds };
    if (values.evaluate) {
      const onProgress = (message: string): void => io.stderr(`${message}\n`);
      const holdout = holdoutOption(values, definition.task === 'rating' ? 0 : HOLDOUT_SPLIT.seed);
      if (holdout.kind === 'random' && !protocolGiven) {
        // The protocol every published manifest records: 5-fold rating, or the 75/25 per-user holdout at k 10.
        if (definition.task === 'rating') {
          const result = evaluateRating({ dataset, model: definition, params, folds: 5, seed: 0, onProgress });
          Object.assign(metrics, { rmse: result.rmse, mae: result.mae });
        } else {
          Object.assign(metrics, holdoutEvaluation(dataset, definition, { params, onProgress }).metrics);
        }
      } else {
        onProgress(`evaluating on the ${describeHoldout(holdout)}`);
        const split = holdoutSplit(dataset, holdout);
        if (definition.task === 'rating') {
          const result = asUsageErrors(() => evaluateRatingOnSplit({ dataset, model: definition, params, split }));
          Object.assign(metrics, { rmse: result.rmse, mae: result.mae });
        } else {
          const m = asUsageErrors(() => evaluateRankingOnSplit({ dataset, model: definition, params, split, k: 10, onProgress })).metrics;
          Object.assign(metrics, {
            precision_at_10: m.precision_at_k,
            recall_at_10: m.recall_at_k,
            ndcg_at_10: m.ndcg_at_k,
            map_at_10: m.map_at_k,
            auc: m.auc,
            coverage: m.coverage,
          });
        }
      }
    }
    const artifact = encodeArtifact({ ...model, metrics });
    await publishArtifact(destination, artifact, io.env);
    const { manifest } = artifact;
    const location = `${destination.kind === 's3' ? `s3://${destination.bucket}` : destination.directory.replace(/\/$/, '')}/${artifactPrefix(manifest.model_id, manifest.version)}`;
    io.stdout(
      `trained ${definition.name} (${manifest.dimensions.users} users, ${manifest.dimensions.items} items, ${manifest.dimensions.factors} factors) in ${fitSeconds.toFixed(2)} s -> ${location}\n`,
    );
    if (values.json) {
      io.stdout(
        `${JSON.stringify({
          model_id: manifest.model_id,
          version: manifest.version,
          algorithm: manifest.algorithm,
          location,
          dimensions: manifest.dimensions,
          fit_seconds: fitSeconds,
          metrics,
          training_data: manifest.training_data,
        })}\n`,
      );
    }
    return 0;
  },
};

/** Where `--out` sends the artifact. */
export type OutDestination = { kind: 'directory'; directory: string } | { kind: 's3'; bucket: string };

// S3 bucket naming rules (lower case, digits, dots and hyphens, 3 to 63 characters).
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Parses `--out`: a directory, or `s3://BUCKET` with an optional `/models` prefix. Any other
 * prefix is refused rather than ignored: S3ModelArtifactStore keys artifacts as
 * `models/<id>/<version>/` from the bucket root, which is where the serving functions read.
 */
export function parseOutDestination(out: string): OutDestination {
  if (!out.startsWith('s3://')) return { kind: 'directory', directory: out };
  const [bucket = '', ...rest] = out.slice('s3://'.length).split('/');
  if (!BUCKET_NAME.test(bucket)) throw new UsageError(`--out ${out}: '${bucket}' is not a valid S3 bucket name`);
  const prefix = rest.join('/').replace(/\/+$/, '');
  if (prefix !== '' && prefix !== 'models') {
    throw new UsageError(
      `--out ${out}: artifacts are written under s3://${bucket}/models/<model id>/<version>/, so PREFIX must be empty or 'models', got '${prefix}'`,
    );
  }
  return { kind: 's3', bucket };
}

/**
 * An S3 client from the standard SDK environment: region, credentials and endpoint as the SDK
 * resolves them (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL included), plus path-style addressing
 * when S3_FORCE_PATH_STYLE is set, with the very options the Lambda functions' client takes.
 */
export function s3ClientFromEnvironment(env: NodeJS.ProcessEnv): S3Client {
  return new S3Client(environmentClientOptions('s3', env));
}

/** Writes the artifact through the store of the destination (the S3 client is closed after). */
async function publishArtifact(destination: OutDestination, artifact: EncodedArtifact, env: NodeJS.ProcessEnv): Promise<void> {
  if (destination.kind === 'directory') {
    await new DirectoryModelArtifactStore(destination.directory).putArtifact(artifact);
    return;
  }
  const s3 = s3ClientFromEnvironment(env);
  const store: ModelArtifactStore = new S3ModelArtifactStore(s3, destination.bucket);
  try {
    await store.putArtifact(artifact);
  } finally {
    s3.destroy();
  }
}
