import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadMovieLens } from '../../lambdas/domain/recommenders/data/files.ts';
import { formatMovieLensFiles } from '../../lambdas/domain/recommenders/data/writers.ts';
import { defaultSyntheticConfig, generateSyntheticMovieLens } from '../../lambdas/domain/recommenders/data/synthetic.ts';
import { encodeArtifact } from '../../lambdas/domain/recommenders/artifact.ts';
import { MODELS, type ModelName } from '../../lambdas/domain/recommenders/models/registry.ts';
import { holdoutMetrics } from '../../lambdas/services/retraining.ts';
import { DirectoryModelArtifactStore } from '../../lambdas/storage/artifact-store.ts';
import { DEFAULT_ARTIFACTS_DIR } from '../../local/runtime.ts';
import { tasteTrainingPart } from '../../simulator/population.ts';
import { parseCommandArgs, type CliCommand } from '../command.ts';

/** The default set: the "current system" (content-based) against a factor model (ALS), plus popularity. */
export const DEFAULT_MODELS: { name: ModelName; role?: 'control' | 'treatment' }[] = [
  { name: 'content', role: 'control' },
  { name: 'als', role: 'treatment' },
  { name: 'popularity' },
];

export const buildDefaultModelsCommand: CliCommand = {
  path: ['models', 'build-defaults'],
  summary: 'Regenerate model-artifacts/: bundled synthetic data and the default model set',
  help: `Usage: abrec models build-defaults [--out DIR] [--json]

Generates the bundled synthetic MovieLens-like data (600 users, 1,000 items, 40,000 ratings,
seed 42) into DIR/data as u.data / u.item, trains the default models (content, als,
popularity) on the 75 % training part of each user's ratings (the offline holdout's split, so
the held-out 25 % that drives \`abrec simulate\`'s clicks stays unseen), writes their artifacts
under DIR/models and records the pinned versions of the default experiment in
DIR/default-set.json. Deterministic: the same code gives the same versions.

Options:
  --out DIR   output directory (default: model-artifacts/)
  --json      accepted for consistency: the summary is always one JSON line on stdout

Example: abrec models build-defaults --out /tmp/default-models`,
  run: async (argv, io) => {
    const values = parseCommandArgs(argv, { out: { type: 'string' }, json: { type: 'boolean' } });
    const out = resolve(values.out ?? DEFAULT_ARTIFACTS_DIR);
    const config = defaultSyntheticConfig();
    io.stderr(`generating ${config.ratings} ratings for ${config.users} users and ${config.items} items (seed ${config.seed})\n`);
    const { dataset, items } = generateSyntheticMovieLens(config);
    await mkdir(join(out, 'data'), { recursive: true });
    const files = formatMovieLensFiles(dataset, items, 'ml-100k');
    await writeFile(join(out, 'data', files.ratings.name), files.ratings.bytes);
    await writeFile(join(out, 'data', files.items.name), files.items.bytes);
    await rm(join(out, 'models'), { recursive: true, force: true });
    const store = new DirectoryModelArtifactStore(out);
    const set: Record<string, { model_id: string; model_version: string }> = {};
    // Read back from the files as every other reader does (user order = first seen in u.data),
    // so the holdout split is exactly the one `abrec simulate` makes of the same file.
    const written = loadMovieLens({ ratingsPath: join(out, 'data', files.ratings.name), itemsPath: join(out, 'data', files.items.name) });
    const training = tasteTrainingPart(written);
    const models: { model_id: string; model_version: string; algorithm: string }[] = [];
    for (const { name, role } of DEFAULT_MODELS) {
      const started = Date.now();
      const metrics = holdoutMetrics(written, MODELS[name]);
      const model = MODELS[name].train(training);
      model.modelId = name;
      model.metrics = metrics;
      model.trainingData = { ...model.trainingData, source: 'model-artifacts/data/u.data (synthetic, seed 42), 75 % per-user training part (holdout seed 42)' };
      // A fixed creation time keeps the committed files byte-identical across rebuilds.
      const artifact = encodeArtifact(model, new Date('2026-01-01T00:00:00Z'));
      await store.putArtifact(artifact);
      io.stderr(
        `nDCG@10 ${metrics.ndcg_at_10.toFixed(3)}, P@10 ${metrics.precision_at_10.toFixed(3)}: trained ${name} in ${((Date.now() - started) / 1000).toFixed(1)} s -> models/${artifact.manifest.model_id}/${artifact.manifest.version}\n`,
      );
      models.push({ model_id: artifact.manifest.model_id, model_version: artifact.manifest.version, algorithm: artifact.manifest.algorithm });
      if (role) set[role] = { model_id: artifact.manifest.model_id, model_version: artifact.manifest.version };
    }
    await writeFile(join(out, 'default-set.json'), `${JSON.stringify({ ...set, models }, null, 2)}\n`);
    io.stdout(`${JSON.stringify({ out, ...set, models })}\n`);
    return 0;
  },
};
