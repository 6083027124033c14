/**
 * `abrec analyze`: significance of an experiment from aggregates (a file or stdin), or the
 * report of a stored experiment from the admin API (`--experiment ID`).
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { adminRequest, resolveAdminTarget } from '../admin-client.ts';
import { formatFieldPath } from '../../lambdas/domain/field-error.ts';
import { errorMessage } from '../../lambdas/domain/assert-error.ts';
import { parseCommandArgs, UsageError, type CliCommand, type CliIO } from '../command.ts';
import { textTable } from '../text-table.ts';
import type { ExperimentAnalysis } from '../../lambdas/services/experiment-results.ts';
import type { ModelSwitchesReport, PeriodComparison } from '../../lambdas/services/model-switches.ts';
import {
  compareVariants,
  StatsInputError,
  type BanditReport,
  type ComparisonInput,
  type ExperimentReport,
  type MetricsPanel,
  type RankingPanel,
  type VariantComparison,
} from '../../lambdas/domain/stats/index.ts';

const HELP = `Usage:
  abrec analyze --input FILE|- [--json]
  abrec analyze --experiment ID [--url URL] [--admin-key KEY] [--data-dir DIR] [--json]

Reads aggregates as JSON, for example
  {"metric": {"type": "proportion"}, "confidence_level": 0.95,
   "variants": [{"name": "control", "weight": 0.5, "users": 5000, "conversions": 450},
                {"name": "treatment", "weight": 0.5, "users": 5000, "conversions": 520}]}
Metric types and the fields each variant needs:
  proportion  users, conversions                         two-proportion z-test, exact Beta-Binomial
  mean        n, sum, sum_sq   (users optional, for SRM)  Welch's t-test, normal posterior
  ratio       users, sum_x, sum_y, sum_x2, sum_y2, sum_xy  user-level delta method (e.g. clicks /
                                                          impressions per user), normal posterior
The control is the variant with "control": true, else the one named "control", else the first.
confidence_level defaults to 0.95.

Prints srm_p_value and, per non-control variant: variant, z_score (or t_stat), df, p_value,
p_value_adjusted (Holm over variants), ci_low / ci_high (difference, treatment - control),
lift with lift_ci_low / lift_ci_high, prob_better (= chance_to_win_absolute, P(difference > 0)),
chance_to_win_relative (P(lift > 0)), credible_interval_low / _high (difference), test
(fisher-exact when an arm has no conversion), expected_loss (metric units).
Values that cannot be computed are null, with status "insufficient-data" and a reason.

Options:
  --input FILE|-     aggregates file, or - for standard input
  --experiment ID    the stored experiment's report, from GET /experiments/{id}/results of a
                     running \`abrec serve\` or a deployed API (same report as the daily one):
                     decision, decision_reason, winner, always-valid p-values per variant;
                     every metric (metrics: estimate, interval, lift, p and the Holm-adjusted p
                     over the secondary family), the recommendation metrics (ranking:
                     click-through by position, reciprocal rank, fallback shares) and the
                     guardrails that are not checked (skipped_guardrails); for a bandit,
                     each arm from the logged propensities (bandit: users against the
                     allocation in force, observed rate, IPS and SNIPS with intervals, the
                     SNIPS comparisons its decision uses); CUPED (variance_reduction:
                     plain and adjusted differences, the variance removed), per-user caps
                     (capping) and the target per user segment (segments, Holm across the
                     segments of each dimension); for an experiment that follows the latest
                     models and was switched by a retraining run, each switch (day, run,
                     versions) and the target since the last switch beside the whole period
                     (model_switches)
  --url URL          service base URL (default: $ABREC_URL or http://127.0.0.1:$PORT|3000)
  --admin-key KEY    admin key (default: $ABREC_ADMIN_KEY or keys.json in the data directory)
  --data-dir DIR     data directory of \`abrec serve\` (default: $ABREC_DATA_DIR or .abrec-data)
  --json             print one JSON object on the last line of stdout

--experiment needs a running service: start the local one with \`abrec serve\` in another
terminal (or pass --url of a deployed API).

Examples:
  abrec analyze --input aggregates.json --json
  abrec analyze --experiment default`;

const name = z.string().min(1);
const weight = z.number().positive();
const count = z.number().int().nonnegative();
const nonNegative = z.number().nonnegative();
const base = { name, weight, control: z.boolean().optional() };

const proportionVariant = z.object({ ...base, users: count, conversions: count });
const meanVariant = z.object({ ...base, users: count.optional(), n: count, sum: z.number(), sum_sq: nonNegative });
const ratioVariant = z.object({ ...base, users: count, sum_x: nonNegative, sum_y: nonNegative, sum_x2: nonNegative, sum_y2: nonNegative, sum_xy: z.number() });

const header = z.object({
  metric: z.object({ type: z.enum(['proportion', 'mean', 'ratio']) }),
  confidence_level: z.number().gt(0).lt(1).default(0.95),
  variants: z.array(z.unknown()).min(2),
});

/** The aggregates JSON of `abrec analyze --input`. */
export type AnalyzeAggregates = z.input<typeof header> & { variants: unknown[] };

const formatPath = (path: readonly PropertyKey[]): string => formatFieldPath(path);

function parseWith<T>(schema: z.ZodType<T>, value: unknown, prefix: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = formatPath([...(prefix ? [prefix] : []), ...issue.path]);
  throw new UsageError(`input field ${field || '(root)'}: ${issue.message}`);
}

