/**
 * Renders an {@link ExperimentReport} as one self-contained HTML page: inline CSS and SVG, no
 * scripts, no external resources, so it can be opened straight from S3 or attached to a mail.
 */
import type { BanditReport } from './bandit.ts';
import type { MetricsPanel, PanelComparison, PanelMetric } from './metrics-panel.ts';
import type { RankingPanel } from './ranking-panel.ts';
import type { ExperimentReport, TimelinePoint } from './report-types.ts';
import type { Interval } from './result.ts';

const PALETTE = ['#1f6feb', '#d9480f', '#2f9e44', '#ae3ec9', '#f59f00', '#0c8599', '#e03131', '#495057'];
const WIDTH = 640;
const HEIGHT = 240;
const MARGIN = { top: 16, right: 16, bottom: 32, left: 64 };

/** Escapes text for HTML element and attribute content. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function formatNumber(value: number | null, kind: 'percent' | 'number' | 'p'): string {
  if (value === null || !Number.isFinite(value)) return '–';
  if (kind === 'percent') return `${(value * 100).toFixed(2)}%`;
  if (kind === 'p') return value < 1e-4 ? value.toExponential(1) : value.toFixed(4);
  return Math.abs(value) >= 1000 ? Math.round(value).toLocaleString('en-US') : value.toPrecision(4);
}

interface SeriesPoint {
  y: number | null;
  band: Interval | null;
}

interface Series {
  name: string;
  color: string;
  points: SeriesPoint[];
}

/**
 * A line chart with a shaded interval band per series and an optional reference line. The x axis
 * is days (labelled MM-DD) unless `xLabels` names each point.
 */
function lineChart({
  title,
  days,
  series,
  percent,
  reference,
  xLabels,
  markers = [],
}: {
  title: string;
  days: string[];
  series: Series[];
  percent: boolean;
  reference?: number;
  xLabels?: string[];
  markers?: readonly TimelineMarker[];
}): string {
  const values = series
    .flatMap((s) => s.points.flatMap((p) => [p.y, p.band?.low ?? null, p.band?.high ?? null]))
    .filter((v): v is number => v !== null && Number.isFinite(v));
  if (reference !== undefined) values.push(reference);
  if (values.length === 0) return `<figure><figcaption>${escapeHtml(title)}</figcaption><p class="muted">Not enough data yet.</p></figure>`;
  let min = Math.min(...values);
  let max = Math.max(...values);
  if (max === min) {
    max += Math.abs(max) * 0.1 || 1;
    min -= Math.abs(min) * 0.1 || 1;
  }
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (i: number): number => MARGIN.left + (days.length === 1 ? plotW / 2 : (i * plotW) / (days.length - 1));
  const y = (v: number): number => MARGIN.top + plotH - ((v - min) / (max - min)) * plotH;
  const label = (v: number): string => (percent ? `${(v * 100).toFixed(2)}%` : v.toPrecision(3));
  const parts: string[] = [];
  for (let t = 0; t <= 4; t++) {
    const v = min + ((max - min) * t) / 4;
    parts.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${label(v)}</text>`);
  }
  const tickEvery = Math.max(1, Math.ceil(days.length / 6));
  days.forEach((day, i) => {
    if (i % tickEvery === 0 || i === days.length - 1)
      parts.push(`<text x="${x(i).toFixed(1)}" y="${HEIGHT - 10}" text-anchor="middle">${escapeHtml(xLabels?.[i] ?? day.slice(5))}</text>`);
  });
  if (reference !== undefined)
    parts.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(reference).toFixed(1)}" y2="${y(reference).toFixed(1)}" class="reference"/>`);
  for (const marker of markers) {
    // At the marker's day, or where it would fall between two looks (a day without counters).
    const at = days.findIndex((day) => day >= marker.day);
    if (at < 0) continue;
    const mx = days[at] === marker.day || at === 0 ? x(at) : (x(at - 1) + x(at)) / 2;
    parts.push(
      `<g class="switch-marker"><line x1="${mx.toFixed(1)}" x2="${mx.toFixed(1)}" y1="${MARGIN.top}" y2="${HEIGHT - MARGIN.bottom}" stroke="#7048e8" stroke-dasharray="2 2"/>` +
        `<text x="${(mx + 3).toFixed(1)}" y="${MARGIN.top + 10}" fill="#7048e8">${escapeHtml(marker.label)}</text><title>${escapeHtml(marker.title ?? marker.label)}</title></g>`,
    );
  }
  for (const s of series) {
    const banded = s.points.map((p, i) => ({ i, band: p.band })).filter((p): p is { i: number; band: Interval } => p.band !== null);
    if (banded.length > 0) {
      const upper = banded.map((p) => `${x(p.i).toFixed(1)},${y(p.band.high).toFixed(1)}`);
      const lower = banded.reverse().map((p) => `${x(p.i).toFixed(1)},${y(p.band.low).toFixed(1)}`);
      parts.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${s.color}" fill-opacity="0.15" stroke="none"/>`);
    }
    const line = s.points.map((p, i) => (p.y === null ? null : `${x(i).toFixed(1)},${y(p.y).toFixed(1)}`)).filter((p): p is string => p !== null);
    if (line.length > 0) {
      parts.push(`<polyline points="${line.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
      for (const point of line) {
        const [cx, cy] = point.split(',');
        parts.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${s.color}"/>`);
      }
    }
  }
  const legend = series.map((s) => `<span><i style="background:${s.color}"></i>${escapeHtml(s.name)}</span>`).join(' ');
  return `<figure><figcaption>${escapeHtml(title)}</figcaption><svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(title)}">${parts.join('')}</svg><div class="legend">${legend}</div></figure>`;
}

