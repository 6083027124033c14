/**
 * Inputs and output of the experiment report. Inputs use snake_case because they mirror the
 * stored counters and the experiment configuration JSON; the report itself is camelCase.
 */
import type { BanditReport } from './bandit.ts';
import type { MetricKind, VariantComparison } from './compare.ts';
import type { MetricsPanel } from './metrics-panel.ts';
import type { RankingPanel } from './ranking-panel.ts';
import type { Interval, StatResult } from './result.ts';
import type { SampleRatioMismatch } from './srm.ts';

/** One arm of the experiment as configured. */
export interface ExperimentVariantConfig {
  name: string;
  /** Share of traffic; weights are normalised, so 1/1 and 0.5/0.5 mean the same. */
  weight: number;
  /** Exactly one variant is the control. */
  control: boolean;
}

/**
 * Metrics a guardrail can watch. 'ctr' (the user-level click-through ratio) and
 * 'conversion_rate' are read from the metrics panel when the report has one (see
 * GUARDRAIL_PANEL_METRIC in report.ts), else from the counter rows; 'watch_time' and 'rating' need the
 * panel; 'mean_value' is the counter rows' value slot, for callers without a panel.
 */
export type GuardrailMetric = 'ctr' | 'conversion_rate' | 'mean_value' | 'watch_time' | 'rating';

/** Trips when a variant falls more than `max_relative_drop` (e.g. 0.05 = 5%) below control. */
export interface GuardrailConfig {
  metric: GuardrailMetric;
  max_relative_drop: number;
}

/** What the report needs from an experiment's configuration. */
export interface ExperimentConfig {
  experiment_id: string;
  variants: ExperimentVariantConfig[];
  /**
   * 'proportion': conversions / exposed_users; 'mean': value_sum / value_n (Welch);
   * 'ratio': clicks / impressions with users as the unit (delta method).
   * Higher is taken to be better for the target metric.
   */
  target_metric: { kind: MetricKind };
  /** e.g. 0.95; alpha is 1 - confidence_level. */
  confidence_level: number;
  /** Users per variant before any final decision (guards against novelty effects). */
  min_sample_size: number;
  /** Minimum detectable effect, relative to control (0.1 = +10%). */
  mde: number;
  /** Target power for the required sample size; default 0.8. */
  power?: number;
  /**
   * Expected control value of the target metric, fixed in advance; it sets the mSPRT mixture
   * (tau = mde * baseline). When absent the latest control estimate is used.
   */
  baseline?: number;
  guardrails: GuardrailConfig[];
}

/**
 * Counters of one variant, CUMULATIVE from the start of the experiment through the end of
 * `day` (not that day's increment): distinct users and per-user sums do not add across days,
 * because a user active on two days must be counted once and their clicks squared once.
 *
 * The ratio metric uses x = clicks per user and y = impressions per user, so
 * n = exposed_users, sum_x = clicks and sum_y = impressions; only the second moments are extra.
 */
export interface DailyVariantCounters {
  /** 'YYYY-MM-DD' (UTC). */
  day: string;
  variant: string;
  exposed_users: number;
  impressions: number;
  clicks: number;
  /** Users who converted (at most exposed_users). */
  conversions: number;
  value_n: number;
  value_sum: number;
  value_sum_sq: number;
  /** Sum over users of (clicks of the user)^2. */
  user_clicks_sq_sum: number;
  /** Sum over users of (impressions of the user)^2. */
  user_impressions_sq_sum: number;
  /** Sum over users of clicks x impressions of the user. */
  user_clicks_impressions_sum: number;
}

/** The four outcomes of a report. */
export type Decision = 'ship' | 'keep-running' | 'stop-no-effect' | 'investigate-srm';

/** One variant's metric at a look. */
export interface VariantSnapshot {
  name: string;
  isControl: boolean;
  weight: number;
  /** Unit count for the metric (exposed users, value observations). */
  users: number;
  estimate: number | null;
  /** Wilson for proportions, normal (delta method for ratios) otherwise; null without data. */
  interval: Interval | null;
}

