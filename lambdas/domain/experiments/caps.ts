/**
 * Per-user caps: how much of each count and value one user may contribute to the analysis.
 *
 * The public API key ships in every client, so anyone can post events for a user id, and the
 * daily limits (plausibility.ts) still let one user send 1,000 clicks, 5,000 impressions and 200
 * purchases of up to 100,000 a day. Left uncapped, one such user moves a variant's click-through,
 * revenue per user or watch time per user, and inflates its variance, enough to flip a decision.
 * The analysis therefore uses each user's totals capped at these values (winsorised per user):
 * clicks, impressions and purchases per user, revenue per user and watch time per user.
 *
 * The capped sums are accumulated at write time, as increments min(after, K) − min(before, K)
 * and the same for the squares, from the user aggregate's totals (counters.ts). So the caps are
 * fixed when the experiment is created and cannot change once it has started: a change would
 * leave the sums accumulated under the old caps. Sizing: one user at the caps adds at most K to
 * a variant's sum and K² to its sum of squares; K should sit above what honest heavy users reach
 * (the report counts the users at each cap) and far below the variant's total (the report shows
 * how far one user at the caps can move the target's test statistic).
 */
import { z } from 'zod';

/**
 * The caps of an experiment created without any, chosen for a test of a few weeks: far above a
 * typical user (a few visits a day, a few clicks a visit) and far below the daily limits over
 * the same time (14 days × 1,000 clicks). Materialised on creation, so changing these later
 * changes no stored experiment.
 */
export const DEFAULT_CAPS = Object.freeze({
  /** Clicks per user over the experiment. */
  clicks: 50,
  /** Impressions (recommendation lists shown) per user: 18 a day for two weeks. */
  impressions: 250,
  /** Purchases per user. */
  purchases: 10,
  /** Revenue per user, in the currency units of `value` (2 decimals at most). */
  revenue: 1_000,
  /** Watch time per user, in seconds (10 hours). */
  watch_time_seconds: 36_000,
});

/** The largest cap of a count: far beyond any experiment's honest users, and exact in every sum. */
export const MAX_COUNT_CAP = 1_000_000_000;
/** The largest revenue and watch-time caps (in units and seconds): their minor units stay far below 2^53. */
export const MAX_VALUE_CAP = 1_000_000_000;

const countCap = (fallback: number) => z.int('must be an integer').min(1, 'must be >= 1').max(MAX_COUNT_CAP, `must be <= ${MAX_COUNT_CAP}`).default(fallback);

/** Caps as declared on the experiment (POST /experiments `caps`, every field optional). */
export const capsSchema = z.strictObject({
  clicks: countCap(DEFAULT_CAPS.clicks),
  impressions: countCap(DEFAULT_CAPS.impressions),
  purchases: countCap(DEFAULT_CAPS.purchases),
  revenue: z
    .number('must be a number')
    .min(0.01, 'must be >= 0.01')
    .max(MAX_VALUE_CAP, `must be <= ${MAX_VALUE_CAP}`)
    // Accumulated in cents: a cap between two cents would be rounded, so it is refused instead.
    .refine((value) => Math.abs(value * 100 - Math.round(value * 100)) < 1e-6, 'must have at most 2 decimals (it is applied in cents)')
    .default(DEFAULT_CAPS.revenue),
  watch_time_seconds: z
    .number('must be a number')
    .min(0.001, 'must be >= 0.001')
    .max(MAX_VALUE_CAP, `must be <= ${MAX_VALUE_CAP}`)
    .refine((value) => Math.abs(value * 1000 - Math.round(value * 1000)) < 1e-6, 'must have at most 3 decimals (it is applied in milliseconds)')
    .default(DEFAULT_CAPS.watch_time_seconds),
});
export type Caps = z.output<typeof capsSchema>;

/** The caps in the units the counters use: counts, cents and milliseconds. */
export interface UserCaps {
  clicks: number;
  impressions: number;
  purchases: number;
  revenue_cents: number;
  watch_ms: number;
}

/**
 * The caps the writers and the analysis apply to an experiment: its declared caps (the defaults
 * for an experiment stored before caps existed), the watch-time cap lowered to the target
 * metric's `cap_seconds` when that is smaller.
 */
export function userCapsOf(experiment: { caps?: Caps; target_metric?: { kind: string; cap_seconds?: number } }): UserCaps {
  const caps = experiment.caps ?? DEFAULT_CAPS;
  const targetCap = experiment.target_metric?.kind === 'watch_time' ? experiment.target_metric.cap_seconds : undefined;
  const watchSeconds = targetCap !== undefined && targetCap < caps.watch_time_seconds ? targetCap : caps.watch_time_seconds;
  return {
    clicks: caps.clicks,
    impressions: caps.impressions,
    purchases: caps.purchases,
    revenue_cents: Math.round(caps.revenue * 100),
    watch_ms: Math.max(1, Math.round(watchSeconds * 1000)),
  };
}

/** The user caps of an experiment created without any. */
export const DEFAULT_USER_CAPS: UserCaps = Object.freeze(userCapsOf({}));
