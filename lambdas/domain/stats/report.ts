import { buildBanditReport, type BanditReport, type BanditReportInput } from './bandit.ts';
import { compareVariants, validateVariantMeta, type ComparisonInput, type MetricKind, type VariantComparison, type VariantMeta } from './compare.ts';
import { requireCount, requireFinite, requireOpenUnit, StatsInputError } from './errors.ts';
import { holmAdjust } from './holm.ts';
import { buildMetricsPanel, type MetricsPanel, type PanelMetricInput } from './metrics-panel.ts';
import { zCriticalFor } from './lift.ts';
import { sampleSizeForMeans, sampleSizeForProportions, sequentialPowerForStandardError, sequentialSampleSizeForDifference } from './power.ts';
import { wilsonInterval } from './ranking.ts';
import { buildRankingPanel, type RankingPanelInput } from './ranking-panel.ts';
import { ratioEstimate, ratioMetricTest, type RatioSample } from './ratio.ts';
import { alwaysValidSequence, defaultMixtureVariance, type AlwaysValidPoint } from './sequential.ts';
import type {
  DailyVariantCounters,
  Decision,
  ExperimentConfig,
  ExperimentReport,
  GuardrailCheck,
  GuardrailConfig,
  GuardrailMetric,
  ReportComparison,
  SampleSizeProgress,
  TimelinePoint,
  VariantSnapshot,
} from './report-types.ts';
import { twoProportionZTest } from './proportion.ts';
import type { Interval } from './result.ts';
import { summarizeMeanSample, welchTTest, type MeanSample } from './welch.ts';

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const DEFAULT_POWER = 0.8;

const NUMERIC_FIELDS = [
  'exposed_users',
  'impressions',
  'clicks',
  'conversions',
  'value_n',
  'value_sum',
  'value_sum_sq',
  'user_clicks_sq_sum',
  'user_impressions_sq_sum',
  'user_clicks_impressions_sum',
] as const;

/** Counters that can only grow when rows are cumulative. */
const MONOTONE_FIELDS = ['exposed_users', 'impressions', 'clicks', 'conversions', 'value_n'] as const;

/** Checks the configuration; throws {@link StatsInputError} naming the field. */
export function validateExperimentConfig(config: ExperimentConfig): void {
  if (typeof config.experiment_id !== 'string' || config.experiment_id.length === 0) {
    throw new StatsInputError('experiment_id', 'must be a non-empty string');
  }
  if (!['proportion', 'mean', 'ratio'].includes(config.target_metric?.kind)) {
    throw new StatsInputError('target_metric.kind', `must be 'proportion', 'mean' or 'ratio', got ${JSON.stringify(config.target_metric?.kind)}`);
  }
  if (!Array.isArray(config.variants)) throw new StatsInputError('variants', 'must be an array');
  validateVariantMeta(config.variants.map((variant) => ({ name: variant.name, weight: variant.weight, isControl: variant.control === true, users: 0 })));
  requireOpenUnit('confidence_level', config.confidence_level);
  requireCount('min_sample_size', config.min_sample_size);
  if (!(Number.isFinite(config.mde) && config.mde > 0)) throw new StatsInputError('mde', `must be a finite number > 0, got ${String(config.mde)}`);
  if (config.power !== undefined) requireOpenUnit('power', config.power);
  if (config.baseline !== undefined && !(Number.isFinite(config.baseline) && config.baseline > 0)) {
    throw new StatsInputError('baseline', `must be a finite number > 0, got ${String(config.baseline)}`);
  }
  if (!Array.isArray(config.guardrails)) throw new StatsInputError('guardrails', 'must be an array (empty for none)');
  config.guardrails.forEach((guardrail, i) => {
    if (!Object.hasOwn(GUARDRAIL_PANEL_METRIC, guardrail.metric)) {
      throw new StatsInputError(
        `guardrails[${i}].metric`,
        `must be one of ${Object.keys(GUARDRAIL_PANEL_METRIC)
          .map((m) => `'${m}'`)
          .join(', ')}, got ${JSON.stringify(guardrail.metric)}`,
      );
    }
    if (!(guardrail.max_relative_drop > 0 && guardrail.max_relative_drop < 1)) {
      throw new StatsInputError(`guardrails[${i}].max_relative_drop`, `must be strictly between 0 and 1, got ${String(guardrail.max_relative_drop)}`);
    }
  });
}

