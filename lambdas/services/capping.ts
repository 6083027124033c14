/**
 * Per-user capping in the analysis: which counter fields hold the capped user-level sums, how
 * they fill the engine's slots (so the decision is taken on capped data), and the report's
 * `capping` section: per capped metric and variant, how many users reached the cap and the
 * estimate with and without the caps.
 *
 * Pure (no AWS, no I/O). The sums are exact (BigInts beyond 2^53) until the statistics.
 */
import { CAPPED_CLICKS_IMPRESSIONS_FIELD, CAPPED_METRICS } from '../domain/events/counters.ts';
import { exactAdd, toDouble, type Exact } from '../domain/events/exact.ts';
import { userCapsOf, type Caps } from '../domain/experiments/caps.ts';
import type { Experiment } from '../domain/experiments/model.ts';
import type { DailyVariantCounters, Interval } from '../domain/stats/index.ts';
import { CANCELLATION_TOLERANCE, ratioEstimate, ratioMetricTest, twoProportionZTest, zCriticalFor, type RatioSample } from '../domain/stats/index.ts';
import { userMeanEstimate, userMeanTest, type EstimateWithInterval, type UserSums } from '../domain/stats/user-level.ts';
import type { DailyCounter } from '../storage/counter-store.ts';

/**
 * The counter fields of the per-user caps (written by userStatIncrements): uncapped user-level
 * extras, the capped sums and squares, and the users at each cap.
 */
export const CAPPED_COUNTER_FIELDS = [
  'user_purchases_sq_sum',
  'revenue_cents',
  'user_revenue_cents_sq_sum',
  'watch_ms',
  'user_watch_ms_sq_sum',
  'capped_clicks',
  'capped_clicks_sq_sum',
  'capped_impressions',
  'capped_impressions_sq_sum',
  'capped_clicks_impressions_sum',
  'capped_purchases',
  'capped_purchases_sq_sum',
  'capped_revenue_cents',
  'capped_revenue_cents_sq_sum',
  'capped_watch_ms',
  'capped_watch_ms_sq_sum',
  'users_at_clicks_cap',
  'users_at_impressions_cap',
  'users_at_purchases_cap',
  'users_at_revenue_cap',
  'users_at_watch_cap',
] as const;

/** Cumulative totals of a variant, by counter field (missing fields are 0). */
type Totals = Readonly<Record<string, number>>;

/**
 * Whether a variant's totals hold the capped sums: counters written before caps existed have
 * uncapped counts and no capped ones. Every impression, click and purchase adds to its capped
 * sum (a capped count starts at min(1, K) = 1), and so does any watch time of a millisecond or
 * more, so capped sums of 0 beside uncapped activity mean the older counters.
 */
export function hasCappedSums(totals: Totals): boolean {
  const uncapped = (totals.impressions ?? 0) + (totals.clicks ?? 0) + (totals.conversions ?? 0) + (totals.watch_time_sum ?? 0);
  const capped = (totals.capped_impressions ?? 0) + (totals.capped_clicks ?? 0) + (totals.capped_purchases ?? 0) + (totals.capped_watch_ms ?? 0);
  return uncapped === 0 || capped > 0;
}

/**
 * The engine slots the caps replace: clicks, impressions and their user-level moments become the
 * capped ones; a watch-time mean becomes the capped watch time per exposed user (seconds).
 */
export function cappedSlotsOf(totals: Totals, mean: 'watch_time' | 'rating' | null): Partial<DailyVariantCounters> {
  const field = (name: string) => totals[name] ?? 0;
  const ratio = {
    clicks: field('capped_clicks'),
    impressions: field('capped_impressions'),
    user_clicks_sq_sum: field('capped_clicks_sq_sum'),
    user_impressions_sq_sum: field('capped_impressions_sq_sum'),
    user_clicks_impressions_sum: field(CAPPED_CLICKS_IMPRESSIONS_FIELD),
  };
  if (mean !== 'watch_time') return ratio;
  return { ...ratio, value_n: field('exposed_users'), value_sum: field('capped_watch_ms') / 1000, value_sum_sq: field('capped_watch_ms_sq_sum') / 1e6 };
}

/**
 * The target's definition when the decision runs on the capped sums: click-through on capped
 * clicks and impressions per user, watch time per exposed user (capped) instead of per event.
 */
