/**
 * Model artifacts: an immutable, versioned directory (or S3 prefix) holding one JSON manifest
 * and little-endian float32 / int32 binaries. The version is a content hash, so retraining
 * on the same data with the same settings yields the same version and a published version
 * can never change underneath a running experiment.
 *
 * Layout (relative to `models/<model_id>/<version>/`):
 *   manifest.json, user_factors.f32, item_factors.f32, user_bias.f32, item_bias.f32,
 *   item_popularity.f32, seen_offsets.i32, seen_items.i32
 *
 * Pure: hashing uses node:crypto, no AWS and no file system (see storage/ for those).
 */
import { createHash } from 'node:crypto';
import { errorMessage } from '../assert-error.ts';
import { MAX_ID_BYTES } from '../events/event.ts';
import type { FactorModel, Hyperparameters } from './types.ts';

export const ARTIFACT_FORMAT = 'abrec-factors/1';

/** Names of the binaries, the element type and how their length follows from the dimensions. */
export const ARTIFACT_FILES = {
  user_factors: { path: 'user_factors.f32', dtype: 'float32' },
  item_factors: { path: 'item_factors.f32', dtype: 'float32' },
  user_bias: { path: 'user_bias.f32', dtype: 'float32' },
  item_bias: { path: 'item_bias.f32', dtype: 'float32' },
  item_popularity: { path: 'item_popularity.f32', dtype: 'float32' },
  seen_offsets: { path: 'seen_offsets.i32', dtype: 'int32' },
  seen_items: { path: 'seen_items.i32', dtype: 'int32' },
} as const;

export type ArtifactFileName = keyof typeof ARTIFACT_FILES;

export interface ArtifactFileEntry {
  path: string;
  dtype: 'float32' | 'int32';
  /** Number of elements. */
  length: number;
  bytes: number;
  sha256: string;
}

/** The manifest, exactly as serialised to manifest.json (snake_case, JSON only). */
export interface ModelManifest {
  format: typeof ARTIFACT_FORMAT;
  model_id: string;
  algorithm: string;
  /** Content hash (first 16 hex chars of sha256 over the manifest body and file hashes). */
  version: string;
  created_at: string;
  dimensions: { users: number; items: number; factors: number };
  global_bias: number;
  rating_scale: [number, number];
  user_ids: string[];
  item_ids: string[];
  training_data: FactorModel['trainingData'];
  hyperparameters: Hyperparameters;
  metrics: Record<string, number>;
  files: Record<ArtifactFileName, ArtifactFileEntry>;
}

/** An artifact ready to be written: the manifest and the bytes of each binary by file path. */
export interface EncodedArtifact {
  manifest: ModelManifest;
  files: Map<string, Uint8Array>;
}

/** Raised for any artifact that is corrupt, truncated or inconsistent. */
export class ArtifactError extends Error {
  override readonly name = 'ArtifactError';
}

const MODEL_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function assertLittleEndianHost(): void {
  // The binaries are little-endian; typed-array views use host order. Every Lambda and
  // laptop CPU in use is little-endian, so refuse rather than silently byte-swap.
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new ArtifactError('model artifacts require a little-endian host');
  }
}

function bytesOf(array: Float32Array | Int32Array): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/** Expected element count of each binary for the given dimensions. */
function expectedLengths(users: number, items: number, factors: number, seenCount: number) {
  return {
    user_factors: users * factors,
    item_factors: items * factors,
    user_bias: users,
    item_bias: items,
    item_popularity: items,
    seen_offsets: users + 1,
    seen_items: seenCount,
  } satisfies Record<ArtifactFileName, number>;
}

/**
 * Ids are capped like every id the API accepts, so a stored impression slate (top-N item ids)
 * stays far below DynamoDB's item limit without a size check per request.
 */
function assertIdsFit(field: string, ids: readonly string[]): void {
  const encoder = new TextEncoder();
  ids.forEach((id, i) => {
    if (typeof id !== 'string' || id.length === 0 || encoder.encode(id).byteLength > MAX_ID_BYTES) {
      throw new ArtifactError(`${field}[${i}] must be a non-empty id of at most ${MAX_ID_BYTES} UTF-8 bytes`);
    }
  });
}

