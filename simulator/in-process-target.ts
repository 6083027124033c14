/**
 * The simulation target of the benchmark: the same domain code the API runs, in process, with no
 * store: assignment by the same hash (sticky), slates by the serving top-N over the same
 * artifact, and each event's counter increments by the same arithmetic the events repository
 * applies (event increments plus the user-level statistics from each user's running totals),
 * exactly once per event id. Many seeds of a large population then run in seconds, and the
 * counters it keeps are read by the same analysis (`analysisFromCounters`) as the service's.
 */
import { addIncrements, addTotals, covariateExposureIncrements, userStatIncrements, userTotalsDelta, ZERO_TOTALS, type Increments, type UserTotals } from '../lambdas/domain/events/counters.ts';
import { analysisDay, counterIncrements } from '../lambdas/domain/events/event.ts';
import { resolveAssignment } from '../lambdas/domain/experiments/assignment.ts';
import { userCapsOf } from '../lambdas/domain/experiments/caps.ts';
import { UNKNOWN_PROFILE, type UserProfile } from '../lambdas/domain/experiments/user-profile.ts';
import type { Experiment } from '../lambdas/domain/experiments/model.ts';
import type { StoredDailyCounter } from '../lambdas/services/analysis-input.ts';
import { DAY_MS } from '../local/clock.ts';
import type { SlateItem } from './behaviour.ts';
import type { SimulationTarget } from './run.ts';

export interface InProcessTarget extends SimulationTarget {
  /** The daily counters per variant, as `CounterRepository.dailyCounters` returns them. */
  countersByVariant: () => Record<string, StoredDailyCounter[]>;
  /** The UTC day of the last simulated day. */
  lastDay: () => string;
}

export function createInProcessTarget({
  experiment,
  slateOf,
  firstDayMs,
  profileOf = () => UNKNOWN_PROFILE,
}: {
  experiment: Experiment;
  /** The top-N list the variant's model serves this user (deterministic per user and model). */
  slateOf: (variant: string, userId: string) => SlateItem[];
  /** Midnight (UTC) of the first simulated day. */
  firstDayMs: number;
  /** What the control model knows of a user before their first exposure (the service reads it from the control artifact); unknown by default. */
  profileOf?: (userId: string) => UserProfile;
}): InProcessTarget {
  const assigned = new Map<string, string>();
  const totals = new Map<string, UserTotals>();
  const seen = new Set<string>();
  const counters = new Map<string, Map<string, Increments>>();
  const caps = userCapsOf(experiment);
  // Each assigned user's pre-exposure covariate, as their aggregate holds it (CUPED's cross moments).
  const covariates = new Map<string, number>();
  let nowMs = firstDayMs;
  let requests = 0;

  const add = (variant: string, increments: Increments) => {
    const days = counters.get(variant) ?? new Map<string, Increments>();
    counters.set(variant, days);
    const day = analysisDay(nowMs);
    const row = days.get(day) ?? {};
    days.set(day, row);
    addIncrements(row, increments);
  };

  /** One stored event of a user: its own increments and the change of the user-level sums. */
  const count = (variant: string, userId: string, event: Parameters<typeof counterIncrements>[0]) => {
    const before = totals.get(userId) ?? ZERO_TOTALS;
    const after = addTotals(before, userTotalsDelta(event));
    totals.set(userId, after);
    add(variant, { ...counterIncrements(event), ...userStatIncrements(before, after, caps, covariates.get(userId) ?? 0) });
  };

  return {
    startDay: async (day) => {
      nowMs = firstDayMs + day * DAY_MS + 6 * 3_600_000;
    },
    recommend: async (userId) => {
      let variant = assigned.get(userId);
      if (variant === undefined) {
        const assignment = resolveAssignment({ experiment, userId, stored: undefined });
        variant = assignment.variant;
        if (assignment.should_store) {
          assigned.set(userId, variant);
          const { covariate } = profileOf(userId);
          covariates.set(userId, covariate);
          add(variant, { exposed_users: 1, ...covariateExposureIncrements(covariate) });
        }
      }
      const requestId = `req-${++requests}`;
      const items = slateOf(variant, userId);
      // With its slate, as /recommend records it: the counters keep lists by length (per-position click-through).
      count(variant, userId, { event_type: 'impression', fallback: null, slate: items.map((item) => ({ item_id: item.item_id, position: item.rank, score: 0 })) });
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
      Object.fromEntries([...counters.entries()].map(([variant, days]) => [variant, [...days.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([day, row]) => ({ day, ...row }))])),
    lastDay: () => analysisDay(nowMs),
  };
}
