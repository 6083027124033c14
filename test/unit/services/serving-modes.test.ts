import { describe, expect, it } from 'vitest';
import { defaultExperiment } from '../../../lambdas/domain/experiments/defaults.ts';
import type { Experiment } from '../../../lambdas/domain/experiments/model.ts';
import { prepareForServing } from '../../../lambdas/domain/recommenders/top-n.ts';
import { BanditAllocationCache, banditCounters, interleaveSlates } from '../../../lambdas/services/serving-modes.ts';
import type { CounterRepository, DailyCounter } from '../../../lambdas/storage/counter-store.ts';
import { tinyModel } from '../../helpers/models.ts';

const base = defaultExperiment({
  controlModel: { model_id: 'a', model_version: '1111111111111111' },
  treatmentModel: { model_id: 'b', model_version: '2222222222222222' },
  now: new Date('2026-11-01T00:00:00Z'),
});

function countersOf(days: Record<string, DailyCounter<number>[]>): CounterRepository & { queries: number } {
  const repo = {
    queries: 0,
    add: async () => {},
    countExposure: async () => {},
    addUserTotals: async () => ({ clicks: 0, impressions: 0, purchases: 0, revenue_cents: 0, watch_ms: 0 }),
    dailyCounters: async (_experimentId: string, variant: string) => {
      repo.queries++;
      return days[variant] ?? [];
    },
    exactDailyCounters: async (_experimentId: string, variant: string) => {
      repo.queries++;
      return days[variant] ?? [];
    },
  };
  return repo;
}

describe('bandit counters', () => {
  it('sums users who clicked and exposed users per arm over the days', async () => {
    const repo = countersOf({
      control: [
        { day: '2026-11-01', exposed_users: 100, clickers: 10 },
        { day: '2026-11-02', exposed_users: 50, clickers: 5 },
      ],
      treatment: [{ day: '2026-11-01', exposed_users: 120, clickers: 30 }],
    });

    expect(await banditCounters(base, repo)).toEqual({ control: { successes: 15, trials: 150 }, treatment: { successes: 30, trials: 120 } });
  });

  it('counts converters for a conversion target', async () => {
    const experiment = { ...base, target_metric: { kind: 'conversion' } } as Experiment;
    const repo = countersOf({ control: [{ day: 'd', exposed_users: 10, converters: 2, clickers: 9 }] });

    expect((await banditCounters(experiment, repo)).control).toEqual({ successes: 2, trials: 10 });
  });

  it('favours the better arm, never starves the other, and is cached until the TTL or a new revision', async () => {
    const repo = countersOf({
      control: [{ day: 'd', exposed_users: 2000, clickers: 80 }],
      treatment: [{ day: 'd', exposed_users: 2000, clickers: 160 }],
    });
    const cache = new BanditAllocationCache(repo, 1000);

    const allocation = await cache.get(base, 0);
    await cache.get(base, 500);
    const queriesWhileCached = repo.queries;
    await cache.get(base, 1500);
    await cache.get({ ...base, revision: base.revision + 1 }, 1600);

    expect(allocation.treatment).toBeGreaterThan(0.9);
    expect(allocation.control).toBeGreaterThanOrEqual(0.05 - 1e-12);
    expect(allocation.control + allocation.treatment).toBeCloseTo(1, 12);
    expect(queriesWhileCached).toBe(2);
    expect(repo.queries).toBe(6);
  });
});

describe('interleaved slates', () => {
  const servingA = prepareForServing(tinyModel());
  const servingB = prepareForServing(tinyModel({ userFactors: Float32Array.from([0, 1, 1, 0, 0.5, 0.5]) }));
  const experiment = { ...base, mode: 'interleaving' } as Experiment;

  it('mixes both lists without duplicates, each item tagged with the team and variant that chose it', () => {
    const slate = interleaveSlates({ experiment, servingA, servingB, userId: 'u1', requestId: 'r1', topN: 4 });

    expect(slate.items).toHaveLength(4);
    expect(new Set(slate.items.map((i) => i.itemId)).size).toBe(4);
    expect(slate.items.map((i) => i.rank)).toEqual([1, 2, 3, 4]);
    for (const item of slate.items) expect(item.variant).toBe(item.team === 'a' ? 'control' : 'treatment');
    expect(new Set(slate.items.map((i) => i.team))).toEqual(new Set(['a', 'b']));
  });

  it('is reproducible for the same user and request', () => {
    const first = interleaveSlates({ experiment, servingA, servingB, userId: 'u1', requestId: 'r1', topN: 4 });
    const again = interleaveSlates({ experiment, servingA, servingB, userId: 'u1', requestId: 'r1', topN: 4 });

    expect(again).toEqual(first);
  });
});
