/**
 * The retraining steps, free of Lambda specifics (storage injected: S3 and DynamoDB in Lambda
 * and on the local runtime):
 *
 * 1. snapshot: the training data of this run = the previous snapshot (the base data set on the
 *    first run) + the feedback logged since the previous run (interaction-log.ts, read by key),
 *    written once as `datasets/snapshots/<run>/u.data`; the models to train (the default set and
 *    every model a running experiment follows); and the exact bytes of every pointer the run
 *    may move, so a failed run can put them back;
 * 2. per model (the Map): train a candidate on the snapshot (the immutable artifact, binaries
 *    then manifest), then evaluate it and the published version on the same held-out split
 *    (same-split.ts) and decide;
 * 3. publish the accepted candidates: each artifact is checked complete, then its
 *    `models/<id>/latest.json` is overwritten (one PUT: S3 replaces an object atomically); then
 *    the snapshot marker moves, so the next run reads the log from here;
 * 4. on any failure, restore: every pointer whose bytes differ from the snapshot's copy is
 *    written back with those bytes.
 */
import { parseItems, parseRatings } from '../domain/recommenders/data/formats.ts';
import { attachItems } from '../domain/recommenders/data/dataset.ts';
import { mergeLoggedFeedback, type FeedbackType } from '../domain/recommenders/data/logged-feedback.ts';
import { encodeArtifact } from '../domain/recommenders/artifact.ts';
import { holdoutEvaluation } from '../domain/recommenders/evaluation.ts';
import { getModel, type ModelDefinition } from '../domain/recommenders/models/registry.ts';
import { compareOnSameSplit, gateDecision, type SplitKind, type SplitMetrics } from '../domain/recommenders/same-split.ts';
import type { RatingsDataset } from '../domain/recommenders/types.ts';
import type { Experiment } from '../domain/experiments/model.ts';
import type { ModelArtifactStore } from '../storage/artifact-store.ts';
import type { InteractionLog } from '../storage/interaction-log.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { followedModelIds } from './model-following.ts';

/** One model configuration to train. */
export interface ModelConfig {
  model_id: string;
  algorithm: string;
}

/** What a run starts with (the EventBridge rule's input, or `abrec retrain`'s). */
export interface RetrainingRunInput {
  run_id: string;
  /** The run's time (EventBridge's `time`); the end of the log window. @default the step's clock */
  now?: string;
  /** The base data set: read when no snapshot was taken yet. */
  dataset_prefix: string;
  /** The default set. */
  models: ModelConfig[];
  /** Relative nDCG@10 drop a candidate may have against the published version on the same split. */
  max_regression: number;
  /** How far back the first run reads the log (no marker yet). @default 8 */
  first_run_lookback_days?: number;
}

/** The snapshot marker: where the last successful run's data is and up to when it read the log. */
export interface SnapshotMarker {
  run_id: string;
  dataset_prefix: string;
  until_ms: number;
}

export interface SnapshotResult {
  dataset_prefix: string;
  base_prefix: string;
  since: string;
  /** Epoch ms: the snapshot's rows stamped from here on are the feedback logged since the last run. */
  since_ms: number;
  until: string;
  until_ms: number;
  base_ratings: number;
  logged: Record<FeedbackType, number>;
  logged_skipped: number;
  logged_pairs: number;
  ratings: number;
  models: ModelConfig[];
  /** Models added because a running experiment follows them. */
  followed: string[];
  /** Key → exact bytes (UTF-8 text) before the run, null when the key did not exist. */
  pointers_before: Record<string, string | null>;
}

/** One Map iteration's input. */
export interface ModelRunInput extends ModelConfig {
  dataset_prefix: string;
  max_regression?: number;
  run_id?: string;
  /** The snapshot's since_ms: its newer rows are held out when there are any (same-split.ts). */
  held_out_since_ms?: number;
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
  /** Both on the same held-out split of this run's snapshot. */
  candidate_metrics: SplitMetrics;
  current_metrics: SplitMetrics | null;
  held_out_ratings: number;
  split: SplitKind;
}

/** A Map iteration's output. */
export interface ModelRunResult extends ModelRunInput {
  candidate: Candidate;
  evaluation: EvaluationResult;
}

export interface LatestPointer {
  model_id: string;
  model_version: string;
  published_at: string;
  run_id: string | null;
}

export interface ModelDecision {
  model_id: string;
  algorithm: string;
  decision: 'published' | 'rejected';
  reason: string;
  candidate_version: string;
  current_version: string | null;
  candidate_metrics: SplitMetrics;
  current_metrics: SplitMetrics | null;
}

export interface PublishResult {
  /** Model id → the version now under latest.json. */
  versions: Record<string, string>;
  models: ModelDecision[];
}