/** Checks the counters against the configuration; throws {@link StatsInputError} naming the row and field. */
export function validateCounters(config: ExperimentConfig, counters: DailyVariantCounters[]): void {
  const names = new Set(config.variants.map((variant) => variant.name));
  const seen = new Set<string>();
  counters.forEach((row, i) => {
    if (typeof row.day !== 'string' || !DAY_PATTERN.test(row.day) || Number.isNaN(Date.parse(`${row.day}T00:00:00Z`))) {
      throw new StatsInputError(`counters[${i}].day`, `must be a YYYY-MM-DD date, got ${JSON.stringify(row.day)}`);
    }
    if (!names.has(row.variant)) throw new StatsInputError(`counters[${i}].variant`, `unknown variant ${JSON.stringify(row.variant)}`);
    const key = `${row.day}\u0000${row.variant}`;
    if (seen.has(key)) throw new StatsInputError(`counters[${i}]`, `second row for variant '${row.variant}' on ${row.day}`);
    seen.add(key);
    for (const field of NUMERIC_FIELDS) {
      if (field === 'value_sum' || field === 'user_clicks_impressions_sum') requireFinite(`counters[${i}].${field}`, row[field]);
      else requireCount(`counters[${i}].${field}`, row[field], { integer: !field.endsWith('sq') && !field.endsWith('sum') });
    }
    if (row.conversions > row.exposed_users) {
      throw new StatsInputError(`counters[${i}].conversions`, `${row.conversions} exceeds exposed_users ${row.exposed_users}`);
    }
  });
}

/** Cumulative counters per day per variant; a variant with no row on a day keeps its previous totals. */
function cumulativeSeries(config: ExperimentConfig, counters: DailyVariantCounters[]): { days: string[]; byDay: DailyVariantCounters[][] } {
  const days = [...new Set(counters.map((row) => row.day))].sort();
  const rows = new Map(counters.map((row) => [`${row.day}\u0000${row.variant}`, row]));
  const zero = (day: string, variant: string): DailyVariantCounters => ({
    day,
    variant,
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
  });
  const previous = new Map(config.variants.map((variant) => [variant.name, zero('', variant.name)]));
  const byDay = days.map((day) =>
    config.variants.map((variant) => {
      const before = previous.get(variant.name) as DailyVariantCounters;
      const row = rows.get(`${day}\u0000${variant.name}`);
      if (row === undefined) return { ...before, day };
      for (const field of MONOTONE_FIELDS) {
        if (row[field] < before[field]) {
          throw new StatsInputError(
            `counters[${counters.indexOf(row)}].${field}`,
            `falls from ${before[field]} to ${row[field]} on ${day}; rows must be cumulative from the start of the experiment`,
          );
        }
      }
      previous.set(variant.name, row);
      return row;
    }),
  );
  return { days, byDay };
}

function meanSampleOf(row: DailyVariantCounters): MeanSample {
  return { n: row.value_n, sum: row.value_sum, sumSq: row.value_sum_sq };
}

function ratioSampleOf(row: DailyVariantCounters): RatioSample {
  return {
    users: row.exposed_users,
    sumX: row.clicks,
    sumY: row.impressions,
    sumX2: row.user_clicks_sq_sum,
    sumY2: row.user_impressions_sq_sum,
    sumXY: row.user_clicks_impressions_sum,
  };
}

function comparisonInput(config: ExperimentConfig, rows: DailyVariantCounters[], kind: MetricKind = config.target_metric.kind): ComparisonInput {
  const meta = (i: number): VariantMeta => ({
    name: config.variants[i].name,
    weight: config.variants[i].weight,
    isControl: config.variants[i].control,
    users: rows[i].exposed_users,
  });
  switch (kind) {
    case 'proportion':
      return {
        metric: kind,
        confidenceLevel: config.confidence_level,
        variants: rows.map((row, i) => ({ ...meta(i), sample: { users: row.exposed_users, conversions: row.conversions } })),
      };
    case 'mean':
      return { metric: kind, confidenceLevel: config.confidence_level, variants: rows.map((row, i) => ({ ...meta(i), sample: meanSampleOf(row) })) };
    case 'ratio':
      return { metric: kind, confidenceLevel: config.confidence_level, variants: rows.map((row, i) => ({ ...meta(i), sample: ratioSampleOf(row) })) };
    default: {
      const unknown: never = kind;
      throw new StatsInputError('target_metric.kind', `unknown metric kind ${JSON.stringify(unknown)}`);
    }
  }
}

