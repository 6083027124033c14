/**
 * The HTML sections the analysis document adds beside the engine's page, one function each:
 * per-user capping (capping.ts) and CUPED variance reduction (variance-reduction.ts). Each
 * renders its own part of report.json, so the engine's page and these sections can change
 * apart. Self-contained markup (the page's own CSS), no scripts.
 */
import { escapeHtml, type Interval } from '../domain/stats/index.ts';
import type { CappingReport } from './capping.ts';
import type { VarianceReductionReport } from './variance-reduction.ts';

/** The sections of an analysis document this module renders (all optional). */
export interface AnalysisSections {
  capping?: CappingReport | null;
  variance_reduction?: VarianceReductionReport | null;
}

const format = (value: number | null | undefined, digits = 4): string => {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  return Number(value.toPrecision(digits)).toString();
};
const percent = (value: number | null | undefined): string => (value === null || value === undefined || !Number.isFinite(value) ? '–' : `${(value * 100).toFixed(1)}%`);
const interval = (i: Interval | null | undefined): string => (i ? `[${format(i.low)}, ${format(i.high)}]` : '');
const pValue = (p: number | null | undefined): string => (p === null || p === undefined ? '–' : p < 1e-4 ? p.toExponential(1) : p.toFixed(4));

/** The capping section: per capped metric, users at the cap and the estimates with and without it. */
export function cappingHtml(capping: CappingReport): string {
  const caps = capping.caps;
  const intro = `<p>Each user's totals are capped before the analysis (clicks ${format(caps.clicks)}, impressions ${format(caps.impressions)}, purchases ${format(caps.purchases)}, revenue ${format(caps.revenue)}, watch time ${format(caps.watch_time_seconds)} s per user), so no single user can move a decision. ${
    capping.usedByDecision ? 'The decision above uses the capped sums.' : '<strong>These counters predate caps: the decision uses the uncapped sums.</strong>'
  }</p>`;
  const influence = capping.oneUserInfluence;
  const influenceText =
    influence === null
      ? ''
      : influence.status === 'ok'
        ? `<p>One more user at the caps moves the target's test statistic by at most <strong>${format(influence.maxStatisticShift, 3)}</strong> (worst: ${escapeHtml(Object.entries(influence.worst.user).map(([k, v]) => `${k} ${format(v)}`).join(', '))} in ${escapeHtml(influence.worst.arm)}): a decision whose statistic is farther than that from its threshold cannot be moved by one user.</p>`
        : `<p class="muted">One user is not bounded by the caps here: ${escapeHtml(influence.reason)}.</p>`;
  const tables = capping.metrics.map((metric) => {
    const rows = metric.variants.map(
      (v) =>
        `<tr><td>${escapeHtml(v.variant)}</td><td>${format(v.users)}</td><td>${v.usersAtCap === null ? '–' : `${format(v.usersAtCap)} (${percent(v.users > 0 ? v.usersAtCap / v.users : null)})`}</td><td>${format(v.uncapped?.estimate)} ${interval(v.uncapped?.interval)}</td><td>${format(v.capped?.estimate)} ${interval(v.capped?.interval)}</td></tr>`,
    );
    const comparisons = metric.comparisons.map(
      (c) =>
        `<tr><td>${escapeHtml(c.variant)} − control</td><td></td><td></td><td>${format(c.uncapped?.difference)} ${interval(c.uncapped?.differenceInterval)} p ${pValue(c.uncapped?.pValue)}</td><td>${format(c.capped?.difference)} ${interval(c.capped?.differenceInterval)} p ${pValue(c.capped?.pValue)}</td></tr>`,
    );
    const cap = metric.cap === null ? '' : ` (cap ${format(metric.cap)})`;
    return `<h3>${escapeHtml(metric.definition)}${escapeHtml(cap)}</h3><table><thead><tr><th>variant</th><th>users</th><th>users at the cap</th><th>uncapped [interval]</th><th>capped [interval]</th></tr></thead><tbody>${[...rows, ...comparisons].join('')}</tbody></table>`;
  });
  return `<section class="capping"><h2>Per-user caps</h2>${intro}${influenceText}${tables.join('\n')}</section>`;
}

/** The CUPED section: per metric, plain and adjusted estimates, differences and p-values, and the variance removed. */
export function varianceReductionHtml(report: VarianceReductionReport): string {
  const intro = `<p>CUPED adjusts each user's outcome with a covariate measured before exposure: ${escapeHtml(report.covariate)}. θ is pooled across variants; the decision above still uses the plain test.</p>`;
  if (report.status !== 'ok') return `<section class="variance-reduction"><h2>Variance reduction (CUPED)</h2>${intro}<p class="muted">${escapeHtml(report.reason)}.</p></section>`;
  const tables = report.metrics.map((metric) => {
    const title = `${escapeHtml(metric.definition)}${metric.target ? ' — target' : ''}`;
    if (metric.result.status !== 'ok') return `<h3>${title}</h3><p class="muted">insufficient data: ${escapeHtml(metric.result.reason)}</p>`;
    const result = metric.result;
    const arms = result.arms.map((a) => `<tr><td>${escapeHtml(a.variant)}</td><td>${format(a.users)}</td><td>${format(a.estimate)} ${interval(a.interval)}</td><td>${format(a.adjustedEstimate)} ${interval(a.adjustedInterval)}</td><td></td></tr>`);
    const comparisons = result.comparisons.map((c) => {
      const sequential = metric.sequential?.find((s) => s.variant === c.variant);
      const always = sequential ? `; always-valid p (Holm) ${pValue(sequential.alwaysValidPValue)} → ${pValue(sequential.adjustedAlwaysValidPValue)}` : '';
      return `<tr><td>${escapeHtml(c.variant)} − control</td><td></td><td>${format(c.difference)} ${interval(c.differenceInterval)} p ${pValue(c.pValue)}</td><td>${format(c.adjustedDifference)} ${interval(c.adjustedDifferenceInterval)} p ${pValue(c.adjustedPValue)}${escapeHtml(always)}</td><td><strong>${percent(c.varianceReduction)}</strong></td></tr>`;
    });
    return `<h3>${title}</h3><p class="muted">θ = ${format(result.theta)}, correlation ${format(result.correlation, 3)}, covariate mean ${format(result.covariateMean)}</p><table><thead><tr><th>variant</th><th>users</th><th>plain [interval]</th><th>CUPED [interval]</th><th>variance removed</th></tr></thead><tbody>${[...arms, ...comparisons].join('')}</tbody></table>`;
  });
  return `<section class="variance-reduction"><h2>Variance reduction (CUPED)</h2>${intro}${tables.join('\n')}</section>`;
}

/** Every section the analysis document holds, in order (empty when it holds none). */
export function analysisSectionsHtml(sections: AnalysisSections): string {
  const parts: string[] = [];
  if (sections.capping) parts.push(cappingHtml(sections.capping));
  if (sections.variance_reduction) parts.push(varianceReductionHtml(sections.variance_reduction));
  return parts.join('\n');
}
