/**
 * Deterministic daily counters of synthetic experiments, exactly as the events path would have
 * written them (additive daily increments, per-user fields included), for the analysis
 * benchmark and the tests. Counters are aggregates: ten million events cost as much to seed
 * as ten thousand.
 */
import { createExperiment } from '../domain/experiments/lifecycle.ts';
import type { CreateExperimentInput, Experiment } from '../domain/experiments/model.ts';
import type { CounterField } from './analysis-input.ts';

/** A running 50/50 experiment, content (control) against ALS, click-through unless overridden. */
export function twoArmExperiment(id: string, { now, ...overrides }: Partial<CreateExperimentInput> & { now: Date }): Experiment {
  return createExperiment({
    now,
    request: {
      id,
      name: id,
      status: 'running',
      variants: [
        { name: 'control', model_id: 'content', model_version: 'v1', weight: 0.5, is_control: true },
        { name: 'treatment', model_id: 'als', model_version: 'v1', weight: 0.5 },
      ],
      target_metric: { kind: 'click_through' },
      ...overrides,
    },
  });
}

/** One arm of a synthetic experiment. */
export interface SyntheticArm {
  variant: string;
  /** Users exposed over the whole experiment. */
  users: number;
  /** Clicks per impression. */
  ctr: number;
  /** Share of users with a purchase. */
  conversionRate: number;
}

/** A daily counter increment as the events path writes it. */
export type CounterIncrement = Partial<Record<CounterField, number>>;

/** Daily increments of one variant on one day. */
export interface SyntheticDay {
  variant: string;
  day: string;
  increments: CounterIncrement;
}

/** Two kinds of users, so the per-user impressions (and the delta method) have real variance. */
const USER_TYPES = [
  { share: 2 / 3, impressions: 4 },
  { share: 1 / 3, impressions: 12 },
] as const;
const REVENUE = { mean: 20, meanSquare: 500 };
const WATCH = { mean: 300, meanSquare: 300 ** 2 + 120 ** 2 };
const RATING = { mean: 3.6, meanSquare: 3.6 ** 2 + 1, perClick: 0.25 };

/** Splits `total` into `parts` integers that differ by at most one, larger ones first. */
function split(total: number, parts: number): number[] {
  const base = Math.floor(total / parts);
  return Array.from({ length: parts }, (_, i) => base + (i < total - base * parts ? 1 : 0));
}

