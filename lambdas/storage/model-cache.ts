/**
 * The warm-container model cache: an artifact version is immutable, so once loaded and
 * verified it is kept for the life of the container, keyed by (model id, version). Concurrent
 * first requests share one load; a failed load is not cached, so the next request retries.
 */
import { prepareForServing, type ServingModel } from '../domain/recommenders/top-n.ts';
import type { ModelArtifactStore } from './artifact-store.ts';

export class ModelCache {
  private readonly loaded = new Map<string, Promise<ServingModel>>();

  constructor(
    private readonly store: ModelArtifactStore,
    /** Versions kept at most; the oldest loaded is evicted first. */
    private readonly capacity = 8,
  ) {}

  /** The serving model for a pinned version, loading it on first use. */
  get(modelId: string, version: string): Promise<ServingModel> {
    const key = `${modelId}@${version}`;
    let pending = this.loaded.get(key);
    if (!pending) {
      pending = this.store.loadModel(modelId, version).then(prepareForServing);
      pending.catch(() => this.loaded.delete(key));
      this.loaded.set(key, pending);
      while (this.loaded.size > this.capacity) this.loaded.delete(this.loaded.keys().next().value as string);
    }
    return pending;
  }

  /** Number of versions held (for tests and diagnostics). */
  get size(): number {
    return this.loaded.size;
  }
}