function validateModelShape(model: FactorModel): void {
  assertIdsFit('user_ids', model.userIds);
  assertIdsFit('item_ids', model.itemIds);
  if (!MODEL_ID_PATTERN.test(model.modelId)) {
    throw new ArtifactError(`model_id "${model.modelId}" must match ${MODEL_ID_PATTERN}`);
  }
  const users = model.userIds.length;
  const items = model.itemIds.length;
  const expected = expectedLengths(users, items, model.factors, model.seenItems.length);
  const actual: Record<ArtifactFileName, number> = {
    user_factors: model.userFactors.length,
    item_factors: model.itemFactors.length,
    user_bias: model.userBias.length,
    item_bias: model.itemBias.length,
    item_popularity: model.itemPopularity.length,
    seen_offsets: model.seenOffsets.length,
    seen_items: model.seenItems.length,
  };
  for (const name of Object.keys(expected) as ArtifactFileName[]) {
    if (expected[name] !== actual[name]) {
      throw new ArtifactError(`${name} has ${actual[name]} elements, expected ${expected[name]}`);
    }
  }
  for (const [name, values] of [
    ['user_factors', model.userFactors],
    ['item_factors', model.itemFactors],
    ['user_bias', model.userBias],
    ['item_bias', model.itemBias],
  ] as const) {
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) throw new ArtifactError(`${name}[${i}] is not finite`);
    }
  }
}

function computeVersion(manifest: Omit<ModelManifest, 'version' | 'created_at'>): string {
  return sha256Hex(JSON.stringify(manifest)).slice(0, 16);
}

/**
 * Encodes a trained model as an artifact. The version is derived from the content, so it
 * is stable across runs and machines for the same model.
 */
export function encodeArtifact(model: FactorModel, createdAt: Date = new Date()): EncodedArtifact {
  assertLittleEndianHost();
  validateModelShape(model);
  const arrays: Record<ArtifactFileName, Float32Array | Int32Array> = {
    user_factors: model.userFactors,
    item_factors: model.itemFactors,
    user_bias: model.userBias,
    item_bias: model.itemBias,
    item_popularity: model.itemPopularity,
    seen_offsets: model.seenOffsets,
    seen_items: model.seenItems,
  };
  const files = new Map<string, Uint8Array>();
  const entries = {} as Record<ArtifactFileName, ArtifactFileEntry>;
  for (const name of Object.keys(ARTIFACT_FILES) as ArtifactFileName[]) {
    const spec = ARTIFACT_FILES[name];
    const bytes = bytesOf(arrays[name]);
    files.set(spec.path, bytes);
    entries[name] = {
      path: spec.path,
      dtype: spec.dtype,
      length: arrays[name].length,
      bytes: bytes.byteLength,
      sha256: sha256Hex(bytes),
    };
  }
  const body = {
    format: ARTIFACT_FORMAT,
    model_id: model.modelId,
    algorithm: model.algorithm,
    dimensions: { users: model.userIds.length, items: model.itemIds.length, factors: model.factors },
    global_bias: model.globalBias,
    rating_scale: model.ratingScale,
    user_ids: model.userIds,
    item_ids: model.itemIds,
    training_data: model.trainingData,
    hyperparameters: model.hyperparameters,
    metrics: model.metrics,
    files: entries,
  } satisfies Omit<ModelManifest, 'version' | 'created_at'>;
  const manifest: ModelManifest = {
    ...body,
    version: computeVersion(body),
    created_at: createdAt.toISOString(),
  };
  return { manifest, files };
}