/** Horizontal bars with values in [0, 1] and a text label each. */
function barChart({ title, bars }: { title: string; bars: { name: string; value: number; color: string; text: string }[] }): string {
  const rowH = 28;
  const height = bars.length * rowH + 8;
  const plotW = WIDTH - 200;
  const parts = bars.map((bar, i) => {
    const width = Math.max(0, Math.min(1, bar.value)) * plotW;
    const top = 4 + i * rowH;
    return (
      `<text x="110" y="${top + 17}" text-anchor="end">${escapeHtml(bar.name)}</text>` +
      `<rect x="120" y="${top + 4}" width="${plotW}" height="18" class="track"/>` +
      `<rect x="120" y="${top + 4}" width="${width.toFixed(1)}" height="18" fill="${bar.color}"/>` +
      `<text x="${120 + plotW + 6}" y="${top + 17}">${escapeHtml(bar.text)}</text>`
    );
  });
  return `<figure><figcaption>${escapeHtml(title)}</figcaption><svg viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${escapeHtml(title)}">${parts.join('')}</svg></figure>`;
}

function colorOf(report: ExperimentReport, name: string): string {
  const index = report.variants.findIndex((variant) => variant.name === name);
  return PALETTE[Math.max(0, index) % PALETTE.length];
}

function rateChart(report: ExperimentReport, days: string[], timeline: TimelinePoint[], markers: readonly TimelineMarker[] = []): string {
  const series = report.variants.map((variant, v) => ({
    name: variant.name,
    color: colorOf(report, variant.name),
    points: timeline.map((point) => ({ y: point.variants[v].estimate, band: point.variants[v].interval })),
  }));
  return lineChart({
    title: `Target metric per variant with ${report.confidenceLevel * 100}% intervals`,
    days,
    series,
    percent: report.metric !== 'mean',
    markers,
  });
}

function liftChart(report: ExperimentReport, days: string[], timeline: TimelinePoint[], markers: readonly TimelineMarker[] = []): string {
  const series = report.comparisons.map((comparison) => ({
    name: `${comparison.variant} vs ${report.control}`,
    color: colorOf(report, comparison.variant),
    points: timeline.map((point) => {
      const c = point.comparisons.find((entry) => entry.variant === comparison.variant);
      return { y: c?.lift ?? null, band: c?.liftInterval ?? null };
    }),
  }));
  return lineChart({ title: 'Cumulative relative lift (fixed-horizon interval)', days, series, percent: true, reference: 0, markers });
}