/** The offline metric the gate compares. */
export const GATE_METRIC = 'ndcg_at_10';
export const SNAPSHOT_MARKER_KEY = 'datasets/snapshots/latest.json';
export const snapshotPrefix = (runId: string) => `datasets/snapshots/${runId.replace(/[^A-Za-z0-9._-]/g, '_')}/`;

const RATINGS_FILES = ['u.data', 'ratings.dat', 'ratings.csv'];
const ITEM_FILES = ['u.item', 'movies.dat', 'movies.csv'];
const DAY_MS = 86_400_000;
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

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

export async function readLatest(objects: ObjectStore, modelId: string): Promise<LatestPointer | undefined> {
  const bytes = await objects.get(latestKey(modelId));
  return bytes ? (JSON.parse(text(bytes)) as LatestPointer) : undefined;
}

/** The ratings (and items, when present) under a prefix. */
async function loadDataset(objects: ObjectStore, prefix: string, definition?: ModelDefinition): Promise<RatingsDataset> {
  const ratings = await firstPresent(objects, prefix, RATINGS_FILES);
  if (!ratings) throw new Error(`no ratings file (${RATINGS_FILES.join(', ')}) under ${prefix}`);
  let dataset = parseRatings(ratings.bytes, { fileName: `${prefix}${ratings.name}` });
  const items = await firstPresent(objects, prefix, ITEM_FILES);
  if (items) dataset = attachItems(dataset, parseItems(items.bytes, { fileName: `${prefix}${items.name}` }));
  if (definition?.needsItems && !items) throw new Error(`model ${definition.name} needs an item file under ${prefix}`);
  return dataset;
}

/** Step 1 (see the module comment). */
export async function snapshotTrainingData(
  input: RetrainingRunInput,
  deps: { objects: ObjectStore; interactions: InteractionLog; experiments: { list(): Promise<Experiment[]> }; now: Date },
): Promise<SnapshotResult> {
  const untilMs = input.now ? Date.parse(input.now) : deps.now.getTime();
  if (!Number.isFinite(untilMs)) throw new Error(`now: not a date: ${input.now}`);
  const markerBytes = await deps.objects.get(SNAPSHOT_MARKER_KEY);
  const marker = markerBytes ? (JSON.parse(text(markerBytes)) as SnapshotMarker) : undefined;
  const basePrefix = marker?.dataset_prefix ?? input.dataset_prefix;
  const sinceMs = Math.min(untilMs, marker?.until_ms ?? untilMs - (input.first_run_lookback_days ?? 8) * DAY_MS);
  const base = await firstPresent(deps.objects, basePrefix, ['u.data']);
  if (!base) throw new Error(`no u.data under ${basePrefix} (the base data set of the snapshot)`);
  const interactions = await deps.interactions.readBetween(sinceMs, untilMs);
  const merged = mergeLoggedFeedback(text(base.bytes), interactions);
  const prefix = snapshotPrefix(input.run_id);
  const items = await deps.objects.get(`${basePrefix}u.item`);
  if (items) await deps.objects.put(`${prefix}u.item`, items, 'application/octet-stream');
  await deps.objects.put(`${prefix}u.data`, merged.text, 'text/tab-separated-values');

  const followed = followedModelIds(await deps.experiments.list());
  const models = [...input.models];
  for (const modelId of followed) {
    if (models.some((m) => m.model_id === modelId)) continue;
    // A followed model outside the default set is retrained with its published version's algorithm.
    const latest = await readLatest(deps.objects, modelId);
    if (!latest) throw new Error(`model ${modelId} is followed by a running experiment but has no published version (models/${modelId}/latest.json)`);
    const manifest = await deps.objects.get(`models/${modelId}/${latest.model_version}/manifest.json`);
    if (!manifest) throw new Error(`the published version ${latest.model_version} of ${modelId} has no manifest`);
    models.push({ model_id: modelId, algorithm: (JSON.parse(text(manifest)) as { algorithm: string }).algorithm });
  }
  const pointersBefore: Record<string, string | null> = {};
  for (const key of [...models.map((m) => latestKey(m.model_id)), SNAPSHOT_MARKER_KEY]) {
    const bytes = await deps.objects.get(key);
    pointersBefore[key] = bytes ? text(bytes) : null;
  }
  return {
    dataset_prefix: prefix,
    base_prefix: basePrefix,
    since: new Date(sinceMs).toISOString(),
    since_ms: sinceMs,
    until: new Date(untilMs).toISOString(),
    until_ms: untilMs,
    base_ratings: merged.summary.baseRatings,
    logged: merged.summary.logged,
    logged_skipped: merged.summary.skipped,
    logged_pairs: merged.summary.loggedPairs,
    ratings: merged.summary.ratings,
    models,
    followed,
    pointers_before: pointersBefore,
  };
}

