/**
 * The retraining steps, free of Lambda specifics: train a candidate from the ratings under a
 * dataset prefix, evaluate it against the published version, publish it. Storage is injected
 * (S3 in Lambda and on the local runtime).
 */
import { parseItems, parseRatings } from '../domain/recommenders/data/formats.ts';
import { attachItems } from '../domain/recommenders/data/dataset.ts';
import { encodeArtifact, type ModelManifest } from '../domain/recommenders/artifact.ts';
import { holdoutEvaluation } from '../domain/recommenders/evaluation.ts';
import { getModel, type ModelDefinition } from '../domain/recommenders/models/registry.ts';
import type { RatingsDataset } from '../domain/recommenders/types.ts';
import type { ModelArtifactStore } from '../storage/artifact-store.ts';
import type { ObjectStore } from '../storage/object-store.ts';


export interface RetrainingInput {
  model_id: string;
  algorithm: string;
  dataset_prefix: string;
  max_regression?: number;
  run_id?: string;
}

export interface Candidate {
  model_id: string;
  model_version: string;
  algorithm: string;
  metrics: Record<string, number>;
}

export interface EvaluationResult {
  accepted: boolean;
  reason: string;
  gate_metric: string;
  candidate_value: number;
  current_version: string | null;
  current_value: number | null;
}

export interface LatestPointer {
  model_id: string;
  model_version: string;
  published_at: string;
  run_id: string | null;
}

/** The offline metric the gate compares. */
export const GATE_METRIC = 'ndcg_at_10';

const RATINGS_FILES = ['u.data', 'ratings.dat', 'ratings.csv'];
const ITEM_FILES = ['u.item', 'movies.dat', 'movies.csv'];

export const latestKey = (modelId: string) => `models/${modelId}/latest.json`;

async function firstPresent(objects: ObjectStore, prefix: string, names: string[]) {
  for (const name of names) {
    const bytes = await objects.get(`${prefix}${name}`);
    if (bytes) return { name, bytes };
  }
  return undefined;
}

/** Offline metrics recorded in every published manifest (the holdout protocol of {@link holdoutEvaluation}). */
export function holdoutMetrics(dataset: RatingsDataset, definition: ModelDefinition): Record<string, number> {
  return { ...holdoutEvaluation(dataset, definition).metrics };
}

/** Step 1: holdout metrics from a 75/25 per-user split, then the artifact trained on all data. */
export async function trainCandidate(input: RetrainingInput, deps: { objects: ObjectStore; artifacts: ModelArtifactStore; now: Date }): Promise<Candidate> {
  const definition = getModel(input.algorithm);
  const ratings = await firstPresent(deps.objects, input.dataset_prefix, RATINGS_FILES);
  if (!ratings) throw new Error(`no ratings file (${RATINGS_FILES.join(', ')}) under ${input.dataset_prefix}`);
  let dataset = parseRatings(ratings.bytes, { fileName: `${input.dataset_prefix}${ratings.name}` });
  const items = await firstPresent(deps.objects, input.dataset_prefix, ITEM_FILES);
  if (items) dataset = attachItems(dataset, parseItems(items.bytes, { fileName: `${input.dataset_prefix}${items.name}` }));
  if (definition.needsItems && !items) throw new Error(`model ${input.algorithm} needs an item file under ${input.dataset_prefix}`);
  const metrics = holdoutMetrics(dataset, definition);
  const model = definition.train(dataset);
  model.modelId = input.model_id;
  model.metrics = metrics;
  const artifact = encodeArtifact(model, deps.now);
  await deps.artifacts.putArtifact(artifact);
  return { model_id: input.model_id, model_version: artifact.manifest.version, algorithm: input.algorithm, metrics: model.metrics };
}

export async function readLatest(objects: ObjectStore, modelId: string): Promise<LatestPointer | undefined> {
  const bytes = await objects.get(latestKey(modelId));
  return bytes ? (JSON.parse(new TextDecoder().decode(bytes)) as LatestPointer) : undefined;
}

/** Step 2: the gate. The candidate may not fall more than `max_regression` below the published version. */
export async function evaluateCandidate(
  input: RetrainingInput & { candidate: Candidate },
  deps: { objects: ObjectStore; artifacts: ModelArtifactStore },
): Promise<EvaluationResult> {
  const candidateValue = input.candidate.metrics[GATE_METRIC];
  if (typeof candidateValue !== 'number' || !Number.isFinite(candidateValue)) {
    return { accepted: false, reason: `candidate has no ${GATE_METRIC}`, gate_metric: GATE_METRIC, candidate_value: 0, current_version: null, current_value: null };
  }
  const latest = await readLatest(deps.objects, input.model_id);
  if (!latest) {
    return { accepted: true, reason: 'no published version yet', gate_metric: GATE_METRIC, candidate_value: candidateValue, current_version: null, current_value: null };
  }
  const current: ModelManifest = await deps.artifacts.getManifest(input.model_id, latest.model_version);
  const currentValue = current.metrics[GATE_METRIC] ?? 0;
  const floor = currentValue * (1 - (input.max_regression ?? 0.02));
  const accepted = candidateValue >= floor;
  return {
    accepted,
    reason: accepted
      ? `${GATE_METRIC} ${candidateValue.toFixed(4)} >= ${floor.toFixed(4)} (current ${currentValue.toFixed(4)})`
      : `${GATE_METRIC} ${candidateValue.toFixed(4)} < ${floor.toFixed(4)} (current ${currentValue.toFixed(4)})`,
    gate_metric: GATE_METRIC,
    candidate_value: candidateValue,
    current_version: latest.model_version,
    current_value: currentValue,
  };
}

/** Step 3: point `latest.json` at the accepted candidate (the artifact itself is already immutable in place). */
export async function publishCandidate(input: RetrainingInput & { candidate: Candidate }, deps: { objects: ObjectStore; now: Date }): Promise<LatestPointer> {
  const pointer: LatestPointer = {
    model_id: input.model_id,
    model_version: input.candidate.model_version,
    published_at: deps.now.toISOString(),
    run_id: input.run_id ?? null,
  };
  await deps.objects.put(latestKey(input.model_id), JSON.stringify(pointer), 'application/json');
  return pointer;
}