function controlIndexOf(variants: { name: string; control?: boolean }[]): number {
  const flagged = variants.flatMap((variant, i) => (variant.control ? [i] : []));
  if (flagged.length > 1) throw new UsageError(`input field variants: ${flagged.length} variants have "control": true, expected one`);
  if (flagged.length === 1) return flagged[0];
  const named = variants.findIndex((variant) => variant.name === 'control');
  return Math.max(named, 0);
}

/** Validates the aggregates JSON and turns it into the engine's comparison input. */
export function parseAggregates(json: unknown): ComparisonInput {
  const top = parseWith(header, json, '');
  const confidenceLevel = top.confidence_level;
  switch (top.metric.type) {
    case 'proportion': {
      const variants = top.variants.map((v, i) => parseWith(proportionVariant, v, `variants[${i}]`));
      const control = controlIndexOf(variants);
      return {
        metric: 'proportion',
        confidenceLevel,
        variants: variants.map((v, i) => ({
          name: v.name,
          weight: v.weight,
          isControl: i === control,
          users: v.users,
          sample: { users: v.users, conversions: v.conversions },
        })),
      };
    }
    case 'mean': {
      const variants = top.variants.map((v, i) => parseWith(meanVariant, v, `variants[${i}]`));
      const control = controlIndexOf(variants);
      return {
        metric: 'mean',
        confidenceLevel,
        variants: variants.map((v, i) => ({
          name: v.name,
          weight: v.weight,
          isControl: i === control,
          users: v.users ?? v.n,
          sample: { n: v.n, sum: v.sum, sumSq: v.sum_sq },
        })),
      };
    }
    case 'ratio': {
      const variants = top.variants.map((v, i) => parseWith(ratioVariant, v, `variants[${i}]`));
      const control = controlIndexOf(variants);
      return {
        metric: 'ratio',
        confidenceLevel,
        variants: variants.map((v, i) => ({
          name: v.name,
          weight: v.weight,
          isControl: i === control,
          users: v.users,
          sample: { users: v.users, sumX: v.sum_x, sumY: v.sum_y, sumX2: v.sum_x2, sumY2: v.sum_y2, sumXY: v.sum_xy },
        })),
      };
    }
  }
}

/** One non-control variant in the output line. */
export interface AnalyzeVariantOutput {
  variant: string;
  status: 'ok' | 'insufficient-data';
  reason?: string;
  z_score?: number | null;
  t_stat?: number | null;
  df: number | null;
  p_value: number | null;
  p_value_adjusted: number | null;
  ci_low: number | null;
  ci_high: number | null;
  lift: number | null;
  lift_ci_low: number | null;
  lift_ci_high: number | null;
  prob_better: number | null;
  /** P(difference > 0) and P(lift > 0): equal under the exact Beta-Binomial posterior. */
  chance_to_win_absolute?: number | null;
  chance_to_win_relative?: number | null;
  /** Credible interval of the difference (treatment - control). */
  credible_interval_low?: number | null;
  credible_interval_high?: number | null;
  /** two-proportion-z, fisher-exact (an arm with no or every conversion), welch-t or delta-method-z. */
  test?: string | null;
  expected_loss: number | null;
  control_estimate: number | null;
  treatment_estimate: number | null;
}

/** Maps an engine comparison onto the CLI's snake_case output. */
export function toVariantOutput(comparison: VariantComparison, metric: ComparisonInput['metric']): AnalyzeVariantOutput {
  const statisticKey = metric === 'mean' ? 't_stat' : 'z_score';
  if (comparison.status !== 'ok') {
    return {
      variant: comparison.variant,
      status: 'insufficient-data',
      reason: comparison.reason,
      [statisticKey]: null,
      df: null,
      p_value: null,
      p_value_adjusted: null,
      ci_low: null,
      ci_high: null,
      lift: null,
      lift_ci_low: null,
      lift_ci_high: null,
      prob_better: null,
      chance_to_win_absolute: null,
      chance_to_win_relative: null,
      credible_interval_low: null,
      credible_interval_high: null,
      test: null,
      expected_loss: null,
      control_estimate: null,
      treatment_estimate: null,
    };
  }
  return {
    variant: comparison.variant,
    status: 'ok',
    [statisticKey]: comparison.statistic,
    df: comparison.degreesOfFreedom,
    p_value: comparison.pValue,
    p_value_adjusted: comparison.pValueAdjusted,
    ci_low: comparison.differenceInterval.low,
    ci_high: comparison.differenceInterval.high,
    lift: comparison.relativeLift,
    lift_ci_low: comparison.relativeLiftInterval?.low ?? null,
    lift_ci_high: comparison.relativeLiftInterval?.high ?? null,
    prob_better: comparison.probabilityBetter,
    chance_to_win_absolute: comparison.chanceToWin.absolute,
    chance_to_win_relative: comparison.chanceToWin.relative,
    credible_interval_low: comparison.credibleInterval.low,
    credible_interval_high: comparison.credibleInterval.high,
    test: comparison.test,
    expected_loss: comparison.expectedLoss,
    control_estimate: comparison.controlEstimate,
    treatment_estimate: comparison.treatmentEstimate,
  };
}

/** Analyses aggregates; engine input errors become usage errors naming the field. */
export function analyzeAggregates(json: unknown): Record<string, unknown> {
  const input = parseAggregates(json);
  try {
    const output = compareVariants(input);
    return {
      metric: input.metric,
      confidence_level: input.confidenceLevel,
      control: output.control,
      srm_p_value: output.srm.status === 'ok' ? output.srm.pValue : null,
      srm_flagged: output.srm.status === 'ok' ? output.srm.flagged : false,
      results: output.comparisons.map((comparison) => toVariantOutput(comparison, input.metric)),
    };
  } catch (error) {
    if (error instanceof StatsInputError) throw new UsageError(`input field ${error.message}`);
    throw error;
  }
}

