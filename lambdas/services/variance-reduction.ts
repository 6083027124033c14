/**
 * The report's `varianceReduction` section: CUPED (domain/stats/cuped.ts) on the capped
 * user-level sums, with each user's pre-exposure covariate (the number of items the user has in
 * the training data of the control model's artifact, recorded once at exposure on the assignment
 * and the user aggregate). For every user-level metric the counters hold: adjusted estimates and
 * intervals, θ, and the variance reduction; for the target metric also the always-valid p-value
 * of the adjusted difference over the daily looks, as the decision computes it for the plain one.
 * The decision itself is unchanged (it uses the plain test); this section shows what CUPED buys.
 *
 * Counter fields (written by userStatIncrements and the exposure, counters.ts): `covariate_sum`,
 * `covariate_sq_sum` (Σx, Σx² over exposed users) and `covariate_<y>` (Σx·y) for each outcome y.
 * Pure (no AWS, no I/O); the sums are exact until the statistics.
 */
import { exactAdd, type Exact } from '../domain/events/exact.ts';
import type { Experiment } from '../domain/experiments/model.ts';
import { alwaysValidSequence, defaultMixtureVariance, holmAdjust, type StatResult } from '../domain/stats/index.ts';
import { cupedMeans, cupedRatio, type CupedComparison, type CupedMeanArm, type CupedResult } from '../domain/stats/cuped.ts';
import type { DailyCounter } from '../storage/counter-store.ts';
import { exactTotalsThrough, hasCappedSums } from './capping.ts';

/** The counter fields of the covariate: its sums at exposure and its cross moments with each outcome. */
export const CUPED_COUNTER_FIELDS = [
  'covariate_sum',
  'covariate_sq_sum',
  'covariate_clickers',
  'covariate_converters',
  'covariate_capped_clicks',
  'covariate_capped_impressions',
  'covariate_capped_purchases',
  'covariate_capped_revenue_cents',
  'covariate_capped_watch_ms',
] as const;

/** What the covariate is, in words for the report. */
export const COVARIATE_DEFINITION =
  "the number of items the user has in the training data of the control model's artifact, recorded at exposure (0 for a user the model does not know)";

export type CupedMetric = 'click_through' | 'clickers' | 'converters' | 'clicks' | 'revenue' | 'watch_time';

/** One metric's CUPED analysis. */
export interface VarianceReductionMetric {
  metric: CupedMetric;
  kind: 'ratio' | 'proportion' | 'mean';
  definition: string;
  /** Whether this is the experiment's target metric (the one the decision tests). */
  target: boolean;
  result: StatResult<CupedResult>;
  /** The target only: always-valid (mSPRT) p-values of the plain and the adjusted difference over the daily looks, Holm-adjusted across variants. */
  sequential?: { variant: string; alwaysValidPValue: number; adjustedAlwaysValidPValue: number }[];
}

/** The report's `varianceReduction` section. */
export type VarianceReductionReport =
  | { status: 'ok'; covariate: string; metrics: VarianceReductionMetric[] }
  | { status: 'no-covariate'; covariate: string; reason: string };

type Sums = Record<string, Exact>;
const field = (sums: Sums, name: string): Exact => sums[name] ?? 0;

/** How each metric's arms are read from a variant's totals. */
const MEAN_METRICS: {
  metric: Exclude<CupedMetric, 'click_through'>;
  kind: 'proportion' | 'mean';
  y: string;
  ySq: string;
  xy: string;
  scale: number;
  definition: string;
}[] = [
  {
    metric: 'clickers',
    kind: 'proportion',
    y: 'clickers',
    ySq: 'clickers',
    xy: 'covariate_clickers',
    scale: 1,
    definition: 'share of exposed users with a click',
  },
  {
    metric: 'converters',
    kind: 'proportion',
    y: 'converters',
    ySq: 'converters',
    xy: 'covariate_converters',
    scale: 1,
    definition: 'share of exposed users with a purchase',
  },
  {
    metric: 'clicks',
    kind: 'mean',
    y: 'capped_clicks',
    ySq: 'capped_clicks_sq_sum',
    xy: 'covariate_capped_clicks',
    scale: 1,
    definition: 'clicks per exposed user (capped)',
  },
  {
    metric: 'revenue',
    kind: 'mean',
    y: 'capped_revenue_cents',
    ySq: 'capped_revenue_cents_sq_sum',
    xy: 'covariate_capped_revenue_cents',
    scale: 100,
    definition: 'revenue per exposed user (capped)',
  },
  {
    metric: 'watch_time',
    kind: 'mean',
    y: 'capped_watch_ms',
    ySq: 'capped_watch_ms_sq_sum',
    xy: 'covariate_capped_watch_ms',
    scale: 1000,
    definition: 'watch time per exposed user in seconds (capped)',
  },
];

