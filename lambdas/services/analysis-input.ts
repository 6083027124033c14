/**
 * From an experiment and its stored daily counters to the statistics engine's input: which
 * engine metric answers the experiment's target metric, which counter fields fill which slot,
 * which guardrails can be checked from the counters, and the cumulative series per day.
 *
 * Pure (no AWS, no I/O), so the Lambda, the admin API, the command line and the tests build
 * exactly the same report from the same counters.
 *
 * Stored counters are additive DAILY increments per (experiment, variant, day); the engine
 * wants CUMULATIVE values per day, so every field is a prefix sum over days. That is valid for
 * the per-user fields too (exposed_users, clickers, converters, Σc², Σm², Σc·m) because the
 * writers add each user's contribution as a delta on the day it changes.
 */
import type { Experiment, Guardrail, Variant } from '../domain/experiments/model.ts';
import type { DailyCounter } from '../storage/counter-store.ts';
import { banditAnalysisInput } from './bandit-input.ts';
import type { ShownItems } from '../storage/shown-items.ts';
import { panelMetricInputs, rankingPanelInput } from './metric-panel-input.ts';
import { CAPPED_COUNTER_FIELDS, cappedMetricPlan, cappedSlotsOf, hasCappedSums } from './capping.ts';
import { CUPED_COUNTER_FIELDS } from './variance-reduction.ts';
import type {
  DailyVariantCounters,
  BanditReportInput,
  ExperimentConfig,
  GuardrailConfig,
  MetricKind as StatsMetricKind,
  PanelMetricInput,
  RankingPanelInput,
} from '../domain/stats/index.ts';

/** Every counter field the analysis reads; the totals in a report list exactly these. */
export const COUNTER_FIELDS = [
  'exposed_users',
  'impressions',
  'clicks',
  'conversions',
  'revenue_n',
  'revenue_sum',
  'revenue_sum_sq',
  'rating_n',
  'rating_sum',
  'rating_sum_sq',
  'watch_time_n',
  'watch_time_sum',
  'watch_time_sum_sq',
  'fallback_impressions',
  // Of those, cold-start users (fallback 'unknown-user') and unavailable artifacts, apart.
  'fallback_cold_start_impressions',
  'fallback_artifact_impressions',
  'clickers',
  'converters',
  'user_clicks_sq_sum',
  'user_impressions_sq_sum',
  'user_clicks_impressions_sum',
  // Per-user capped sums (domain/experiments/caps.ts): what the analysis decides on.
  ...CAPPED_COUNTER_FIELDS,
  // The pre-exposure covariate's sums and cross moments (CUPED, variance-reduction.ts).
  ...CUPED_COUNTER_FIELDS,
] as const;
export type CounterField = (typeof COUNTER_FIELDS)[number];

/** Counter totals of one variant. */
export type CounterTotals = Record<CounterField, number>;

/**
 * Relative minimum detectable effect used for the required sample size and the mSPRT mixture
 * when the caller gives none: the experiment model has no such field, and +10% is the usual
 * planning figure for a recommender change (it is also the issue's `abrec power` example).
 */
export const DEFAULT_ANALYSIS_MDE = 0.1;

/** How the engine measures the target metric, in words for the report. */
export interface MetricPlan {
  kind: StatsMetricKind;
  definition: string;
}

/**
 * A guardrail of the experiment that the report cannot check, and why. The API refuses such
 * guardrails at create and patch time; experiments stored before that still load, and every
 * report names the guardrails it could not check.
 */
export interface SkippedGuardrail {
  metric: Guardrail['metric'];
  reason: string;
}

/** Decisions the mapping made, carried into the report document so a reader can see them. */
export interface AnalysisNotes {
  metric: MetricPlan;
  /** Variants left out: inactive or weight 0 (the engine needs a positive weight for SRM). */
  excludedVariants: string[];
  skippedGuardrails: SkippedGuardrail[];
  /** Last day included (YYYY-MM-DD); null when there are no counters. */
  through: string | null;
  /** Cumulative totals per analysed variant through `through`. */
  totals: Record<string, CounterTotals>;
}

/** Engine input, or an honest reason why there is nothing to analyse yet. */
export type AnalysisInput =
  | {
      status: 'ok';
      config: ExperimentConfig;
      counters: DailyVariantCounters[];
      /** Every metric as of the last day, one sample per analysed variant (the report's metrics panel). */
      metrics: PanelMetricInput[];
      /** The recommendation counters as of the last day (the report's ranking panel). */
      ranking: Omit<RankingPanelInput, 'confidenceLevel'>;
      /** A bandit's logged allocation and inverse-propensity sums (bandit-input.ts); absent for a fixed split. */
      bandit?: BanditReportInput;
      notes: AnalysisNotes;
    }
  | { status: 'insufficient-data'; reason: string; notes: AnalysisNotes };