/** Units the target metric counts per variant (its n). */
function metricUnits(kind: MetricKind, row: DailyVariantCounters): number {
  return kind === 'mean' ? row.value_n : row.exposed_users;
}

function variantSnapshot(config: ExperimentConfig, index: number, row: DailyVariantCounters): VariantSnapshot {
  const variant = config.variants[index];
  const kind = config.target_metric.kind;
  const z = zCriticalFor(config.confidence_level);
  const base = { name: variant.name, isControl: variant.control, weight: variant.weight, users: metricUnits(kind, row) };
  switch (kind) {
    case 'proportion':
      if (row.exposed_users === 0) return { ...base, estimate: null, interval: null };
      return { ...base, estimate: row.conversions / row.exposed_users, interval: wilsonInterval(row.conversions, row.exposed_users, z) };
    case 'mean': {
      if (row.value_n === 0) return { ...base, estimate: null, interval: null };
      const summary = summarizeMeanSample(meanSampleOf(row));
      if (row.value_n < 2) return { ...base, estimate: summary.mean, interval: null };
      const se = Math.sqrt(summary.variance / summary.n);
      return { ...base, estimate: summary.mean, interval: { low: summary.mean - z * se, high: summary.mean + z * se } };
    }
    case 'ratio': {
      const estimate = ratioEstimate(ratioSampleOf(row));
      if (estimate.status !== 'ok') {
        return { ...base, estimate: row.impressions > 0 ? row.clicks / row.impressions : null, interval: null };
      }
      return {
        ...base,
        estimate: estimate.ratio,
        interval: { low: estimate.ratio - z * estimate.standardError, high: estimate.ratio + z * estimate.standardError },
      };
    }
    default: {
      const unknown: never = kind;
      throw new StatsInputError('target_metric.kind', `unknown metric kind ${JSON.stringify(unknown)}`);
    }
  }
}

/**
 * Users per variant the report plans for, and the fixed-horizon size teams know. The plan is the
 * sequential one ({@link sequentialSampleSizeForDifference}, final look only): the size at
 * which the always-valid test the decision uses (tau = mde x baseline, Holm's first-step level
 * alpha / number of treatment variants) rejects with the configured power against an effect of
 * the MDE, however many daily looks come before. The difference's per-user variance is the one
 * the report plugs in: p1 (1 - p1) + p2 (1 - p2) unpooled for a proportion, 2 s^2 for a mean
 * (control's variance for both arms) and for a ratio (control's per-user linearised variance).
 */
