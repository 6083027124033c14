/**
 * The HTML sections the analysis document adds beside the engine's page, one function each:
 * per-user capping (capping.ts), CUPED variance reduction (variance-reduction.ts) and the
 * breakdown by user segment (segment-breakdown.ts). Each
 * renders its own part of report.json, so the engine's page and these sections can change
 * apart. Self-contained markup (the page's own CSS), no scripts.
 */
import { escapeHtml, type Interval } from '../domain/stats/index.ts';
import type { CappingReport } from './capping.ts';
import type { ModelSwitchesReport, PeriodComparison } from './model-switches.ts';
import type { SegmentsReport } from './segment-breakdown.ts';
import type { VarianceReductionReport } from './variance-reduction.ts';

/** The sections of an analysis document this module renders (all optional). */
export interface AnalysisSections {
  capping?: CappingReport | null;
  variance_reduction?: VarianceReductionReport | null;
  segments?: SegmentsReport | null;
  model_switches?: ModelSwitchesReport;
}

const format = (value: number | null | undefined, digits = 4): string => {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  return Number(value.toPrecision(digits)).toString();
};
const percent = (value: number | null | undefined): string =>
  value === null || value === undefined || !Number.isFinite(value) ? '–' : `${(value * 100).toFixed(1)}%`;
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
        ? `<p>One more user at the caps moves the target's test statistic by at most <strong>${format(influence.maxStatisticShift, 3)}</strong> (worst: ${escapeHtml(
            Object.entries(influence.worst.user)
              .map(([k, v]) => `${k} ${format(v)}`)
              .join(', '),
          )} in ${escapeHtml(influence.worst.arm)}): a decision whose statistic is farther than that from its threshold cannot be moved by one user.</p>`
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
  if (report.status !== 'ok')
    return `<section class="variance-reduction"><h2>Variance reduction (CUPED)</h2>${intro}<p class="muted">${escapeHtml(report.reason)}.</p></section>`;
  const tables = report.metrics.map((metric) => {
    const title = `${escapeHtml(metric.definition)}${metric.target ? ' — target' : ''}`;
    if (metric.result.status !== 'ok') return `<h3>${title}</h3><p class="muted">insufficient data: ${escapeHtml(metric.result.reason)}</p>`;
    const result = metric.result;
    const arms = result.arms.map(
      (a) =>
        `<tr><td>${escapeHtml(a.variant)}</td><td>${format(a.users)}</td><td>${format(a.estimate)} ${interval(a.interval)}</td><td>${format(a.adjustedEstimate)} ${interval(a.adjustedInterval)}</td><td></td></tr>`,
    );
    const comparisons = result.comparisons.map((c) => {
      const sequential = metric.sequential?.find((s) => s.variant === c.variant);
      const always = sequential ? `; always-valid p (Holm) ${pValue(sequential.alwaysValidPValue)} → ${pValue(sequential.adjustedAlwaysValidPValue)}` : '';
      return `<tr><td>${escapeHtml(c.variant)} − control</td><td></td><td>${format(c.difference)} ${interval(c.differenceInterval)} p ${pValue(c.pValue)}</td><td>${format(c.adjustedDifference)} ${interval(c.adjustedDifferenceInterval)} p ${pValue(c.adjustedPValue)}${escapeHtml(always)}</td><td><strong>${percent(c.varianceReduction)}</strong></td></tr>`;
    });
    return `<h3>${title}</h3><p class="muted">θ = ${format(result.theta)}, correlation ${format(result.correlation, 3)}, covariate mean ${format(result.covariateMean)}</p><table><thead><tr><th>variant</th><th>users</th><th>plain [interval]</th><th>CUPED [interval]</th><th>variance removed</th></tr></thead><tbody>${[...arms, ...comparisons].join('')}</tbody></table>`;
  });
  return `<section class="variance-reduction"><h2>Variance reduction (CUPED)</h2>${intro}${tables.join('\n')}</section>`;
}

const SEGMENT_PLOT = { width: 220, height: 18, pad: 6 };

/**
 * The segments section: per dimension, a table with a small-multiples column, each segment's
 * relative lift and interval on one shared axis (0 marked), so the segments compare at a glance.
 */