/** Options of {@link buildAnalysisInput}. */
export interface AnalysisInputOptions {
  /** Include days up to and including this one (YYYY-MM-DD); default: every stored day. */
  through?: string;
  /**
   * Analyse only the increments from this day on (YYYY-MM-DD), e.g. the period since a model
   * switch ({@link countersFrom}); default: from the first stored day.
   */
  from?: string;
  /** Relative MDE; default the experiment's minimum_detectable_effect, else {@link DEFAULT_ANALYSIS_MDE}. */
  mde?: number;
  /** Target power; default the engine's 0.8. */
  power?: number;
  /** Distinct items each variant showed through the analysis day (catalogue coverage); not measured without it. */
  shown?: Readonly<Record<string, ShownItems>>;
}

type MeanField = 'watch_time' | 'rating';
type ProportionField = 'clickers' | 'converters';

/** Which counter fields fill the engine's proportion and mean slots. */
interface SlotPlan {
  proportion: ProportionField | null;
  mean: MeanField | null;
}

/**
 * Click-through is a user-level ratio (clicks / impressions, delta method) unless the
 * experiment is analysed with a 0/1 outcome per user: a bandit (its Beta-Bernoulli arms model
 * "did the user click") or the exact Bayesian Beta-Binomial path, both of which only exist for
 * proportions. Then it is the share of exposed users who clicked at least once.
 */
export function metricPlanFor(experiment: Pick<Experiment, 'target_metric' | 'mode' | 'analysis_method'>): MetricPlan {
  const kind = experiment.target_metric.kind;
  switch (kind) {
    case 'click_through':
      if (experiment.mode === 'bandit' || experiment.analysis_method === 'bayesian') {
        return { kind: 'proportion', definition: 'clickers / exposed_users: share of exposed users with at least one click' };
      }
      return { kind: 'ratio', definition: 'clicks / impressions with the user as the unit (delta method)' };
    case 'conversion':
      return { kind: 'proportion', definition: 'converters / exposed_users: share of exposed users with at least one purchase' };
    case 'watch_time':
      return { kind: 'mean', definition: 'mean watch time per watch_time event (Welch)' };
    case 'rating':
      return { kind: 'mean', definition: 'mean rating per rating event (Welch)' };
    default: {
      const unknown: never = kind;
      throw new Error(`unknown target metric ${String(unknown)}`);
    }
  }
}

function targetSlots(experiment: Pick<Experiment, 'target_metric'>, plan: MetricPlan): SlotPlan {
  const kind = experiment.target_metric.kind;
  if (plan.kind === 'proportion') return { proportion: kind === 'click_through' ? 'clickers' : 'converters', mean: null };
  if (plan.kind === 'mean') return { proportion: null, mean: kind as MeanField };
  return { proportion: null, mean: null };
}

/** The engine's guardrail metric for each guardrail metric the counters measure. */
const GUARDRAIL_METRICS: Readonly<Partial<Record<Guardrail['metric'], GuardrailConfig['metric']>>> = Object.freeze({
  click_through: 'ctr',
  conversion: 'conversion_rate',
  watch_time: 'watch_time',
  rating: 'rating',
});

/**
 * Maps the experiment's guardrails onto the engine's guardrail metrics. The report measures every
 * metric on its own counters (its metrics panel), so guardrails no longer compete with the target
 * for the engine's proportion and mean slots: every guardrail the counters measure is checked,
 * and the slots returned are the target's, unchanged. The API refuses the others at create and
 * patch time (latency_p95_ms, error_rate, a 100% limit); an experiment stored before that still
 * holds them, and they are returned as skipped, with the reason every report shows.
 */
