import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import jStat from 'jstat';
import { describe, expect, it } from 'vitest';
import type { Experiment } from '../../../lambdas/domain/experiments/index.ts';
import { mulberry32 } from '../../../lambdas/domain/recommenders/data/random.ts';
import {
  allocateLayerRange,
  BUCKET_COUNT,
  chooseVariantIndex,
  experimentBucket,
  getBucketRanges,
  hashV1,
  isInLayer,
  promoteExperiment,
  rampExperiment,
  resolveAssignment,
  stopExperiment,
} from '../../../lambdas/domain/experiments/index.ts';
import { LATER, makeExperiment, runningExperiment, userIds, variantsWithWeights } from './fixtures/experiments.ts';

/** Pearson chi-square statistic of observed counts against expected counts. */
function chiSquare(observed: readonly number[], expected: readonly number[]): number {
  return observed.reduce((sum, o, i) => sum + (o - expected[i]) ** 2 / expected[i], 0);
}

/** Critical value: a correct hash exceeds it with probability 1 - level. */
function chiSquareBound(degreesOfFreedom: number, level = 0.999): number {
  return jStat.chisquare.inv(level, degreesOfFreedom);
}

/** Random-looking hex ids from a seeded generator (UUID-like, unlike the sequential ones). */
function randomIds(count: number, seed: number): string[] {
  const random = mulberry32(seed);
  const hex = () =>
    Math.floor(random() * 2 ** 32)
      .toString(16)
      .padStart(8, '0');
  return Array.from({ length: count }, () => `${hex()}-${hex()}-${hex()}`);
}

/** How many users each variant received. */
function countVariants(experiment: Experiment, ids: readonly string[]): number[] {
  const index = new Map(experiment.variants.map((v, i) => [v.name, i]));
  const counts = experiment.variants.map(() => 0);
  for (const userId of ids) counts[index.get(resolveAssignment({ experiment, userId }).variant)!]++;
  return counts;
}

describe('getBucketRanges', () => {
  it('turns weights into consecutive ranges scaled by coverage', () => {
    expect(getBucketRanges({ weights: [0.5, 0.3, 0.2], coverage: 0.5 })).toEqual([
      [0, 0.25],
      [0.5, 0.65],
      [0.8, 0.9],
    ]);
  });

  it('leaves positions outside every range unassigned', () => {
    // Prepare
    const ranges = getBucketRanges({ weights: [0.5, 0.5], coverage: 0.5 });

    // Act
    const chosen = [0, 0.3, 0.5, 0.8].map((position) => chooseVariantIndex(position, ranges));

    // Assess
    expect(chosen).toEqual([0, -1, 1, -1]);
  });
});

describe('resolveAssignment: balance', () => {
  it.each([
    ['sequential ids', userIds(100_000)],
    ['random ids', randomIds(100_000, 11)],
  ])('splits 100,000 %s 50/30/20 within the chi-square bound', (_, ids) => {
    // Prepare
    const experiment = runningExperiment([0.5, 0.3, 0.2]);

    // Act
    const counts = countVariants(experiment, ids);

    // Assess
    const statistic = chiSquare(
      counts,
      [0.5, 0.3, 0.2].map((w) => w * ids.length),
    );
    expect(statistic).toBeLessThan(chiSquareBound(2));
  });

  it('keeps the holdout and coverage shares within the chi-square bound', () => {
    // Prepare: 10% holdout, then 50% coverage of the rest, split 50/50
    const experiment = runningExperiment([0.5, 0.5], { holdout_share: 0.1, traffic_coverage: 0.5 });
    const ids = userIds(100_000, 'visitor-');

    // Act
    const sources = { holdout: 0, 'not-covered': 0, control: 0, treatment: 0 };
    for (const userId of ids) {
      const a = resolveAssignment({ experiment, userId });
      if (a.source === 'holdout' || a.source === 'not-covered') sources[a.source]++;
      else sources[a.variant === 'control' ? 'control' : 'treatment']++;
    }

    // Assess
    const expected = [0.1, 0.45, 0.225, 0.225].map((p) => p * ids.length);
    expect(chiSquare(Object.values(sources), expected)).toBeLessThan(chiSquareBound(3));
  });

  it('never assigns a variant of weight 0 and gives every user a valid variant', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.string(), (treatmentTenths, userId) => {
        const experiment = runningExperiment([treatmentTenths / 10, 0, 1 - treatmentTenths / 10]);
        const assignment = resolveAssignment({ experiment, userId });
        return assignment.variant !== 'treatment-1' && assignment.bucket >= 0 && assignment.bucket < BUCKET_COUNT;
      }),
      { seed: 21, numRuns: 300 },
    );
  });
});

