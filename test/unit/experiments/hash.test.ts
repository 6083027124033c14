import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUCKET_COUNT, bucketV1, hashV1, murmur3x86_32, unitIntervalV1 } from '../../../lambdas/domain/experiments/index.ts';

interface HashVectors {
  murmur3: { input_utf8: string; seed: number; hash: number }[];
  v1: { salt: string; user_id: string; hash: number; bucket: number }[];
}

// Read with JSON.parse rather than imported: the case file holds an unpaired surrogate
// escape, which JSON allows but the bundler's JSON loader rejects.
const vectors = JSON.parse(readFileSync(new URL('./cases/hash-v1.json', import.meta.url), 'utf8')) as HashVectors;

describe('murmur3x86_32', () => {
  it.each(vectors.murmur3)('hashes $input_utf8 with seed $seed to the published value $hash', ({ input_utf8, seed, hash }) => {
    // Prepare
    const bytes = new TextEncoder().encode(input_utf8);

    // Act
    const actual = murmur3x86_32(bytes, seed);

    // Assess
    expect(actual).toBe(hash);
  });
});

describe('hash v1', () => {
  it.each(vectors.v1)('maps salt $salt and user $user_id to the frozen hash $hash', ({ salt, user_id, hash, bucket }) => {
    // Act
    const actual = { hash: hashV1(salt, user_id), bucket: bucketV1(salt, user_id) };

    // Assess
    expect(actual).toEqual({ hash, bucket });
  });

  it('puts composed and decomposed spellings of the same id in the same bucket', () => {
    // Prepare
    const composed = 'Jos\u00e9';
    const decomposed = 'Jose\u0301';

    // Act
    const buckets = [bucketV1('exp', composed), bucketV1('exp', decomposed)];

    // Assess
    expect(composed).not.toBe(decomposed);
    expect(buckets[0]).toBe(buckets[1]);
  });

  it('always returns an integer bucket in [0, 10000)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string(), (salt, userId) => {
        const bucket = bucketV1(salt, userId);
        return Number.isInteger(bucket) && bucket >= 0 && bucket < BUCKET_COUNT;
      }),
      { seed: 4, numRuns: 2000 },
    );
  });

  it('derives the unit interval value from the full 32-bit hash', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (salt, userId) => {
        const u = unitIntervalV1(salt, userId);
        return u >= 0 && u < 1 && u === hashV1(salt, userId) / 2 ** 32;
      }),
      { seed: 5, numRuns: 500 },
    );
  });
});
