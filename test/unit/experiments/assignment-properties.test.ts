/**
 * Properties of the assignment hash and of resolveAssignment over arbitrary users, salts,
 * weights, holdouts and coverages (fast-check): deterministic, sticky, inside the bucket range
 * its weight declares, blind to the Unicode normalisation form of the user id, and splitting
 * many random users within a binomial band of the weights.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Experiment, StoredAssignment } from '../../../lambdas/domain/experiments/index.ts';
import {
  BUCKET_COUNT,
  bucketV1,
  experimentBucket,
  getBucketRanges,
  hashV1,
  rampExperiment,
  resolveAssignment,
} from '../../../lambdas/domain/experiments/index.ts';
import { mulberry32 } from '../../../lambdas/domain/recommenders/data/random.ts';
import { LATER, runningExperiment } from './fixtures/experiments.ts';

/** Weights in basis points (each ≥ 1), 2 to 6 variants, summing to exactly 10,000; as fractions. */
const weightsArb = fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 2, maxLength: 6 }).map((shares) => {
  const total = shares.reduce((a, b) => a + b, 0);
  const bp = shares.map((s) => Math.max(1, Math.floor((s / total) * BUCKET_COUNT)));
  bp[bp.indexOf(Math.max(...bp))] += BUCKET_COUNT - bp.reduce((a, b) => a + b, 0);
  return bp.map((b) => b / BUCKET_COUNT);
});

/** Weights where some variants get nothing, as after a ramp to 0. */
const weightsWithZerosArb = weightsArb.chain((weights) =>
  fc.array(fc.boolean(), { minLength: weights.length, maxLength: weights.length }).map((zero) => {
    // The control (index 0) keeps its share; zeroed shares move to it, so the sum stays 1.
    const moved = weights.reduce((sum, w, i) => sum + (i > 0 && zero[i] ? w : 0), 0);
    return weights.map((w, i) => (i === 0 ? Math.round((w + moved) * BUCKET_COUNT) / BUCKET_COUNT : zero[i] ? 0 : w));
  }),
);

const saltArb = fc.stringMatching(/^[a-z0-9_-]{1,32}$/).filter((s) => !s.startsWith('__'));
/** Any user id, well-formed (ids with lone surrogates are refused at the edge). */
const userArb = fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), fc.uuid());
/** Ids whose NFC and NFD spellings differ: letters with combining marks, precomposed letters, Hangul syllables. */
const composableArb = fc.string({
  unit: fc.constantFrom('a', 'e', 'o', 'n', 'A', 'é', 'ñ', 'ö', 'Å', 'ệ', 'ǖ', '한', '글', 'ﬁ', '\u0301', '\u0308', '\u0323', '\u030a', '-', '1'),
  minLength: 1,
  maxLength: 24,
});

/** A running A/B experiment with these weights, salt, holdout and coverage. */
function experimentWith({
  weights,
  salt,
  holdout = 0,
  coverage = 1,
}: {
  weights: readonly number[];
  salt: string;
  holdout?: number;
  coverage?: number;
}): Experiment {
  return runningExperiment(weights, { salt, holdout_share: holdout, traffic_coverage: coverage });
}

/** The half-open bucket range (in 0..10000 units of the non-holdout positions) each variant owns. */
const rangesOf = (experiment: Experiment) => getBucketRanges({ weights: experiment.variants.map((v) => v.weight), coverage: experiment.traffic_coverage });