async function readInputText(path: string, io: CliIO): Promise<string> {
  if (path === '-') return io.readStdin();
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--input: cannot read ${path}: ${errorMessage(error)}`);
  }
}

function printHuman(result: Record<string, unknown>, io: CliIO): void {
  if (result.method !== undefined && result.wins_a !== undefined) {
    io.stdout(
      `${String(result.experiment_id)}: interleaving, ${String(result.impressions)} impressions, wins a/b/ties ${String(result.wins_a)}/${String(result.wins_b)}/${String(result.ties)}, ` +
        `p = ${(result.p_value as number).toPrecision(4)}; decision ${String(result.decision)}\n`,
    );
    return;
  }
  if (result.result === 'insufficient-data') {
    io.stdout(`${String(result.experiment_id)}: not enough data for a report (${String(result.reason)})\n`);
    return;
  }
  const srm = result.srm_p_value === null ? 'n/a' : (result.srm_p_value as number).toPrecision(4);
  io.stdout(`control ${String(result.control)}; SRM p = ${srm}${result.srm_flagged ? '  ** SAMPLE RATIO MISMATCH **' : ''}\n`);
  for (const r of result.results as AnalyzeVariantOutput[]) {
    if (r.status !== 'ok') {
      io.stdout(`  ${r.variant}: insufficient data (${r.reason})\n`);
      continue;
    }
    const lift = r.lift === null ? 'n/a' : `${(r.lift * 100).toFixed(2)}%`;
    io.stdout(
      `  ${r.variant}: lift ${lift}, p = ${(r.p_value as number).toPrecision(4)} (Holm ${(r.p_value_adjusted as number).toPrecision(4)}), ` +
        `chance to win ${((r.prob_better as number) * 100).toFixed(1)}% (absolute), ${r.chance_to_win_relative == null ? 'n/a' : `${(r.chance_to_win_relative * 100).toFixed(1)}%`} (relative)` +
        `${r.test === 'fisher-exact' ? ' [Fisher exact]' : ''}\n`,
    );
  }
  if (result.bandit !== undefined && result.bandit !== null) printBandit(result.bandit as BanditOutput, io);
  if (result.metrics !== undefined && result.metrics !== null) printMetrics(result.metrics as MetricsOutput, io);
  if (result.ranking !== undefined && result.ranking !== null) printRanking(result.ranking as RankingOutput, io);
  if (result.variance_reduction !== undefined && result.variance_reduction !== null)
    printVarianceReduction(result.variance_reduction as VarianceReductionOutput, io);
  if (result.capping !== undefined && result.capping !== null) printCapping(result.capping as CappingOutput, io);
  if (result.segments !== undefined && result.segments !== null) printSegments(result.segments as SegmentsOutput, io);
  if (result.model_switches !== undefined && result.model_switches !== null) printModelSwitches(result.model_switches as ModelSwitchesReport, io);
  for (const skipped of (result.skipped_guardrails as { metric: string; reason: string }[] | undefined) ?? []) {
    io.stdout(`guardrail ${skipped.metric}: NOT CHECKED (${skipped.reason})\n`);
  }
}

/** The model switches of an experiment that follows the latest models, and the target since the last one beside the whole period. */
function printModelSwitches(section: ModelSwitchesReport, io: CliIO): void {
  for (const s of section.switches) {
    const versions = Object.entries(s.versions)
      .map(([variant, v]) => `${variant} ${v.model_id} ${v.model_version}`)
      .join(', ');
    io.stdout(`model switch ${s.day} (run ${s.run_id ?? 'n/a'}): ${versions}\n`);
  }
  const line = (label: string, period: PeriodComparison) => {
    if (period.result !== 'ok') return `  ${label}: insufficient data (${period.reason ?? ''})\n`;
    const estimates = period.variants.map((v) => `${v.name} ${v.estimate === null ? 'n/a' : v.estimate.toPrecision(4)}`).join(', ');
    const lifts = period.comparisons
      .map(
        (c) =>
          `${c.variant} lift ${c.lift === null ? 'n/a' : `${(c.lift * 100).toFixed(2)}%`}${c.lift_interval ? ` [${(c.lift_interval.low * 100).toFixed(2)}%, ${(c.lift_interval.high * 100).toFixed(2)}%]` : ''}, p = ${c.p_value === null ? 'n/a' : c.p_value.toPrecision(4)}`,
      )
      .join('; ');
    return `  ${label}: ${estimates}; ${lifts}\n`;
  };
  io.stdout(line('whole period', section.whole_period));
  io.stdout(line(`since the last switch (from ${section.since_last_switch.from ?? 'the start'})`, section.since_last_switch));
}

/** `metrics` of the --experiment output: every metric of the report, snake_case. */
export interface MetricsOutput {
  confidence_level: number;
  control: string;
  /** The Holm family: secondary metrics x non-control variants. */
  family: { method: 'holm'; size: number; metrics: string[] };
  rows: {
    metric: string;
    label: string;
    definition: string;
    role: 'target' | 'secondary';
    scale: 'rate' | 'amount';
    not_tested: string | null;
    variants: { variant: string; control: boolean; n: number; estimate: number | null; ci_low: number | null; ci_high: number | null }[];
    comparisons: {
      variant: string;
      status: 'ok' | 'insufficient-data';
      reason?: string;
      test: string | null;
      lift: number | null;
      lift_ci_low: number | null;
      lift_ci_high: number | null;
      difference: number | null;
      ci_low: number | null;
      ci_high: number | null;
      p_value: number | null;
      /** Holm over the secondary family; null for the target (decided by the always-valid test) and without data. */
      p_value_holm: number | null;
    }[];
  }[];
}

/** The report's metrics panel as the command prints it. */
export function metricsOutput(panel: MetricsPanel): MetricsOutput {
  return {
    confidence_level: panel.confidenceLevel,
    control: panel.control,
    family: { ...panel.family, metrics: [...panel.family.metrics] },
    rows: panel.metrics.map((metric) => ({
      metric: metric.id,
      label: metric.label,
      definition: metric.definition,
      role: metric.role,
      scale: metric.scale,
      not_tested: metric.notTested,
      variants: metric.variants.map((v) => ({
        variant: v.name,
        control: v.isControl,
        n: v.n,
        estimate: v.estimate,
        ci_low: v.interval?.low ?? null,
        ci_high: v.interval?.high ?? null,
      })),
      comparisons: metric.comparisons.map((c) =>
        c.status === 'ok'
          ? {
              variant: c.variant,
              status: 'ok' as const,
              test: c.test,
              lift: c.relativeLift,
              lift_ci_low: c.relativeLiftInterval?.low ?? null,
              lift_ci_high: c.relativeLiftInterval?.high ?? null,
              difference: c.difference,
              ci_low: c.differenceInterval.low,
              ci_high: c.differenceInterval.high,
              p_value: c.pValue,
              p_value_holm: c.pValueAdjusted,
            }
          : {
              variant: c.variant,
              status: 'insufficient-data' as const,
              reason: c.reason,
              test: null,
              lift: null,
              lift_ci_low: null,
              lift_ci_high: null,
              difference: null,
              ci_low: null,
              ci_high: null,
              p_value: null,
              p_value_holm: null,
            },
      ),
    })),
  };
}

/** `ranking` of the --experiment output: the recommendation metrics, snake_case. */
export interface RankingOutput {
  note: string;
  reciprocal_rank_definition: string;
  positions: number;
  coverage: { status: 'ok' | 'not-measured'; reason?: string; catalogue_size?: number };
  variants: {
    variant: string;
    control: boolean;
    ctr_by_position: {
      position: number;
      impressions: number | null;
      clicks: number | null;
      ctr: number | null;
      ci_low: number | null;
      ci_high: number | null;
      reason?: string;
    }[];
    clicks_beyond_lists: number;
    reciprocal_rank: number | null;
    reciprocal_rank_lists: number | null;
    impressions: number;
    fallback_impressions: number;
    fallback_share: number | null;
    cold_start_share: number | null;
    artifact_share: number | null;
    unclassified_fallback_impressions: number;
    coverage: number | null;
  }[];
}

/** The report's ranking panel as the command prints it. */
export function rankingOutput(ranking: RankingPanel): RankingOutput {
  return {
    note: ranking.note,
    reciprocal_rank_definition: ranking.reciprocalRankDefinition,
    positions: ranking.positions,
    coverage:
      ranking.coverage.status === 'ok'
        ? { status: 'ok', catalogue_size: ranking.coverage.catalogueSize }
        : { status: 'not-measured', reason: ranking.coverage.reason },
    variants: ranking.variants.map((v) => ({
      variant: v.name,
      control: v.isControl,
      ctr_by_position: v.byPosition.map((row) =>
        row.status === 'ok'
          ? { position: row.position, impressions: row.impressions, clicks: row.clicks, ctr: row.ctr, ci_low: row.interval.low, ci_high: row.interval.high }
          : { position: row.position, impressions: null, clicks: null, ctr: null, ci_low: null, ci_high: null, reason: row.reason },
      ),
      clicks_beyond_lists: v.clicksBeyondLists,
      reciprocal_rank: v.reciprocalRank.status === 'ok' ? v.reciprocalRank.value : null,
      reciprocal_rank_lists: v.reciprocalRank.status === 'ok' ? v.reciprocalRank.lists : null,
      impressions: v.fallback.impressions,
      fallback_impressions: v.fallback.fallbackImpressions,
      fallback_share: v.fallback.share,
      cold_start_share: v.fallback.coldStartShare,
      artifact_share: v.fallback.artifactShare,
      unclassified_fallback_impressions: v.fallback.unclassifiedImpressions,
      coverage: v.coverage,
    })),
  };
}

const fixed = (value: number | null, scale: 'rate' | 'amount') =>
  value === null ? '-' : scale === 'rate' ? `${(value * 100).toFixed(2)}%` : value.toPrecision(4);
const pText = (p: number | null) => (p === null ? '-' : p < 1e-4 ? '<0.0001' : p.toFixed(4));

/** A text table, indented: the first `textColumns` columns left-aligned, the numbers right-aligned. */
function printTable(rows: string[][], textColumns: number, io: CliIO): void {
  for (const line of textTable(rows, { leftAligned: textColumns })) io.stdout(`  ${line}\n`);
}

function printMetrics(metrics: MetricsOutput, io: CliIO): void {
  const level = Math.round(metrics.confidence_level * 100);
  io.stdout(`\nall metrics (secondary p-values Holm-adjusted over one family of ${metrics.family.size} tests; the target is decided above):\n`);
  const rows = [['metric', 'role', 'variant', `estimate [${level}% CI]`, 'lift [CI]', 'p', 'p Holm']];
  for (const metric of metrics.rows) {
    for (const v of metric.variants) {
      const c = metric.comparisons.find((entry) => entry.variant === v.variant);
      const estimate =
        v.estimate === null
          ? '-'
          : `${fixed(v.estimate, metric.scale)}${v.ci_low === null ? '' : ` [${fixed(v.ci_low, metric.scale)}, ${fixed(v.ci_high, metric.scale)}]`}`;
      const lift =
        c === undefined
          ? ''
          : c.status !== 'ok'
            ? 'insufficient data'
            : c.lift === null
              ? '-'
              : `${fixed(c.lift, 'rate')} [${fixed(c.lift_ci_low, 'rate')}, ${fixed(c.lift_ci_high, 'rate')}]`;
      const p = c === undefined || c.status !== 'ok' ? '' : pText(c.p_value);
      const holm = c === undefined || c.status !== 'ok' ? '' : metric.role === 'target' ? 'target' : pText(c.p_value_holm);
      rows.push([metric.label, metric.role, v.variant, estimate, metric.not_tested !== null && !v.control ? 'not tested' : lift, p, holm]);
    }
  }
  printTable(rows, 3, io);
  for (const metric of metrics.rows) if (metric.not_tested !== null) io.stdout(`  ${metric.label}: ${metric.not_tested}\n`);
}

function printRanking(ranking: RankingOutput, io: CliIO): void {
  io.stdout(`\nrecommendation metrics (descriptive, not tested):\n`);
  const shown = Math.min(ranking.positions, 10);
  const rows = [['variant', 'reciprocal rank', 'fallback', 'cold start', 'artifact', ...Array.from({ length: shown }, (_, i) => `ctr@${i + 1}`)]];
  for (const v of ranking.variants) {
    rows.push([
      v.variant,
      v.reciprocal_rank === null ? '-' : v.reciprocal_rank.toFixed(4),
      fixed(v.fallback_share, 'rate'),
      fixed(v.cold_start_share, 'rate'),
      fixed(v.artifact_share, 'rate'),
      ...v.ctr_by_position.slice(0, shown).map((row) => fixed(row.ctr, 'rate')),
    ]);
  }
  printTable(rows, 1, io);
  if (ranking.coverage.status === 'not-measured') io.stdout(`  catalogue coverage: ${ranking.coverage.reason}\n`);
  else {
    const shares = ranking.variants.map((v) => `${v.variant} ${fixed(v.coverage, 'rate')}`).join(', ');
    io.stdout(`  catalogue coverage (distinct items shown / ${ranking.coverage.catalogue_size ?? 'n/a'} items): ${shares}\n`);
  }
}

/** `bandit` of the --experiment output: a bandit's arms from the logged propensities, snake_case. */
export type BanditOutput =
  | { status: 'not-recorded'; reason: string }
  | {
      status: 'ok';
      reward: string;
      /** The estimator the decision uses. */
      decision_estimator: 'snips';
      total_exposures: number;
      /** Observed users against the allocation in force (the report's srm_p_value). */
      srm_p_value: number | null;
      srm_flagged: boolean;
      arms: {
        arm: string;
        control: boolean;
        users: number;
        expected_users: number;
        observed_rate: number | null;
        observed_ci_low: number | null;
        observed_ci_high: number | null;
        ips: number | null;
        ips_ci_low: number | null;
        ips_ci_high: number | null;
        snips: number | null;
        snips_ci_low: number | null;
        snips_ci_high: number | null;
        effective_sample_size: number | null;
      }[];
      comparisons: {
        variant: string;
        status: 'ok' | 'insufficient-data';
        reason?: string;
        /** SNIPS treatment − control. */
        difference: number | null;
        ci_low: number | null;
        ci_high: number | null;
        lift: number | null;
        lift_ci_low: number | null;
        lift_ci_high: number | null;
        p_value: number | null;
        always_valid_p_value: number;
        always_valid_p_value_adjusted: number;
        ips_difference: number | null;
        ips_ci_low: number | null;
        ips_ci_high: number | null;
      }[];
    };

/** The report's bandit section as the command prints it. */
export function banditOutput(bandit: BanditReport): BanditOutput {
  if (bandit.status !== 'ok') return { status: 'not-recorded', reason: bandit.reason };
  return {
    status: 'ok',
    reward: bandit.reward,
    decision_estimator: bandit.decisionEstimator,
    total_exposures: bandit.totalExposures,
    srm_p_value: bandit.srm.status === 'ok' ? bandit.srm.pValue : null,
    srm_flagged: bandit.srm.status === 'ok' && bandit.srm.flagged,
    arms: bandit.arms.map((arm) => ({
      arm: arm.name,
      control: arm.isControl,
      users: arm.exposedUsers,
      expected_users: arm.expectedExposures,
      observed_rate: arm.observedRate,
      observed_ci_low: arm.observedInterval?.low ?? null,
      observed_ci_high: arm.observedInterval?.high ?? null,
      ips: arm.ips,
      ips_ci_low: arm.ipsInterval?.low ?? null,
      ips_ci_high: arm.ipsInterval?.high ?? null,
      snips: arm.snips,
      snips_ci_low: arm.snipsInterval?.low ?? null,
      snips_ci_high: arm.snipsInterval?.high ?? null,
      effective_sample_size: arm.effectiveSampleSize,
    })),
    comparisons: bandit.comparisons.map((c) => {
      const sequential = { variant: c.variant, always_valid_p_value: c.alwaysValidPValue, always_valid_p_value_adjusted: c.alwaysValidPValueAdjusted };
      if (c.status !== 'ok') {
        return {
          ...sequential,
          status: 'insufficient-data' as const,
          reason: c.reason,
          difference: null,
          ci_low: null,
          ci_high: null,
          lift: null,
          lift_ci_low: null,
          lift_ci_high: null,
          p_value: null,
          ips_difference: null,
          ips_ci_low: null,
          ips_ci_high: null,
        };
      }
      return {
        ...sequential,
        status: 'ok' as const,
        difference: c.difference,
        ci_low: c.differenceInterval.low,
        ci_high: c.differenceInterval.high,
        lift: c.relativeLift,
        lift_ci_low: c.relativeLiftInterval?.low ?? null,
        lift_ci_high: c.relativeLiftInterval?.high ?? null,
        p_value: c.pValue,
        ips_difference: c.ipsDifference,
        ips_ci_low: c.ipsDifferenceInterval?.low ?? null,
        ips_ci_high: c.ipsDifferenceInterval?.high ?? null,
      };
    }),
  };
}

function printBandit(bandit: BanditOutput, io: CliIO): void {
  if (bandit.status !== 'ok') {
    io.stdout(`\nbandit: analysed as a fixed split (${bandit.reason})\n`);
    return;
  }
  const srm = bandit.srm_p_value === null ? 'n/a' : bandit.srm_p_value.toPrecision(4);
  io.stdout(
    `\nbandit (reward: ${bandit.reward}): users against the allocation in force, p = ${srm}${bandit.srm_flagged ? '  ** SAMPLE RATIO MISMATCH **' : ''}; the decision uses SNIPS\n`,
  );
  const ci = (value: number | null, low: number | null, high: number | null) =>
    value === null ? '-' : `${fixed(value, 'rate')} [${fixed(low, 'rate')}, ${fixed(high, 'rate')}]`;
  const rows = [['arm', 'users', 'expected', 'observed rate [CI]', 'IPS [CI]', 'SNIPS [CI]', 'eff. n']];
  for (const arm of bandit.arms) {
    rows.push([
      arm.arm,
      String(arm.users),
      arm.expected_users.toFixed(1),
      ci(arm.observed_rate, arm.observed_ci_low, arm.observed_ci_high),
      ci(arm.ips, arm.ips_ci_low, arm.ips_ci_high),
      ci(arm.snips, arm.snips_ci_low, arm.snips_ci_high),
      arm.effective_sample_size === null ? '-' : arm.effective_sample_size.toFixed(0),
    ]);
  }
  printTable(rows, 1, io);
  for (const c of bandit.comparisons) {
    if (c.status !== 'ok') {
      io.stdout(`  ${c.variant} vs control: insufficient data (${c.reason})\n`);
      continue;
    }
    io.stdout(
      `  ${c.variant} vs control: SNIPS difference ${ci(c.difference, c.ci_low, c.ci_high)}, lift ${ci(c.lift, c.lift_ci_low, c.lift_ci_high)}, ` +
        `p = ${pText(c.p_value)}, always-valid p = ${pText(c.always_valid_p_value)} (Holm ${pText(c.always_valid_p_value_adjusted)}); IPS difference ${ci(c.ips_difference, c.ips_ci_low, c.ips_ci_high)}\n`,
    );
  }
}

/** Where `--experiment ID` finds the service: --url, --admin-key, --data-dir (all optional). */
export interface AdminConnectionOptions {
  url?: string;
  adminKey?: string;
  dataDir?: string;
}

/** Fetches the analysis document of an experiment (what `GET /experiments/{id}/results` returns). */
export type AnalysisFetcher = (experimentId: string, connection: AdminConnectionOptions, io: CliIO) => Promise<ExperimentAnalysis>;

function errorMessageOf(body: unknown): string {
  const error = (body as { error?: { message?: unknown } } | null)?.error;
  return typeof error?.message === 'string' ? error.message : typeof body === 'string' ? body.slice(0, 200) : (JSON.stringify(body)?.slice(0, 200) ?? '');
}

/**
 * `GET /experiments/{id}/results` through the admin client: a running `abrec serve` (the admin
 * key comes from its data directory) or a deployed API (--url and --admin-key / ABREC_*).
 * The service computes the report, so the CLI shows exactly what the Lambda writes.
 */
export const fetchAnalysisFromAdminApi: AnalysisFetcher = async (experimentId, connection, io) => {
  const target = await resolveAdminTarget(connection, io.env);
  const response = await adminRequest(target, 'GET', `/experiments/${encodeURIComponent(experimentId)}/results`);
  if (response.status === 404) throw new UsageError(`--experiment ${experimentId}: no such experiment at ${target.url}`);
  if (response.status !== 200) throw new Error(`GET /experiments/${experimentId}/results answered ${response.status}: ${errorMessageOf(response.body)}`);
  const body = response.body as Partial<ExperimentAnalysis> | null;
  if (body === null || typeof body !== 'object' || typeof body.experiment_id !== 'string' || (body.result !== 'ok' && body.result !== 'insufficient-data')) {
    throw new Error(`GET /experiments/${experimentId}/results: the answer is not an analysis document (is ${target.url} an abrec service?)`);
  }
  return body as ExperimentAnalysis;
};

/** The `--experiment` output line from an engine report. */
/** The fields every `--json` line of an experiment carries (the rest depends on the method). */
export interface ExperimentOutputCore {
  experiment_id: string;
  result: string;
  decision: string;
  decision_reason: string;
  winner: string | null;
}

export function reportOutput(
  report: ExperimentReport,
): Record<string, unknown> & ExperimentOutputCore & { srm_p_value: number | null; srm_flagged: boolean; results: AnalyzeVariantOutput[] } {
  return {
    experiment_id: report.experimentId,
    result: 'ok',
    through: report.through,
    metric: report.metric,
    confidence_level: report.confidenceLevel,
    control: report.control,
    srm_p_value: report.srm.status === 'ok' ? report.srm.pValue : null,
    srm_flagged: report.srm.status === 'ok' ? report.srm.flagged : false,
    decision: report.decision.decision,
    decision_reason: report.decision.reason,
    winner: report.decision.winner,
    guardrails_breached: report.guardrails.filter((check) => check.breached).map((check) => ({ variant: check.variant, metric: check.metric })),
    results: report.comparisons.map((comparison) => ({
      ...toVariantOutput(comparison, report.metric),
      always_valid_p_value: comparison.alwaysValidPValue,
      always_valid_p_value_adjusted: comparison.alwaysValidPValueAdjusted,
    })),
  };
}

/** The `--experiment` output line from an analysis document. */
export function analysisOutput(analysis: ExperimentAnalysis): Record<string, unknown> & ExperimentOutputCore {
  const context = { day: analysis.day, target_metric: analysis.target_metric, skipped_guardrails: analysis.skipped_guardrails };
  if (analysis.preference) {
    // Interleaving: the preference (sign) test decides, not the A/B engine.
    const p = analysis.preference;
    return {
      experiment_id: analysis.experiment_id,
      result: 'ok',
      method: p.method,
      ...context,
      impressions: p.impressions,
      wins_a: p.wins_a,
      wins_b: p.wins_b,
      ties: p.ties,
      p_value: p.p_value,
      preferred: p.preferred,
      team_a: p.team_a,
      team_b: p.team_b,
      decision: analysis.decision,
      decision_reason: analysis.decision_reason,
      winner: p.winner,
    };
  }
  if (analysis.report === null) {
    return {
      experiment_id: analysis.experiment_id,
      result: 'insufficient-data',
      reason: analysis.reason,
      ...context,
      control: null,
      srm_p_value: null,
      srm_flagged: false,
      decision: analysis.decision,
      decision_reason: analysis.decision_reason,
      winner: null,
      guardrails_breached: [],
      results: [],
    };
  }
  const report = analysis.report;
  return {
    ...reportOutput(report),
    ...context,
    // Per variant, what a summary table shows beside the comparisons: users, impressions and
    // the target metric with its interval (the same numbers `npm start` prints).
    variants: report.variants.map((variant) => ({
      variant: variant.name,
      control: variant.isControl,
      users: analysis.totals[variant.name]?.exposed_users ?? 0,
      impressions: analysis.totals[variant.name]?.impressions ?? 0,
      estimate: variant.estimate,
      ci_low: variant.interval?.low ?? null,
      ci_high: variant.interval?.high ?? null,
    })),
    sample_size: {
      required_per_variant: report.sampleSize.requiredPerVariant,
      smallest_variant_users: report.sampleSize.smallestVariantUsers,
      progress: report.sampleSize.progress,
      reason: report.sampleSize.reason,
    },
    // A bandit's arms from the logged propensities; null for a fixed split and in reports written before it existed.
    bandit: report.bandit === null || report.bandit === undefined ? null : banditOutput(report.bandit),
    // Every metric (the target first) and the recommendation metrics; null in reports written before they existed.
    metrics: report.metrics === null || report.metrics === undefined ? null : metricsOutput(report.metrics),
    ranking: report.ranking === null || report.ranking === undefined ? null : rankingOutput(report.ranking),
    // The service's sections beside the engine's report, snake_case; null in documents written before they existed.
    capping: analysis.capping == null ? null : snakeCaseKeys(analysis.capping),
    variance_reduction: analysis.variance_reduction == null ? null : snakeCaseKeys(analysis.variance_reduction),
    segments: analysis.segments == null ? null : snakeCaseKeys(analysis.segments),
    // An experiment switched by a retraining run (already snake_case); null otherwise.
    model_switches: analysis.model_switches ?? null,
  };
}

/** Keys whose children are names (variants), not field names: kept as they are. */
const NAME_KEYED = new Set(['users']);

/**
 * A report section with its field names in snake_case, as every other field of the output.
 * Only keys change; the children of a name-keyed record (`users`: variant -> count) keep theirs.
 */
export function snakeCaseKeys(value: unknown, keepChildKeys = false): unknown {
  if (Array.isArray(value)) return value.map((item) => snakeCaseKeys(item));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, child]) => [
      keepChildKeys ? key : key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
      snakeCaseKeys(child, !keepChildKeys && NAME_KEYED.has(key)),
    ]),
  );
}

/**
 * Builds the command. `--experiment ID` asks `fetchAnalysis` for the experiment's analysis
 * document (by default the admin API, so the CLI shows exactly what the service computes).
 */
export function createAnalyzeCommand({ fetchAnalysis = fetchAnalysisFromAdminApi }: { fetchAnalysis?: AnalysisFetcher } = {}): CliCommand {
  return {
    path: ['analyze'],
    summary: 'Significance, SRM and Bayesian results from aggregates or an experiment',
    help: HELP,
    async run(argv: string[], io: CliIO): Promise<number> {
      const values = parseCommandArgs(argv, {
        input: { type: 'string' },
        experiment: { type: 'string' },
        json: { type: 'boolean', default: false },
        url: { type: 'string' },
        'admin-key': { type: 'string' },
        'data-dir': { type: 'string' },
      });
      if ((values.input === undefined) === (values.experiment === undefined)) {
        throw new UsageError('give exactly one of --input FILE|- or --experiment ID');
      }

      if (values.experiment !== undefined) {
        const connection = { url: values.url, adminKey: values['admin-key'], dataDir: values['data-dir'] };
        const result = analysisOutput(await fetchAnalysis(values.experiment, connection, io));
        printHuman(result, io);
        io.stdout(`decision: ${result.decision} (${result.decision_reason})\n`);
        if (values.json) io.stdout(`${JSON.stringify(result)}\n`);
        return 0;
      }

      const source = values.input as string;
      const text = await readInputText(source, io);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (error) {
        throw new UsageError(`--input ${source === '-' ? 'stdin' : source}: not valid JSON (${errorMessage(error)})`);
      }
      const result = analyzeAggregates(json);
      printHuman(result, io);
      if (values.json) io.stdout(`${JSON.stringify(result)}\n`);
      return 0;
    },
  };
}

/** `abrec analyze`: aggregates from a file, or a stored experiment through the admin API. */
export const analyzeCommand: CliCommand = createAnalyzeCommand();

type IntervalOutput = { low: number; high: number };
const pct = (value: number | null | undefined): string => fixed(value ?? null, 'rate');
const num = (value: number | null | undefined): string => (value == null ? 'n/a' : value.toPrecision(4));
const range = (interval: IntervalOutput | null | undefined, format: (v: number) => string = num): string =>
  interval == null ? '' : ` [${format(interval.low)}, ${format(interval.high)}]`;

/** `variance_reduction` of the --experiment output (services/variance-reduction.ts, snake_case). */
interface VarianceReductionOutput {
  metrics: {
    metric: string;
    target: boolean;
    result:
      | {
          status: 'ok';
          comparisons: {
            variant: string;
            difference: number;
            difference_interval: IntervalOutput;
            p_value: number;
            adjusted_difference: number;
            adjusted_difference_interval: IntervalOutput;
            adjusted_p_value: number;
            variance_reduction: number;
          }[];
        }
      | { status: 'insufficient-data'; reason: string };
  }[];
}

function printVarianceReduction(section: VarianceReductionOutput, io: CliIO): void {
  io.stdout('\nvariance reduction (CUPED, pre-exposure covariate): plain -> adjusted difference against control\n');
  for (const metric of section.metrics ?? []) {
    if (metric.result.status !== 'ok') {
      io.stdout(`  ${metric.metric}: not computed (${metric.result.reason})\n`);
      continue;
    }
    for (const c of metric.result.comparisons) {
      io.stdout(
        `  ${metric.metric}${metric.target ? ' (target)' : ''}, ${c.variant}: ${num(c.difference)}${range(c.difference_interval)} p = ${num(c.p_value)} -> ` +
          `${num(c.adjusted_difference)}${range(c.adjusted_difference_interval)} p = ${num(c.adjusted_p_value)}; variance removed ${pct(c.variance_reduction)}\n`,
      );
    }
  }
}

/** `capping` of the --experiment output (services/capping.ts, snake_case). */
interface CappingOutput {
  used_by_decision: boolean;
  caps: Record<string, number>;
  metrics: { metric: string; cap: number | null; variants: { variant: string; users: number; users_at_cap: number | null }[] }[];
  one_user_influence: { status: string; max_statistic_shift?: number } | null;
}

function printCapping(section: CappingOutput, io: CliIO): void {
  const caps = Object.entries(section.caps ?? {})
    .map(([metric, cap]) => `${metric} ${cap}`)
    .join(', ');
  const influence =
    section.one_user_influence?.status === 'ok'
      ? `; one user at the caps moves the target's statistic by at most ${num(section.one_user_influence.max_statistic_shift)}`
      : '';
  io.stdout(`\nper-user caps (${section.used_by_decision ? 'used by the decision' : 'not used: counters predate caps'}): ${caps}${influence}\n`);
  for (const metric of section.metrics ?? []) {
    const atCap = metric.variants.map((v) => `${v.variant} ${v.users_at_cap ?? 'n/a'} of ${v.users}`).join(', ');
    if (metric.cap !== null) io.stdout(`  ${metric.metric} (cap ${metric.cap}): users at the cap ${atCap}\n`);
  }
}