function requiredSampleSize(
  config: ExperimentConfig,
  control: DailyVariantCounters,
): { required: number | null; fixedHorizon: number | null; reason: string | null } {
  const alpha = 1 - config.confidence_level;
  const sequentialAlpha = alpha / (config.variants.length - 1);
  const power = config.power ?? DEFAULT_POWER;
  const plan = (differenceVariancePerUser: number, baseline: number, fixedHorizon: number): { required: number; fixedHorizon: number; reason: null } => ({
    required: sequentialSampleSizeForDifference({ differenceVariancePerUser, absoluteMde: config.mde * baseline, alpha: sequentialAlpha, power }),
    fixedHorizon,
    reason: null,
  });
  switch (config.target_metric.kind) {
    case 'proportion': {
      const baseline = config.baseline ?? (control.exposed_users > 0 ? control.conversions / control.exposed_users : 0);
      if (!(baseline > 0 && baseline * (1 + config.mde) < 1)) return { required: null, fixedHorizon: null, reason: 'no control conversions yet' };
      const treatment = baseline * (1 + config.mde);
      const fixedHorizon = sampleSizeForProportions({ baselineRate: baseline, relativeMde: config.mde, alpha, power }).usersPerVariant;
      return plan(baseline * (1 - baseline) + treatment * (1 - treatment), baseline, fixedHorizon);
    }
    case 'mean': {
      if (control.value_n < 2) return { required: null, fixedHorizon: null, reason: 'fewer than 2 control observations' };
      const summary = summarizeMeanSample(meanSampleOf(control));
      const baseline = config.baseline ?? summary.mean;
      if (!(summary.variance > 0 && baseline > 0)) return { required: null, fixedHorizon: null, reason: 'control has no variance or a non-positive mean' };
      const fixedHorizon = sampleSizeForMeans({ standardDeviation: Math.sqrt(summary.variance), absoluteMde: config.mde * baseline, alpha, power });
      return plan(2 * summary.variance, baseline, fixedHorizon);
    }
    case 'ratio': {
      const estimate = ratioEstimate(ratioSampleOf(control));
      if (estimate.status !== 'ok' || !(estimate.variance > 0)) return { required: null, fixedHorizon: null, reason: 'control ratio not estimable yet' };
      const baseline = config.baseline ?? estimate.ratio;
      if (!(baseline > 0)) return { required: null, fixedHorizon: null, reason: 'control ratio is zero' };
      // Per-user linearised variance: n Var(R) does not depend on n.
      const perUserVariance = estimate.variance * control.exposed_users;
      const fixedHorizon = sampleSizeForMeans({ standardDeviation: Math.sqrt(perUserVariance), absoluteMde: config.mde * baseline, alpha, power });
      return plan(2 * perUserVariance, baseline, fixedHorizon);
    }
    default: {
      const unknown: never = config.target_metric.kind;
      throw new StatsInputError('target_metric.kind', `unknown metric kind ${JSON.stringify(unknown)}`);
    }
  }
}

/**
 * The metrics-panel metric each guardrail metric is checked on when the report has a panel: the
 * panel measures every metric on its own sample, so a guardrail never competes with the target
 * for a counter slot. Without a panel, 'ctr', 'conversion_rate' and 'mean_value' are read from
 * the counter rows as before; 'watch_time' and 'rating' need the panel.
 */
export const GUARDRAIL_PANEL_METRIC: Readonly<Record<GuardrailMetric, string | null>> = Object.freeze({
  ctr: 'click_through',
  conversion_rate: 'conversion',
  mean_value: null,
  watch_time: 'watch_time',
  rating: 'rating',
});

function guardrailKind(metric: GuardrailConfig['metric']): MetricKind {
  return metric === 'ctr' ? 'ratio' : metric === 'conversion_rate' ? 'proportion' : 'mean';
}

/** The breach rule of {@link checkGuardrail} on a comparison of the metrics panel. */
function checkGuardrailOnPanel(guardrail: GuardrailConfig, panel: MetricsPanel, panelMetric: string, variant: string): GuardrailCheck {
  const base = { metric: guardrail.metric, variant, maxRelativeDrop: guardrail.max_relative_drop };
  const metric = panel.metrics.find((m) => m.id === panelMetric);
  const comparison = metric?.comparisons.find((c) => c.variant === variant);
  if (metric === undefined || metric.notTested !== null || comparison === undefined) {
    return { ...base, status: 'insufficient-data', reason: metric?.notTested ?? `the report measures no ${panelMetric}`, breached: false };
  }
  if (comparison.status !== 'ok') return { ...base, status: 'insufficient-data', reason: comparison.reason, breached: false };
  const breached = comparison.relativeLift !== null && comparison.relativeLift < -guardrail.max_relative_drop && comparison.differenceInterval.high < 0;
  return { ...base, status: 'ok', relativeChange: comparison.relativeLift, interval: comparison.relativeLiftInterval, breached };
}

/**
 * A guardrail trips when the variant's relative change is below -max_relative_drop AND the
 * change is significantly negative (upper end of the difference interval below zero), so one
 * noisy day cannot raise an alarm. Guardrails are checked at the report's confidence level
 * without sequential correction: an alarm asks for a look, it does not end the experiment.
 */
