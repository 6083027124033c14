/**
 * The model catalogue the admin API shows: every model id in the artifact store, each version
 * with the offline metrics its manifest recorded, and the version `models/<id>/latest.json`
 * publishes. Read by listing the `models/` prefix; storage is injected.
 */
import { mapWithConcurrency } from '../common/concurrency.ts';
import type { ModelArtifactStore } from '../storage/artifact-store.ts';
import type { ObjectStore } from '../storage/object-store.ts';

/**
 * The published-version pointer retraining writes (services/retraining.ts `latestKey`), read
 * here directly so the admin function does not bundle the training code.
 */
async function readLatest(objects: ObjectStore, modelId: string): Promise<{ model_version?: string; published_at?: string } | undefined> {
  const bytes = await objects.get(`models/${modelId}/latest.json`);
  return bytes ? (JSON.parse(new TextDecoder().decode(bytes)) as { model_version?: string; published_at?: string }) : undefined;
}

/** Manifest reads in flight at once. */
const READ_CONCURRENCY = 8;

/** One published artifact version as the catalogue shows it. */
export interface ModelVersionSummary {
  version: string;
  /** Whether `latest.json` points at this version. */
  latest: boolean;
  algorithm?: string;
  created_at?: string;
  dimensions?: { users: number; items: number; factors: number };
  /** Offline metrics from training (holdout protocol), e.g. `ndcg_at_10`. */
  metrics?: Record<string, number>;
  /** Why the manifest could not be read; the other fields are then absent. */
  error?: string;
}

export interface ModelSummary {
  model_id: string;
  /** The version `models/<id>/latest.json` names, or null when none is published. */
  latest_version: string | null;
  published_at: string | null;
  /** Newest first (by creation time, then version). */
  versions: ModelVersionSummary[];
}

export interface ModelCatalog {
  models: ModelSummary[];
}

export interface ModelCatalogDeps {
  artifacts: ModelArtifactStore;
  objects: ObjectStore;
}

async function summariseModel({ artifacts, objects }: ModelCatalogDeps, modelId: string): Promise<ModelSummary> {
  const [versions, latest] = await Promise.all([artifacts.listVersions(modelId), readLatest(objects, modelId).catch(() => undefined)]);
  const manifests = await mapWithConcurrency(versions, READ_CONCURRENCY, (version) => artifacts.getManifest(modelId, version));
  const summaries = versions.map((version, i): ModelVersionSummary => {
    const read = manifests[i];
    const isLatest = latest?.model_version === version;
    if (read.status === 'rejected') {
      // One unreadable manifest must not hide the rest of the catalogue.
      return { version, latest: isLatest, error: read.reason instanceof Error ? read.reason.message : String(read.reason) };
    }
    const { algorithm, created_at, dimensions, metrics } = read.value;
    return { version, latest: isLatest, algorithm, created_at, dimensions, metrics };
  });
  summaries.sort((a, b) => (b.created_at ?? '').localeCompare(a.created_at ?? '') || a.version.localeCompare(b.version));
  return { model_id: modelId, latest_version: latest?.model_version ?? null, published_at: latest?.published_at ?? null, versions: summaries };
}

/** Builds the catalogue use case over its storage. */
export function createModelCatalog(deps: ModelCatalogDeps) {
  return {
    /** Every model with its versions and their offline metrics, models by id. */
    async list(): Promise<ModelCatalog> {
      const ids = await deps.artifacts.listModels();
      const models = await mapWithConcurrency(ids, 4, (id) => summariseModel(deps, id));
      return {
        models: models.map((result) => {
          if (result.status === 'rejected') throw result.reason;
          return result.value;
        }),
      };
    },
  };
}