export function segmentsHtml(report: SegmentsReport): string {
  const dimensions = report.dimensions.map((dimension) => {
    const lifts = dimension.segments.flatMap((s) =>
      s.comparisons.flatMap((c) =>
        c.status === 'ok' && c.relativeLiftInterval
          ? [c.relativeLiftInterval.low, c.relativeLiftInterval.high]
          : c.relativeLift != null
            ? [c.relativeLift]
            : [],
      ),
    );
    const low = Math.min(0, ...lifts.filter(Number.isFinite));
    const high = Math.max(0, ...lifts.filter(Number.isFinite));
    const span = high - low || 1;
    const x = (v: number) => (SEGMENT_PLOT.pad + ((v - low) / span) * (SEGMENT_PLOT.width - 2 * SEGMENT_PLOT.pad)).toFixed(1);
    const plot = (c: SegmentsReport['dimensions'][number]['segments'][number]['comparisons'][number]) => {
      const zero = `<line x1="${x(0)}" x2="${x(0)}" y1="0" y2="${SEGMENT_PLOT.height}" class="reference"/>`;
      if (c.status !== 'ok' || c.relativeLift == null)
        return `<svg viewBox="0 0 ${SEGMENT_PLOT.width} ${SEGMENT_PLOT.height}" width="${SEGMENT_PLOT.width}" height="${SEGMENT_PLOT.height}" role="img" aria-label="no estimate">${zero}</svg>`;
      const band = c.relativeLiftInterval
        ? `<line x1="${x(c.relativeLiftInterval.low)}" x2="${x(c.relativeLiftInterval.high)}" y1="9" y2="9" stroke="#1f6feb" stroke-width="3"/>`
        : '';
      return `<svg viewBox="0 0 ${SEGMENT_PLOT.width} ${SEGMENT_PLOT.height}" width="${SEGMENT_PLOT.width}" height="${SEGMENT_PLOT.height}" role="img" aria-label="lift ${percent(c.relativeLift)}">${zero}${band}<circle cx="${x(c.relativeLift)}" cy="9" r="4" fill="#1f6feb"/></svg>`;
    };
    const rows = dimension.segments.flatMap((segment) =>
      segment.comparisons.map((c) => {
        const users = Object.entries(segment.users)
          .map(([variant, n]) => `${escapeHtml(variant)} ${format(n)}`)
          .join(' / ');
        if (c.status !== 'ok')
          return `<tr><td>${escapeHtml(segment.segment)}</td><td>${escapeHtml(c.variant)}</td><td>${users}</td><td colspan="4" class="muted">insufficient data: ${escapeHtml(c.reason ?? '')}</td><td>${plot(c)}</td></tr>`;
        const lift = `${percent(c.relativeLift)} ${c.relativeLiftInterval ? `[${percent(c.relativeLiftInterval.low)}, ${percent(c.relativeLiftInterval.high)}]` : ''}`;
        return `<tr><td>${escapeHtml(segment.segment)}</td><td>${escapeHtml(c.variant)}</td><td>${users}</td><td>${format(c.controlEstimate)} → ${format(c.treatmentEstimate)}</td><td>${lift}</td><td>${pValue(c.pValue)}</td><td>${pValue(c.pValueAdjustedAcrossSegments)}</td><td>${plot(c)}</td></tr>`;
      }),
    );
    return `<h3>By ${escapeHtml(dimension.dimension.replace('_', ' '))}: ${escapeHtml(dimension.definition)}</h3><table><thead><tr><th>segment</th><th>variant</th><th>users</th><th>control → variant</th><th>lift [interval]</th><th>p</th><th>p (Holm across segments)</th><th>lift, shared axis (${percent(low)} to ${percent(high)})</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  });
  return `<section class="segments"><h2>Segments</h2><p>${escapeHtml(report.metric)}, per user segment fixed at the first exposure. For understanding, not for the decision: only the Holm column across segments supports a claim about one segment.</p>${dimensions.join('\n')}</section>`;
}

/** One period's rows of the model switches table: each variant's estimate, and each treatment's lift and p. */
function periodRows(label: string, period: PeriodComparison): string {
  if (period.result !== 'ok')
    return `<tr><td>${escapeHtml(label)}</td><td colspan="5" class="muted">insufficient data: ${escapeHtml(period.reason ?? '')}</td></tr>`;
  const estimates = period.variants.map((v) => `${escapeHtml(v.name)} ${format(v.estimate)} ${interval(v.interval)}`).join('<br>');
  return period.comparisons
    .map((c, i) => {
      const lift = `${percent(c.lift)} ${c.lift_interval ? `[${percent(c.lift_interval.low)}, ${percent(c.lift_interval.high)}]` : ''}`;
      const lead =
        i === 0 ? `<td rowspan="${period.comparisons.length}">${escapeHtml(label)}</td><td rowspan="${period.comparisons.length}">${estimates}</td>` : '';
      return `<tr>${lead}<td>${escapeHtml(c.variant)}</td><td>${lift}</td><td>${format(c.difference)} ${interval(c.difference_interval)}</td><td>${pValue(c.p_value)}</td></tr>`;
    })
    .join('');
}

/** The model switches section: each switch (day, run, versions) and the target since the last one beside the whole period. */
export function modelSwitchesHtml(section: ModelSwitchesReport): string {
  const switches = section.switches
    .map(
      (s) =>
        `<tr><td>${escapeHtml(s.day)}</td><td>${escapeHtml(s.at)}</td><td>${escapeHtml(s.run_id ?? '')}</td><td>${Object.entries(s.versions)
          .map(([variant, v]) => `${escapeHtml(variant)}: ${escapeHtml(v.model_id)} ${escapeHtml(v.model_version)}`)
          .join('<br>')}</td></tr>`,
    )
    .join('');
  const since = section.since_last_switch;
  return (
    `<section class="model-switches"><h2>Model switches</h2><p>This experiment follows the latest models: a retraining run that published every arm's model switched all arms together (marked on the charts over time).</p>` +
    `<table><thead><tr><th>day</th><th>at</th><th>run</th><th>versions from then on</th></tr></thead><tbody>${switches}</tbody></table>` +
    `<table><thead><tr><th>period</th><th>estimate [interval]</th><th>variant</th><th>lift vs control [interval]</th><th>difference [interval]</th><th>p (this look)</th></tr></thead><tbody>` +
    `${periodRows('Whole period', section.whole_period)}${periodRows(`Since the last switch (from ${since.from ?? 'the start'})`, since)}</tbody></table>` +
    `<p class="muted">${escapeHtml(section.note)}</p></section>`
  );
}

/** Every section the analysis document holds, in order (empty when it holds none). */
export function analysisSectionsHtml(sections: AnalysisSections): string {
  const parts: string[] = [];
  if (sections.capping) parts.push(cappingHtml(sections.capping));
  if (sections.variance_reduction) parts.push(varianceReductionHtml(sections.variance_reduction));
  if (sections.segments) parts.push(segmentsHtml(sections.segments));
  if (sections.model_switches) parts.push(modelSwitchesHtml(sections.model_switches));
  return parts.join('\n');
}
