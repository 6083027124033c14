/**
 * Where model artifacts live: S3 in AWS and on the local runtime (s3rver), a directory for the
 * command line and the bundled defaults. Both share the `models/<id>/<version>/` layout.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ArtifactError, artifactPrefix, decodeArtifact, parseManifest, type EncodedArtifact, type ModelManifest } from '../domain/recommenders/artifact.ts';
import type { FactorModel } from '../domain/recommenders/types.ts';
import { isNotFound } from './object-store.ts';

/** Raised when an artifact version does not exist (as opposed to being corrupt). */
export class ArtifactNotFoundError extends Error {
  override readonly name = 'ArtifactNotFoundError';
}

/** Read and publish immutable model artifacts. */
export interface ModelArtifactStore {
  /** The manifest of one version; ArtifactNotFoundError if absent, ArtifactError if invalid. */
  getManifest(modelId: string, version: string): Promise<ModelManifest>;
  /** Loads and fully verifies one version. */
  loadModel(modelId: string, version: string): Promise<FactorModel>;
  /** Writes an artifact; binaries first and the manifest last, so a reader never sees half of one. */
  putArtifact(artifact: EncodedArtifact): Promise<void>;
  /** Versions present for a model id. */
  listVersions(modelId: string): Promise<string[]>;
  /** Model ids that have anything under `models/<id>/`, sorted. */
  listModels(): Promise<string[]>;
}

/** Artifacts in an S3 bucket. */
export class S3ModelArtifactStore implements ModelArtifactStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  private async getBytes(key: string): Promise<Uint8Array> {
    const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    if (!response.Body) throw new ArtifactError(`s3://${this.bucket}/${key} has no body`);
    return response.Body.transformToByteArray();
  }

  async getManifest(modelId: string, version: string): Promise<ModelManifest> {
    const key = `${artifactPrefix(modelId, version)}manifest.json`;
    let bytes: Uint8Array;
    try {
      bytes = await this.getBytes(key);
    } catch (error) {
      if (isNotFound(error)) throw new ArtifactNotFoundError(`model ${modelId} version ${version} not found (s3://${this.bucket}/${key})`);
      throw error;
    }
    const manifest = parseManifest(new TextDecoder().decode(bytes));
    if (manifest.model_id !== modelId || manifest.version !== version) {
      throw new ArtifactError(`s3://${this.bucket}/${key} describes ${manifest.model_id}@${manifest.version}, not ${modelId}@${version}`);
    }
    return manifest;
  }

  async loadModel(modelId: string, version: string): Promise<FactorModel> {
    const manifest = await this.getManifest(modelId, version);
    const prefix = artifactPrefix(modelId, version);
    const files = new Map<string, Uint8Array>();
    await Promise.all(
      Object.values(manifest.files).map(async (entry) => {
        try {
          files.set(entry.path, await this.getBytes(prefix + entry.path));
        } catch (error) {
          if (isNotFound(error)) return; // decodeArtifact reports the missing file by name
          throw error;
        }
      }),
    );
    return decodeArtifact(manifest, (path) => files.get(path));
  }

  async putArtifact({ manifest, files }: EncodedArtifact): Promise<void> {
    const prefix = artifactPrefix(manifest.model_id, manifest.version);
    // A version is its content: if it is already published, publishing again changes nothing.
    if (
      await this.getManifest(manifest.model_id, manifest.version).then(
        () => true,
        () => false,
      )
    )
      return;
    await Promise.all(
      [...files].map(([path, bytes]) =>
        this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: prefix + path, Body: bytes, ContentType: 'application/octet-stream' })),
      ),
    );
    await this.s3.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: `${prefix}manifest.json`, Body: JSON.stringify(manifest), ContentType: 'application/json' }),
    );
  }

  async listVersions(modelId: string): Promise<string[]> {
    const versions = new Set<string>();
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `models/${modelId}/`, ContinuationToken: token }));
      for (const object of page.Contents ?? []) {
        const match = object.Key?.match(/^models\/[^/]+\/([0-9a-f]{16})\/manifest\.json$/);
        if (match) versions.add(match[1]);
      }
      token = page.NextContinuationToken;
    } while (token);
    return [...versions].sort();
  }

  async listModels(): Promise<string[]> {
    const ids = new Set<string>();
    let token: string | undefined;
    do {
      // The delimiter folds every key of a model into one common prefix: one entry per model, not per file.
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: 'models/', Delimiter: '/', ContinuationToken: token }));
      for (const common of page?.CommonPrefixes ?? []) {
        const match = common.Prefix?.match(/^models\/([^/]+)\/$/);
        if (match) ids.add(match[1]);
      }
      token = page?.NextContinuationToken;
    } while (token);
    return [...ids].sort();
  }
}

/** Artifacts in a local directory with the same layout under `<root>/models/`. */
export class DirectoryModelArtifactStore implements ModelArtifactStore {
  constructor(private readonly root: string) {}

  private path(modelId: string, version: string, file: string): string {
    return join(this.root, artifactPrefix(modelId, version), file);
  }

  async getManifest(modelId: string, version: string): Promise<ModelManifest> {
    let text: string;
    try {
      text = await readFile(this.path(modelId, version, 'manifest.json'), 'utf8');
    } catch (error) {
      if (isNotFound(error)) throw new ArtifactNotFoundError(`model ${modelId} version ${version} not found in ${this.root}`);
      throw error;
    }
    return parseManifest(text);
  }

  async loadModel(modelId: string, version: string): Promise<FactorModel> {
    const manifest = await this.getManifest(modelId, version);
    const files = new Map<string, Uint8Array>();
    for (const entry of Object.values(manifest.files)) {
      try {
        files.set(entry.path, await readFile(this.path(modelId, version, entry.path)));
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    return decodeArtifact(manifest, (path) => files.get(path));
  }

  async putArtifact({ manifest, files }: EncodedArtifact): Promise<void> {
    if (
      await this.getManifest(manifest.model_id, manifest.version).then(
        () => true,
        () => false,
      )
    )
      return;
    const dir = join(this.root, artifactPrefix(manifest.model_id, manifest.version));
    await mkdir(dir, { recursive: true });
    for (const [path, bytes] of files) await writeFile(join(dir, path), bytes);
    await writeFile(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  }

  async listVersions(modelId: string): Promise<string[]> {
    try {
      const entries = await readdir(join(this.root, 'models', modelId), { withFileTypes: true });
      return entries
        .filter((e) => e.isDirectory() && /^[0-9a-f]{16}$/.test(e.name))
        .map((e) => e.name)
        .sort();
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
  }

  async listModels(): Promise<string[]> {
    try {
      const entries = await readdir(join(this.root, 'models'), { withFileTypes: true });
      return entries
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort();
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
  }
}
