/**
 * The per-variant summary `npm start` prints after a simulated experiment. It is formatted from
 * the very object `abrec analyze --experiment ID --json` prints (`analysisOutput` of the
 * analysis document `GET /experiments/{id}/results` returns), so its numbers are those, not the
 * simulator's own tallies.
 */
import type { AnalyzeVariantOutput, ExperimentOutputCore, MetricsOutput } from '../cli/commands/analyze.ts';
import { textTable } from '../cli/text-table.ts';

/** The fields of `abrec analyze --experiment ID --json` the summary reads. */
export interface AnalyzeOutput extends ExperimentOutputCore {
  reason?: string | null;
  day?: string;
  through?: string;
  target_metric?: string;
  confidence_level?: number;
  control?: string | null;
  srm_p_value?: number | null;
  srm_flagged?: boolean;
  results?: (AnalyzeVariantOutput & { always_valid_p_value?: number })[];
  variants?: {
    variant: string;
    control: boolean;
    users: number;
    impressions: number;
    estimate: number | null;
    ci_low: number | null;
    ci_high: number | null;
  }[];
  sample_size?: { required_per_variant: number | null; smallest_variant_users: number; progress: number; reason: string | null };
  metrics?: MetricsOutput | null;
}

const finite = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);
const pct = (x: number | null | undefined, digits = 1) => (finite(x) ? `${(x * 100).toFixed(digits)}%` : '-');
const num = (x: number | null | undefined) => (finite(x) ? x.toFixed(4) : '-');
const pValue = (p: number | null | undefined) => (!finite(p) ? '-' : p < 0.0001 ? '<0.0001' : p.toFixed(4));

/** The secondary metrics against control, with the p-values Holm-adjusted over their family. */
function secondaryLines(metrics: MetricsOutput): string[] {
  const secondary = metrics.rows.filter((row) => row.role === 'secondary');
  if (secondary.length === 0) return [];
  const value = (x: number | null, scale: 'rate' | 'amount') => (!finite(x) ? '-' : scale === 'rate' ? pct(x, 2) : x.toPrecision(4));
  const table = [['other metric', 'variant', 'control', 'variant value', 'lift [CI]', 'p Holm']];
  for (const row of secondary) {
    const control = row.variants.find((v) => v.control);
    for (const v of row.variants.filter((entry) => !entry.control)) {
      const c = row.comparisons.find((entry) => entry.variant === v.variant);
      const lift =
        row.not_tested !== null ? 'not tested' : c?.status === 'ok' ? `${pct(c.lift)} [${pct(c.lift_ci_low)}, ${pct(c.lift_ci_high)}]` : 'not enough data';
      table.push([
        row.label,
        v.variant,
        value(control?.estimate ?? null, row.scale),
        value(v.estimate, row.scale),
        lift,
        c?.status === 'ok' ? pValue(c.p_value_holm) : '',
      ]);
    }
  }
  return ['', ...textTable(table), `(secondary: Holm-adjusted over ${metrics.family.size} tests; they inform, the target decides)`];
}

/** The summary table, the sample ratio check, the plan and the decision, as text. */
export function formatSummary(output: AnalyzeOutput): string {
  const metric = (output.target_metric ?? 'target').replace(/_/g, ' ');
  const head = `experiment ${output.experiment_id} through ${output.through ?? output.day ?? '-'}: ${metric}`;
  if (output.result !== 'ok' || !output.variants) {
    return [head, '', `no report yet: ${output.reason ?? output.decision_reason}`, `decision: ${output.decision} - ${output.decision_reason}`, ''].join('\n');
  }
  const level = Math.round((output.confidence_level ?? 0.95) * 100);
  const table = [['variant', 'users', 'impressions', `${metric} [${level}% CI]`, 'lift [CI]', 'p fixed', 'p always-valid', 'P(beats control)']];
  for (const v of output.variants) {
    const r = output.results?.find((result) => result.variant === v.variant && result.status === 'ok');
    table.push([
      v.control && v.variant !== 'control' ? `${v.variant} (control)` : v.variant,
      String(v.users),
      String(v.impressions),
      finite(v.estimate) ? `${num(v.estimate)} [${num(v.ci_low)}, ${num(v.ci_high)}]` : '-',
      r ? `${pct(r.lift)} [${pct(r.lift_ci_low)}, ${pct(r.lift_ci_high)}]` : '',
      r ? pValue(r.p_value) : '',
      r ? pValue(r.always_valid_p_value) : '',
      r ? pct(r.prob_better) : '',
    ]);
  }
  const lines = textTable(table);
  const srm = finite(output.srm_p_value)
    ? `sample ratio check: p = ${pValue(output.srm_p_value)} ${output.srm_flagged ? '(MISMATCH: do not trust the results)' : '(ok)'}`
    : 'sample ratio check: not enough data';
  const plan = output.sample_size;
  const planLine = plan?.required_per_variant
    ? `users per variant: ${plan.smallest_variant_users} of the ${plan.required_per_variant} planned (${Math.round(plan.progress * 100)}%)`
    : `users per variant: ${plan?.smallest_variant_users ?? 0} (no plan yet${plan?.reason ? `: ${plan.reason}` : ''})`;
  const secondary = output.metrics ? secondaryLines(output.metrics) : [];
  return [
    head,
    '',
    ...lines,
    ...secondary,
    '',
    srm,
    planLine,
    `decision: ${output.decision}${output.winner ? ` (${output.winner})` : ''} - ${output.decision_reason}`,
    '',
  ].join('\n');
}