/** The CUPED metric the decision's target corresponds to, or null (a rating is averaged per event). */
export function cupedTargetOf(experiment: Pick<Experiment, 'target_metric' | 'mode' | 'analysis_method'>): CupedMetric | null {
  switch (experiment.target_metric.kind) {
    case 'click_through':
      return experiment.mode === 'bandit' || experiment.analysis_method === 'bayesian' ? 'clickers' : 'click_through';
    case 'conversion':
      return 'converters';
    case 'watch_time':
      return 'watch_time';
    default:
      return null;
  }
}

function analyseMetric(metric: CupedMetric, arms: { name: string; sums: Sums }[], confidenceLevel: number): StatResult<CupedResult> {
  const covariate = (sums: Sums) => ({ n: field(sums, 'exposed_users'), sumX: field(sums, 'covariate_sum'), sumX2: field(sums, 'covariate_sq_sum') });
  if (metric === 'click_through') {
    return cupedRatio({
      confidenceLevel,
      arms: arms.map(({ name, sums }) => ({
        name,
        ...covariate(sums),
        sumC: field(sums, 'capped_clicks'),
        sumM: field(sums, 'capped_impressions'),
        sumC2: field(sums, 'capped_clicks_sq_sum'),
        sumM2: field(sums, 'capped_impressions_sq_sum'),
        sumCM: field(sums, 'capped_clicks_impressions_sum'),
        sumXC: field(sums, 'covariate_capped_clicks'),
        sumXM: field(sums, 'covariate_capped_impressions'),
      })),
    });
  }
  const spec = MEAN_METRICS.find((m) => m.metric === metric)!;
  const meanArms: CupedMeanArm[] = arms.map(({ name, sums }) => ({
    name,
    ...covariate(sums),
    sumY: field(sums, spec.y),
    sumY2: field(sums, spec.ySq),
    sumXY: field(sums, spec.xy),
  }));
  return cupedMeans({ arms: meanArms, confidenceLevel, scale: spec.scale });
}

/** Cumulative exact totals of each variant at the end of every day any variant has counters (through `through`). */
function dailyTotals(
  names: string[],
  countersByVariant: Readonly<Record<string, readonly DailyCounter[]>>,
  through?: string,
): { day: string; totals: Sums[] }[] {
  const days = [...new Set(names.flatMap((name) => (countersByVariant[name] ?? []).map((row) => row.day)))]
    .filter((day) => through === undefined || day <= through)
    .sort();
  const running = names.map((): Sums => ({}));
  const byVariantDay = names.map((name) => {
    const byDay = new Map<string, DailyCounter[]>();
    for (const row of countersByVariant[name] ?? []) byDay.set(row.day, [...(byDay.get(row.day) ?? []), row]);
    return byDay;
  });
  return days.map((day) => {
    names.forEach((_, i) => {
      for (const row of byVariantDay[i].get(day) ?? []) {
        for (const [key, value] of Object.entries(row))
          if (typeof value === 'number' || typeof value === 'bigint') running[i][key] = exactAdd(running[i][key] ?? 0, value);
      }
    });
    return { day, totals: running.map((sums) => ({ ...sums })) };
  });
}

/**
 * Always-valid p-values of the plain and adjusted differences of the target over the daily
 * looks, with the decision's mixture (τ = MDE × the control's estimate at the last look) and
 * Holm's adjustment across variants.
 */
