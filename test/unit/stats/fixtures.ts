/**
 * Builders of experiment configurations and cumulative daily counters for the report tests.
 */
import type { DailyVariantCounters, ExperimentConfig } from '../../../lambdas/domain/stats/index.ts';
import { seededRandom } from './simulation.ts';

/** A two-arm proportion experiment, 50/50, 95%, +10% MDE, with a CTR guardrail. */
export function twoArmConfig(overrides: Partial<ExperimentConfig> = {}): ExperimentConfig {
  return {
    experiment_id: 'exp-1',
    variants: [
      { name: 'control', weight: 0.5, control: true },
      { name: 'treatment', weight: 0.5, control: false },
    ],
    target_metric: { kind: 'proportion' },
    confidence_level: 0.95,
    min_sample_size: 1000,
    mde: 0.1,
    guardrails: [{ metric: 'ctr', max_relative_drop: 0.05 }],
    ...overrides,
  };
}

/** Per-variant daily traffic and true rates of a simulated experiment. */
export interface ArmPlan {
  variant: string;
  usersPerDay: number;
  conversionRate: number;
  ctr: number;
}

/**
 * Cumulative counters for `days` days starting 2026-11-01: users convert with the arm's rate,
 * each user sees 1 + Poisson(9) impressions and clicks with the arm's CTR, and values are
 * normal(30, 10). Per-user sums are accumulated as the storage would.
 */
export function simulateCounters(arms: ArmPlan[], days: number, seed: number): DailyVariantCounters[] {
  const random = seededRandom(seed);
  const totals = new Map(
    arms.map((arm) => [
      arm.variant,
      {
        exposed_users: 0,
        impressions: 0,
        clicks: 0,
        conversions: 0,
        value_n: 0,
        value_sum: 0,
        value_sum_sq: 0,
        user_clicks_sq_sum: 0,
        user_impressions_sq_sum: 0,
        user_clicks_impressions_sum: 0,
      },
    ]),
  );
  const rows: DailyVariantCounters[] = [];
  for (let d = 0; d < days; d++) {
    const day = new Date(Date.UTC(2026, 10, 1 + d)).toISOString().slice(0, 10);
    for (const arm of arms) {
      const t = totals.get(arm.variant) as typeof totals extends Map<string, infer V> ? V : never;
      for (let u = 0; u < arm.usersPerDay; u++) {
        const impressions = 1 + random.poisson(9);
        const clicks = random.binomial(impressions, arm.ctr);
        const value = 30 + 10 * random.normal();
        t.exposed_users += 1;
        t.impressions += impressions;
        t.clicks += clicks;
        t.conversions += random.uniform() < arm.conversionRate ? 1 : 0;
        t.value_n += 1;
        t.value_sum += value;
        t.value_sum_sq += value * value;
        t.user_clicks_sq_sum += clicks * clicks;
        t.user_impressions_sq_sum += impressions * impressions;
        t.user_clicks_impressions_sum += clicks * impressions;
      }
      rows.push({ day, variant: arm.variant, ...t });
    }
  }
  return rows;
}
