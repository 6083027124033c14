/**
 * Results of one experiment from its daily counters: the per-variant totals and the
 * statistical comparison of the target metric. Reads one Query per variant, so the cost
 * does not grow with the number of events.
 */
import type { Experiment, Variant } from '../domain/experiments/model.ts';
import type { PromotionAnalysis } from '../domain/experiments/lifecycle.ts';
import { compareVariants, type ComparisonInput, type ComparisonOutput } from '../domain/stats/compare.ts';
import type { CounterRepository, DailyCounter } from '../storage/event-repository.ts';

export type VariantTotals = Record<string, number>;

export interface ExperimentResults {
  experiment_id: string;
  status: Experiment['status'];
  target_metric: Experiment['target_metric']['kind'];
  totals: Record<string, VariantTotals>;
  daily: Record<string, DailyCounter[]>;
  comparison: ComparisonOutput | { status: 'insufficient-data'; reason: string };
  promotion: PromotionAnalysis;
}

/** Adds up daily counters into totals. */
export function sumCounters(days: DailyCounter[]): VariantTotals {
  const totals: VariantTotals = {};
  for (const day of days) {
    for (const [metric, value] of Object.entries(day)) {
      if (metric === 'day' || typeof value !== 'number') continue;
      totals[metric] = (totals[metric] ?? 0) + value;
    }
  }
  return totals;
}

const get = (totals: VariantTotals, metric: string) => totals[metric] ?? 0;

/** Maps counters onto the statistics engine's input for the experiment's target metric. */
export function comparisonInput(experiment: Experiment, totals: Record<string, VariantTotals>): ComparisonInput {
  const meta = (v: Variant) => ({ name: v.name, weight: v.weight, isControl: v.is_control, users: get(totals[v.name] ?? {}, 'exposed_users') });
  const variants = experiment.variants;
  const confidenceLevel = experiment.confidence_level;
  switch (experiment.target_metric.kind) {
    case 'click_through':
      // Share of exposed users who clicked at least once would need per-user state; clicks per
      // impression is the ratio metric, approximated here by the per-impression proportion.
      return {
        metric: 'proportion',
        confidenceLevel,
        variants: variants.map((v) => ({ ...meta(v), sample: { users: get(totals[v.name] ?? {}, 'impressions'), conversions: Math.min(get(totals[v.name] ?? {}, 'clicks'), get(totals[v.name] ?? {}, 'impressions')) } })),
      };
    case 'conversion':
      return {
        metric: 'proportion',
        confidenceLevel,
        variants: variants.map((v) => ({ ...meta(v), sample: { users: get(totals[v.name] ?? {}, 'exposed_users'), conversions: Math.min(get(totals[v.name] ?? {}, 'conversions'), get(totals[v.name] ?? {}, 'exposed_users')) } })),
      };
    case 'watch_time':
    case 'rating': {
      const prefix = experiment.target_metric.kind;
      return {
        metric: 'mean',
        confidenceLevel,
        variants: variants.map((v) => {
          const t = totals[v.name] ?? {};
          return { ...meta(v), sample: { n: get(t, `${prefix}_n`), sum: get(t, `${prefix}_sum`), sumSq: get(t, `${prefix}_sum_sq`) } };
        }),
      };
    }
  }
}

/** Reads the counters and computes the results of one experiment. */
export async function experimentResults(experiment: Experiment, counters: CounterRepository): Promise<ExperimentResults> {
  const daily: Record<string, DailyCounter[]> = {};
  await Promise.all(experiment.variants.map(async (v) => (daily[v.name] = await counters.dailyCounters(experiment.id, v.name))));
  const totals = Object.fromEntries(experiment.variants.map((v) => [v.name, sumCounters(daily[v.name])]));
  let comparison: ExperimentResults['comparison'];
  try {
    comparison = compareVariants(comparisonInput(experiment, totals));
  } catch (error) {
    comparison = { status: 'insufficient-data', reason: (error as Error).message };
  }
  return {
    experiment_id: experiment.id,
    status: experiment.status,
    target_metric: experiment.target_metric.kind,
    totals,
    daily,
    comparison,
    promotion: promotionAnalysis(experiment, comparison),
  };
}

/** What the promotion guard needs: significance of the best variant and the SRM flag. */
export function promotionAnalysis(experiment: Experiment, comparison: ExperimentResults['comparison']): PromotionAnalysis {
  if (!('comparisons' in comparison)) return { significant: false, srm_flagged: false };
  const alpha = 1 - experiment.confidence_level;
  const srmFlagged = comparison.srm.status === 'ok' && comparison.srm.flagged;
  const significantWinners = comparison.comparisons
    .filter((c) => c.status === 'ok' && c.pValueAdjusted < alpha && c.difference > 0)
    .sort((a, b) => (b.status === 'ok' && a.status === 'ok' ? b.difference - a.difference : 0));
  const best = significantWinners[0];
  return { significant: best !== undefined, srm_flagged: srmFlagged, winner: best?.variant };
}