/** Progress to the sequential plan: the size the always-valid decision needs, not the fixed-horizon one. */
function progressChart(report: ExperimentReport): string {
  const required = report.sampleSize.requiredPerVariant;
  if (required === null)
    return `<figure><figcaption>Progress to the planned sample size</figcaption><p class="muted">${escapeHtml(report.sampleSize.reason ?? 'not estimable yet')}</p></figure>`;
  const fixedHorizon = report.sampleSize.fixedHorizonPerVariant;
  const chart = barChart({
    title: `Progress to the sequential plan (${required.toLocaleString('en-US')} per variant)`,
    bars: report.variants.map((variant) => ({
      name: variant.name,
      value: variant.users / required,
      color: colorOf(report, variant.name),
      text: `${variant.users.toLocaleString('en-US')} (${Math.min(999, (100 * variant.users) / required).toFixed(0)}%)`,
    })),
  });
  const reference =
    fixedHorizon === null ? '' : ` A single fixed-horizon test would need ${fixedHorizon.toLocaleString('en-US')}, but only if read once, at that size.`;
  return `${chart}<p class="muted">The plan is the size at which the always-valid test reaches the planned power against the MDE, however often this report is read.${escapeHtml(reference)} Without a winner, the experiment stops for no effect only past the plan, once the always-valid interval rules out the MDE.</p>`;
}

function srmChart(report: ExperimentReport): string {
  if (report.srm.status !== 'ok') return `<figure><figcaption>Sample ratio check</figcaption><p class="muted">${escapeHtml(report.srm.reason)}</p></figure>`;
  const srm = report.srm;
  const bars = report.variants.flatMap((variant, i) => [
    {
      name: `${variant.name} observed`,
      value: srm.observedShares[i],
      color: colorOf(report, variant.name),
      text: formatNumber(srm.observedShares[i], 'percent'),
    },
    { name: `${variant.name} expected`, value: srm.expectedShares[i], color: '#adb5bd', text: formatNumber(srm.expectedShares[i], 'percent') },
  ]);
  const verdict = srm.flagged ? '<strong class="bad">MISMATCH</strong>' : '<span class="good">ok</span>';
  const against = report.bandit?.status === 'ok' ? 'the allocation in force (logged at each assignment)' : 'configured';
  return `${barChart({ title: `Sample ratio check: share of users, observed vs ${against}`, bars })}<p>chi-square = ${formatNumber(srm.chiSquare, 'number')}, df = ${srm.degreesOfFreedom}, p = ${formatNumber(srm.pValue, 'p')} (flagged below ${srm.threshold}): ${verdict}</p>`;
}