function checkGuardrail(config: ExperimentConfig, guardrail: GuardrailConfig, control: DailyVariantCounters, treatment: DailyVariantCounters): GuardrailCheck {
  const base = { metric: guardrail.metric, variant: treatment.variant, maxRelativeDrop: guardrail.max_relative_drop };
  const confidenceLevel = config.confidence_level;
  const kind = guardrailKind(guardrail.metric);
  const result =
    kind === 'ratio'
      ? ratioMetricTest({ control: ratioSampleOf(control), treatment: ratioSampleOf(treatment), confidenceLevel })
      : kind === 'proportion'
        ? twoProportionZTest({
            control: { users: control.exposed_users, conversions: control.conversions },
            treatment: { users: treatment.exposed_users, conversions: treatment.conversions },
            confidenceLevel,
          })
        : welchTTest({ control: meanSampleOf(control), treatment: meanSampleOf(treatment), confidenceLevel });
  if (result.status !== 'ok') return { ...base, status: 'insufficient-data', reason: result.reason, breached: false };
  const breached = result.relativeLift !== null && result.relativeLift < -guardrail.max_relative_drop && result.differenceInterval.high < 0;
  return { ...base, status: 'ok', relativeChange: result.relativeLift, interval: result.relativeLiftInterval, breached };
}

/**
 * What the decision reads of a comparison: the report's own (A/B) or a bandit's SNIPS ones.
 */
type DecisionComparison = { variant: string; alwaysValidPValueAdjusted: number; alwaysValidInterval: Interval | null } & (
  | { status: 'ok'; difference: number }
  | { status: 'insufficient-data' }
);

/**
 * The decision rule. Ship: a variant beats control on the Holm-adjusted always-valid p-value
 * and breaches no guardrail, at any look. Stop-no-effect: every variant is settled, where a
 * variant is settled when
 *   - it is significantly worse (always-valid, Holm-adjusted), at any look; or
 *   - the sequential planned size is reached AND its always-valid interval for the difference
 *     lies wholly below +MDE (mde x baseline), or it breaches a guardrail (it cannot ship).
 * Why both conditions for "no effect": the planned size alone would end the ~15% of runs
 * with a true MDE-sized effect that have not crossed yet (the defect this rule replaces: an
 * observed +10% at fixed p = 0.005 ended as no effect). The interval condition alone would let
 * an early, noisy look stop a run before it had the power it was planned for. Because the
 * interval is a confidence sequence, a true effect of +MDE or more is ever excluded with
 * probability at most alpha, however often the report is read: so stop-no-effect abandons an
 * MDE-sized effect at most alpha of the time. A run past the planned size whose interval still
 * holds both 0 and +MDE keeps running; the interval narrows with every day, so it settles.
 */