function targetSequential(
  metric: CupedMetric,
  names: string[],
  looks: { day: string; totals: Sums[] }[],
  experiment: Experiment,
  confidenceLevel: number,
  final: CupedResult,
): VarianceReductionMetric['sequential'] {
  const alpha = 1 - confidenceLevel;
  const baseline = final.arms[0].estimate;
  const mde = experiment.minimum_detectable_effect ?? 0.1;
  if (!(baseline > 0)) return undefined;
  const mixture = defaultMixtureVariance(mde * baseline);
  const perLook = looks.map(({ totals }) =>
    analyseMetric(
      metric,
      names.map((name, i) => ({ name, sums: totals[i] })),
      confidenceLevel,
    ),
  );
  const sequence = (pick: (c: CupedComparison) => { difference: number; variance: number }, variant: string) =>
    alwaysValidSequence(
      perLook.map((look) => {
        const comparison = look.status === 'ok' ? look.comparisons.find((c) => c.variant === variant) : undefined;
        return comparison ? pick(comparison) : { difference: 0, variance: 0 };
      }),
      mixture,
      alpha,
    ).at(-1)!.pValue;
  const plain = final.comparisons.map((c) => sequence((x) => ({ difference: x.difference, variance: x.standardError ** 2 }), c.variant));
  const adjusted = final.comparisons.map((c) => sequence((x) => ({ difference: x.adjustedDifference, variance: x.adjustedStandardError ** 2 }), c.variant));
  const plainHolm = holmAdjust(plain);
  const adjustedHolm = holmAdjust(adjusted);
  return final.comparisons.map((c, i) => ({ variant: c.variant, alwaysValidPValue: plainHolm[i], adjustedAlwaysValidPValue: adjustedHolm[i] }));
}

/**
 * The `varianceReduction` section from the experiment and its variants' counters through
 * `through`: the analysed variants (active, weight > 0), control first.
 */
export function varianceReductionReport(
  experiment: Experiment,
  countersByVariant: Readonly<Record<string, readonly DailyCounter[]>>,
  { through, confidenceLevel = experiment.confidence_level }: { through?: string; confidenceLevel?: number } = {},
): VarianceReductionReport {
  const analysed = experiment.variants.filter((v) => v.active && v.weight > 0).sort((a, b) => Number(b.is_control) - Number(a.is_control));
  const names = analysed.map((v) => v.name);
  const arms = names.map((name) => ({ name, sums: exactTotalsThrough(countersByVariant[name] ?? [], through) }));
  const recorded = arms.some(({ sums }) => Number(field(sums, 'covariate_sq_sum')) > 0);
  if (!recorded)
    return {
      status: 'no-covariate',
      covariate: COVARIATE_DEFINITION,
      reason: 'no exposure has a covariate recorded yet (counters written before covariates existed, or only users the control model does not know)',
    };
  const capped = arms.every(({ sums }) => hasCappedSums(Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, Number(v)]))));
  const target = cupedTargetOf(experiment);
  const metrics: VarianceReductionMetric[] = (['click_through', ...MEAN_METRICS.map((m) => m.metric)] as CupedMetric[])
    // Capped outcomes exist only on counters written since caps; the proportions need none.
    .filter((metric) => capped || metric === 'clickers' || metric === 'converters')
    .map((metric) => {
      const result = analyseMetric(metric, arms, confidenceLevel);
      const spec = MEAN_METRICS.find((m) => m.metric === metric);
      const entry: VarianceReductionMetric = {
        metric,
        kind: spec?.kind ?? 'ratio',
        definition: spec?.definition ?? 'clicks / impressions with the user as the unit (capped; delta method, linearised)',
        target: metric === target,
        result,
      };
      if (metric === target && result.status === 'ok')
        entry.sequential = targetSequential(metric, names, dailyTotals(names, countersByVariant, through), experiment, confidenceLevel, result);
      return entry;
    });
  return { status: 'ok', covariate: COVARIATE_DEFINITION, metrics };
}