function comparisonTable(report: ExperimentReport): string {
  const percent = report.metric !== 'mean';
  const rows = report.comparisons.map((c) => {
    if (c.status !== 'ok') return `<tr><td>${escapeHtml(c.variant)}</td><td colspan="10" class="muted">insufficient data: ${escapeHtml(c.reason)}</td></tr>`;
    const unit = percent ? 'percent' : 'number';
    const interval = (i: { low: number; high: number } | null, as: 'percent' | 'number') =>
      `[${formatNumber(i?.low ?? null, as)}, ${formatNumber(i?.high ?? null, as)}]`;
    return `<tr><td>${escapeHtml(c.variant)}</td><td>${formatNumber(c.treatmentEstimate, unit)}</td><td>${formatNumber(c.relativeLift, 'percent')} ${interval(c.relativeLiftInterval, 'percent')}</td><td>${interval(c.credibleInterval, unit)}</td><td>${formatNumber(c.pValue, 'p')} <span class="muted">${escapeHtml(c.test)}</span></td><td>${formatNumber(c.pValueAdjusted, 'p')}</td><td>${formatNumber(c.alwaysValidPValue, 'p')}</td><td>${formatNumber(c.alwaysValidPValueAdjusted, 'p')}</td><td>${formatNumber(c.chanceToWin.absolute, 'percent')}</td><td>${formatNumber(c.chanceToWin.relative, 'percent')}</td><td>${formatNumber(c.expectedLoss, 'number')}</td></tr>`;
  });
  return `<table><thead><tr><th>variant</th><th>estimate</th><th>lift [interval]</th><th>difference, credible interval</th><th>p (test)</th><th>p (Holm)</th><th>always-valid p</th><th>always-valid p (Holm)</th><th>chance to win, absolute (difference &gt; 0)</th><th>chance to win, relative (lift &gt; 0)</th><th>expected loss</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function guardrailList(report: ExperimentReport, unchecked: readonly { metric: string; reason: string }[]): string {
  if (report.guardrails.length === 0 && unchecked.length === 0) return '<p class="muted">No guardrails configured.</p>';
  const notChecked = unchecked.map((g) => `<li>${escapeHtml(g.metric)}: <strong class="bad">NOT CHECKED</strong> — ${escapeHtml(g.reason)}</li>`);
  const items = report.guardrails.map((g) => {
    const state =
      g.status !== 'ok' ? `insufficient data (${escapeHtml(g.reason)})` : g.breached ? '<strong class="bad">BREACHED</strong>' : '<span class="good">ok</span>';
    const change = g.status === 'ok' ? formatNumber(g.relativeChange, 'percent') : '–';
    return `<li>${escapeHtml(g.metric)} · ${escapeHtml(g.variant)}: change ${change} (limit −${formatNumber(g.maxRelativeDrop, 'percent')}) — ${state}</li>`;
  });
  return `<ul>${items.join('')}${notChecked.join('')}</ul>`;
}

const intervalText = (interval: Interval | null, as: 'percent' | 'number') =>
  interval === null ? '' : ` [${formatNumber(interval.low, as)}, ${formatNumber(interval.high, as)}]`;

function roleText(metric: PanelMetric): string {
  return metric.role === 'target' ? '<strong>target</strong> <span class="muted">(decided above)</span>' : 'secondary';
}

function comparisonCells(metric: PanelMetric, comparison: PanelComparison | undefined): string {
  const unit = metric.scale === 'rate' ? 'percent' : 'number';
  if (comparison === undefined) return '<td></td><td></td><td></td><td></td>';
  if (comparison.status !== 'ok') return `<td colspan="4" class="muted">insufficient data: ${escapeHtml(comparison.reason)}</td>`;
  const holm = comparison.pValueAdjusted === null ? '<span class="muted">not in the family</span>' : formatNumber(comparison.pValueAdjusted, 'p');
  // Equal means give a difference of rounding noise (1e-15): shown as the 0 it is.
  const noise = 1e-12 * Math.max(Math.abs(comparison.controlEstimate), Math.abs(comparison.treatmentEstimate));
  const difference = Math.abs(comparison.difference) <= noise ? 0 : comparison.difference;
  return (
    `<td>${formatNumber(comparison.relativeLift, 'percent')}${intervalText(comparison.relativeLiftInterval, 'percent')}</td>` +
    `<td>${formatNumber(difference, unit)}${intervalText(comparison.differenceInterval, unit)}</td>` +
    `<td>${formatNumber(comparison.pValue, 'p')} <span class="muted">${escapeHtml(comparison.test)}</span></td><td>${holm}</td>`
  );
}

/** Every metric, every variant: estimates, lift, difference, p and the Holm-adjusted p of the secondary family. */
function metricsTable(panel: MetricsPanel): string {
  const rows = panel.metrics.flatMap((metric) => {
    const unit = metric.scale === 'rate' ? 'percent' : 'number';
    return metric.variants.map((variant, v) => {
      const head =
        v === 0
          ? `<td rowspan="${metric.variants.length}" class="metric"><strong>${escapeHtml(metric.label)}</strong><br><span class="muted">${escapeHtml(metric.definition)}</span></td><td rowspan="${metric.variants.length}">${roleText(metric)}</td>`
          : '';
      const estimate = `<td>${formatNumber(variant.estimate, unit)}${intervalText(variant.interval, unit)}<br><span class="muted">n = ${variant.n.toLocaleString('en-US')}</span></td>`;
      const rest = variant.isControl
        ? '<td colspan="4" class="muted">control</td>'
        : metric.notTested !== null
          ? `<td colspan="4" class="muted">${escapeHtml(metric.notTested)}</td>`
          : comparisonCells(
              metric,
              metric.comparisons.find((c) => c.variant === variant.name),
            );
      return `<tr>${head}<td>${escapeHtml(variant.name)}</td>${estimate}${rest}</tr>`;
    });
  });
  const alpha = Number((1 - panel.confidenceLevel).toPrecision(12));
  const family =
    panel.family.size === 0
      ? 'no secondary metric is tested'
      : `${panel.family.size} tests (${panel.family.metrics.map(escapeHtml).join(', ')} × each non-control variant)`;
  return (
    `<table class="metrics"><thead><tr><th>metric</th><th>role</th><th>variant</th><th>estimate [${panel.confidenceLevel * 100}% interval]</th><th>lift vs ${escapeHtml(panel.control)} [interval]</th><th>difference [interval]</th><th>p (test)</th><th>p (Holm, secondary family)</th></tr></thead><tbody>${rows.join('')}</tbody></table>` +
    `<p class="muted">Secondary metrics are for understanding, not for the decision: their p-values are fixed-horizon, and only the Holm-adjusted column, over one family of ${family}, supports a claim at alpha ${alpha}. The target's row shows its fixed-horizon test on the same counters as every row here (each user's clicks, impressions, revenue and watch time capped where the row's definition says so, as in the decision); the decision is the always-valid test above.</p>`
  );
}