describe('hash v1 (properties)', () => {
  it('maps every salt and user to one integer bucket in [0, 10000), the same on every call', () => {
    fc.assert(
      fc.property(saltArb, userArb, (salt, user) => {
        const bucket = bucketV1(salt, user);
        expect(Number.isInteger(bucket)).toBe(true);
        expect(bucket).toBeGreaterThanOrEqual(0);
        expect(bucket).toBeLessThan(BUCKET_COUNT);
        expect(bucketV1(salt, user)).toBe(bucket);
        expect(hashV1(salt, user) % BUCKET_COUNT).toBe(bucket);
      }),
      { numRuns: 500 },
    );
  });

  it('hashes the NFC and NFD spellings of a user and of a salt alike', () => {
    fc.assert(
      fc.property(fc.oneof(composableArb, userArb), fc.oneof(composableArb, saltArb), (user, salt) => {
        const expected = hashV1(salt.normalize('NFC'), user.normalize('NFC'));
        expect(hashV1(salt.normalize('NFD'), user.normalize('NFD'))).toBe(expected);
        expect(hashV1(salt, user)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });
});

describe('getBucketRanges (properties)', () => {
  it('gives each variant a contiguous range of coverage × weight, in order, disjoint, inside [0, 1)', () => {
    fc.assert(
      fc.property(weightsWithZerosArb, fc.double({ min: 0.01, max: 1, noNaN: true }), (weights, coverage) => {
        const ranges = getBucketRanges({ weights, coverage });
        let cumulative = 0;
        ranges.forEach(([start, end], i) => {
          expect(start).toBeCloseTo(cumulative, 12);
          expect(end - start).toBeCloseTo(coverage * weights[i], 12);
          if (i > 0) expect(start).toBeGreaterThanOrEqual(ranges[i - 1][1] - 1e-12);
          expect(end).toBeLessThanOrEqual(1 + 1e-12);
          cumulative += weights[i];
        });
      }),
    );
  });
});

describe('resolveAssignment (properties)', () => {
  it('is deterministic: the same experiment (or a copy of it) and user give the same assignment', () => {
    fc.assert(
      fc.property(
        weightsArb,
        saltArb,
        userArb,
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 5, max: 100 }),
        (weights, salt, user, holdoutBp, coveragePct) => {
          const experiment = experimentWith({ weights, salt, holdout: holdoutBp / BUCKET_COUNT, coverage: coveragePct / 100 });
          const first = resolveAssignment({ experiment, userId: user });
          expect(resolveAssignment({ experiment, userId: user })).toEqual(first);
          expect(resolveAssignment({ experiment: structuredClone(experiment), userId: user })).toEqual(first);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('puts every user in the variant whose declared range holds their bucket, with its weight as propensity; never a variant of weight 0', () => {
    fc.assert(
      fc.property(weightsWithZerosArb, saltArb, userArb, (weights, salt, user) => {
        const experiment = experimentWith({ weights, salt });
        const assignment = resolveAssignment({ experiment, userId: user });
        const index = experiment.variants.findIndex((v) => v.name === assignment.variant);
        const [start, end] = rangesOf(experiment)[index];
        const position = assignment.bucket / BUCKET_COUNT;
        expect(assignment.source).toBe('hash');
        expect(position).toBeGreaterThanOrEqual(start);
        expect(position).toBeLessThan(end);
        expect(weights[index]).toBeGreaterThan(0);
        expect(assignment.propensity).toBe(weights[index]);
        expect(assignment).toMatchObject({ in_experiment: true, should_store: true, bucket: experimentBucket({ experiment, userId: user }) });
      }),
      { numRuns: 500 },
    );
  });

  it('sends the holdout buckets and the uncovered positions to the control, outside the test and unstored', () => {
    fc.assert(
      fc.property(
        weightsArb,
        saltArb,
        userArb,
        fc.integer({ min: 0, max: 9000 }),
        fc.integer({ min: 1, max: 100 }),
        (weights, salt, user, holdoutBp, coveragePct) => {
          const holdout = holdoutBp / BUCKET_COUNT;
          const coverage = coveragePct / 100;
          const experiment = experimentWith({ weights, salt, holdout, coverage });
          const assignment = resolveAssignment({ experiment, userId: user });
          const unit = assignment.bucket / BUCKET_COUNT;
          if (unit < holdout) {
            expect(assignment).toMatchObject({ source: 'holdout', variant: 'control', in_experiment: false, should_store: false });
            return;
          }
          const position = (unit - holdout) / (1 - holdout);
          const index = rangesOf(experiment).findIndex(([start, end]) => position >= start && position < end);
          if (index < 0) expect(assignment).toMatchObject({ source: 'not-covered', variant: 'control', in_experiment: false, should_store: false });
          else expect(assignment).toMatchObject({ source: 'hash', variant: experiment.variants[index].name, in_experiment: true });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('is sticky: a stored assignment to an active variant wins over any weights, also after a ramp; one to an unknown variant is recomputed', () => {
    fc.assert(
      fc.property(
        weightsArb,
        weightsArb,
        saltArb,
        userArb,
        fc.nat(),
        fc.integer({ min: 0, max: BUCKET_COUNT - 1 }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        (weights, later, salt, user, pick, bucket, propensity) => {
          const experiment = experimentWith({ weights, salt });
          const variant = experiment.variants[pick % experiment.variants.length].name;
          const stored: StoredAssignment = { variant, bucket, propensity };
          expect(resolveAssignment({ experiment, userId: user, stored })).toMatchObject({
            source: 'sticky',
            variant,
            bucket,
            propensity,
            should_store: false,
            in_experiment: true,
          });
          // A ramp to any other split (same variants) leaves the stored user where they were.
          const rampTo = Object.fromEntries(experiment.variants.map((v, i) => [v.name, later[i] ?? 0]));
          const total = Object.values(rampTo).reduce((a, b) => a + b, 0);
          rampTo.control += 1 - total;
          const ramped = rampExperiment(experiment, { request: { weights: rampTo }, now: LATER });
          expect(resolveAssignment({ experiment: ramped, userId: user, stored }).variant).toBe(variant);
          // A stored variant the experiment no longer has is not honoured.
          const gone = resolveAssignment({ experiment, userId: user, stored: { ...stored, variant: 'no-such-variant' } });
          expect(gone.source).toBe('hash');
          expect(gone).toEqual(resolveAssignment({ experiment, userId: user }));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('assigns the NFC and NFD spellings of a user alike, in A/B, bandit and interleaving modes', () => {
    fc.assert(
      fc.property(weightsArb, saltArb, composableArb, fc.constantFrom('ab', 'bandit', 'interleaving'), (weights, salt, user, mode) => {
        const experiment = runningExperiment(mode === 'interleaving' ? [0.5, 0.5] : weights, { salt, mode });
        const nfc = resolveAssignment({ experiment, userId: user.normalize('NFC') });
        expect(resolveAssignment({ experiment, userId: user.normalize('NFD') })).toEqual(nfc);
        expect(resolveAssignment({ experiment, userId: user })).toEqual(nfc);
      }),
      { numRuns: 300 },
    );
  });

  it('splits many random users within a binomial band (5 sigma) of the declared weights', () => {
    const USERS = 20_000;
    fc.assert(
      fc.property(weightsArb, saltArb, fc.integer(), (weights, salt, seed) => {
        const experiment = experimentWith({ weights, salt });
        const random = mulberry32(seed);
        const counts = new Map(experiment.variants.map((v) => [v.name, 0]));
        for (let i = 0; i < USERS; i++) {
          const user = `${Math.floor(random() * 2 ** 32).toString(36)}-${Math.floor(random() * 2 ** 32).toString(36)}`;
          const { variant } = resolveAssignment({ experiment, userId: user });
          counts.set(variant, counts.get(variant)! + 1);
        }
        experiment.variants.forEach((v) => {
          const expected = USERS * v.weight;
          const sigma = Math.sqrt(USERS * v.weight * (1 - v.weight));
          expect(Math.abs(counts.get(v.name)! - expected), `${v.name} (weight ${v.weight}): ${counts.get(v.name)} of ${USERS}`).toBeLessThanOrEqual(
            5 * sigma + 1,
          );
        });
      }),
      // A fixed seed: the band is statistical, so the run that passed is the run that is checked.
      { numRuns: 30, seed: 20_261_215 },
    );
  });
});