export function cappedMetricPlan<P extends { kind: string; definition: string }>(plan: P, targetKind: string): P {
  if (targetKind === 'watch_time' && plan.kind === 'mean')
    return { ...plan, definition: "watch time per exposed user, each user's total capped (caps.watch_time_seconds), Welch over users" };
  if (targetKind === 'click_through' && plan.kind === 'ratio')
    return { ...plan, definition: `${plan.definition}, each user's clicks and impressions capped (caps)` };
  return plan;
}

/** Every numeric field summed exactly over the rows up to `through` (inclusive; all when undefined). */
export function exactTotalsThrough(rows: readonly DailyCounter[], through?: string): Record<string, Exact> {
  const totals: Record<string, Exact> = {};
  for (const row of rows) {
    if (through !== undefined && row.day > through) continue;
    for (const [field, value] of Object.entries(row)) {
      if (typeof value === 'number' || typeof value === 'bigint') totals[field] = exactAdd(totals[field] ?? 0, value);
    }
  }
  return totals;
}

/** Uncapped against capped, for one treatment. */
export interface CappedComparison {
  difference: number;
  differenceInterval: Interval;
  relativeLift: number | null;
  pValue: number;
}

/** One capped metric: per variant the users at the cap and both estimates, per treatment both comparisons. */
export interface CappedMetricReport {
  metric: 'clicks' | 'impressions' | 'purchases' | 'revenue' | 'watch_time' | 'click_through';
  definition: string;
  /** The cap in the metric's units (clicks, currency units, seconds); null for click-through, which uses the clicks and impressions caps. */
  cap: number | null;
  variants: { variant: string; users: number; usersAtCap: number | null; uncapped: EstimateWithInterval | null; capped: EstimateWithInterval | null }[];
  comparisons: { variant: string; uncapped: CappedComparison | null; capped: CappedComparison | null }[];
}

/**
 * How far one more user within the caps could move the target's test statistic: the largest
 * change of z (t for a mean) over candidate users (every capped clicks × impressions pair up to
 * 64 each, a grid beyond; no or full watch time; a 0/1 outcome), added to either arm of any
 * comparison. A decision whose statistic is farther than this from its threshold cannot be moved
 * by one user.
 */
export type OneUserInfluence =
  | { status: 'ok'; maxStatisticShift: number; worst: { comparison: string; arm: string; user: Record<string, number> } }
  | { status: 'not-bounded'; reason: string };

/** The report's `capping` section. */
export interface CappingReport {
  /** The caps applied, in the units of the declaration (defaults for an experiment stored before caps existed; watch time lowered to the target's cap_seconds). */
  caps: Caps;
  /** Whether the decision used the capped sums (false for counters written before caps existed). */
  usedByDecision: boolean;
  metrics: CappedMetricReport[];
  /** One user at the caps against the target's statistic (null without a comparison to compute). */
  oneUserInfluence: OneUserInfluence | null;
}

const DISPLAY = {
  clicks: { scale: 1, definition: 'clicks per exposed user' },
  impressions: { scale: 1, definition: 'impressions per exposed user' },
  purchases: { scale: 1, definition: 'purchases per exposed user' },
  revenue: { scale: 100, definition: 'revenue per exposed user (currency units; summed in cents)' },
  watch_time: { scale: 1000, definition: 'watch time per exposed user (seconds; summed in milliseconds)' },
} as const;

const comparisonOf = (
  result: { status: string } & Partial<{ difference: number; differenceInterval: Interval; relativeLift: number | null; pValue: number }>,
): CappedComparison | null =>
  result.status === 'ok'
    ? {
        difference: result.difference as number,
        differenceInterval: result.differenceInterval as Interval,
        relativeLift: result.relativeLift ?? null,
        pValue: result.pValue as number,
      }
    : null;

/**
 * The `capping` section from the experiment and its variants' counters through `through`: the
 * analysed variants (active, weight > 0), control first.
 */
