/**
 * One analysis run over the running experiments: results from counters, a report per
 * experiment and day, and alerts for decisions and broken splits. Storage is injected, so the
 * same code runs in the Lambda, on the local runtime and in tests.
 */
import type { Experiment } from '../domain/experiments/model.ts';
import type { CounterRepository } from '../storage/event-repository.ts';
import type { ExperimentRepository } from '../storage/experiment-repository.ts';
import type { ReportStore } from '../storage/report-store.ts';
import { experimentResults, type ExperimentResults } from './experiment-results.ts';
import { renderReport } from './report.ts';

export interface AnalysisRunSummary {
  day: string;
  analysed: { experiment_id: string; json_key: string; html_key: string; decision: string }[];
  failed: { experiment_id: string; error: string }[];
  alerts: number;
}

export interface AnalysisRunInput {
  experiments: ExperimentRepository;
  counters: CounterRepository;
  reports: ReportStore;
  now: Date;
  experimentId?: string;
  day?: string;
  publishAlert: (subject: string, message: string) => Promise<void>;
}

export async function analyzeRunningExperiments(input: AnalysisRunInput): Promise<AnalysisRunSummary> {
  const day = input.day ?? input.now.toISOString().slice(0, 10);
  const targets: Experiment[] = input.experimentId
    ? [await input.experiments.get(input.experimentId)].filter((e): e is Experiment => e !== undefined)
    : (await input.experiments.list()).filter((e) => e.status === 'running');
  const summary: AnalysisRunSummary = { day, analysed: [], failed: [], alerts: 0 };
  for (const experiment of targets) {
    try {
      const results: ExperimentResults = await experimentResults(experiment, input.counters);
      const report = renderReport(experiment, results, { day, generatedAt: input.now });
      const keys = await input.reports.put(experiment.id, day, report);
      summary.analysed.push({ experiment_id: experiment.id, json_key: keys.jsonKey, html_key: keys.htmlKey, decision: report.decision });
      if (report.decision !== 'keep-running') {
        await input.publishAlert(`abrec: ${experiment.id} ${report.decision}`, JSON.stringify({ experiment_id: experiment.id, day, decision: report.decision, report: keys.htmlKey }));
        summary.alerts++;
      }
    } catch (error) {
      summary.failed.push({ experiment_id: experiment.id, error: (error as Error).message });
    }
  }
  if (summary.failed.length > 0 && summary.analysed.length === 0 && targets.length > 0) {
    // Every experiment failed: fail the invocation so the retries and the on-failure destination apply.
    throw new Error(`analysis failed for every experiment: ${summary.failed.map((f) => `${f.experiment_id}: ${f.error}`).join('; ')}`);
  }
  return summary;
}
