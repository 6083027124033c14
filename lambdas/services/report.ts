/**
 * Turns experiment results into the report documents: a JSON object and a self-contained HTML
 * page. The decision follows from significance, sample size and the SRM check.
 */
import type { Experiment } from '../domain/experiments/model.ts';
import type { ExperimentResults } from './experiment-results.ts';

export type Decision = 'ship' | 'keep-running' | 'stop-no-effect' | 'investigate-srm';

export interface RenderedReport {
  decision: Decision;
  json: unknown;
  html: string;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function decide(experiment: Experiment, results: ExperimentResults): Decision {
  if (results.promotion.srm_flagged) return 'investigate-srm';
  if (results.promotion.significant) return 'ship';
  const smallest = Math.min(...experiment.variants.map((v) => results.totals[v.name]?.exposed_users ?? 0));
  if (smallest >= experiment.min_sample_size) return 'stop-no-effect';
  return 'keep-running';
}

export function renderReport(experiment: Experiment, results: ExperimentResults, { day, generatedAt }: { day: string; generatedAt: Date }): RenderedReport {
  const decision = decide(experiment, results);
  const json = { experiment_id: experiment.id, day, generated_at: generatedAt.toISOString(), decision, results };
  const rows = experiment.variants
    .map((v) => {
      const t = results.totals[v.name] ?? {};
      return `<tr><td>${escapeHtml(v.name)}</td><td>${t.exposed_users ?? 0}</td><td>${t.impressions ?? 0}</td><td>${t.clicks ?? 0}</td><td>${t.conversions ?? 0}</td></tr>`;
    })
    .join('');
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(experiment.id)} ${day}</title></head><body>
<h1>${escapeHtml(experiment.name)} (${escapeHtml(experiment.id)})</h1><p>Day ${day}. Decision: <strong>${decision}</strong></p>
<table><thead><tr><th>variant</th><th>users</th><th>impressions</th><th>clicks</th><th>conversions</th></tr></thead><tbody>${rows}</tbody></table>
<pre>${escapeHtml(JSON.stringify(results.comparison, null, 2))}</pre></body></html>`;
  return { decision, json, html };
}