export function planGuardrails(
  guardrails: readonly Guardrail[],
  slots: SlotPlan,
): { guardrails: GuardrailConfig[]; skipped: SkippedGuardrail[]; slots: SlotPlan } {
  const planned: GuardrailConfig[] = [];
  const skipped: SkippedGuardrail[] = [];
  for (const guardrail of guardrails) {
    const metric = Object.hasOwn(GUARDRAIL_METRICS, guardrail.metric) ? GUARDRAIL_METRICS[guardrail.metric] : undefined;
    if (metric === undefined) {
      const measuredElsewhere = guardrail.metric === 'latency_p95_ms' || guardrail.metric === 'error_rate';
      skipped.push({
        metric: guardrail.metric,
        reason: measuredElsewhere
          ? 'not measured by the daily counters (see the CloudWatch dashboard and alarms); the API no longer accepts it'
          : 'unknown guardrail metric',
      });
    } else if (!(guardrail.max_relative_degradation < 1)) {
      skipped.push({ metric: guardrail.metric, reason: 'a 100% degradation limit can never be exceeded; the API no longer accepts it' });
    } else {
      planned.push({ metric, max_relative_drop: guardrail.max_relative_degradation });
    }
  }
  return { guardrails: planned, skipped, slots: { ...slots } };
}

const numberOf = (item: DailyCounter, field: string): number => {
  const value = item[field];
  // A BigInt (beyond 2^53) becomes its nearest double here, inside the statistics' input.
  if (typeof value === 'bigint') return Number(value);
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
};

function zeroTotals(): CounterTotals {
  return Object.fromEntries(COUNTER_FIELDS.map((field) => [field, 0])) as CounterTotals;
}

/**
 * Prefix sums per variant: for every day on which any variant has an item (up to `through`),
 * each variant's totals from the start through the end of that day.
 */
export function cumulativeTotals(
  variants: readonly string[],
  countersByVariant: Readonly<Record<string, readonly DailyCounter[]>>,
  through?: string,
): { days: string[]; byDay: Record<string, CounterTotals>[] } {
  const included = (day: string) => through === undefined || day <= through;
  const daily = new Map<string, Map<string, DailyCounter[]>>();
  for (const variant of variants) {
    for (const item of countersByVariant[variant] ?? []) {
      if (!included(item.day)) continue;
      const perDay = daily.get(item.day) ?? new Map<string, DailyCounter[]>();
      perDay.set(variant, [...(perDay.get(variant) ?? []), item]);
      daily.set(item.day, perDay);
    }
  }
  const days = [...daily.keys()].sort();
  const running = new Map(variants.map((variant) => [variant, zeroTotals()]));
  const byDay = days.map((day) => {
    const perDay = daily.get(day) as Map<string, DailyCounter[]>;
    return Object.fromEntries(
      variants.map((variant) => {
        const next = { ...(running.get(variant) as CounterTotals) };
        for (const item of perDay.get(variant) ?? []) {
          for (const field of COUNTER_FIELDS) next[field] += numberOf(item, field);
        }
        running.set(variant, next);
        return [variant, next];
      }),
    );
  });
  return { days, byDay };
}

/**
 * One engine row from cumulative totals, with each slot filled as planned. With `capped` (the
 * default whenever the counters hold the capped sums), clicks, impressions and their user-level
 * moments are the per-user capped ones and watch time is the capped watch time per exposed
 * user (capping.ts), so no single user can move the decision.
 */
export function toDailyVariantCounters(day: string, variant: string, totals: CounterTotals, slots: SlotPlan, capped = false): DailyVariantCounters {
  const row: DailyVariantCounters = {
    day,
    variant,
    exposed_users: totals.exposed_users,
    impressions: totals.impressions,
    clicks: totals.clicks,
    conversions: slots.proportion === null ? 0 : totals[slots.proportion],
    value_n: slots.mean === null ? 0 : totals[`${slots.mean}_n`],
    value_sum: slots.mean === null ? 0 : totals[`${slots.mean}_sum`],
    value_sum_sq: slots.mean === null ? 0 : totals[`${slots.mean}_sum_sq`],
    user_clicks_sq_sum: totals.user_clicks_sq_sum,
    user_impressions_sq_sum: totals.user_impressions_sq_sum,
    user_clicks_impressions_sum: totals.user_clicks_impressions_sum,
  };
  return capped ? { ...row, ...cappedSlotsOf(totals, slots.mean) } : row;
}

/**
 * The first row whose user-level second moments no data can produce (Σc² < (Σc)²/n): counters
 * written before those fields existed. The delta method must not run on them.
 */
export function inconsistentRatioRow(rows: readonly DailyVariantCounters[]): DailyVariantCounters | undefined {
  const below = (sumSq: number, sum: number, n: number) => sumSq * n < sum * sum * (1 - 1e-9);
  return rows.find(
    (row) =>
      row.exposed_users > 0 &&
      (below(row.user_clicks_sq_sum, row.clicks, row.exposed_users) || below(row.user_impressions_sq_sum, row.impressions, row.exposed_users)),
  );
}

