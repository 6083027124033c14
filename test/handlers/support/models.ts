/**
 * Tiny hand-made factor models and the experiment that pins them: small enough to reason
 * about every score, real enough to go through encodeArtifact and the checksum checks.
 */
import { defaultExperiment } from '../../../lambdas/domain/experiments/defaults.ts';
import type { Experiment } from '../../../lambdas/domain/experiments/model.ts';
import { encodeArtifact, type EncodedArtifact } from '../../../lambdas/domain/recommenders/artifact.ts';
import type { FactorModel } from '../../../lambdas/domain/recommenders/types.ts';

export const NOW = new Date('2026-01-15T10:00:00.000Z');

/** Users the tiny models know, and what each saw in training (item ids). */
export const KNOWN_USERS = { u1: ['i1', 'i2'], u2: ['i3'], u3: [] as string[] } as const;
export const ITEM_IDS = ['i1', 'i2', 'i3', 'i4', 'i5', 'i6', 'i7', 'i8'];
/** Training popularity per item: the cold-start list is i1, i2, ... in this order. */
export const POPULARITY = [80, 70, 60, 50, 40, 30, 20, 10];

/**
 * A 2-factor model over 3 users and 8 items. `shift` changes the item factors, so two models
 * with different shifts rank differently and have different versions.
 */
export function tinyModel({ modelId, shift = 0, metrics = {} }: { modelId: string; shift?: number; metrics?: Record<string, number> }): FactorModel {
  const userIds = Object.keys(KNOWN_USERS);
  const seen = Object.values(KNOWN_USERS).map((items) => items.map((id) => ITEM_IDS.indexOf(id)));
  const seenOffsets = [0];
  for (const items of seen) seenOffsets.push(seenOffsets[seenOffsets.length - 1] + items.length);
  return {
    modelId,
    algorithm: 'test-mf',
    factors: 2,
    userIds,
    itemIds: ITEM_IDS,
    userFactors: Float32Array.from([1, 0, 0, 1, 0.5, 0.5]),
    itemFactors: Float32Array.from(ITEM_IDS.flatMap((_, i) => [(i + shift) % 8, 8 - ((i + shift) % 8)])),
    userBias: new Float32Array(userIds.length),
    itemBias: new Float32Array(ITEM_IDS.length),
    globalBias: 3.5,
    itemPopularity: Float32Array.from(POPULARITY),
    seenOffsets: Int32Array.from(seenOffsets),
    seenItems: Int32Array.from(seen.flat()),
    ratingScale: [1, 5],
    hyperparameters: { factors: 2 },
    metrics,
    trainingData: { fingerprint: `test-${modelId}`, ratings: 3, users: userIds.length, items: ITEM_IDS.length, source: 'test' },
  };
}

/** An encoded tiny model, ready for FakeBucket.putArtifact. */
export function tinyArtifact(options: Parameters<typeof tinyModel>[0]): EncodedArtifact {
  return encodeArtifact(tinyModel(options), NOW);
}

/** The running default experiment (50/50) pinning the two artifacts. */
export function experimentPinning(control: EncodedArtifact, treatment: EncodedArtifact): Experiment {
  return defaultExperiment({
    controlModel: { model_id: control.manifest.model_id, model_version: control.manifest.version },
    treatmentModel: { model_id: treatment.manifest.model_id, model_version: treatment.manifest.version },
    now: NOW,
  });
}

/** A copy of an artifact with one byte of one binary flipped: the checksum no longer matches. */
export function corruptArtifact(artifact: EncodedArtifact, path = 'item_factors.f32'): EncodedArtifact {
  const files = new Map(artifact.files);
  const bytes = new Uint8Array(files.get(path)!);
  bytes[0] ^= 0xff;
  files.set(path, bytes);
  return { manifest: artifact.manifest, files };
}