/** Lift per metric and variant with its interval, one row each, against a line at 0: a forest plot. */
function forestPlot(panel: MetricsPanel, colorOf: (name: string) => string): string {
  const rows = panel.metrics.flatMap((metric) =>
    metric.comparisons.map((comparison) => ({ metric, comparison, label: `${metric.label} · ${comparison.variant}` })),
  );
  const drawable = rows.filter(
    (row): row is typeof row & { comparison: PanelComparison & { status: 'ok' } } => row.comparison.status === 'ok' && row.comparison.relativeLift !== null,
  );
  const title = `Relative lift against ${panel.control} per metric, with ${panel.confidenceLevel * 100}% intervals`;
  if (drawable.length === 0) return `<figure><figcaption>${escapeHtml(title)}</figcaption><p class="muted">No metric has a lift to show yet.</p></figure>`;
  const values = drawable.flatMap((row) => [
    row.comparison.relativeLift as number,
    row.comparison.relativeLiftInterval?.low ?? (row.comparison.relativeLift as number),
    row.comparison.relativeLiftInterval?.high ?? (row.comparison.relativeLift as number),
  ]);
  values.push(0);
  let min = Math.min(...values);
  let max = Math.max(...values);
  const pad = (max - min) * 0.05 || 0.05;
  min -= pad;
  max += pad;
  const rowH = 24;
  const left = 220;
  const right = 110;
  const top = 8;
  const height = top + drawable.length * rowH + 28;
  const plotW = WIDTH - left - right;
  const x = (v: number) => left + ((v - min) / (max - min)) * plotW;
  const parts: string[] = [];
  for (let t = 0; t <= 4; t++) {
    const v = min + ((max - min) * t) / 4;
    parts.push(`<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${top}" y2="${height - 24}" class="grid"/>`);
    parts.push(`<text x="${x(v).toFixed(1)}" y="${height - 8}" text-anchor="middle">${(v * 100).toFixed(1)}%</text>`);
  }
  parts.push(`<line x1="${x(0).toFixed(1)}" x2="${x(0).toFixed(1)}" y1="${top}" y2="${height - 24}" class="reference"/>`);
  drawable.forEach((row, i) => {
    const cy = top + i * rowH + rowH / 2;
    const color = colorOf(row.comparison.variant);
    const lift = row.comparison.relativeLift as number;
    const interval = row.comparison.relativeLiftInterval;
    const target = row.metric.role === 'target';
    parts.push(`<text x="${left - 8}" y="${(cy + 4).toFixed(1)}" text-anchor="end"${target ? ' font-weight="bold"' : ''}>${escapeHtml(row.label)}</text>`);
    if (interval !== null)
      parts.push(
        `<line x1="${x(interval.low).toFixed(1)}" x2="${x(interval.high).toFixed(1)}" y1="${cy.toFixed(1)}" y2="${cy.toFixed(1)}" stroke="${color}" stroke-width="2"/>`,
      );
    parts.push(`<circle cx="${x(lift).toFixed(1)}" cy="${cy.toFixed(1)}" r="4" fill="${color}"/>`);
    const p = row.comparison.pValueAdjusted === null ? 'target' : `Holm p ${formatNumber(row.comparison.pValueAdjusted, 'p')}`;
    parts.push(`<text x="${WIDTH - right + 6}" y="${(cy + 4).toFixed(1)}">${escapeHtml(p)}</text>`);
  });
  const missing = rows.length - drawable.length;
  const note = missing > 0 ? `<p class="muted">${missing} comparison(s) without a lift yet (see the table).</p>` : '';
  return `<figure><figcaption>${escapeHtml(title)}</figcaption><svg viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${escapeHtml(title)}">${parts.join('')}</svg></figure>${note}`;
}