/** Step 2a: holdout metrics for the manifest, then the artifact trained on all of the snapshot. */
export async function trainCandidate(input: ModelRunInput, deps: { objects: ObjectStore; artifacts: ModelArtifactStore; now: Date }): Promise<Candidate> {
  const definition = getModel(input.algorithm);
  const dataset = await loadDataset(deps.objects, input.dataset_prefix, definition);
  const metrics = holdoutMetrics(dataset, definition);
  const model = definition.train(dataset);
  model.modelId = input.model_id;
  model.metrics = metrics;
  const artifact = encodeArtifact(model, deps.now);
  await deps.artifacts.putArtifact(artifact);
  return { model_id: input.model_id, model_version: artifact.manifest.version, algorithm: input.algorithm, metrics: model.metrics };
}

/** Step 2b: the candidate's configuration and the published version on the same held-out split of the snapshot, and the decision. */
export async function evaluateCandidate(
  input: ModelRunInput & { candidate: Candidate },
  deps: { objects: ObjectStore; artifacts: ModelArtifactStore },
): Promise<EvaluationResult> {
  const definition = getModel(input.algorithm);
  const dataset = await loadDataset(deps.objects, input.dataset_prefix, definition);
  const latest = await readLatest(deps.objects, input.model_id);
  const current = latest ? await deps.artifacts.loadModel(input.model_id, latest.model_version) : undefined;
  // Logged rows are stamped in whole seconds (u.data): the window starts at the second of since_ms.
  const heldOutSince = input.held_out_since_ms === undefined ? undefined : Math.floor(input.held_out_since_ms / 1000);
  const compared = compareOnSameSplit(dataset, definition, current, heldOutSince);
  const maxRegression = input.max_regression ?? 0.02;
  const { accepted, reason } = gateDecision(compared.candidate, compared.current, maxRegression, compared.split);
  return {
    accepted,
    reason,
    gate_metric: GATE_METRIC,
    candidate_value: compared.candidate.ndcg_at_10,
    current_version: latest?.model_version ?? null,
    current_value: compared.current?.ndcg_at_10 ?? null,
    candidate_metrics: compared.candidate,
    current_metrics: compared.current,
    held_out_ratings: compared.heldOutRatings,
    split: compared.split,
  };
}

/** Step 3 (see the module comment). */
export async function publishAccepted(
  input: { run_id: string; results: ModelRunResult[]; snapshot: Pick<SnapshotResult, 'dataset_prefix' | 'until_ms'> },
  deps: { objects: ObjectStore; artifacts: ModelArtifactStore; now: Date },
): Promise<PublishResult> {
  const versions: Record<string, string> = {};
  const models: ModelDecision[] = [];
  for (const result of input.results) {
    const { candidate, evaluation } = result;
    if (evaluation.accepted) {
      // The artifact first: a pointer only ever names a complete version (its manifest is written last).
      await deps.artifacts.getManifest(result.model_id, candidate.model_version);
      const pointer: LatestPointer = {
        model_id: result.model_id,
        model_version: candidate.model_version,
        published_at: deps.now.toISOString(),
        run_id: input.run_id,
      };
      await deps.objects.put(latestKey(result.model_id), JSON.stringify(pointer), 'application/json');
      versions[result.model_id] = candidate.model_version;
    }
    models.push({
      model_id: result.model_id,
      algorithm: result.algorithm,
      decision: evaluation.accepted ? 'published' : 'rejected',
      reason: evaluation.reason,
      candidate_version: candidate.model_version,
      current_version: evaluation.current_version,
      candidate_metrics: evaluation.candidate_metrics,
      current_metrics: evaluation.current_metrics,
    });
  }
  const marker: SnapshotMarker = { run_id: input.run_id, dataset_prefix: input.snapshot.dataset_prefix, until_ms: input.snapshot.until_ms };
  await deps.objects.put(SNAPSHOT_MARKER_KEY, JSON.stringify(marker), 'application/json');
  return { versions, models };
}

/**
 * Step 4: puts back every pointer whose bytes differ from the copy taken at the snapshot. A
 * pointer that did not exist before the run and exists now cannot be removed (no function may
 * delete in the bucket): it is reported, and only a model first published by this run has one.
 */
export async function restorePointers(
  input: { snapshot?: Pick<SnapshotResult, 'pointers_before'> },
  deps: { objects: ObjectStore },
): Promise<{ restored: string[]; left: string[] }> {
  const restored: string[] = [];
  const left: string[] = [];
  // A run that failed before its snapshot moved nothing.
  for (const [key, before] of Object.entries(input.snapshot?.pointers_before ?? {})) {
    const now = await deps.objects.get(key);
    const current = now ? text(now) : null;
    if (current === before) continue;
    if (before === null) {
      left.push(key);
      continue;
    }
    await deps.objects.put(key, before, 'application/json');
    restored.push(key);
  }
  return { restored, left };
}
