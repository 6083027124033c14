/**
 * What `/recommend` does beyond plain A/B serving: the Thompson-sampling allocation of a bandit
 * experiment (from the counters, cached briefly in the warm container) and the team-draft
 * interleaving of two models' lists.
 */
import { banditAllocationFor, type ArmCounters, type BanditAllocation } from '../domain/experiments/bandit.ts';
import { interleavingTeams } from '../domain/experiments/assignment.ts';
import type { Experiment } from '../domain/experiments/model.ts';
import { teamDraftInterleave, type Team } from '../domain/experiments/interleaving.ts';
import { recommendTopN, type Recommendations, type ServingModel } from '../domain/recommenders/top-n.ts';
import type { CounterRepository } from '../storage/counter-store.ts';

/**
 * The bandit's arm counters: successes are users who converted on the target metric
 * (clickers for click-through, converters for conversion), trials the exposed users — one
 * Beta-Bernoulli observation per user, as the posterior assumes.
 */
export async function banditCounters(experiment: Experiment, counters: CounterRepository): Promise<ArmCounters> {
  const active = experiment.variants.filter((v) => v.active);
  const days = await Promise.all(active.map(async (variant) => [variant.name, await counters.dailyCounters(experiment.id, variant.name)] as const));
  return armCountersOf(experiment, Object.fromEntries(days));
}

/** The arm counters of {@link banditCounters} from daily counter rows already read, by variant. */
export function armCountersOf(experiment: Experiment, daysByVariant: Readonly<Record<string, readonly Readonly<Record<string, unknown>>[]>>): ArmCounters {
  const successField = experiment.target_metric.kind === 'conversion' ? 'converters' : 'clickers';
  const entries = experiment.variants
    .filter((v) => v.active)
    .map((variant) => {
      let successes = 0;
      let trials = 0;
      for (const day of daysByVariant[variant.name] ?? []) {
        successes += Number(day[successField] ?? 0);
        trials += Number(day.exposed_users ?? 0);
      }
      return [variant.name, { successes: Math.min(successes, trials), trials }] as const;
    });
  return Object.fromEntries(entries);
}

/** Allocations per experiment, recomputed at most once per `ttlMs` (a few ms each, plus one Query per arm). */
export class BanditAllocationCache {
  private readonly cached = new Map<string, { at: number; revision: number; allocation: Promise<BanditAllocation> }>();

  constructor(
    private readonly counters: CounterRepository,
    private readonly ttlMs = 60_000,
  ) {}

  get(experiment: Experiment, now: number): Promise<BanditAllocation> {
    const hit = this.cached.get(experiment.id);
    if (hit && hit.revision === experiment.revision && now - hit.at < this.ttlMs) return hit.allocation;
    const allocation = banditCounters(experiment, this.counters).then((counters) => banditAllocationFor({ experiment, counters }));
    allocation.catch(() => this.cached.delete(experiment.id));
    this.cached.set(experiment.id, { at: now, revision: experiment.revision, allocation });
    return allocation;
  }
}

export interface InterleavedSlate {
  items: { itemId: string; score: number; rank: number; team: Team; variant: string }[];
  fallback?: Recommendations['fallback'];
}

/**
 * Team-draft interleaving of the control's (team a) and the treatment's (team b) top-N lists
 * for one user; each shown item carries the team and variant that contributed it, so a click
 * can be credited to its model.
 */
export function interleaveSlates({
  experiment,
  servingA,
  servingB,
  userId,
  requestId,
  topN,
}: {
  experiment: Experiment;
  servingA: ServingModel;
  servingB: ServingModel;
  userId: string;
  requestId: string;
  topN: number;
}): InterleavedSlate {
  const teams = interleavingTeams(experiment);
  const a = recommendTopN(servingA, userId, topN);
  const b = recommendTopN(servingB, userId, topN);
  const scores = new Map<string, number>();
  for (const item of [...b.items, ...a.items]) scores.set(item.itemId, item.score);
  const mixed = teamDraftInterleave({ listA: a.items.map((i) => i.itemId), listB: b.items.map((i) => i.itemId), userId, requestId, length: topN });
  return {
    items: mixed.map((item, index) => ({
      itemId: item.item_id,
      score: scores.get(item.item_id) ?? 0,
      rank: index + 1,
      team: item.team,
      variant: item.team === 'a' ? teams.a.name : teams.b.name,
    })),
    fallback: a.fallback ?? b.fallback,
  };
}