const DAY_MS = 86_400_000;

/**
 * The share of exposures each variant should have received, given when the split changed:
 * every day's new exposures are expected to follow the weights in effect that day (within a
 * day of a ramp, each set of weights for the part of the day it was in effect, assuming even
 * traffic). Without a history the current weights are the expectation. Normalised over `names`.
 */
export function expectedExposureShares(
  history: NonNullable<Experiment['weight_history']> | undefined,
  dailyExposures: readonly { day: string; exposed: number }[],
  names: readonly string[],
  currentWeights: Readonly<Record<string, number>>,
): Record<string, number> {
  const normalise = (weights: Readonly<Record<string, number>>) => {
    const total = names.reduce((sum, name) => sum + (weights[name] ?? 0), 0);
    return Object.fromEntries(names.map((name) => [name, total > 0 ? (weights[name] ?? 0) / total : 0]));
  };
  if (!history || history.length === 0) return normalise(currentWeights);
  const entries = history.map((h) => ({ from: Date.parse(h.effective_from), weights: h.weights })).sort((a, b) => a.from - b.from);
  const expected: Record<string, number> = Object.fromEntries(names.map((name) => [name, 0]));
  let exposedTotal = 0;
  for (const { day, exposed } of dailyExposures) {
    if (exposed <= 0) continue;
    const start = Date.parse(`${day}T00:00:00Z`);
    const end = start + DAY_MS;
    for (let i = 0; i < entries.length; i++) {
      // The first entry also covers anything before it (exposures logged before the recorded start).
      const from = i === 0 ? Number.NEGATIVE_INFINITY : entries[i].from;
      const until = i + 1 < entries.length ? entries[i + 1].from : Number.POSITIVE_INFINITY;
      const overlap = Math.max(0, Math.min(end, until) - Math.max(start, from));
      if (overlap === 0) continue;
      const weights = normalise(entries[i].weights);
      for (const name of names) expected[name] += exposed * (overlap / DAY_MS) * weights[name];
    }
    exposedTotal += exposed;
  }
  return exposedTotal > 0 ? normalise(expected) : normalise(currentWeights);
}

/**
 * The counters of the period from `from` on, as the analysis reads them: every increment of a day
 * before `from` is dropped except `exposed_users`, which is carried onto the period's first day
 * (or the first day of each variant's period). So the period's population is every user exposed
 * so far, each with the clicks, impressions, purchases and values they added in the period (0
 * for one who did not come back): sums and per-event moments are exact for the period, but a
 * user-level second moment is the period's increment of the user's square, Σ(after² − before²),
 * not the period's own Σ(after − before)²: with z = clicks − R·impressions, the delta method's
 * Σz² is off by 2·Σ z_before·Δz, of either sign, so a ratio interval over the period is an
 * approximation (0.99 and 0.85 of the exact width in test/unit/services/model-switches.test.ts,
 * where the treatment's rate fell at the switch). The
 * per-user indicators (clickers, converters) count the users whose first click or purchase falls
 * in the period.
 */
export function countersFrom(countersByVariant: Readonly<Record<string, readonly DailyCounter[]>>, from: string): Record<string, DailyCounter[]> {
  return Object.fromEntries(
    Object.entries(countersByVariant).map(([variant, items]) => {
      let carried = 0;
      for (const item of items) if (item.day < from) carried += numberOf(item, 'exposed_users');
      const period = items.filter((item) => item.day >= from).sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
      if (carried === 0) return [variant, period];
      if (period.length === 0) return [variant, [{ day: from, exposed_users: carried }]];
      const [first, ...rest] = period;
      return [variant, [{ ...first, exposed_users: numberOf(first, 'exposed_users') + carried }, ...rest]];
    }),
  );
}

function analysedVariants(experiment: Pick<Experiment, 'variants'>): { kept: Variant[]; excluded: string[] } {
  const kept = experiment.variants.filter((variant) => variant.active && variant.weight > 0);
  return { kept, excluded: experiment.variants.filter((variant) => !kept.includes(variant)).map((variant) => variant.name) };
}

/**
 * Builds the engine's {@link ExperimentConfig} and cumulative {@link DailyVariantCounters} from
 * an experiment and its variants' stored daily counters (any order; several items for the same
 * day are added). Returns `insufficient-data` with a reason instead of input the engine would
 * reject: no counters yet, fewer than two analysable variants, an inactive control, or ratio
 * counters without their user-level second moments.
 */