export function cappingReport(
  experiment: Experiment,
  countersByVariant: Readonly<Record<string, readonly DailyCounter[]>>,
  { through, confidenceLevel = experiment.confidence_level }: { through?: string; confidenceLevel?: number } = {},
): CappingReport {
  const analysed = experiment.variants.filter((v) => v.active && v.weight > 0).sort((a, b) => Number(b.is_control) - Number(a.is_control));
  const totals = analysed.map((v) => ({ variant: v.name, sums: exactTotalsThrough(countersByVariant[v.name] ?? [], through) }));
  const field = (sums: Record<string, Exact>, name: string): Exact => sums[name] ?? 0;
  const doubles = (sums: Record<string, Exact>) => Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, toDouble(v)]));
  const caps = userCapsOf(experiment);
  const declared = {
    clicks: caps.clicks,
    impressions: caps.impressions,
    purchases: caps.purchases,
    revenue: caps.revenue_cents / 100,
    watch_time_seconds: caps.watch_ms / 1000,
  };
  const [control, ...treatments] = totals;

  const metrics: CappedMetricReport[] = CAPPED_METRICS.map((spec) => {
    const { scale, definition } = DISPLAY[spec.metric];
    const uncapped = (sums: Record<string, Exact>): UserSums => ({
      n: field(sums, 'exposed_users'),
      sum: field(sums, spec.uncappedSum),
      sumSq: field(sums, spec.uncappedSumSq),
    });
    const capped = (sums: Record<string, Exact>): UserSums => ({ n: field(sums, 'exposed_users'), sum: field(sums, spec.sum), sumSq: field(sums, spec.sumSq) });
    return {
      metric: spec.metric,
      definition,
      cap: caps[spec.cap] / scale,
      variants: totals.map(({ variant, sums }) => ({
        variant,
        users: toDouble(field(sums, 'exposed_users')),
        usersAtCap: toDouble(field(sums, spec.atCap)),
        uncapped: userMeanEstimate(uncapped(sums), confidenceLevel, scale),
        capped: userMeanEstimate(capped(sums), confidenceLevel, scale),
      })),
      comparisons: treatments.map(({ variant, sums }) => ({
        variant,
        uncapped: comparisonOf(userMeanTest({ control: uncapped(control.sums), treatment: uncapped(sums), confidenceLevel, scale })),
        capped: comparisonOf(userMeanTest({ control: capped(control.sums), treatment: capped(sums), confidenceLevel, scale })),
      })),
    };
  });

  const z = zCriticalFor(confidenceLevel);
  const ratioSample = (sums: Record<string, number>, isCapped: boolean): RatioSample =>
    isCapped
      ? {
          users: sums.exposed_users ?? 0,
          sumX: sums.capped_clicks ?? 0,
          sumY: sums.capped_impressions ?? 0,
          sumX2: sums.capped_clicks_sq_sum ?? 0,
          sumY2: sums.capped_impressions_sq_sum ?? 0,
          sumXY: sums[CAPPED_CLICKS_IMPRESSIONS_FIELD] ?? 0,
        }
      : {
          users: sums.exposed_users ?? 0,
          sumX: sums.clicks ?? 0,
          sumY: sums.impressions ?? 0,
          sumX2: sums.user_clicks_sq_sum ?? 0,
          sumY2: sums.user_impressions_sq_sum ?? 0,
          sumXY: sums.user_clicks_impressions_sum ?? 0,
        };
  const ratioEstimateOf = (sample: RatioSample): EstimateWithInterval | null => {
    const estimate = ratioEstimate(sample);
    if (estimate.status !== 'ok') return sample.sumY > 0 ? { estimate: sample.sumX / sample.sumY, interval: null } : null;
    return { estimate: estimate.ratio, interval: { low: estimate.ratio - z * estimate.standardError, high: estimate.ratio + z * estimate.standardError } };
  };
  const ratioComparison = (a: RatioSample, b: RatioSample): CappedComparison | null => {
    try {
      return comparisonOf(ratioMetricTest({ control: a, treatment: b, confidenceLevel }));
    } catch {
      // Older counters without consistent user-level moments: no comparison to show.
      return null;
    }
  };
  const controlDoubles = control ? doubles(control.sums) : {};
  metrics.push({
    metric: 'click_through',
    definition: "clicks / impressions with the user as the unit (delta method); capped: each user's clicks and impressions capped",
    cap: null,
    variants: totals.map(({ variant, sums }) => {
      const d = doubles(sums);
      return {
        variant,
        users: d.exposed_users ?? 0,
        usersAtCap: null,
        uncapped: ratioEstimateOf(ratioSample(d, false)),
        capped: ratioEstimateOf(ratioSample(d, true)),
      };
    }),
    comparisons: treatments.map(({ variant, sums }) => {
      const d = doubles(sums);
      return {
        variant,
        uncapped: ratioComparison(ratioSample(controlDoubles, false), ratioSample(d, false)),
        capped: ratioComparison(ratioSample(controlDoubles, true), ratioSample(d, true)),
      };
    }),
  });

  const usedByDecision = totals.every(({ sums }) => hasCappedSums(doubles(sums)));
  const oneUserInfluence =
    control === undefined
      ? null
      : targetInfluence(
          experiment,
          control.variant,
          doubles(control.sums),
          treatments.map(({ variant, sums }) => ({ variant, sums: doubles(sums) })),
          confidenceLevel,
          usedByDecision,
        );
  return { caps: declared, usedByDecision, metrics, oneUserInfluence };
}