function decide({
  config,
  srmFlagged,
  comparisons,
  guardrails,
  sampleSize,
  absoluteMde,
  bandit = false,
}: {
  config: ExperimentConfig;
  srmFlagged: boolean;
  comparisons: DecisionComparison[];
  guardrails: GuardrailCheck[];
  sampleSize: SampleSizeProgress;
  /** mde x baseline, the effect the plan is for; null while the baseline is unknown. */
  absoluteMde: number | null;
  /** The comparisons are a bandit's SNIPS ones and the split was checked against its allocation in force. */
  bandit?: boolean;
}): ExperimentReport['decision'] {
  // Rounded so 1 - 0.95 reads as 0.05 in the reason text.
  const alpha = Number((1 - config.confidence_level).toPrecision(12));
  if (srmFlagged) {
    const against = bandit ? ' against the allocation in force' : '';
    return {
      decision: 'investigate-srm',
      reason: `sample ratio mismatch${against} (p < 0.001): assignment or logging is broken; results are not trustworthy`,
      winner: null,
    };
  }
  if (!sampleSize.minSampleSizeReached) {
    return { decision: 'keep-running', reason: `min_sample_size of ${config.min_sample_size} users per variant not reached`, winner: null };
  }
  const breachedVariants = new Set(guardrails.filter((check) => check.breached).map((check) => check.variant));
  const significant = comparisons.filter(
    (comparison): comparison is DecisionComparison & { status: 'ok' } => comparison.status === 'ok' && comparison.alwaysValidPValueAdjusted <= alpha,
  );
  const winners = significant
    .filter((comparison) => comparison.difference > 0 && !breachedVariants.has(comparison.variant))
    .sort((a, b) => b.difference - a.difference);
  if (winners.length > 0) {
    const best = winners[0];
    const estimate = bandit ? ' on the inverse-propensity-weighted (SNIPS) estimates' : '';
    return {
      decision: 'ship',
      reason: `${best.variant} beats control${estimate} (always-valid p = ${best.alwaysValidPValueAdjusted.toPrecision(3)} after Holm, alpha ${alpha})`,
      winner: best.variant,
    };
  }
  const required = sampleSize.requiredPerVariant;
  const planReached = required !== null && sampleSize.progress >= 1;
  const worse = (comparison: DecisionComparison): boolean =>
    comparison.status === 'ok' && comparison.alwaysValidPValueAdjusted <= alpha && comparison.difference < 0;
  const mdeRuledOut = (comparison: DecisionComparison): boolean =>
    comparison.status === 'ok' && absoluteMde !== null && comparison.alwaysValidInterval !== null && comparison.alwaysValidInterval.high < absoluteMde;
  const settled = (comparison: DecisionComparison): boolean =>
    worse(comparison) || (planReached && comparison.status === 'ok' && (mdeRuledOut(comparison) || breachedVariants.has(comparison.variant)));
  if (comparisons.every(worse)) {
    return { decision: 'stop-no-effect', reason: `every variant is significantly worse than control (always-valid p after Holm <= ${alpha})`, winner: null };
  }
  const mdeText = `+${Number((config.mde * 100).toPrecision(6))}%`;
  if (comparisons.every(settled)) {
    return {
      decision: 'stop-no-effect',
      reason: `no variant beats control at the planned ${(required as number).toLocaleString('en-US')} users per variant, and each always-valid interval rules out a ${mdeText} effect (or the variant is significantly worse or breaches a guardrail)`,
      winner: null,
    };
  }
  if (!planReached) {
    const plan =
      required === null
        ? 'the planned sample size is not known yet'
        : `${sampleSize.smallestVariantUsers.toLocaleString('en-US')} of the planned ${required.toLocaleString('en-US')} users per variant`;
    return { decision: 'keep-running', reason: `no significant winner yet; ${plan}`, winner: null };
  }
  return {
    decision: 'keep-running',
    reason: `the planned ${(required as number).toLocaleString('en-US')} users per variant are reached without a winner, but an always-valid interval still includes a ${mdeText} effect: no effect is not shown yet`,
    winner: null,
  };
}

/** Report inputs: the configuration and every cumulative counter row so far. */
export interface ReportInput {
  config: ExperimentConfig;
  counters: DailyVariantCounters[];
  /**
   * Every metric to show beside the target, each with one sample per variant (in the order of
   * `config.variants`) as of the last day; the guardrails are checked on these when given.
   */
  metrics?: PanelMetricInput[];
  /** The recommendation counters per variant as of the last day (descriptive, see buildRankingPanel). */
  ranking?: Omit<RankingPanelInput, 'confidenceLevel'>;
  /**
   * A bandit's logged allocation and inverse-propensity sums per day (stats/bandit.ts): then the
   * split is checked against the allocation in force and the decision uses the SNIPS comparisons.
   */
  bandit?: BanditReportInput;
}

/**
 * Builds the experiment report from cumulative daily counters: per-variant results at the last
 * day, Holm-adjusted fixed-horizon and always-valid (mSPRT) p-values, sample ratio mismatch,
 * progress to the sequential planned sample size (and the fixed-horizon one for reference),
 * guardrails, the per-day timeline, and the decision (see {@link decide}):
 *   investigate-srm  the split does not match the weights (p < 0.001), or for a bandit the
 *                    allocation in force;
 *   keep-running     min_sample_size not reached, or no answer yet;
 *   ship             a variant beats control on the always-valid p-value (Holm-adjusted across
 *                    variants, higher is better) and breaches no guardrail;
 *   stop-no-effect   every variant is significantly worse, or the sequential planned size is
 *                    reached and every variant's always-valid interval rules out +MDE.
 * The cost depends on days and variants only, never on the number of events.
 */