/** Click-through by position per variant (a line per variant, Wilson bands), and the ranking table. */
function rankingSection(ranking: RankingPanel, colorOf: (name: string) => string): string {
  const positions = Array.from({ length: ranking.positions }, (_, i) => String(i + 1));
  const chart =
    ranking.positions === 0
      ? '<p class="muted">No list has been recorded with its length yet (the per-position counters start with this version).</p>'
      : lineChart({
          title: `Click-through by list position per variant (impression-level ${ranking.confidenceLevel * 100}% Wilson intervals)`,
          days: positions,
          xLabels: positions,
          percent: true,
          series: ranking.variants.map((variant) => ({
            name: variant.name,
            color: colorOf(variant.name),
            points: variant.byPosition.map((row) => (row.status === 'ok' ? { y: row.ctr, band: row.interval } : { y: null, band: null })),
          })),
        });
  const percent = (value: number | null) => formatNumber(value, 'percent');
  const rows = ranking.variants.map((variant) => {
    const rr =
      variant.reciprocalRank.status === 'ok'
        ? `${variant.reciprocalRank.value.toFixed(4)} <span class="muted">(${variant.reciprocalRank.clicks.toLocaleString('en-US')} clicks, ${variant.reciprocalRank.lists.toLocaleString('en-US')} lists)</span>`
        : `<span class="muted">${escapeHtml(variant.reciprocalRank.reason)}</span>`;
    const f = variant.fallback;
    const fallback = `${percent(f.share)} <span class="muted">(${f.fallbackImpressions.toLocaleString('en-US')} of ${f.impressions.toLocaleString('en-US')})</span>`;
    const unclassified =
      f.unclassifiedImpressions > 0 ? ` <span class="muted">+ ${f.unclassifiedImpressions.toLocaleString('en-US')} counted before the reasons were</span>` : '';
    const coverage = variant.coverage === null ? '<span class="muted">not measured</span>' : percent(variant.coverage);
    return `<tr><td>${escapeHtml(variant.name)}</td><td>${rr}</td><td>${fallback}</td><td>${percent(f.coldStartShare)}</td><td>${percent(f.artifactShare)}${unclassified}</td><td>${coverage}</td></tr>`;
  });
  const coverageNote = ranking.coverage.status === 'not-measured' ? `<p class="muted">Catalogue coverage: ${escapeHtml(ranking.coverage.reason)}.</p>` : '';
  return (
    `${chart}<table><thead><tr><th>variant</th><th>reciprocal rank of clicks per list</th><th>fallback impressions</th><th>cold start (unknown user)</th><th>artifact unavailable</th><th>catalogue coverage</th></tr></thead><tbody>${rows.join('')}</tbody></table>` +
    `<p class="muted">${escapeHtml(ranking.note)} Reciprocal rank: ${escapeHtml(ranking.reciprocalRankDefinition)}.</p>${coverageNote}`
  );
}