/** `segments` of the --experiment output (services/segment-breakdown.ts, snake_case). */
interface SegmentsOutput {
  metric: string;
  dimensions: {
    dimension: string;
    segments: {
      segment: string;
      users: Record<string, number>;
      comparisons: {
        variant: string;
        status: string;
        reason?: string;
        relative_lift?: number | null;
        relative_lift_interval?: IntervalOutput | null;
        p_value?: number;
        p_value_adjusted_across_segments: number | null;
      }[];
    }[];
  }[];
}

function printSegments(section: SegmentsOutput, io: CliIO): void {
  io.stdout(`\nsegments (${section.metric}; Holm across the segments of each dimension, for understanding, not the decision)\n`);
  for (const dimension of section.dimensions) {
    for (const segment of dimension.segments) {
      const users = Object.entries(segment.users)
        .map(([variant, n]) => `${variant} ${n}`)
        .join(' / ');
      for (const c of segment.comparisons) {
        const result =
          c.status === 'ok'
            ? `lift ${pct(c.relative_lift)}${range(c.relative_lift_interval, (v) => pct(v))}, p = ${num(c.p_value)} (Holm ${num(c.p_value_adjusted_across_segments)})`
            : `insufficient data (${c.reason ?? ''})`;
        io.stdout(`  ${dimension.dimension} ${segment.segment}, ${c.variant} (users ${users}): ${result}\n`);
      }
    }
  }
}
