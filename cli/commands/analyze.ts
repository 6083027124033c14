/**
 * `abrec analyze`: significance of an experiment from aggregates (a file or stdin), or the
 * report of a stored experiment from the admin API (`--experiment ID`).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { adminRequest, resolveAdminTarget } from '../admin-client.ts';
import { UsageError, type CliCommand, type CliIO } from '../command.ts';
import type { ExperimentAnalysis } from '../../lambdas/services/experiment-results.ts';
import {
  compareVariants,
  StatsInputError,
  type ComparisonInput,
  type ExperimentReport,
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
                     decision, decision_reason, winner, always-valid p-values per variant
  --url URL          service base URL (default: $ABREC_URL or http://127.0.0.1:$PORT|3000)
  --admin-key KEY    admin key (default: $ABREC_ADMIN_KEY or keys.json in the data directory)
  --data-dir DIR     data directory of \`abrec serve\` (default: $ABREC_DATA_DIR or .abrec-data)
  --json             print one JSON object on the last line of stdout`;

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

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => (typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key)), '');
}

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
  return named >= 0 ? named : 0;
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
        variants: variants.map((v, i) => ({ name: v.name, weight: v.weight, isControl: i === control, users: v.users, sample: { users: v.users, conversions: v.conversions } })),
      };
    }
    case 'mean': {
      const variants = top.variants.map((v, i) => parseWith(meanVariant, v, `variants[${i}]`));
      const control = controlIndexOf(variants);
      return {
        metric: 'mean',
        confidenceLevel,
        variants: variants.map((v, i) => ({ name: v.name, weight: v.weight, isControl: i === control, users: v.users ?? v.n, sample: { n: v.n, sum: v.sum, sumSq: v.sum_sq } })),
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
    throw new UsageError(`--input: cannot read ${path}: ${(error as Error).message}`);
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
  return typeof error?.message === 'string' ? error.message : typeof body === 'string' ? body.slice(0, 200) : JSON.stringify(body)?.slice(0, 200) ?? '';
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

export function reportOutput(report: ExperimentReport): Record<string, unknown> & ExperimentOutputCore & { srm_p_value: number | null; srm_flagged: boolean; results: AnalyzeVariantOutput[] } {
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
  };
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
      let values;
      try {
        values = parseArgs({
          args: argv,
          options: {
            input: { type: 'string' },
            experiment: { type: 'string' },
            json: { type: 'boolean', default: false },
            url: { type: 'string' },
            'admin-key': { type: 'string' },
            'data-dir': { type: 'string' },
          },
          strict: true,
          allowPositionals: false,
        }).values;
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
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
        throw new UsageError(`--input ${source === '-' ? 'stdin' : source}: not valid JSON (${(error as Error).message})`);
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