/**
 * A bandit's arms from the logged propensities: observed against expected users, the observed
 * rate beside IPS and SNIPS with their intervals, the SNIPS comparisons the decision uses, and
 * each arm's SNIPS over time.
 */
function banditSection(report: ExperimentReport, bandit: BanditReport, days: string[]): string {
  if (bandit.status !== 'ok') return `<p class="muted">Analysed as a fixed split: ${escapeHtml(bandit.reason)}.</p>`;
  const rate = (value: number | null) => formatNumber(value, 'percent');
  const arms = bandit.arms.map(
    (arm) =>
      `<tr><td>${escapeHtml(arm.name)}${arm.isControl ? ' <span class="muted">(control)</span>' : ''}</td><td>${arm.exposedUsers.toLocaleString('en-US')}</td><td>${formatNumber(arm.expectedExposures, 'number')}</td>` +
      `<td>${rate(arm.observedRate)}${intervalText(arm.observedInterval, 'percent')}</td><td>${rate(arm.ips)}${intervalText(arm.ipsInterval, 'percent')}</td><td><strong>${rate(arm.snips)}</strong>${intervalText(arm.snipsInterval, 'percent')}</td>` +
      `<td>${formatNumber(arm.effectiveSampleSize, 'number')}${arm.reason === null ? '' : ` <span class="muted">${escapeHtml(arm.reason)}</span>`}</td></tr>`,
  );
  const comparisons = bandit.comparisons.map((c) =>
    c.status !== 'ok'
      ? `<tr><td>${escapeHtml(c.variant)}</td><td colspan="6" class="muted">insufficient data: ${escapeHtml(c.reason)}</td></tr>`
      : `<tr><td>${escapeHtml(c.variant)}</td><td>${formatNumber(c.difference, 'percent')}${intervalText(c.differenceInterval, 'percent')}</td><td>${formatNumber(c.relativeLift, 'percent')}${intervalText(c.relativeLiftInterval, 'percent')}</td>` +
        `<td>${formatNumber(c.pValue, 'p')}</td><td>${formatNumber(c.alwaysValidPValue, 'p')}</td><td><strong>${formatNumber(c.alwaysValidPValueAdjusted, 'p')}</strong></td><td>${formatNumber(c.ipsDifference, 'percent')}${intervalText(c.ipsDifferenceInterval, 'percent')}</td></tr>`,
  );
  const chart = lineChart({
    title: 'Each arm over time (SNIPS, cumulative)',
    days,
    percent: true,
    series: bandit.arms.map((arm, a) => ({
      name: arm.name,
      color: colorOf(report, arm.name),
      points: bandit.timeline.map((point) => ({ y: point.snips[a], band: null })),
    })),
  });
  return (
    `<p>Reward: ${escapeHtml(bandit.reward)}. The split moved with the Thompson allocation, so it is checked against the allocation in force when each user was assigned, and each arm's value is estimated from the logged propensities p: ` +
    `IPS = Σ r/p over all ${bandit.totalExposures.toLocaleString('en-US')} exposed users, SNIPS = Σ r/p ÷ Σ 1/p. <strong>The decision uses the SNIPS comparisons.</strong></p>` +
    `<table><thead><tr><th>arm</th><th>users</th><th>expected users</th><th>observed rate [interval]</th><th>IPS [interval]</th><th>SNIPS [interval]</th><th>effective sample size</th></tr></thead><tbody>${arms.join('')}</tbody></table>` +
    `<table><thead><tr><th>against control</th><th>SNIPS difference [interval]</th><th>lift [interval]</th><th>p</th><th>always-valid p</th><th>always-valid p (Holm)</th><th>IPS difference [interval]</th></tr></thead><tbody>${comparisons.join('')}</tbody></table>` +
    `<p class="muted">The observed rate weighs every user alike: when the allocation moved while the users changed (early, active users on a 50/50 split, later ones mostly on the leading arm), it mixes the arm's value with who came when. IPS is unbiased whatever the allocation did; SNIPS is its self-normalised, far steadier form, equal to the observed rate while the allocation is constant.</p>${chart}`
  );
}