/** The target's statistic from one arm pair's capped totals, and the candidate users at the caps. */
interface TargetStatistic {
  statistic: (control: Record<string, number>, treatment: Record<string, number>) => number | null;
  candidates: Record<string, number>[];
  /** Adds a candidate user to an arm's totals. */
  withUser: (sums: Record<string, number>, user: Record<string, number>) => Record<string, number>;
  /** The totals the statistic reads (the rest are dropped before the candidates are tried). */
  fields: string[];
}

function targetStatistic(experiment: Experiment, confidenceLevel: number): TargetStatistic | { reason: string } {
  const caps = userCapsOf(experiment);
  const kind = experiment.target_metric.kind;
  const plusOne = (sums: Record<string, number>, add: Record<string, number>) => {
    const out: Record<string, number> = { ...sums, exposed_users: (sums.exposed_users ?? 0) + 1 };
    for (const [field, amount] of Object.entries(add)) out[field] = (out[field] ?? 0) + amount;
    return out;
  };
  if (kind === 'rating') return { reason: 'rating is averaged per event, not per user: caps do not bound one user (the daily limits do)' };
  if (kind === 'watch_time') {
    const sums = (t: Record<string, number>): UserSums => ({ n: t.exposed_users ?? 0, sum: t.capped_watch_ms ?? 0, sumSq: t.capped_watch_ms_sq_sum ?? 0 });
    return {
      statistic: (a, b) => {
        const test = userMeanTest({ control: sums(a), treatment: sums(b), confidenceLevel, scale: 1000 });
        return test.status === 'ok' ? test.difference / test.standardError : null;
      },
      candidates: [{ watch_ms: 0 }, { watch_ms: caps.watch_ms }],
      withUser: (t, user) => plusOne(t, { capped_watch_ms: user.watch_ms, capped_watch_ms_sq_sum: user.watch_ms ** 2 }),
      fields: ['exposed_users', 'capped_watch_ms', 'capped_watch_ms_sq_sum'],
    };
  }
  const proportion = experiment.mode === 'bandit' || experiment.analysis_method === 'bayesian' || kind === 'conversion';
  if (proportion) {
    const field = kind === 'conversion' ? 'converters' : 'clickers';
    return {
      statistic: (a, b) => {
        const test = twoProportionZTest({
          control: { users: a.exposed_users ?? 0, conversions: a[field] ?? 0 },
          treatment: { users: b.exposed_users ?? 0, conversions: b[field] ?? 0 },
          confidenceLevel,
        });
        return test.status === 'ok' ? test.zScore : null;
      },
      candidates: [{ success: 0 }, { success: 1 }],
      withUser: (t, user) => plusOne(t, { [field]: user.success }),
      fields: ['exposed_users', field],
    };
  }
  const sample = (t: Record<string, number>): RatioSample => ({
    users: t.exposed_users ?? 0,
    sumX: t.capped_clicks ?? 0,
    sumY: t.capped_impressions ?? 0,
    sumX2: t.capped_clicks_sq_sum ?? 0,
    sumY2: t.capped_impressions_sq_sum ?? 0,
    sumXY: t[CAPPED_CLICKS_IMPRESSIONS_FIELD] ?? 0,
  });
  const candidates = candidateCounts(caps.clicks).flatMap((clicks) => candidateCounts(caps.impressions).map((impressions) => ({ clicks, impressions })));
  return {
    // The delta-method z of ratioMetricTest, without its validation: thousands of candidates per report.
    statistic: (a, b) => {
      const control = ratioMoments(sample(a));
      const treatment = ratioMoments(sample(b));
      if (control === null || treatment === null) return null;
      const standardError = Math.sqrt(control.variance + treatment.variance);
      return standardError > 0 ? (treatment.ratio - control.ratio) / standardError : null;
    },
    candidates,
    withUser: (t, { clicks, impressions }) =>
      plusOne(t, {
        capped_clicks: clicks,
        capped_impressions: impressions,
        capped_clicks_sq_sum: clicks ** 2,
        capped_impressions_sq_sum: impressions ** 2,
        [CAPPED_CLICKS_IMPRESSIONS_FIELD]: clicks * impressions,
      }),
    fields: ['exposed_users', 'capped_clicks', 'capped_impressions', 'capped_clicks_sq_sum', 'capped_impressions_sq_sum', CAPPED_CLICKS_IMPRESSIONS_FIELD],
  };
}

