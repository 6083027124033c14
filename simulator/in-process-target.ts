/**
 * The simulation target of the benchmark: the same domain code the API runs, in process, with no
 * store: assignment by the same hash (sticky), slates by the serving top-N over the same
 * artifact, and each event's counter increments by the same arithmetic the events repository
 * applies (event increments plus the user-level statistics from each user's running totals),
 * exactly once per event id. Many seeds of a large population then run in seconds, and the
 * counters it keeps are read by the same analysis (`analysisFromCounters`) as the service's.
 */
import {
  addIncrements,
  addTotals,
  covariateExposureIncrements,
  userStatIncrements,
  userTotalsDelta,
  ZERO_TOTALS,
  type Increments,
  type UserTotals,
} from '../lambdas/domain/events/counters.ts';
import { analysisDay, counterIncrements } from '../lambdas/domain/events/event.ts';
import { userCapsOf } from '../lambdas/domain/experiments/caps.ts';
import { UNKNOWN_PROFILE, type UserProfile } from '../lambdas/domain/experiments/user-profile.ts';
import { segmentKey, userTypeOf } from '../lambdas/domain/experiments/user-segments.ts';
import { resolveAssignment } from '../lambdas/domain/experiments/assignment.ts';
import { banditAllocationFor, type BanditAllocation } from '../lambdas/domain/experiments/bandit.ts';
import { banditExposureIncrements, banditRewardIncrements, loggedAllocation } from '../lambdas/domain/events/bandit-counters.ts';
import { armCountersOf } from '../lambdas/services/serving-modes.ts';
import type { Experiment } from '../lambdas/domain/experiments/model.ts';
import { DAY_MS } from '../local/clock.ts';
import type { SlateItem } from './behaviour.ts';
import type { SimulationTarget } from './run.ts';
import type { DailyCounter } from '../lambdas/storage/counter-store.ts';

export interface InProcessTarget extends SimulationTarget {
  /** The daily counters per variant, as `CounterRepository.dailyCounters` returns them. */
  countersByVariant: () => Record<string, DailyCounter[]>;
  /** The UTC day of the last simulated day. */
  lastDay: () => string;
}