export function buildExperimentReport({ config, counters, metrics, ranking, bandit: banditInput }: ReportInput): ExperimentReport {
  validateExperimentConfig(config);
  const controlIndex = config.variants.findIndex((variant) => variant.control);
  validateCounters(config, counters);
  if (counters.length === 0) throw new StatsInputError('counters', 'no counter rows: the experiment has no data yet');
  const panel = metrics === undefined ? null : buildMetricsPanel({ variants: config.variants, confidenceLevel: config.confidence_level, metrics });
  config.guardrails.forEach((guardrail, g) => {
    const panelMetric = GUARDRAIL_PANEL_METRIC[guardrail.metric];
    if (panelMetric !== null && panel !== null && !panel.metrics.some((m) => m.id === panelMetric)) {
      throw new StatsInputError(
        `guardrails[${g}].metric`,
        `'${guardrail.metric}' is checked on the metrics panel's '${panelMetric}', which the report was not given`,
      );
    }
    if (panel === null && (guardrail.metric === 'watch_time' || guardrail.metric === 'rating')) {
      throw new StatsInputError(`guardrails[${g}].metric`, `'${guardrail.metric}' needs the metrics panel (ReportInput.metrics)`);
    }
  });
  const { days, byDay } = cumulativeSeries(config, counters);
  const alpha = 1 - config.confidence_level;
  const bandit = banditInput === undefined ? null : banditSection(config, days, banditInput);
  const latestRows = byDay[byDay.length - 1];
  const latest = compareVariants(comparisonInput(config, latestRows));
  const timelineComparisons = byDay.map((rows) => compareVariants(comparisonInput(config, rows), { bayes: false }));

  // tau = mde x baseline, fixed in advance when the config says so (see ExperimentConfig.baseline).
  const controlLatest = variantSnapshot(config, controlIndex, latestRows[controlIndex]);
  const baseline = config.baseline ?? controlLatest.estimate;
  const mixtureVariance = baseline !== null && baseline > 0 ? defaultMixtureVariance(config.mde * baseline) : null;
  const nonControl = config.variants.filter((_, i) => i !== controlIndex).map((variant) => variant.name);
  const sequences = new Map<string, AlwaysValidPoint[]>(
    nonControl.map((name) => {
      if (mixtureVariance === null) return [name, days.map(() => ({ pValue: 1, interval: null }))];
      const looks = timelineComparisons.map((output) => {
        const comparison = output.comparisons.find((c) => c.variant === name) as VariantComparison;
        return comparison.status === 'ok' ? { difference: comparison.difference, variance: comparison.standardError ** 2 } : { difference: 0, variance: 0 };
      });
      return [name, alwaysValidSequence(looks, mixtureVariance, alpha)];
    }),
  );
  const finalSequential = nonControl.map((name) => (sequences.get(name) as AlwaysValidPoint[])[days.length - 1]);
  const adjustedSequential = holmAdjust(finalSequential.map((point) => point.pValue));
  const comparisons: ReportComparison[] = latest.comparisons.map((comparison) => {
    const index = nonControl.indexOf(comparison.variant);
    return {
      ...comparison,
      alwaysValidPValue: finalSequential[index].pValue,
      alwaysValidPValueAdjusted: adjustedSequential[index],
      alwaysValidInterval: finalSequential[index].interval,
    };
  });

  const timeline: TimelinePoint[] = days.map((day, d) => ({
    day,
    variants: byDay[d].map((row, i) => variantSnapshot(config, i, row)),
    comparisons: nonControl.map((name) => {
      const comparison = timelineComparisons[d].comparisons.find((c) => c.variant === name) as VariantComparison;
      const sequential = (sequences.get(name) as AlwaysValidPoint[])[d];
      const ok = comparison.status === 'ok';
      return {
        variant: name,
        lift: ok ? comparison.relativeLift : null,
        liftInterval: ok ? comparison.relativeLiftInterval : null,
        pValue: ok ? comparison.pValue : null,
        alwaysValidPValue: sequential.pValue,
        alwaysValidInterval: sequential.interval,
      };
    }),
    srmPValue: bandit?.status === 'ok' ? bandit.timeline[d].srmPValue : timelineComparisons[d].srm.status === 'ok' ? timelineComparisons[d].srm.pValue : null,
  }));

  const { required, fixedHorizon, reason } = requiredSampleSize(config, latestRows[controlIndex]);
  const smallestVariantUsers = Math.min(...latestRows.map((row) => metricUnits(config.target_metric.kind, row)));
  const largestStandardError = Math.max(0, ...comparisons.map((c) => (c.status === 'ok' ? c.standardError : 0)));
  const allEstimable = comparisons.every((c) => c.status === 'ok');
  const absoluteMde = baseline !== null && baseline > 0 ? config.mde * baseline : null;
  const sampleSize: SampleSizeProgress = {
    requiredPerVariant: required,
    fixedHorizonPerVariant: fixedHorizon,
    reason,
    smallestVariantUsers,
    progress: required === null ? 0 : Math.min(1, smallestVariantUsers / required),
    achievedPower:
      absoluteMde !== null && allEstimable && largestStandardError > 0
        ? sequentialPowerForStandardError({ absoluteMde, standardError: largestStandardError, alpha: alpha / nonControl.length })
        : null,
    minSampleSizeReached: Math.min(...latestRows.map((row) => row.exposed_users)) >= config.min_sample_size,
  };

  const guardrails = config.guardrails.flatMap((guardrail, g) =>
    latestRows
      .filter((_, i) => i !== controlIndex)
      .map((row) => {
        const panelMetric = GUARDRAIL_PANEL_METRIC[guardrail.metric];
        if (panel !== null && panelMetric !== null) return checkGuardrailOnPanel(guardrail, panel, panelMetric, row.variant);
        try {
          return checkGuardrail(config, guardrail, latestRows[controlIndex], row);
        } catch (error) {
          // Name the guardrail and variant: 'control.sum_x2' alone would not say where.
          if (error instanceof StatsInputError)
            throw new StatsInputError(
              `guardrails[${g}] (${guardrail.metric}, ${row.variant} on ${row.day}): ${error.field}`,
              error.message.slice(error.field.length + 2),
            );
          throw error;
        }
      }),
  );
  // A bandit whose allocation was logged is checked against it and decided on its SNIPS
  // comparisons (mSPRT tau from the control's SNIPS); one without falls back to the fixed split.
  const srm = bandit?.status === 'ok' ? bandit.srm : latest.srm;
  const banditControl = bandit?.status === 'ok' ? (bandit.arms.find((arm) => arm.isControl)?.snips ?? null) : null;
  const banditBaseline = config.baseline ?? banditControl;
  const decision =
    bandit?.status === 'ok'
      ? decide({
          config,
          srmFlagged: srm.status === 'ok' && srm.flagged,
          comparisons: bandit.comparisons,
          guardrails,
          sampleSize,
          absoluteMde: banditBaseline !== null && banditBaseline > 0 ? config.mde * banditBaseline : null,
          bandit: true,
        })
      : decide({ config, srmFlagged: latest.srm.status === 'ok' && latest.srm.flagged, comparisons, guardrails, sampleSize, absoluteMde });

  return {
    experimentId: config.experiment_id,
    through: days[days.length - 1],
    days: days.length,
    metric: config.target_metric.kind,
    confidenceLevel: config.confidence_level,
    mde: config.mde,
    control: latest.control,
    variants: latestRows.map((row, i) => variantSnapshot(config, i, row)),
    comparisons,
    srm,
    sampleSize,
    guardrails,
    timeline,
    decision,
    metrics: panel,
    ranking: ranking === undefined ? null : buildRankingPanel({ ...ranking, confidenceLevel: config.confidence_level }),
    bandit,
  };
}