/** Increments of a cohort of `users` new users whose whole activity falls on one day. */
export function cohortIncrements(users: number, ctr: number, conversionRate: number): CounterIncrement {
  const out: Required<CounterIncrement> = {
    exposed_users: users,
    impressions: 0,
    clicks: 0,
    conversions: 0,
    revenue_n: 0,
    revenue_sum: 0,
    revenue_sum_sq: 0,
    rating_n: 0,
    rating_sum: 0,
    rating_sum_sq: 0,
    watch_time_n: 0,
    watch_time_sum: 0,
    watch_time_sum_sq: 0,
    fallback_impressions: 0,
    fallback_cold_start_impressions: 0,
    fallback_artifact_impressions: 0,
    clickers: 0,
    converters: 0,
    user_clicks_sq_sum: 0,
    user_impressions_sq_sum: 0,
    user_clicks_impressions_sum: 0,
    // No synthetic user reaches a cap (caps.ts), so the capped sums equal the uncapped ones.
    user_purchases_sq_sum: 0,
    revenue_cents: 0,
    user_revenue_cents_sq_sum: 0,
    watch_ms: 0,
    user_watch_ms_sq_sum: 0,
    capped_clicks: 0,
    capped_clicks_sq_sum: 0,
    capped_impressions: 0,
    capped_impressions_sq_sum: 0,
    capped_clicks_impressions_sum: 0,
    capped_purchases: 0,
    capped_purchases_sq_sum: 0,
    capped_revenue_cents: 0,
    capped_revenue_cents_sq_sum: 0,
    capped_watch_ms: 0,
    capped_watch_ms_sq_sum: 0,
    users_at_clicks_cap: 0,
    users_at_impressions_cap: 0,
    users_at_purchases_cap: 0,
    users_at_revenue_cap: 0,
    users_at_watch_cap: 0,
    // Synthetic users have no pre-exposure covariate (CUPED has nothing to adjust with).
    covariate_sum: 0,
    covariate_sq_sum: 0,
    covariate_clickers: 0,
    covariate_converters: 0,
    covariate_capped_clicks: 0,
    covariate_capped_impressions: 0,
    covariate_capped_purchases: 0,
    covariate_capped_revenue_cents: 0,
    covariate_capped_watch_ms: 0,
  };
  const heavy = Math.round(users * USER_TYPES[1].share);
  const typeUsers = [users - heavy, heavy];
  USER_TYPES.forEach((type, t) => {
    const n = typeUsers[t];
    const m = type.impressions;
    const clicks = Math.round(n * m * ctr);
    // Clicks spread as evenly as integers allow: r users with q + 1 clicks, the rest with q.
    const q = Math.floor(clicks / Math.max(n, 1));
    const r = clicks - q * n;
    out.impressions += n * m;
    out.clicks += clicks;
    out.clickers += q > 0 ? n : r;
    out.user_impressions_sq_sum += n * m * m;
    out.user_clicks_sq_sum += r * (q + 1) ** 2 + (n - r) * q * q;
    out.user_clicks_impressions_sum += clicks * m;
    // Every click is watched for the mean time, so a user's watch time is their clicks × 300 s.
    out.user_watch_ms_sq_sum += (r * (q + 1) ** 2 + (n - r) * q * q) * (WATCH.mean * 1000) ** 2;
  });
  const converters = Math.round(users * conversionRate);
  Object.assign(out, {
    conversions: converters,
    converters,
    revenue_n: converters,
    revenue_sum: converters * REVENUE.mean,
    revenue_sum_sq: converters * REVENUE.meanSquare,
    watch_time_n: out.clicks,
    watch_time_sum: out.clicks * WATCH.mean,
    watch_time_sum_sq: out.clicks * WATCH.meanSquare,
    // One purchase per converter, of the mean value.
    user_purchases_sq_sum: converters,
    revenue_cents: converters * REVENUE.mean * 100,
    user_revenue_cents_sq_sum: converters * (REVENUE.mean * 100) ** 2,
    watch_ms: out.clicks * WATCH.mean * 1000,
  });
  Object.assign(out, {
    capped_clicks: out.clicks,
    capped_clicks_sq_sum: out.user_clicks_sq_sum,
    capped_impressions: out.impressions,
    capped_impressions_sq_sum: out.user_impressions_sq_sum,
    capped_clicks_impressions_sum: out.user_clicks_impressions_sum,
    capped_purchases: out.conversions,
    capped_purchases_sq_sum: out.user_purchases_sq_sum,
    capped_revenue_cents: out.revenue_cents,
    capped_revenue_cents_sq_sum: out.user_revenue_cents_sq_sum,
    capped_watch_ms: out.watch_ms,
    capped_watch_ms_sq_sum: out.user_watch_ms_sq_sum,
  });
  const ratings = Math.round(out.clicks * RATING.perClick);
  Object.assign(out, { rating_n: ratings, rating_sum: ratings * RATING.mean, rating_sum_sq: ratings * RATING.meanSquare });
  return out;
}

/** Events a day's increments stand for: impressions, clicks, purchases, ratings, watch times. */
export function eventsOf(increments: CounterIncrement): number {
  return (increments.impressions ?? 0) + (increments.clicks ?? 0) + (increments.conversions ?? 0) + (increments.rating_n ?? 0) + (increments.watch_time_n ?? 0);
}

/** Adds `offset` days to a YYYY-MM-DD day. */
export function addDays(day: string, offset: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + offset * 86_400_000).toISOString().slice(0, 10);
}

/**
 * Deterministic daily counters of an experiment: each arm's users spread evenly over `days`
 * days from `firstDay`, each day's new users a cohort of light and heavy users.
 */
export function syntheticDailyCounters({ arms, days, firstDay }: { arms: SyntheticArm[]; days: number; firstDay: string }): SyntheticDay[] {
  return arms.flatMap((arm) =>
    split(arm.users, days).map((users, d) => ({
      variant: arm.variant,
      day: addDays(firstDay, d),
      increments: cohortIncrements(users, arm.ctr, arm.conversionRate),
    })),
  );
}

/** Users per arm that make an experiment of about `events` events with these rates. */
export function usersForEvents(events: number, arms: number, ctr: number, conversionRate: number): number {
  const perThousand = eventsOf(cohortIncrements(3000, ctr, conversionRate)) / 3000;
  return Math.max(2, Math.round(events / arms / perThousand));
}