export function createInProcessTarget({
  experiment,
  slateOf,
  firstDayMs,
  banditRefreshEvery = 50,
  profileOf = () => UNKNOWN_PROFILE,
  clientSegmentOf = () => undefined,
}: {
  experiment: Experiment;
  /** The top-N list the variant's model serves this user (deterministic per user and model). */
  slateOf: (variant: string, userId: string) => SlateItem[];
  /** Midnight (UTC) of the first simulated day. */
  firstDayMs: number;
  /**
   * A bandit's Thompson allocation is recomputed from the counters at the start of every day and
   * after this many new assignments (the service: at most once a minute per container).
   */
  banditRefreshEvery?: number;
  /** What the control model knows of a user before their first exposure (the service reads it from the control artifact); unknown by default. */
  profileOf?: (userId: string) => UserProfile;
  /** The client segment a user's first request sends (`segment`, one of the experiment's declared ones); none by default. */
  clientSegmentOf?: (userId: string) => string | undefined;
}): InProcessTarget {
  const assigned = new Map<string, string>();
  const totals = new Map<string, UserTotals>();
  const seen = new Set<string>();
  const counters = new Map<string, Map<string, Increments>>();
  const caps = userCapsOf(experiment);
  // Each assigned user's pre-exposure covariate, as their aggregate holds it (CUPED's cross moments).
  const covariates = new Map<string, number>();
  // Each assigned user's segment key, as their assignment holds it: the counters are kept per (variant, segment).
  const segments = new Map<string, string>();
  let nowMs = firstDayMs;
  let requests = 0;
  // Bandit: the allocation in force, and each user's propensity (the reward's inverse-propensity sums).
  const propensities = new Map<string, number>();
  let allocation: BanditAllocation | undefined;
  let sinceRefresh = 0;
  const banditAllocation = (): BanditAllocation | undefined => {
    if (experiment.mode !== 'bandit') return undefined;
    if (allocation === undefined || sinceRefresh >= banditRefreshEvery) {
      const days = Object.fromEntries([...counters.entries()].map(([variant, byDay]) => [variant, [...byDay.values()]]));
      allocation = banditAllocationFor({ experiment, counters: armCountersOf(experiment, days) });
      sinceRefresh = 0;
    }
    return allocation;
  };

  const add = (variant: string, increments: Increments, segment?: string) => {
    const days = counters.get(variant) ?? new Map<string, Increments>();
    counters.set(variant, days);
    // A row per (day, segment), as the service keeps an item per segment.
    const day = segment === undefined ? analysisDay(nowMs) : `${analysisDay(nowMs)}\u0000${segment}`;
    const row = days.get(day) ?? {};
    days.set(day, row);
    addIncrements(row, increments);
  };

  /** One stored event of a user: its own increments and the change of the user-level sums. */
  const count = (variant: string, userId: string, event: Parameters<typeof counterIncrements>[0]) => {
    const before = totals.get(userId) ?? ZERO_TOTALS;
    const after = addTotals(before, userTotalsDelta(event));
    totals.set(userId, after);
    const segment = variant === assigned.get(userId) ? segments.get(userId) : undefined;
    add(variant, { ...counterIncrements(event), ...userStatIncrements(before, after, caps, covariates.get(userId) ?? 0) }, segment);
    add(variant, banditRewardIncrements(before, after, propensities.get(userId)), segment);
  };

  return {
    startDay: async (day) => {
      nowMs = firstDayMs + day * DAY_MS + 6 * 3_600_000;
      allocation = undefined;
    },
    recommend: async (userId) => {
      let variant = assigned.get(userId);
      if (variant === undefined) {
        const inForce = banditAllocation();
        const assignment = resolveAssignment({ experiment, userId, stored: undefined, banditAllocation: inForce });
        variant = assignment.variant;
        if (assignment.should_store) {
          assigned.set(userId, variant);
          // As the service counts a bandit exposure: with the allocation it was drawn from (bandit-counters.ts).
          const logged = assignment.source === 'bandit' && inForce !== undefined ? loggedAllocation(inForce) : undefined;
          const profile = profileOf(userId);
          const client = clientSegmentOf(userId);
          covariates.set(userId, profile.covariate);
          segments.set(userId, segmentKey({ userType: userTypeOf(profile), ...(client === undefined ? {} : { client }) }));
          add(
            variant,
            {
              exposed_users: 1,
              ...covariateExposureIncrements(profile.covariate),
              ...banditExposureIncrements({ allocation: logged, propensity: assignment.propensity }),
            },
            segments.get(userId),
          );
          if (logged !== undefined) {
            propensities.set(userId, assignment.propensity);
            sinceRefresh++;
          }
        }
      }
      const requestId = `req-${++requests}`;
      const items = slateOf(variant, userId);
      // With its slate, as /recommend records it: the counters keep lists by length (per-position click-through).
      count(variant, userId, {
        event_type: 'impression',
        fallback: null,
        slate: items.map((item) => ({ item_id: item.item_id, position: item.rank, score: 0 })),
      });
      return { variant, request_id: requestId, items };
    },
    sendEvents: async (events) => {
      for (const event of events) {
        if (seen.has(event.event_id)) continue;
        seen.add(event.event_id);
        count(assigned.get(event.user_id) ?? '~unassigned', event.user_id, event);
      }
    },
    finish: async () => {},
    countersByVariant: () =>
      Object.fromEntries(
        [...counters.entries()].map(([variant, days]) => [
          variant,
          [...days.entries()]
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([key, row]) => {
              const [day, segment] = key.split('\u0000');
              return segment === undefined ? { day, ...row } : { day, segment, ...row };
            }),
        ]),
      ),
    lastDay: () => analysisDay(nowMs),
  };
}
