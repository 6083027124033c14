import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS_BUCKET } from '../../lib/resources.ts';
import { ArtifactError, artifactPrefix, encodeArtifact } from '../../lambdas/domain/recommenders/artifact.ts';
import { ArtifactNotFoundError, S3ModelArtifactStore } from '../../lambdas/storage/artifact-store.ts';
import { ModelCache } from '../../lambdas/storage/model-cache.ts';
import { tinyModel } from '../helpers/models.ts';
import { startLocalAws, type LocalAws } from '../helpers/local-aws.ts';

let aws: LocalAws;
let store: S3ModelArtifactStore;

beforeAll(async () => {
  aws = await startLocalAws();
  store = new S3ModelArtifactStore(aws.s3, ARTIFACTS_BUCKET.localName);
});
afterAll(async () => aws.stop());

describe('S3ModelArtifactStore on s3rver', () => {
  it('publishes an artifact and loads it back verified', async () => {
    const artifact = encodeArtifact(tinyModel({ modelId: 'roundtrip' }));

    await store.putArtifact(artifact);
    const model = await store.loadModel('roundtrip', artifact.manifest.version);

    expect(Array.from(model.itemFactors)).toEqual(Array.from(tinyModel().itemFactors));
    expect(await store.listVersions('roundtrip')).toEqual([artifact.manifest.version]);
  });

  it('reports a version that does not exist as not found', async () => {
    await expect(store.getManifest('roundtrip', '0000000000000000')).rejects.toBeInstanceOf(ArtifactNotFoundError);
  });

  it('rejects an artifact whose binary was corrupted in the bucket', async () => {
    const artifact = encodeArtifact(tinyModel({ modelId: 'corrupt' }));
    await store.putArtifact(artifact);
    const bytes = new Uint8Array(artifact.files.get('item_factors.f32')!);
    bytes[0] ^= 0x55;
    await aws.s3.send(
      new PutObjectCommand({ Bucket: ARTIFACTS_BUCKET.localName, Key: `${artifactPrefix('corrupt', artifact.manifest.version)}item_factors.f32`, Body: bytes }),
    );

    await expect(store.loadModel('corrupt', artifact.manifest.version)).rejects.toThrow(ArtifactError);
  });

  it('caches a loaded version and retries a failed load', async () => {
    const artifact = encodeArtifact(tinyModel({ modelId: 'cached' }));
    const cache = new ModelCache(store);

    await expect(cache.get('cached', artifact.manifest.version)).rejects.toBeInstanceOf(ArtifactNotFoundError);
    await store.putArtifact(artifact);
    const first = await cache.get('cached', artifact.manifest.version);
    const second = await cache.get('cached', artifact.manifest.version);

    expect(second).toBe(first);
    expect(cache.size).toBe(1);
  });
});