describe('resolveAssignment: independence', () => {
  it('assigns two experiments with different salts independently (contingency chi-square)', () => {
    // Prepare
    const first = runningExperiment([0.5, 0.3, 0.2], { id: 'first' });
    const second = runningExperiment([0.4, 0.6], { id: 'second' });
    const ids = userIds(100_000);

    // Act
    const table = [
      [0, 0],
      [0, 0],
      [0, 0],
    ];
    const rowOf = new Map(first.variants.map((v, i) => [v.name, i]));
    const columnOf = new Map(second.variants.map((v, i) => [v.name, i]));
    for (const userId of ids) {
      const row = rowOf.get(resolveAssignment({ experiment: first, userId }).variant)!;
      const column = columnOf.get(resolveAssignment({ experiment: second, userId }).variant)!;
      table[row][column]++;
    }

    // Assess: expected cell = row total * column total / n
    const rows = table.map((r) => r[0] + r[1]);
    const columns = [0, 1].map((c) => table.reduce((sum, r) => sum + r[c], 0));
    const observed = table.flat();
    const expected = rows.flatMap((r) => columns.map((c) => (r * c) / ids.length));
    expect(chiSquare(observed, expected)).toBeLessThan(chiSquareBound((3 - 1) * (2 - 1)));
  });
});

describe('resolveAssignment: stability', () => {
  it('gives every user the same variant on every call', () => {
    fc.assert(
      fc.property(fc.string(), (userId) => {
        const experiment = runningExperiment([0.25, 0.25, 0.5]);
        const first = resolveAssignment({ experiment, userId });
        const second = resolveAssignment({ experiment, userId });
        return first.variant === second.variant;
      }),
      { seed: 31, numRuns: 500 },
    );
  });

  it('computes the same hashes for 1,000 ids in a separate Node process', () => {
    // Prepare
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const script = fileURLToPath(new URL('./fixtures/print-buckets.ts', import.meta.url));
    const inProcess = Array.from({ length: 1000 }, (_, i) => hashV1('stability', `user-${i}`));

    // Act
    const output = execFileSync(`${root}node_modules/.bin/node`, ['--import', 'tsx', script, 'stability', '1000'], {
      cwd: root,
      encoding: 'utf8',
    });

    // Assess
    expect(JSON.parse(output)).toEqual(inProcess);
  });

  it('keeps covered users in their variant when coverage grows', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 9 }), (userId, tenths) => {
        const narrow = runningExperiment([0.5, 0.5], { traffic_coverage: tenths / 10 });
        const wide = runningExperiment([0.5, 0.5], { traffic_coverage: 1 });
        const before = resolveAssignment({ experiment: narrow, userId });
        return before.source !== 'hash' || resolveAssignment({ experiment: wide, userId }).variant === before.variant;
      }),
      { seed: 41, numRuns: 1000 },
    );
  });
});

describe('resolveAssignment: layers', () => {
  it('puts each user in at most one experiment of a layer', () => {
    // Prepare
    const a = makeExperiment({ id: 'layer-a', status: 'running', layer: { name: 'home', share: 0.2 } });
    const b = makeExperiment({ id: 'layer-b', status: 'running', layer: { name: 'home', share: 0.3 } }, [a]);
    const c = makeExperiment({ id: 'layer-c', status: 'running', layer: { name: 'home', share: 0.5 } }, [a, b]);
    const ids = userIds(30_000);

    // Act
    const memberships = ids.map((userId) => [a, b, c].filter((experiment) => resolveAssignment({ experiment, userId }).in_experiment).length);
    const perExperiment = [a, b, c].map((experiment) => ids.filter((userId) => resolveAssignment({ experiment, userId }).in_experiment).length);

    // Assess
    expect(Math.max(...memberships)).toBe(1);
    expect(memberships.every((m) => m === 1)).toBe(true);
    expect(
      chiSquare(
        perExperiment,
        [0.2, 0.3, 0.5].map((s) => s * ids.length),
      ),
    ).toBeLessThan(chiSquareBound(2));
  });

  it('keeps disjoint layer ranges exclusive for any users and any split point', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: BUCKET_COUNT - 1 }), fc.array(fc.string(), { minLength: 1, maxLength: 50 }), (split, ids) => {
        const left = { name: 'search', bucket_start: 0, bucket_end: split };
        const right = { name: 'search', bucket_start: split, bucket_end: BUCKET_COUNT };
        return ids.every((userId) => isInLayer({ layer: left, userId }) !== isInLayer({ layer: right, userId }));
      }),
      { seed: 51, numRuns: 300 },
    );
  });

  it('serves the control, outside the test, to users outside the layer range', () => {
    // Prepare
    const experiment = makeExperiment({ status: 'running', layer: { name: 'home', bucket_start: 0, bucket_end: 1 } });
    const outsider = userIds(100).find((userId) => !isInLayer({ layer: experiment.layer!, userId }))!;

    // Act
    const assignment = resolveAssignment({ experiment, userId: outsider });

    // Assess
    expect(assignment).toMatchObject({ variant: 'control', source: 'not-in-layer', in_experiment: false, should_store: false });
  });
});

