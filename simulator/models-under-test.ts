/**
 * Models under test for a simulation on the user's own data (`abrec simulate --data FILE --train
 * A,B`): each is trained on the 75 % part of the file (the simulated users' tastes stay unseen)
 * and published as an immutable artifact where the serving functions read, ready to be pinned by
 * an experiment.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { encodeArtifact } from '../lambdas/domain/recommenders/artifact.ts';
import { MOVIELENS_FILE_NAMES, MOVIELENS_FORMATS } from '../lambdas/domain/recommenders/data/formats.ts';
import { getModel } from '../lambdas/domain/recommenders/models/registry.ts';
import type { RatingsDataset } from '../lambdas/domain/recommenders/types.ts';
import type { ModelArtifactStore } from '../lambdas/storage/artifact-store.ts';
import { tasteTrainingPart } from './population.ts';

export interface PublishedModel {
  model_id: string;
  model_version: string;
  algorithm: string;
  fit_seconds: number;
}

/** The item file GroupLens ships beside a ratings file (u.item, movies.dat, movies.csv), if it is there. */
export function itemsFileBeside(ratingsPath: string): string | undefined {
  const name = basename(ratingsPath);
  for (const format of MOVIELENS_FORMATS) {
    const files = MOVIELENS_FILE_NAMES[format];
    if (name === files.ratings) {
      const items = join(dirname(ratingsPath), files.items);
      return existsSync(items) ? items : undefined;
    }
  }
  return undefined;
}

/**
 * Trains each model on the taste holdout's training part and publishes it. Deterministic: the
 * same file and code give the same versions, so a rerun publishes nothing new.
 */
export async function trainModelsUnderTest({
  dataset,
  algorithms,
  store,
  source,
  onModel,
}: {
  dataset: RatingsDataset;
  algorithms: string[];
  store: ModelArtifactStore;
  source: string;
  onModel?: (model: PublishedModel) => void;
}): Promise<PublishedModel[]> {
  const training = tasteTrainingPart(dataset);
  const published: PublishedModel[] = [];
  for (const name of algorithms) {
    const definition = getModel(name);
    if (definition.needsItems && !dataset.items)
      throw new Error(`model ${name} needs item metadata: put the item file GroupLens ships (u.item, movies.dat or movies.csv) beside the ratings file`);
    const started = performance.now();
    const model = definition.train(training, undefined, { modelId: definition.name, source: `${source} (75 % per-user training part, holdout seed 42)` });
    // A fixed creation time: the version is a hash of the manifest, so a rerun gives the same one.
    const artifact = encodeArtifact(model, new Date('2026-01-01T00:00:00Z'));
    await store.putArtifact(artifact);
    const entry = {
      model_id: artifact.manifest.model_id,
      model_version: artifact.manifest.version,
      algorithm: artifact.manifest.algorithm,
      fit_seconds: (performance.now() - started) / 1000,
    };
    onModel?.(entry);
    published.push(entry);
  }
  return published;
}
