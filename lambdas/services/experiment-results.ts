/**
 * The analysis of one experiment from its daily counters: the document that the scheduled run
 * writes as report.json, that `GET /experiments/{id}/results` returns and that promotion reads.
 * It depends on the counters and the analysis day only (no clock, no request id), so the same
 * counters give the same document in the Lambda, on the local runtime and from the CLI.
 *
 * Cost: one Query per variant on the counters table, so it grows with days x variants, never
 * with the number of events.
 */
import type { Experiment } from '../domain/experiments/model.ts';
import type { PromotionAnalysis } from '../domain/experiments/lifecycle.ts';
import { buildExperimentReport, isTerminalDecision, type Decision, type ExperimentReport } from '../domain/stats/index.ts';
import type { CounterRepository } from '../storage/counter-store.ts';
import type { ShownItemRepository, ShownItems } from '../storage/shown-items.ts';
import { INTERLEAVING_COUNTER_VARIANT } from '../domain/events/interleaving-credit.ts';
import type { DailyCounter } from '../storage/counter-store.ts';
import { cappingReport, type CappingReport } from './capping.ts';
import { varianceReductionReport, type VarianceReductionReport } from './variance-reduction.ts';
import { segmentsReport, type SegmentsReport } from './segment-breakdown.ts';
import { modelSwitchesReport, switchMarks, type ModelSwitchesReport } from './model-switches.ts';
import { interleavingDecision, preferenceFromCounters, teamsOf, type InterleavingPreference } from './interleaving-results.ts';
import {
  buildAnalysisInput,
  cumulativeTotals,
  type AnalysisInputOptions,
  type CounterTotals,
  type MetricPlan,
  type SkippedGuardrail,
} from './analysis-input.ts';

/** The analysis document (snake_case envelope, the engine's camelCase report inside). */
export interface ExperimentAnalysis {
  experiment_id: string;
  experiment_name: string;
  status: Experiment['status'];
  /** The analysis day: counters through the end of this day (UTC) are included. */
  day: string;
  /** Last day with counters that the report includes; null without counters. */
  through: string | null;
  target_metric: Experiment['target_metric']['kind'];
  metric: MetricPlan;
  excluded_variants: string[];
  skipped_guardrails: SkippedGuardrail[];
  /** Counter items the analysis read (one per variant and day): the cost of the analysis. */
  counter_items_read: number;
  /** Cumulative counter totals per analysed variant through `through`. */
  totals: Record<string, CounterTotals>;
  result: 'ok' | 'insufficient-data';
  /** Why there is no report, when `result` is 'insufficient-data'. */
  reason: string | null;
  /** 'keep-running' whenever there is no report. */
  decision: Decision;
  decision_reason: string;
  winner: string | null;
  /** Variants whose guardrail tripped. */
  guardrails_breached: { variant: string; metric: string }[];
  promotion: PromotionAnalysis;
  /** The A/B engine's report; always null for interleaving experiments (see `preference`). */
  report: ExperimentReport | null;
  /** Interleaving experiments: the preference test that decides; null otherwise. */
  preference: InterleavingPreference | null;
  /** Per-user caps (capping.ts): users at each cap, capped against uncapped estimates; null for interleaving. */
  capping: CappingReport | null;
  /** CUPED with the pre-exposure covariate (variance-reduction.ts): adjusted estimates and the variance removed; null for interleaving. */
  variance_reduction: VarianceReductionReport | null;
  /** The target per user segment (segment-breakdown.ts), Holm across segments; null for interleaving and without a report. */
  segments: SegmentsReport | null;
  /**
   * An experiment that follows the latest models and was switched by a retraining run
   * (model-switches.ts): each switch, and the target since the last one beside the whole period.
   * Absent when no run has switched it.
   */
  model_switches?: ModelSwitchesReport;
}

/** Options of {@link analyseExperiment}. */
export interface AnalyseOptions extends Omit<AnalysisInputOptions, 'through'> {
  /** Analysis day (YYYY-MM-DD); counters after it are ignored. */
  day: string;
}