describe('allocateLayerRange', () => {
  it('finds a gap between taken ranges', () => {
    expect(
      allocateLayerRange({
        share: 0.1,
        taken: [
          { bucket_start: 0, bucket_end: 1000 },
          { bucket_start: 3000, bucket_end: 10000 },
        ],
      }),
    ).toEqual({
      bucket_start: 1000,
      bucket_end: 2000,
    });
  });

  it('never returns a range overlapping a taken one', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0.01, max: 0.5, noNaN: true }), { maxLength: 8 }), (shares) => {
        const taken: { bucket_start: number; bucket_end: number }[] = [];
        for (const share of shares) {
          const range = allocateLayerRange({ share, taken });
          if (!range) continue;
          if (taken.some((t) => range.bucket_start < t.bucket_end && t.bucket_start < range.bucket_end)) return false;
          if (range.bucket_end > BUCKET_COUNT) return false;
          taken.push(range);
        }
        return true;
      }),
      { seed: 61, numRuns: 300 },
    );
  });
});

describe('resolveAssignment: lifecycle and stickiness', () => {
  it('records the weight as propensity and asks the caller to store a fresh assignment', () => {
    // Act
    const assignment = resolveAssignment({ experiment: runningExperiment([0.9, 0.1]), userId: 'user-1' });

    // Assess
    expect(assignment.source).toBe('hash');
    expect(assignment.should_store).toBe(true);
    expect(assignment.propensity).toBe(assignment.variant === 'control' ? 0.9 : 0.1);
  });

  it.each(['draft', 'stopped'] as const)('serves the control of a %s experiment', (status) => {
    // Prepare
    const experiment =
      status === 'draft' ? makeExperiment({ variants: variantsWithWeights([0, 1]) }) : stopExperiment(runningExperiment([0, 1]), { now: LATER });

    // Act
    const assignments = userIds(50).map((userId) => resolveAssignment({ experiment, userId, stored: { variant: 'treatment-1', bucket: 1, propensity: 1 } }));

    // Assess
    expect(new Set(assignments.map((a) => `${a.variant}/${a.source}/${a.in_experiment}`))).toEqual(new Set(['control/control-fallback/false']));
  });

  it('serves the winner of a completed experiment to everybody', () => {
    // Prepare
    const completed = promoteExperiment(runningExperiment([0.5, 0.5]), { winner: 'treatment-1', force: true, now: LATER });

    // Act
    const variants = new Set(userIds(200).map((userId) => resolveAssignment({ experiment: completed, userId }).variant));

    // Assess
    expect(variants).toEqual(new Set(['treatment-1']));
  });

  it('keeps a stored assignment after a ramp moves all new traffic elsewhere', () => {
    // Prepare
    const before = runningExperiment([0.5, 0.5]);
    const userId = userIds(100).find((id) => resolveAssignment({ experiment: before, userId: id }).variant === 'treatment-1')!;
    const first = resolveAssignment({ experiment: before, userId });
    const after = rampExperiment(before, { request: { weights: { control: 1, 'treatment-1': 0 } }, now: LATER });

    // Act
    const sticky = resolveAssignment({ experiment: after, userId, stored: first });
    const fresh = resolveAssignment({ experiment: after, userId });

    // Assess
    expect(sticky).toMatchObject({ variant: 'treatment-1', source: 'sticky', propensity: 0.5, should_store: false, in_experiment: true });
    expect(fresh.variant).toBe('control');
  });

  it('recomputes when the stored variant no longer exists', () => {
    // Act
    const assignment = resolveAssignment({ experiment: runningExperiment([0.5, 0.5]), userId: 'u', stored: { variant: 'gone', bucket: 0, propensity: 1 } });

    // Assess
    expect(assignment.source).toBe('hash');
  });

  it('reports the experiment bucket of the user', () => {
    // Prepare
    const experiment = runningExperiment([0.5, 0.5], { salt: 'fixed-salt' });

    // Act
    const assignment = resolveAssignment({ experiment, userId: 'user-1' });

    // Assess
    expect(assignment.bucket).toBe(experimentBucket({ experiment, userId: 'user-1' }));
    expect(assignment.bucket).toBe(hashV1('fixed-salt', 'user-1') % BUCKET_COUNT);
  });
});

describe('resolveAssignment: bandit and interleaving modes', () => {
  it('draws bandit arms from the given allocation and records its probability', () => {
    // Prepare
    const experiment = runningExperiment([0.5, 0.5], { mode: 'bandit' });
    const allocation = { control: 0.2, 'treatment-1': 0.8 };
    const ids = userIds(20_000);

    // Act
    const assignments = ids.map((userId) => resolveAssignment({ experiment, userId, banditAllocation: allocation }));

    // Assess
    const treated = assignments.filter((a) => a.variant === 'treatment-1').length;
    expect(chiSquare([ids.length - treated, treated], [0.2 * ids.length, 0.8 * ids.length])).toBeLessThan(chiSquareBound(1));
    expect(assignments.every((a) => a.source === 'bandit' && a.propensity === allocation[a.variant as keyof typeof allocation])).toBe(true);
  });

  it('serves the control list owner for interleaving without storing anything', () => {
    // Act
    const assignment = resolveAssignment({ experiment: runningExperiment([0.5, 0.5], { mode: 'interleaving' }), userId: 'user-1' });

    // Assess
    expect(assignment).toMatchObject({ source: 'interleaving', in_experiment: true, should_store: false, propensity: 1 });
  });
});
