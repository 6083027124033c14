/**
 * Experiments that follow the latest models switch every arm together, in one conditional
 * write, and record it; pinned experiments and partly retrained ones keep their versions.
 */
import { describe, expect, it } from 'vitest';
import { createExperiment } from '../../../lambdas/domain/experiments/lifecycle.ts';
import type { CreateExperimentInput, Experiment } from '../../../lambdas/domain/experiments/model.ts';
import { followedModelIds, switchFollowingExperiments } from '../../../lambdas/services/model-following.ts';
import { ConcurrentModificationError, type ExperimentRepository, type StoredAssignment } from '../../../lambdas/storage/experiment-repository.ts';

const CREATED = new Date('2026-11-01T00:00:00Z');
const RUN_AT = new Date('2026-11-08T02:00:00Z');

function experiment(id: string, overrides: Partial<CreateExperimentInput> = {}): Experiment {
  return createExperiment({
    now: CREATED,
    request: {
      id,
      name: id,
      status: 'running',
      variants: [
        { name: 'control', model_id: 'popularity', model_version: 'v1', weight: 0.5, is_control: true },
        { name: 'treatment', model_id: 'als', model_version: 'v1', weight: 0.5 },
      ],
      target_metric: { kind: 'click_through' },
      ...overrides,
    },
  });
}

/** An experiments table in memory with the revision check of the DynamoDB one; `beforeUpdate` lets a test edit in between. */
class MemoryExperiments implements ExperimentRepository {
  readonly items = new Map<string, Experiment>();
  updates = 0;
  beforeUpdate?: (id: string) => void;

  constructor(experiments: Experiment[]) {
    for (const e of experiments) this.items.set(e.id, e);
  }
  async get(id: string) {
    return this.items.get(id);
  }
  async list() {
    return [...this.items.values()];
  }
  async create(e: Experiment) {
    if (this.items.has(e.id)) throw new ConcurrentModificationError(e.id);
    this.items.set(e.id, e);
  }
  async update(e: Experiment, expectedRevision: number) {
    this.updates++;
    this.beforeUpdate?.(e.id);
    if (this.items.get(e.id)?.revision !== expectedRevision) throw new ConcurrentModificationError(`${e.id} at another revision`);
    this.items.set(e.id, e);
  }
  async getAssignment(): Promise<StoredAssignment | undefined> {
    return undefined;
  }
  async putAssignmentIfAbsent(a: StoredAssignment) {
    return a;
  }
  async claimExposure() {
    return false;
  }
  async releaseExposure() {}
}

const versionsOf = (e: Experiment | undefined) => Object.fromEntries((e?.variants ?? []).map((v) => [v.name, v.model_version]));

describe('followedModelIds', () => {
  it('names every arm model of running following experiments once, sorted, and no pinned or stopped one', () => {
    const experiments = [
      experiment('follows', { follow_latest: true }),
      experiment('follows-too', {
        follow_latest: true,
        variants: [
          { name: 'control', model_id: 'als', model_version: 'v1', weight: 0.5, is_control: true },
          { name: 'treatment', model_id: 'content', model_version: 'v1', weight: 0.5 },
        ],
      }),
      experiment('pinned', {
        variants: [
          { name: 'control', model_id: 'pinned-only', model_version: 'v1', weight: 0.5, is_control: true },
          { name: 'b', model_id: 'x', model_version: 'v1', weight: 0.5 },
        ],
      }),
      experiment('draft', {
        status: 'draft',
        follow_latest: true,
        variants: [
          { name: 'control', model_id: 'draft-only', model_version: 'v1', weight: 0.5, is_control: true },
          { name: 'b', model_id: 'y', model_version: 'v1', weight: 0.5 },
        ],
      }),
    ];

    expect(followedModelIds(experiments)).toEqual(['als', 'content', 'popularity']);
  });
});