/** A ratio and its delta-method variance as ratioEstimate computes them; null where ratioMetricTest has no test. */
function ratioMoments(sample: RatioSample): { ratio: number; variance: number } | null {
  const n = sample.users;
  if (n < 2 || !(sample.sumY > 0) || !(sample.sumX > 0)) return null;
  const meanX = sample.sumX / n;
  const meanY = sample.sumY / n;
  const ratio = meanX / meanY;
  const linearised =
    (sample.sumX2 - n * meanX * meanX - 2 * ratio * (sample.sumXY - n * meanX * meanY) + ratio * ratio * (sample.sumY2 - n * meanY * meanY)) / (n - 1);
  const scale = (sample.sumX2 + ratio * ratio * sample.sumY2) / (n - 1);
  return { ratio, variance: linearised <= CANCELLATION_TOLERANCE * scale ? 0 : linearised / (n * meanY * meanY) };
}

/**
 * The counts a candidate user may hold under a cap K: every count from 0 to K when K ≤ 64 (the
 * bound is then exact), else 0, 1, the powers of two below K, 32 evenly spaced counts and K.
 */
function candidateCounts(cap: number): number[] {
  if (cap <= 64) return Array.from({ length: cap + 1 }, (_, i) => i);
  const counts = new Set([0, 1, cap]);
  for (let power = 2; power < cap; power *= 2) counts.add(power);
  for (let i = 1; i < 32; i++) counts.add(Math.round((cap * i) / 32));
  return [...counts].sort((a, b) => a - b);
}

/** The largest statistic shift one user at the caps causes in any comparison (see OneUserInfluence). */
function targetInfluence(
  experiment: Experiment,
  controlName: string,
  control: Record<string, number>,
  treatments: { variant: string; sums: Record<string, number> }[],
  confidenceLevel: number,
  capped: boolean,
): OneUserInfluence | null {
  if (!capped) return { status: 'not-bounded', reason: 'the counters predate caps: the decision runs on uncapped sums' };
  const target = targetStatistic(experiment, confidenceLevel);
  if ('reason' in target) return { status: 'not-bounded', reason: target.reason };
  const project = (sums: Record<string, number>) => Object.fromEntries(target.fields.map((name) => [name, sums[name] ?? 0]));
  control = project(control);
  let best: OneUserInfluence | null = null;
  for (const { variant, sums: all } of treatments) {
    const sums = project(all);
    const now = target.statistic(control, sums);
    if (now === null) continue;
    for (const user of target.candidates) {
      for (const arm of [controlName, variant]) {
        const shifted = arm === controlName ? target.statistic(target.withUser(control, user), sums) : target.statistic(control, target.withUser(sums, user));
        if (shifted === null) continue;
        const shift = Math.abs(shifted - now);
        if (best === null || (best.status === 'ok' && shift > best.maxStatisticShift))
          best = { status: 'ok', maxStatisticShift: shift, worst: { comparison: variant, arm, user } };
      }
    }
  }
  return best;
}
