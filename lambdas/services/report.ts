/**
 * The two report documents of an analysis: report.json is the analysis document itself (the
 * same JSON `GET /experiments/{id}/results` returns), report.html the engine's self-contained
 * page, or a short page saying why there is no report yet.
 */
import { escapeHtml, renderReportHtml } from '../domain/stats/index.ts';
import type { ExperimentAnalysis } from './experiment-results.ts';
import { analysisSectionsHtml } from './report-sections.ts';

/** What the report store writes. */
export interface RenderedReport {
  json: ExperimentAnalysis;
  html: string;
}

function notesHtml(analysis: ExperimentAnalysis): string {
  const items = [
    `Target metric: ${escapeHtml(analysis.target_metric)} — ${escapeHtml(analysis.metric.definition)}.`,
    ...analysis.skipped_guardrails.map((skipped) => `Guardrail ${escapeHtml(skipped.metric)} not checked: ${escapeHtml(skipped.reason)}.`),
    ...(analysis.excluded_variants.length > 0 ? [`Not analysed (inactive or weight 0): ${analysis.excluded_variants.map(escapeHtml).join(', ')}.`] : []),
  ];
  return `<section class="notes"><ul>${items.map((item) => `<li>${item}</li>`).join('')}</ul></section>`;
}

function insufficientDataHtml(analysis: ExperimentAnalysis): string {
  const title = `${escapeHtml(analysis.experiment_name)} (${escapeHtml(analysis.experiment_id)}) — ${escapeHtml(analysis.day)}`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:720px;margin:2rem auto;color:#212529}</style></head><body>
<h1>${title}</h1><p>Decision: <strong>keep-running</strong>. Not enough data for a report: ${escapeHtml(analysis.reason ?? '')}.</p>
${notesHtml(analysis)}</body></html>`;
}

const number = (value: number, digits = 4) => escapeHtml(Number.isInteger(value) ? String(value) : value.toPrecision(digits));

/** The page of an interleaving experiment: the preference test, both teams, the decision. */
function interleavingHtml(analysis: ExperimentAnalysis, preference: NonNullable<ExperimentAnalysis['preference']>): string {
  const title = `${escapeHtml(analysis.experiment_name)} (${escapeHtml(analysis.experiment_id)}) — ${escapeHtml(analysis.day)}`;
  const row = (team: 'a' | 'b') => {
    const summary = team === 'a' ? preference.team_a : preference.team_b;
    const wins = team === 'a' ? preference.wins_a : preference.wins_b;
    return `<tr><td>${team}</td><td>${escapeHtml(summary.variant)}</td><td>${number(wins)}</td><td>${number(summary.clicks)}</td><td>${number(summary.conversions)}</td></tr>`;
  };
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:720px;margin:2rem auto;color:#212529}table{border-collapse:collapse}td,th{padding:.25rem .75rem;border-bottom:1px solid #dee2e6;text-align:left}</style></head><body>
<h1>${title}</h1>
<p>Decision: <strong>${escapeHtml(analysis.decision)}</strong> — ${escapeHtml(analysis.decision_reason)}</p>
<h2>Interleaving preference test</h2>
<table><thead><tr><th>team</th><th>variant</th><th>impressions won</th><th>credited clicks</th><th>credited purchases</th></tr></thead>
<tbody>${row('a')}${row('b')}</tbody></table>
<p>${number(preference.impressions)} interleaved impressions (minimum ${number(preference.min_impressions)}), ${number(preference.ties)} ties,
${number(preference.uncredited_clicks)} clicks credited to nobody. Sign test p = ${number(preference.p_value, 3)} (alpha ${number(preference.alpha)}),
delta = ${number(preference.delta, 3)} (&gt; 0 favours team a).</p>
<p class="muted">${escapeHtml(preference.method)}.</p>
${notesHtml(analysis)}</body></html>`;
}

/** Renders both documents; deterministic for a given analysis. */
export function renderAnalysisReport(analysis: ExperimentAnalysis): RenderedReport {
  if (analysis.preference !== null) return { json: analysis, html: interleavingHtml(analysis, analysis.preference) };
  if (analysis.report === null) return { json: analysis, html: insufficientDataHtml(analysis) };
  // The engine's page knows nothing of the experiment model: the mapping's choices (metric
  // definition, unchecked guardrails, excluded variants) are appended as a last section.
  // Unchecked guardrails (stored before the API refused them) are shown where the checked ones are, not only in the notes.
  const markers = (analysis.model_switches?.switches ?? []).map((s) => ({
    day: s.day,
    label: `switch ${s.day.slice(5)}`,
    title: `${s.at} run ${s.run_id ?? ''}: ${Object.entries(s.versions)
      .map(([variant, v]) => `${variant} ${v.model_id} ${v.model_version}`)
      .join(', ')}`,
  }));
  const html = renderReportHtml(analysis.report, { uncheckedGuardrails: analysis.skipped_guardrails, markers }).replace(
    '</body>',
    () => `<h2>Analysis notes</h2>\n${notesHtml(analysis)}\n</body>`,
  );
  // The sections of the analysis document beside the engine's (capping, ...), each rendered apart.
  return { json: analysis, html: html.replace('<h2>Analysis notes</h2>', () => `${analysisSectionsHtml(analysis)}\n<h2>Analysis notes</h2>`) };
}