describe('switchFollowingExperiments', () => {
  it('switches every arm together in one write and records the switch after the initial versions', async () => {
    const repository = new MemoryExperiments([experiment('follows', { follow_latest: true })]);

    const outcomes = await switchFollowingExperiments(
      { experiments: repository },
      { published: { popularity: 'v2', als: 'v7', unrelated: 'v3' }, runId: 'run-1', now: RUN_AT },
    );

    expect(outcomes).toEqual([{ experiment_id: 'follows', switched: true, versions: { control: 'v2', treatment: 'v7' } }]);
    expect(repository.updates).toBe(1);
    const stored = repository.items.get('follows')!;
    expect(versionsOf(stored)).toEqual({ control: 'v2', treatment: 'v7' });
    expect(stored.revision).toBe(1);
    expect(stored.model_history).toEqual([
      {
        at: CREATED.toISOString(),
        versions: { control: { model_id: 'popularity', model_version: 'v1' }, treatment: { model_id: 'als', model_version: 'v1' } },
      },
      {
        at: RUN_AT.toISOString(),
        run_id: 'run-1',
        versions: { control: { model_id: 'popularity', model_version: 'v2' }, treatment: { model_id: 'als', model_version: 'v7' } },
      },
    ]);
  });

  it('switches no arm when only some of the arms were published, and says which', async () => {
    const repository = new MemoryExperiments([experiment('follows', { follow_latest: true })]);

    const [outcome] = await switchFollowingExperiments({ experiments: repository }, { published: { als: 'v7' }, runId: 'run-1', now: RUN_AT });

    expect(outcome.switched).toBe(false);
    expect(outcome.reason).toMatch(/arms switch together: no new version of popularity \(variants control\)/);
    expect(repository.updates).toBe(0);
    expect(versionsOf(repository.items.get('follows'))).toEqual({ control: 'v1', treatment: 'v1' });
  });

  it('never touches a pinned experiment, even when all of its models were published', async () => {
    const pinned = experiment('pinned');
    const repository = new MemoryExperiments([pinned, experiment('pinned-false', { follow_latest: false })]);

    const outcomes = await switchFollowingExperiments({ experiments: repository }, { published: { popularity: 'v2', als: 'v7' }, runId: 'run-1', now: RUN_AT });

    expect(outcomes).toEqual([]);
    expect(repository.items.get('pinned')).toEqual(pinned);
    expect(repository.updates).toBe(0);
  });

  it('retries on the fresh revision when an operator edits the experiment in between, keeping the edit', async () => {
    const repository = new MemoryExperiments([experiment('follows', { follow_latest: true })]);
    let edits = 0;
    repository.beforeUpdate = (id) => {
      if (edits++ > 0) return;
      const current = repository.items.get(id)!;
      repository.items.set(id, { ...current, name: 'renamed', revision: current.revision + 1 });
    };

    const [outcome] = await switchFollowingExperiments(
      { experiments: repository },
      { published: { popularity: 'v2', als: 'v7' }, runId: 'run-1', now: RUN_AT },
    );

    expect(outcome).toEqual({ experiment_id: 'follows', switched: true, versions: { control: 'v2', treatment: 'v7' } });
    expect(repository.updates).toBe(2);
    const stored = repository.items.get('follows')!;
    expect(stored.name).toBe('renamed');
    expect(stored.revision).toBe(2);
    expect(versionsOf(stored)).toEqual({ control: 'v2', treatment: 'v7' });
  });

  it('gives up after a few lost writes and reports it unswitched, writing nothing', async () => {
    const repository = new MemoryExperiments([experiment('follows', { follow_latest: true })]);
    repository.beforeUpdate = (id) => {
      const current = repository.items.get(id)!;
      repository.items.set(id, { ...current, revision: current.revision + 1 });
    };

    const [outcome] = await switchFollowingExperiments(
      { experiments: repository },
      { published: { popularity: 'v2', als: 'v7' }, runId: 'run-1', now: RUN_AT },
    );

    expect(outcome.switched).toBe(false);
    expect(outcome.reason).toMatch(/changed concurrently 4 times/);
    expect(versionsOf(repository.items.get('follows'))).toEqual({ control: 'v1', treatment: 'v1' });
  });

  it('skips a following experiment stopped by an operator before its write, and one already on the published versions', async () => {
    const repository = new MemoryExperiments([
      experiment('follows', { follow_latest: true }),
      experiment('current', {
        follow_latest: true,
        variants: [
          { name: 'control', model_id: 'popularity', model_version: 'v2', weight: 0.5, is_control: true },
          { name: 'treatment', model_id: 'als', model_version: 'v7', weight: 0.5 },
        ],
      }),
    ]);
    repository.beforeUpdate = (id) => {
      const current = repository.items.get(id)!;
      repository.items.set(id, { ...current, status: 'stopped', revision: current.revision + 1 });
    };

    const outcomes = await switchFollowingExperiments({ experiments: repository }, { published: { popularity: 'v2', als: 'v7' }, runId: 'run-1', now: RUN_AT });

    expect(outcomes).toEqual([
      { experiment_id: 'follows', switched: false, reason: 'status is stopped' },
      { experiment_id: 'current', switched: false, reason: 'every arm already serves the published version' },
    ]);
  });

  it('lets a storage failure other than a lost write through', async () => {
    const repository = new MemoryExperiments([experiment('follows', { follow_latest: true })]);
    repository.beforeUpdate = () => {
      throw new Error('throttled');
    };

    await expect(
      switchFollowingExperiments({ experiments: repository }, { published: { popularity: 'v2', als: 'v7' }, runId: 'run-1', now: RUN_AT }),
    ).rejects.toThrow('throttled');
  });
});