/** Parses and checks a manifest's JSON text; every problem names the field. */
export function parseManifest(text: string): ModelManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ArtifactError(`manifest.json is not valid JSON: ${errorMessage(error)}`);
  }
  if (typeof raw !== 'object' || raw === null) throw new ArtifactError('manifest.json must be an object');
  const m = raw as Partial<ModelManifest>;
  if (m.format !== ARTIFACT_FORMAT) throw new ArtifactError(`manifest.format must be "${ARTIFACT_FORMAT}"`);
  if (typeof m.model_id !== 'string' || !MODEL_ID_PATTERN.test(m.model_id)) {
    throw new ArtifactError('manifest.model_id is missing or invalid');
  }
  if (typeof m.version !== 'string' || !/^[0-9a-f]{16}$/.test(m.version)) {
    throw new ArtifactError('manifest.version must be 16 hex characters');
  }
  const d = m.dimensions;
  if (!d || ![d.users, d.items, d.factors].every((n) => Number.isInteger(n) && n >= 0)) {
    throw new ArtifactError('manifest.dimensions must hold non-negative integers users, items, factors');
  }
  if (!Array.isArray(m.user_ids) || m.user_ids.length !== d.users) {
    throw new ArtifactError(`manifest.user_ids must list ${d.users} ids`);
  }
  if (!Array.isArray(m.item_ids) || m.item_ids.length !== d.items) {
    throw new ArtifactError(`manifest.item_ids must list ${d.items} ids`);
  }
  assertIdsFit('manifest.user_ids', m.user_ids);
  assertIdsFit('manifest.item_ids', m.item_ids);
  if (new Set(m.user_ids).size !== m.user_ids.length) throw new ArtifactError('manifest.user_ids has duplicates');
  if (new Set(m.item_ids).size !== m.item_ids.length) throw new ArtifactError('manifest.item_ids has duplicates');
  if (typeof m.files !== 'object' || m.files === null) throw new ArtifactError('manifest.files is missing');
  for (const name of Object.keys(ARTIFACT_FILES) as ArtifactFileName[]) {
    const entry = m.files[name];
    if (!entry || typeof entry.sha256 !== 'string' || !Number.isInteger(entry.length)) {
      throw new ArtifactError(`manifest.files.${name} is missing or invalid`);
    }
    if (entry.path !== ARTIFACT_FILES[name].path) {
      throw new ArtifactError(`manifest.files.${name}.path must be "${ARTIFACT_FILES[name].path}"`);
    }
  }
  const { version, created_at: _createdAt, ...body } = m as ModelManifest;
  if (computeVersion(body) !== version) {
    throw new ArtifactError(`manifest.version ${version} does not match the manifest content`);
  }
  return m as ModelManifest;
}

function view(bytes: Uint8Array, dtype: 'float32' | 'int32'): Float32Array | Int32Array {
  // Zero-copy when the bytes are 4-byte aligned (a fresh buffer always is); Node's pooled
  // small buffers may not be, and then one copy is the only correct option.
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes);
  const length = aligned.byteLength / 4;
  return dtype === 'float32' ? new Float32Array(aligned.buffer, aligned.byteOffset, length) : new Int32Array(aligned.buffer, aligned.byteOffset, length);
}

/**
 * Turns a manifest and its binaries back into a model, verifying every checksum, every
 * length and the internal consistency of the seen-items index. Throws ArtifactError.
 */
export function decodeArtifact(manifest: ModelManifest, readFile: (path: string) => Uint8Array | undefined): FactorModel {
  assertLittleEndianHost();
  const { users, items, factors } = manifest.dimensions;
  const arrays = {} as Record<ArtifactFileName, Float32Array | Int32Array>;
  for (const name of Object.keys(ARTIFACT_FILES) as ArtifactFileName[]) {
    const entry = manifest.files[name];
    const bytes = readFile(entry.path);
    if (!bytes) throw new ArtifactError(`${entry.path} is missing`);
    if (bytes.byteLength !== entry.length * 4) {
      throw new ArtifactError(`${entry.path} has ${bytes.byteLength} bytes, expected ${entry.length * 4} (truncated?)`);
    }
    if (sha256Hex(bytes) !== entry.sha256) throw new ArtifactError(`${entry.path} checksum mismatch (corrupt)`);
    arrays[name] = view(bytes, entry.dtype);
  }
  const seenOffsets = arrays.seen_offsets as Int32Array;
  const expected = expectedLengths(users, items, factors, arrays.seen_items.length);
  for (const name of Object.keys(expected) as ArtifactFileName[]) {
    if (arrays[name].length !== expected[name]) {
      throw new ArtifactError(`${name} has ${arrays[name].length} elements, expected ${expected[name]} for the manifest dimensions`);
    }
  }
  if (seenOffsets[0] !== 0 || seenOffsets[users] !== arrays.seen_items.length) {
    throw new ArtifactError('seen_offsets does not span seen_items');
  }
  return {
    modelId: manifest.model_id,
    algorithm: manifest.algorithm,
    factors,
    userIds: manifest.user_ids,
    itemIds: manifest.item_ids,
    userFactors: arrays.user_factors as Float32Array,
    itemFactors: arrays.item_factors as Float32Array,
    userBias: arrays.user_bias as Float32Array,
    itemBias: arrays.item_bias as Float32Array,
    globalBias: manifest.global_bias,
    itemPopularity: arrays.item_popularity as Float32Array,
    seenOffsets,
    seenItems: arrays.seen_items as Int32Array,
    ratingScale: manifest.rating_scale,
    hyperparameters: manifest.hyperparameters,
    metrics: manifest.metrics,
    trainingData: manifest.training_data,
  };
}

/** The key prefix of one artifact version, shared by S3 and the local directory layout. */
export function artifactPrefix(modelId: string, version: string): string {
  return `models/${modelId}/${version}/`;
}
