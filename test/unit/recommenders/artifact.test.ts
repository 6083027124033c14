import { describe, expect, it } from 'vitest';
import { ArtifactError, decodeArtifact, encodeArtifact, parseManifest } from '../../../lambdas/domain/recommenders/artifact.ts';
import { tinyModel } from '../../helpers/models.ts';

const roundTrip = (files: Map<string, Uint8Array>) => (path: string) => files.get(path);

describe('model artifacts', () => {
  it('round-trips a model through manifest and binaries unchanged', () => {
    const model = tinyModel();
    const { manifest, files } = encodeArtifact(model);

    const decoded = decodeArtifact(parseManifest(JSON.stringify(manifest)), roundTrip(files));

    expect(Array.from(decoded.userFactors)).toEqual(Array.from(model.userFactors));
    expect(Array.from(decoded.itemFactors)).toEqual(Array.from(model.itemFactors));
    expect(Array.from(decoded.seenItems)).toEqual([0]);
    expect(decoded.itemIds).toEqual(model.itemIds);
  });

  it('derives the version from the content, not the creation time', () => {
    const a = encodeArtifact(tinyModel(), new Date('2026-01-01T00:00:00Z'));
    const b = encodeArtifact(tinyModel(), new Date('2026-06-01T00:00:00Z'));
    const c = encodeArtifact(tinyModel({ itemBias: Float32Array.from([0, 0, 0, 0, 1]) }));

    expect(a.manifest.version).toBe(b.manifest.version);
    expect(c.manifest.version).not.toBe(a.manifest.version);
  });

  it('views aligned binaries without copying', () => {
    const { manifest, files } = encodeArtifact(tinyModel());
    const bytes = new Uint8Array(files.get('item_factors.f32')!);

    const decoded = decodeArtifact(manifest, (path) => (path === 'item_factors.f32' ? bytes : files.get(path)));

    expect(decoded.itemFactors.buffer).toBe(bytes.buffer);
  });

  it('rejects a corrupt binary by checksum, naming the file', () => {
    const { manifest, files } = encodeArtifact(tinyModel());
    const corrupt = new Uint8Array(files.get('user_factors.f32')!);
    corrupt[3] ^= 0xff;
    files.set('user_factors.f32', corrupt);

    expect(() => decodeArtifact(manifest, roundTrip(files))).toThrow(/user_factors\.f32 checksum mismatch/);
  });

  it('rejects a truncated binary, naming the file', () => {
    const { manifest, files } = encodeArtifact(tinyModel());
    files.set('item_bias.f32', files.get('item_bias.f32')!.subarray(0, 8));

    expect(() => decodeArtifact(manifest, roundTrip(files))).toThrow(/item_bias\.f32 has 8 bytes, expected 20/);
  });

  it('rejects a missing binary', () => {
    const { manifest, files } = encodeArtifact(tinyModel());
    files.delete('seen_items.i32');

    expect(() => decodeArtifact(manifest, roundTrip(files))).toThrow(ArtifactError);
  });

  it('rejects a manifest whose id map disagrees with its dimensions', () => {
    const { manifest } = encodeArtifact(tinyModel());
    const tampered = { ...manifest, item_ids: manifest.item_ids.slice(1) };

    expect(() => parseManifest(JSON.stringify(tampered))).toThrow(/item_ids must list 5 ids/);
  });

  it('rejects a manifest edited after publication (version no longer matches)', () => {
    const { manifest } = encodeArtifact(tinyModel());
    const tampered = { ...manifest, hyperparameters: { factors: 3 } };

    expect(() => parseManifest(JSON.stringify(tampered))).toThrow(/does not match the manifest content/);
  });

  it('refuses to encode a model with non-finite factors', () => {
    const model = tinyModel({ itemFactors: Float32Array.from([NaN, 0, 0.8, 0.1, 0.1, 0.7, 0.2, 0.2, 0, 0.1]) });

    expect(() => encodeArtifact(model)).toThrow(/item_factors\[0\] is not finite/);
  });

  it('refuses ids longer than the 256 bytes every stored id is held to, at encode and at load', () => {
    const long = 'x'.repeat(257);
    const model = tinyModel({ itemIds: ['i0', 'i1', long, 'i3', 'i4'] });
    const { manifest } = encodeArtifact(tinyModel());
    const tampered = { ...manifest, item_ids: ['i0', 'i1', long, 'i3', 'i4'] };

    expect(() => encodeArtifact(model)).toThrow(/item_ids\[2\] must be a non-empty id of at most 256 UTF-8 bytes/);
    expect(() => parseManifest(JSON.stringify(tampered))).toThrow(/manifest\.item_ids\[2\]/);
  });

  it('refuses to encode a model whose arrays do not match its ids', () => {
    const model = tinyModel({ userBias: new Float32Array(2) });

    expect(() => encodeArtifact(model)).toThrow(/user_bias has 2 elements, expected 3/);
  });
});
