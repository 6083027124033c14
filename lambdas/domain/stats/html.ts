/**
 * Renders an {@link ExperimentReport} as one self-contained HTML page: inline CSS and SVG, no
 * scripts, no external resources, so it can be opened straight from S3 or attached to a mail.
 */
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

/** A line chart over days with a shaded interval band per series and an optional reference line. */
function lineChart({ title, days, series, percent, reference }: { title: string; days: string[]; series: Series[]; percent: boolean; reference?: number }): string {
  const values = series.flatMap((s) => s.points.flatMap((p) => [p.y, p.band?.low ?? null, p.band?.high ?? null])).filter((v): v is number => v !== null && Number.isFinite(v));
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
    if (i % tickEvery === 0 || i === days.length - 1) parts.push(`<text x="${x(i).toFixed(1)}" y="${HEIGHT - 10}" text-anchor="middle">${escapeHtml(day.slice(5))}</text>`);
  });
  if (reference !== undefined) parts.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(reference).toFixed(1)}" y2="${y(reference).toFixed(1)}" class="reference"/>`);
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

function rateChart(report: ExperimentReport, days: string[], timeline: TimelinePoint[]): string {
  const series = report.variants.map((variant, v) => ({
    name: variant.name,
    color: colorOf(report, variant.name),
    points: timeline.map((point) => ({ y: point.variants[v].estimate, band: point.variants[v].interval })),
  }));
  return lineChart({ title: `Target metric per variant with ${report.confidenceLevel * 100}% intervals`, days, series, percent: report.metric !== 'mean' });
}

function liftChart(report: ExperimentReport, days: string[], timeline: TimelinePoint[]): string {
  const series = report.comparisons.map((comparison) => ({
    name: `${comparison.variant} vs ${report.control}`,
    color: colorOf(report, comparison.variant),
    points: timeline.map((point) => {
      const c = point.comparisons.find((entry) => entry.variant === comparison.variant);
      return { y: c?.lift ?? null, band: c?.liftInterval ?? null };
    }),
  }));
  return lineChart({ title: 'Cumulative relative lift (fixed-horizon interval)', days, series, percent: true, reference: 0 });
}

/** Progress to the sequential plan: the size the always-valid decision needs, not the fixed-horizon one. */
function progressChart(report: ExperimentReport): string {
  const required = report.sampleSize.requiredPerVariant;
  if (required === null) return `<figure><figcaption>Progress to the planned sample size</figcaption><p class="muted">${escapeHtml(report.sampleSize.reason ?? 'not estimable yet')}</p></figure>`;
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
  const reference = fixedHorizon === null ? '' : ` A single fixed-horizon test would need ${fixedHorizon.toLocaleString('en-US')}, but only if read once, at that size.`;
  return `${chart}<p class="muted">The plan is the size at which the always-valid test reaches the planned power against the MDE, however often this report is read.${escapeHtml(reference)} Without a winner, the experiment stops for no effect only past the plan, once the always-valid interval rules out the MDE.</p>`;
}

function srmChart(report: ExperimentReport): string {
  if (report.srm.status !== 'ok') return `<figure><figcaption>Sample ratio check</figcaption><p class="muted">${escapeHtml(report.srm.reason)}</p></figure>`;
  const srm = report.srm;
  const bars = report.variants.flatMap((variant, i) => [
    { name: `${variant.name} observed`, value: srm.observedShares[i], color: colorOf(report, variant.name), text: formatNumber(srm.observedShares[i], 'percent') },
    { name: `${variant.name} expected`, value: srm.expectedShares[i], color: '#adb5bd', text: formatNumber(srm.expectedShares[i], 'percent') },
  ]);
  const verdict = srm.flagged ? '<strong class="bad">MISMATCH</strong>' : '<span class="good">ok</span>';
  return `${barChart({ title: 'Sample ratio check: share of users, observed vs configured', bars })}<p>chi-square = ${formatNumber(srm.chiSquare, 'number')}, df = ${srm.degreesOfFreedom}, p = ${formatNumber(srm.pValue, 'p')} (flagged below ${srm.threshold}): ${verdict}</p>`;
}