/** Options of {@link analyseExperiment}: also where the shown-item markers are (catalogue coverage). */
export interface AnalyseStoredOptions extends AnalyseOptions {
  shownItems?: ShownItemRepository;
}

/**
 * Reads every analysed variant's daily counters: one Query each, in parallel; interleaving
 * experiments also read their `~interleaving` counter (impressions and wins).
 */
export async function readVariantCounters(experiment: Experiment, counters: CounterRepository): Promise<Record<string, DailyCounter[]>> {
  const names = experiment.variants.map((variant) => variant.name);
  if (experiment.mode === 'interleaving') names.push(INTERLEAVING_COUNTER_VARIANT);
  // Exact: a counter beyond 2^53 stays a BigInt until the statistics (exact.ts).
  const entries = await Promise.all(names.map(async (name) => [name, await counters.exactDailyCounters(experiment.id, name)] as const));
  return Object.fromEntries(entries);
}

/**
 * What the promotion guard needs, taken from the report's decision rather than recomputed: a
 * variant is promotable when the report would ship it (always-valid, Holm-adjusted, minimum
 * sample size reached, no guardrail breached).
 */
export function promotionFromReport(report: ExperimentReport | null): PromotionAnalysis {
  if (report === null) return { significant: false, srm_flagged: false };
  const srmFlagged = report.srm.status === 'ok' && report.srm.flagged;
  const winner = report.decision.decision === 'ship' ? report.decision.winner : null;
  // A bandit's split was checked against its allocation in force (report.srm is that check).
  const reference = report.bandit?.status === 'ok' ? { srm_reference: 'allocation-in-force' as const } : {};
  return { significant: winner !== null, srm_flagged: srmFlagged, ...reference, ...(winner === null ? {} : { winner }) };
}

/**
 * The analysis of an interleaving experiment: the preference test decides and guards promotion;
 * guardrails cannot be checked (there is no A/B split), and say so.
 */
function interleavingAnalysis(
  experiment: Experiment,
  countersByVariant: Readonly<Record<string, readonly DailyCounter[]>>,
  options: AnalyseOptions,
): ExperimentAnalysis {
  const teams = teamsOf(experiment);
  const names = [teams.a.name, teams.b.name, INTERLEAVING_COUNTER_VARIANT];
  const { days, byDay } = cumulativeTotals(names, countersByVariant, options.day);
  const preference = preferenceFromCounters(experiment, countersByVariant, options.day);
  const decided = interleavingDecision(preference);
  const itemsRead = names
    .concat(experiment.variants.map((v) => v.name).filter((name) => !names.includes(name)))
    .reduce((sum, name) => sum + (countersByVariant[name]?.length ?? 0), 0);
  return {
    experiment_id: experiment.id,
    experiment_name: experiment.name,
    status: experiment.status,
    day: options.day,
    through: days.length > 0 ? days[days.length - 1] : null,
    target_metric: experiment.target_metric.kind,
    metric: {
      kind: 'proportion',
      definition: 'share of interleaved impressions won by each team (more distinct clicked items); two-sided exact sign test, ties excluded',
    },
    excluded_variants: experiment.variants.filter((v) => v !== teams.a && v !== teams.b).map((v) => v.name),
    skipped_guardrails: experiment.guardrails.map((guardrail) => ({
      metric: guardrail.metric,
      reason: 'interleaving shows both models in every list: guardrails need an A/B split',
    })),
    counter_items_read: itemsRead,
    totals: byDay.length > 0 ? byDay[byDay.length - 1] : {},
    ...decided,
    guardrails_breached: [],
    report: null,
    preference,
    capping: null,
    variance_reduction: null,
    segments: null,
    ...interleavingSwitches(experiment, options.day),
  };
}

/** An interleaving experiment's switches: both teams are in every list, so there is no per-period A/B comparison, only the marks. */
function interleavingSwitches(experiment: Experiment, day: string): Pick<ExperimentAnalysis, 'model_switches'> {
  const switches = switchMarks(experiment.model_history).filter((mark) => mark.day <= day);
  if (switches.length === 0) return {};
  const none = {
    from: null,
    through: null,
    result: 'insufficient-data' as const,
    reason: 'interleaving: the preference test decides, over the whole period',
    variants: [],
    comparisons: [],
  };
  return {
    model_switches: {
      switches,
      whole_period: none,
      since_last_switch: none,
      note: 'Interleaving shows both teams in every list; the switches are marked only.',
    },
  };
}