/** Options of {@link renderReportHtml}. */
export interface ReportHtmlOptions {
  /** Guardrails of the experiment the report could not check, shown in the guardrail section. */
  uncheckedGuardrails?: readonly { metric: string; reason: string }[];
  /** Events drawn as vertical lines on the charts over time (e.g. model switches). */
  markers?: readonly TimelineMarker[];
}

/** A vertical line on the charts over time at `day` (YYYY-MM-DD), labelled; `title` is its tooltip. */
export interface TimelineMarker {
  day: string;
  label: string;
  title?: string;
}

/** The report as a self-contained HTML document. */
export function renderReportHtml(report: ExperimentReport, options: ReportHtmlOptions = {}): string {
  const days = report.timeline.map((point) => point.day);
  const title = `Experiment ${report.experimentId} — through ${report.through}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:980px;color:#212529;padding:0 12px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
.decision{padding:12px 16px;border-radius:6px;background:#f1f3f5;border-left:6px solid #868e96}
.decision.ship{border-color:#2f9e44}.decision.investigate-srm{border-color:#e03131}.decision.stop-no-effect{border-color:#f59f00}
figure{margin:16px 0}figcaption{font-weight:600;margin-bottom:4px}svg{width:100%;max-width:${WIDTH}px;height:auto;font-size:11px;fill:#495057}
.grid{stroke:#e9ecef}.reference{stroke:#868e96;stroke-dasharray:4 3}.track{fill:#f1f3f5}
.legend span{margin-right:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
table{border-collapse:collapse;width:100%}td.metric{text-align:left;max-width:260px}table.metrics td{vertical-align:top}th,td{border-bottom:1px solid #dee2e6;padding:4px 6px;text-align:right}th:first-child,td:first-child{text-align:left}
.muted{color:#868e96}.bad{color:#e03131}.good{color:#2f9e44}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<div class="decision ${escapeHtml(report.decision.decision)}"><strong>Decision: ${escapeHtml(report.decision.decision)}</strong>${report.decision.winner ? ` — winner ${escapeHtml(report.decision.winner)}` : ''}<br>${escapeHtml(report.decision.reason)}</div>
<p>Metric: ${escapeHtml(report.metric)} · confidence ${report.confidenceLevel} · MDE ${formatNumber(report.mde, 'percent')} · ${report.days} day(s) · control ${escapeHtml(report.control)} · achieved power ${formatNumber(report.sampleSize.achievedPower, 'percent')}</p>
<h2>Results</h2>
${comparisonTable(report)}
<p class="muted">Decisions use the always-valid (mSPRT) p-values, which stay valid however often this report is read; the fixed-horizon p-values are valid only for a single planned look.</p>
${report.bandit === null || report.bandit === undefined ? '' : `<h2>Bandit: each arm from the logged propensities</h2>\n${banditSection(report, report.bandit, days)}`}
${report.metrics === null ? '' : `<h2>All metrics</h2>\n${metricsTable(report.metrics)}\n${forestPlot(report.metrics, (name) => colorOf(report, name))}`}
${report.ranking === null ? '' : `<h2>Recommendation metrics</h2>\n${rankingSection(report.ranking, (name) => colorOf(report, name))}`}
<h2>Over time</h2>
${rateChart(report, days, report.timeline, options.markers)}
${liftChart(report, days, report.timeline, options.markers)}
<h2>Sample size</h2>
${progressChart(report)}
<h2>Sample ratio mismatch</h2>
${srmChart(report)}
<h2>Guardrails</h2>
${guardrailList(report, options.uncheckedGuardrails ?? [])}
</body></html>
`;
}
