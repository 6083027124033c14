/**
 * The per-variant summary `npm start` prints after a simulated experiment, read from the same
 * analysis document `GET /experiments/{id}/results` and `abrec analyze --experiment ID --json`
 * return, so the numbers are theirs, not the simulator's own tallies.
 */
import type { ExperimentAnalysis } from '../lambdas/services/experiment-results.ts';

const pct = (x: number | null | undefined, digits = 2) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : `${(x * 100).toFixed(digits)}%`);
const num = (x: number | null | undefined, digits = 4) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));
const pValue = (p: number | null | undefined) => (p === null || p === undefined || !Number.isFinite(p) ? '-' : p < 0.0001 ? '<0.0001' : p.toFixed(4));
const interval = (i: { low: number; high: number } | null | undefined, format: (x: number) => string) => (i ? `[${format(i.low)}, ${format(i.high)}]` : '');

/** One row per variant; the control's comparison columns are blank. */
export interface SummaryRow {
  variant: string;
  users: number;
  impressions: number;
  estimate: string;
  lift: string;
  pFixed: string;
  pAlwaysValid: string;
  probabilityBetter: string;
}

export function summaryRows(analysis: ExperimentAnalysis): SummaryRow[] {
  const report = analysis.report;
  return Object.entries(analysis.totals).map(([variant, totals]) => {
    const snapshot = report?.variants.find((v) => v.name === variant);
    const comparison = report?.comparisons.find((c) => c.variant === variant);
    const ok = comparison && comparison.status === 'ok' ? comparison : undefined;
    return {
      variant: report?.control === variant && variant !== 'control' ? `${variant} (control)` : variant,
      users: totals.exposed_users,
      impressions: totals.impressions,
      estimate: snapshot?.estimate === null || snapshot === undefined ? '-' : `${num(snapshot.estimate)} ${interval(snapshot.interval, (x) => num(x))}`,
      lift: ok ? `${pct(ok.relativeLift, 1)} ${interval(ok.relativeLiftInterval, (x) => pct(x, 1))}` : '',
      pFixed: ok ? pValue(ok.pValue) : '',
      pAlwaysValid: ok ? pValue(ok.alwaysValidPValue) : '',
      probabilityBetter: ok ? pct(ok.probabilityBetter, 1) : '',
    };
  });
}

/** The summary table and the decision, as text. */
export function formatSummary(analysis: ExperimentAnalysis): string {
  const report = analysis.report;
  const metric = analysis.target_metric.replace(/_/g, ' ');
  const header: SummaryRow = {
    variant: 'variant',
    users: Number.NaN,
    impressions: Number.NaN,
    estimate: `${metric} [${Math.round((report?.confidenceLevel ?? 0.95) * 100)}% CI]`,
    lift: 'lift [CI]',
    pFixed: 'p fixed',
    pAlwaysValid: 'p always-valid',
    probabilityBetter: 'P(beats control)',
  };
  const rows = summaryRows(analysis);
  const cells = (row: SummaryRow) => [row.variant, Number.isNaN(row.users) ? 'users' : String(row.users), Number.isNaN(row.impressions) ? 'impressions' : String(row.impressions), row.estimate, row.lift, row.pFixed, row.pAlwaysValid, row.probabilityBetter];
  const table = [header, ...rows].map(cells);
  const widths = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
  const lines = table.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  const srm = report?.srm;
  const srmLine = srm && srm.status === 'ok' ? `sample ratio check: p = ${pValue(srm.pValue)}${srm.flagged ? ' (MISMATCH)' : ' (ok)'}` : 'sample ratio check: not enough data';
  const plan = report?.sampleSize;
  const planLine = plan?.requiredPerVariant ? `users per variant: ${plan.smallestVariantUsers} of ${plan.requiredPerVariant} planned (${Math.round(plan.progress * 100)}%)` : `users per variant: ${plan?.smallestVariantUsers ?? 0} (no plan yet${plan?.reason ? `: ${plan.reason}` : ''})`;
  return [
    `experiment ${analysis.experiment_id} through ${analysis.through ?? analysis.day}: ${metric}`,
    '',
    ...lines,
    '',
    srmLine,
    planLine,
    `decision: ${analysis.decision}${analysis.winner ? ` (${analysis.winner})` : ''} - ${analysis.decision_reason}`,
    '',
  ].join('\n');
}