/** A non-control variant against control at a look. */
export interface ComparisonSnapshot {
  variant: string;
  lift: number | null;
  liftInterval: Interval | null;
  /** Fixed-horizon p-value: only valid if this were the single planned look. */
  pValue: number | null;
  /** mSPRT p-value, valid however many looks are taken. */
  alwaysValidPValue: number;
  /** Confidence sequence for the difference (treatment - control). */
  alwaysValidInterval: Interval | null;
}

/** The state of the experiment as of the end of one day. */
export interface TimelinePoint {
  day: string;
  variants: VariantSnapshot[];
  comparisons: ComparisonSnapshot[];
  srmPValue: number | null;
}

/** One guardrail, one variant. */
export type GuardrailCheck = {
  metric: GuardrailMetric;
  variant: string;
  maxRelativeDrop: number;
} & (
  | {
      status: 'ok';
      relativeChange: number | null;
      interval: Interval | null;
      /** True when the drop exceeds the limit and the decrease is significant. */
      breached: boolean;
    }
  | { status: 'insufficient-data'; reason: string; breached: false }
);

/** Planned sample size and progress towards it. */
export interface SampleSizeProgress {
  /**
   * Per variant, the SEQUENTIAL plan: the size at which the always-valid test the decision
   * uses (tau = mde x baseline, alpha split over treatment variants) reaches the configured
   * power against the MDE, counting the final look only, so it holds however often the report
   * is read (see sequentialSampleSizeForDifference). Null when not estimable yet.
   */
  requiredPerVariant: number | null;
  /**
   * Per variant for a single fixed-horizon z-test at the same MDE, alpha and power: the number
   * teams know, shown for reference. Stopping at it under the always-valid test leaves about
   * half the MDE-sized effects undetected.
   */
  fixedHorizonPerVariant: number | null;
  reason: string | null;
  smallestVariantUsers: number;
  /** smallestVariantUsers / requiredPerVariant (the sequential plan), capped at 1; 0 when unknown. */
  progress: number;
  /**
   * Power against the MDE of an always-valid look now, for the least-powered comparison;
   * reaches the configured power at the planned size. Null when unknown.
   */
  achievedPower: number | null;
  minSampleSizeReached: boolean;
}

/** The final comparison of a variant with its sequential results attached. */
export type ReportComparison = VariantComparison & {
  alwaysValidPValue: number;
  /** Holm-adjusted across non-control variants; this is what the decision uses. */
  alwaysValidPValueAdjusted: number;
  alwaysValidInterval: Interval | null;
};

/** The full report written as JSON and rendered as HTML. */
export interface ExperimentReport {
  experimentId: string;
  /** Last day included. */
  through: string;
  days: number;
  metric: MetricKind;
  confidenceLevel: number;
  mde: number;
  control: string;
  variants: VariantSnapshot[];
  comparisons: ReportComparison[];
  srm: StatResult<SampleRatioMismatch>;
  sampleSize: SampleSizeProgress;
  guardrails: GuardrailCheck[];
  timeline: TimelinePoint[];
  decision: { decision: Decision; reason: string; winner: string | null };
  /**
   * Every metric, the target included, each measured on its own sample, with the secondary ones
   * Holm-adjusted as one family; null when the caller gave no metrics.
   */
  metrics: MetricsPanel | null;
  /** Click-through by position, reciprocal rank, fallbacks, coverage (descriptive); null when not given. */
  ranking: RankingPanel | null;
  /**
   * A bandit analysed as a bandit (stats/bandit.ts): the split against the allocation in force,
   * IPS and SNIPS per arm, the SNIPS comparisons its decision uses; null for a fixed split.
   * When it is 'ok', `srm` above is its sample-ratio check and the timeline's too.
   */
  bandit: BanditReport | null;
}