/** Pure: the analysis document from an experiment and its stored counters. */
export function analysisFromCounters(
  experiment: Experiment,
  countersByVariant: Readonly<Record<string, readonly DailyCounter[]>>,
  options: AnalyseOptions,
): ExperimentAnalysis {
  if (experiment.mode === 'interleaving') return interleavingAnalysis(experiment, countersByVariant, options);
  const input = buildAnalysisInput(experiment, countersByVariant, { ...options, through: options.day });
  const report =
    input.status === 'ok'
      ? buildExperimentReport({ config: input.config, counters: input.counters, metrics: input.metrics, ranking: input.ranking, bandit: input.bandit })
      : null;
  const itemsRead = experiment.variants.reduce((sum, variant) => sum + (countersByVariant[variant.name]?.length ?? 0), 0);
  return {
    experiment_id: experiment.id,
    experiment_name: experiment.name,
    status: experiment.status,
    day: options.day,
    through: input.notes.through,
    target_metric: experiment.target_metric.kind,
    metric: input.notes.metric,
    excluded_variants: input.notes.excludedVariants,
    skipped_guardrails: input.notes.skippedGuardrails,
    counter_items_read: itemsRead,
    totals: input.notes.totals,
    result: input.status,
    reason: input.status === 'ok' ? null : input.reason,
    decision: report?.decision.decision ?? 'keep-running',
    decision_reason: report?.decision.reason ?? (input.status === 'ok' ? '' : `insufficient data: ${input.reason}`),
    winner: report?.decision.winner ?? null,
    guardrails_breached: (report?.guardrails ?? []).filter((check) => check.breached).map((check) => ({ variant: check.variant, metric: check.metric })),
    promotion: promotionFromReport(report),
    report,
    preference: null,
    capping: cappingReport(experiment, countersByVariant, { through: options.day }),
    variance_reduction: varianceReductionReport(experiment, countersByVariant, { through: options.day }),
    // Only beside a report: counters the report cannot analyse (its reason says why) cannot be split either.
    segments: report === null ? null : segmentsReport(experiment, countersByVariant, { through: options.day }),
    ...optionalSwitches(modelSwitchesReport(experiment, countersByVariant, { day: options.day, mde: options.mde, whole: report })),
  };
}

const optionalSwitches = (section: ModelSwitchesReport | null): Pick<ExperimentAnalysis, 'model_switches'> =>
  section === null ? {} : { model_switches: section };

/** Reads the counters and analyses one experiment as of the end of `day`. */
export async function analyseExperiment(
  experiment: Experiment,
  counters: CounterRepository,
  { shownItems, ...options }: AnalyseStoredOptions,
): Promise<ExperimentAnalysis> {
  const [countersByVariant, shown] = await Promise.all([
    readVariantCounters(experiment, counters),
    shownItems === undefined ? undefined : readShownItems(experiment, shownItems, options.day),
  ]);
  return analysisFromCounters(experiment, countersByVariant, { ...options, ...(shown === undefined ? {} : { shown }) });
}

/** The distinct items each variant showed through the day: one Query per variant, in parallel (interleaving has none). */
async function readShownItems(experiment: Experiment, shownItems: ShownItemRepository, day: string): Promise<Record<string, ShownItems> | undefined> {
  if (experiment.mode === 'interleaving') return undefined;
  const entries = await Promise.all(
    experiment.variants.map(async (variant) => [variant.name, await shownItems.shown(experiment.id, variant.name, day)] as const),
  );
  return Object.fromEntries(entries);
}

/** True when the analysis should be announced: a terminal decision or a tripped guardrail. */
export function shouldAlert(analysis: ExperimentAnalysis): boolean {
  return isTerminalDecision(analysis.decision) || analysis.guardrails_breached.length > 0;
}
