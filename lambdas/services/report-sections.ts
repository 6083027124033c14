/**
 * The HTML sections the analysis document adds beside the engine's page, one function each:
 * per-user capping (capping.ts). Each renders its own part of report.json, so the engine's page
 * and these sections can change apart. Self-contained markup (the page's own CSS), no scripts.
 */
import { escapeHtml, type Interval } from '../domain/stats/index.ts';
import type { CappingReport } from './capping.ts';

/** The sections of an analysis document this module renders (all optional). */
export interface AnalysisSections {
  capping?: CappingReport | null;
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

/** Every section the analysis document holds, in order (empty when it holds none). */
export function analysisSectionsHtml(sections: AnalysisSections): string {
  const parts: string[] = [];
  if (sections.capping) parts.push(cappingHtml(sections.capping));
  return parts.join('\n');
}