export function buildAnalysisInput(
  experiment: Experiment,
  allCounters: Readonly<Record<string, readonly DailyCounter[]>>,
  options: AnalysisInputOptions = {},
): AnalysisInput {
  const countersByVariant = options.from === undefined ? allCounters : countersFrom(allCounters, options.from);
  const metric = metricPlanFor(experiment);
  const { kept, excluded } = analysedVariants(experiment);
  const names = kept.map((variant) => variant.name);
  const { days, byDay } = cumulativeTotals(names, countersByVariant, options.through);
  const through = days.length > 0 ? days[days.length - 1] : null;
  const latest = byDay.length > 0 ? byDay[byDay.length - 1] : Object.fromEntries(names.map((name) => [name, zeroTotals()]));
  const target = targetSlots(experiment, metric);
  const plan = planGuardrails(experiment.guardrails, target);
  const notes: AnalysisNotes = { metric, excludedVariants: excluded, skippedGuardrails: plan.skipped, through, totals: latest };
  const insufficient = (reason: string): AnalysisInput => ({ status: 'insufficient-data', reason, notes });

  if (!kept.some((variant) => variant.is_control)) return insufficient('the control variant is inactive or has weight 0');
  if (kept.length < 2) return insufficient('fewer than 2 active variants with a positive weight');
  if (days.length === 0) {
    const anyStored = names.some((name) => (countersByVariant[name] ?? []).length > 0);
    return insufficient(anyStored ? `no counters on or before ${options.through}` : 'no counters yet');
  }

  // Capped user-level sums when the counters hold them (every counter written since caps exist).
  const capped = names.every((name) => hasCappedSums(latest[name]));
  if (capped) notes.metric = cappedMetricPlan(notes.metric, experiment.target_metric.kind);
  const counters = days.flatMap((day, d) => names.map((name) => toDailyVariantCounters(day, name, byDay[d][name], plan.slots, capped)));
  const broken = inconsistentRatioRow(counters);
  let guardrails = plan.guardrails;
  if (broken !== undefined) {
    const why = `counters of ${broken.variant} through ${broken.day} lack consistent user-level second moments (user_clicks_sq_sum, user_impressions_sq_sum)`;
    if (metric.kind === 'ratio') return insufficient(`${why}; the click-through delta method needs them`);
    if (guardrails.some((guardrail) => guardrail.metric === 'ctr')) {
      guardrails = guardrails.filter((guardrail) => guardrail.metric !== 'ctr');
      notes.skippedGuardrails = [...notes.skippedGuardrails, { metric: 'click_through', reason: why }];
    }
  }

  // Expected split of the exposures so far, following every ramp (the SRM check's reference).
  const dailyExposures = days.map((day, d) => ({
    day,
    exposed: names.reduce((sum, name) => sum + byDay[d][name].exposed_users - (d > 0 ? byDay[d - 1][name].exposed_users : 0), 0),
  }));
  const shares = expectedExposureShares(experiment.weight_history, dailyExposures, names, Object.fromEntries(kept.map((v) => [v.name, v.weight])));
  // A bandit is expected to follow the allocation it logged, not its configured weights.
  const bandit = experiment.mode === 'bandit' ? banditAnalysisInput(experiment, kept, countersByVariant, options.through) : undefined;
  const config: ExperimentConfig = {
    experiment_id: experiment.id,
    variants: kept.map((variant) => ({
      name: variant.name,
      weight: bandit?.expectedShares?.[variant.name] || shares[variant.name],
      control: variant.is_control,
    })),
    target_metric: { kind: metric.kind },
    confidence_level: experiment.confidence_level,
    min_sample_size: experiment.min_sample_size,
    mde: options.mde ?? experiment.minimum_detectable_effect ?? DEFAULT_ANALYSIS_MDE,
    ...(options.power === undefined ? {} : { power: options.power }),
    guardrails,
  };
  // Every metric on its own counters (raw, through the same day), beside the target's rows.
  const metrics = panelMetricInputs(experiment, names, countersByVariant, options.through);
  const ranking = rankingPanelInput(
    kept.map((variant) => ({ name: variant.name, isControl: variant.is_control })),
    countersByVariant,
    options.through,
    options.shown,
  );
  return { status: 'ok', config, counters, metrics, ranking, notes, ...(bandit === undefined ? {} : { bandit: bandit.input }) };
}