function comparisonTable(report: ExperimentReport): string {
  const percent = report.metric !== 'mean';
  const rows = report.comparisons.map((c) => {
    if (c.status !== 'ok') return `<tr><td>${escapeHtml(c.variant)}</td><td colspan="10" class="muted">insufficient data: ${escapeHtml(c.reason)}</td></tr>`;
    const unit = percent ? 'percent' : 'number';
    const interval = (i: { low: number; high: number } | null, as: 'percent' | 'number') => `[${formatNumber(i?.low ?? null, as)}, ${formatNumber(i?.high ?? null, as)}]`;
    return `<tr><td>${escapeHtml(c.variant)}</td><td>${formatNumber(c.treatmentEstimate, unit)}</td><td>${formatNumber(c.relativeLift, 'percent')} ${interval(c.relativeLiftInterval, 'percent')}</td><td>${interval(c.credibleInterval, unit)}</td><td>${formatNumber(c.pValue, 'p')} <span class="muted">${escapeHtml(c.test)}</span></td><td>${formatNumber(c.pValueAdjusted, 'p')}</td><td>${formatNumber(c.alwaysValidPValue, 'p')}</td><td>${formatNumber(c.alwaysValidPValueAdjusted, 'p')}</td><td>${formatNumber(c.chanceToWin.absolute, 'percent')}</td><td>${formatNumber(c.chanceToWin.relative, 'percent')}</td><td>${formatNumber(c.expectedLoss, 'number')}</td></tr>`;
  });
  return `<table><thead><tr><th>variant</th><th>estimate</th><th>lift [interval]</th><th>difference, credible interval</th><th>p (test)</th><th>p (Holm)</th><th>always-valid p</th><th>always-valid p (Holm)</th><th>chance to win, absolute (difference &gt; 0)</th><th>chance to win, relative (lift &gt; 0)</th><th>expected loss</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function guardrailList(report: ExperimentReport): string {
  if (report.guardrails.length === 0) return '<p class="muted">No guardrails configured.</p>';
  const items = report.guardrails.map((g) => {
    const state = g.status !== 'ok' ? `insufficient data (${escapeHtml(g.reason)})` : g.breached ? '<strong class="bad">BREACHED</strong>' : '<span class="good">ok</span>';
    const change = g.status === 'ok' ? formatNumber(g.relativeChange, 'percent') : '–';
    return `<li>${escapeHtml(g.metric)} · ${escapeHtml(g.variant)}: change ${change} (limit −${formatNumber(g.maxRelativeDrop, 'percent')}) — ${state}</li>`;
  });
  return `<ul>${items.join('')}</ul>`;
}

/** The report as a self-contained HTML document. */
export function renderReportHtml(report: ExperimentReport): string {
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
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #dee2e6;padding:4px 6px;text-align:right}th:first-child,td:first-child{text-align:left}
.muted{color:#868e96}.bad{color:#e03131}.good{color:#2f9e44}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<div class="decision ${escapeHtml(report.decision.decision)}"><strong>Decision: ${escapeHtml(report.decision.decision)}</strong>${report.decision.winner ? ` — winner ${escapeHtml(report.decision.winner)}` : ''}<br>${escapeHtml(report.decision.reason)}</div>
<p>Metric: ${escapeHtml(report.metric)} · confidence ${report.confidenceLevel} · MDE ${formatNumber(report.mde, 'percent')} · ${report.days} day(s) · control ${escapeHtml(report.control)} · achieved power ${formatNumber(report.sampleSize.achievedPower, 'percent')}</p>
<h2>Results</h2>
${comparisonTable(report)}
<p class="muted">Decisions use the always-valid (mSPRT) p-values, which stay valid however often this report is read; the fixed-horizon p-values are valid only for a single planned look.</p>
<h2>Over time</h2>
${rateChart(report, days, report.timeline)}
${liftChart(report, days, report.timeline)}
<h2>Sample size</h2>
${progressChart(report)}
<h2>Sample ratio mismatch</h2>
${srmChart(report)}
<h2>Guardrails</h2>
${guardrailList(report)}
</body></html>
`;
}