/**
 * The bandit section from the bandit input, its looks checked against the report's days and
 * variants (one look per day, arms in the variants' order).
 */
function banditSection(config: ExperimentConfig, days: string[], input: BanditReportInput): BanditReport {
  if (input.status !== 'ok') return input;
  if (input.looks.length !== days.length || input.looks.some((look, l) => look.day !== days[l])) {
    throw new StatsInputError(
      'bandit.looks',
      `must have one look per day of the counters (${days.join(', ')}), got ${input.looks.map((look) => look.day).join(', ')}`,
    );
  }
  input.looks.forEach((look, l) => {
    if (
      look.arms.length !== config.variants.length ||
      look.arms.some((arm, a) => arm.name !== config.variants[a].name || arm.isControl !== config.variants[a].control)
    ) {
      throw new StatsInputError(
        `bandit.looks[${l}].arms`,
        `must be the variants ${config.variants.map((v) => v.name).join(', ')} in that order, the control flagged`,
      );
    }
  });
  return buildBanditReport({ looks: input.looks, reward: input.reward, confidenceLevel: config.confidence_level, mde: config.mde, baseline: config.baseline });
}

/** Decisions that should be announced (SNS) when reached. */
export function isTerminalDecision(decision: Decision): boolean {
  return decision !== 'keep-running';
}
