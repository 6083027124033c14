/**
 * One analysis run over the running experiments: an analysis per experiment from its counters,
 * report.json and report.html under keys fixed by experiment and day (a rerun overwrites), and
 * an alert for a terminal decision or a tripped guardrail. An experiment whose schedule has
 * ended by the run's time is stopped instead, with its final report and one final alert
 * (schedule-end.ts). Storage, the alert sink and telemetry are injected, so the same code runs in the
 * Lambda, on the local runtime, in the benchmark and in tests.
 */
import type { Experiment } from '../domain/experiments/model.ts';
import type { CounterRepository } from '../storage/counter-store.ts';
import type { ExperimentRepository } from '../storage/experiment-repository.ts';
import type { AlertRecord, ReportStore } from '../storage/report-store.ts';
import { analyseExperiment, shouldAlert, type ExperimentAnalysis } from './experiment-results.ts';
import type { ShownItemRepository } from '../storage/shown-items.ts';
import { renderAnalysisReport } from './report.ts';
import { enforceSchedule, finalAlertOutstanding } from './schedule-end.ts';
import type { Telemetry } from './telemetry.ts';

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/** One report a run wrote. */
export interface AnalysedExperiment {
  experiment_id: string;
  json_key: string;
  html_key: string;
  decision: string;
  alerted: boolean;
  /** The final report of an experiment the schedule stopped. */
  final?: true;
  stop_reason?: string;
}

/** What a run did, per experiment. */
export interface AnalysisRunSummary {
  day: string;
  analysed: AnalysedExperiment[];
  failed: { experiment_id: string; error: string }[];
  alerts: number;
}

/** Storage, clock, alert sink and telemetry of a run. */
export interface AnalysisRunInput {
  experiments: ExperimentRepository;
  counters: CounterRepository;
  /** The shown-item markers (catalogue coverage); not measured without them. */
  shownItems?: ShownItemRepository;
  reports: ReportStore;
  now: Date;
  /** Analyse this experiment only (whatever its status); default: every running experiment (and any stopped one whose final alert failed). */
  experimentId?: string;
  /** Analysis day (UTC, YYYY-MM-DD); default: the UTC day of `now`. */
  day?: string;
  /** Relative MDE for the required sample size; default DEFAULT_ANALYSIS_MDE. */
  mde?: number;
  publishAlert: (subject: string, message: string) => Promise<void>;
  /** Called for each experiment that fails while others succeed (the run still returns). */
  onExperimentError?: (experimentId: string, error: unknown) => void;
  /** Where the run logs and counts (SampleRatioMismatch). */
  telemetry: Telemetry;
}

/** The alert for one analysis: a short subject and a JSON body pointing at the report. */
export function alertFor(analysis: ExperimentAnalysis, htmlKey: string): { subject: string; message: string } {
  const breached = analysis.guardrails_breached.map((check) => `${check.metric}@${check.variant}`);
  const headline = analysis.decision === 'keep-running' ? `guardrail breached (${breached.join(', ')})` : analysis.decision;
  return {
    subject: `abrec: ${analysis.experiment_id} ${headline}`,
    message: JSON.stringify({
      experiment_id: analysis.experiment_id,
      day: analysis.day,
      decision: analysis.decision,
      reason: analysis.decision_reason,
      winner: analysis.winner,
      guardrails_breached: analysis.guardrails_breached,
      report: htmlKey,
    }),
  };
}

async function targetsOf(input: AnalysisRunInput): Promise<Experiment[]> {
  if (input.experimentId === undefined)
    return (await input.experiments.list()).filter((experiment) => experiment.status === 'running' || finalAlertOutstanding(experiment));
  const experiment = await input.experiments.get(input.experimentId);
  if (experiment === undefined) throw new Error(`experiment ${input.experimentId} not found`);
  return [experiment];
}

/** The breached guardrails as sorted `<variant>:<metric>` strings, to compare two analyses. */
const breachesOf = (breached: ExperimentAnalysis['guardrails_breached'] | undefined) => [...(breached ?? [])].map((b) => `${b.variant}:${b.metric}`).sort();

/**
 * Whether the previous day's report already carried this decision and these guardrail breaches:
 * then the alert was sent and is not repeated every day. A previous report that cannot be read
 * is treated as absent (alerting twice beats staying silent).
 */
async function sameAsDayBefore(reports: ReportStore, analysis: ExperimentAnalysis, day: string): Promise<boolean> {
  const previousDay = new Date(Date.parse(`${day}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
  const previous = (await reports.getJson(analysis.experiment_id, previousDay).catch(() => undefined)) as Partial<ExperimentAnalysis> | undefined;
  if (!previous || previous.decision !== analysis.decision) return false;
  return JSON.stringify(breachesOf(previous.guardrails_breached)) === JSON.stringify(breachesOf(analysis.guardrails_breached));
}

/**
 * Whether this day's alert, with this decision and these breaches, was already sent by an
 * earlier run of the same day (a rerun after a partial failure, Lambda's retries). A record that
 * cannot be read is treated as absent (alerting twice beats staying silent).
 */
async function sentEarlierToday(reports: ReportStore, analysis: ExperimentAnalysis, day: string): Promise<boolean> {
  const sent = await reports.getAlert(analysis.experiment_id, day).catch(() => undefined);
  return (
    sent !== undefined &&
    sent.decision === analysis.decision &&
    JSON.stringify(sent.guardrails_breached) === JSON.stringify(breachesOf(analysis.guardrails_breached))
  );
}

/**
 * Runs the analysis. Throws (so the Lambda's async retries and its on-failure destination
 * apply) when the day is malformed, the experiments cannot be listed, a requested experiment
 * does not exist, or every experiment failed; a partial failure is reported in the summary, the
 * other experiments' reports written and their alerts sent. A rerun of the day rewrites the
 * reports and sends only the alerts not sent yet (each sent alert is recorded beside the report).
 */
export async function analyzeRunningExperiments(input: AnalysisRunInput): Promise<AnalysisRunSummary> {
  const day = input.day ?? input.now.toISOString().slice(0, 10);
  if (!DAY_PATTERN.test(day) || Number.isNaN(Date.parse(`${day}T00:00:00Z`))) throw new Error(`day must be a YYYY-MM-DD date, got ${JSON.stringify(day)}`);
  const targets = await targetsOf(input);
  const summary: AnalysisRunSummary = { day, analysed: [], failed: [], alerts: 0 };
  for (const experiment of targets) {
    try {
      const scheduled = await enforceSchedule(input, experiment, day);
      if (scheduled) {
        summary.analysed.push(...scheduled);
        summary.alerts += scheduled.filter((entry) => entry.alerted).length;
        continue;
      }
      const analysis = await analyseExperiment(experiment, input.counters, { day, mde: input.mde, shownItems: input.shownItems });
      // Counted every day it holds (alarmed in the stack), not only when the decision changes as the alert is.
      if (analysis.promotion.srm_flagged) input.telemetry.metric('SampleRatioMismatch', 'Count', 1);
      const rendered = renderAnalysisReport(analysis);
      const keys = await input.reports.put(experiment.id, day, rendered);
      const alerted =
        shouldAlert(analysis) && !(await sameAsDayBefore(input.reports, analysis, day)) && !(await sentEarlierToday(input.reports, analysis, day));
      if (alerted) {
        const { subject, message } = alertFor(analysis, keys.htmlKey);
        await input.publishAlert(subject, message);
        summary.alerts++;
        const record: AlertRecord = {
          decision: analysis.decision,
          guardrails_breached: breachesOf(analysis.guardrails_breached),
          sent_at: input.now.toISOString(),
        };
        // Sent already: a record that cannot be written only means a rerun of the day may send it again.
        await input.reports
          .putAlert(experiment.id, day, record)
          .catch((error: unknown) =>
            input.telemetry.warn('Alert sent but not recorded; a rerun of the day may send it again', { experimentId: experiment.id, day, error }),
          );
      }
      summary.analysed.push({ experiment_id: experiment.id, json_key: keys.jsonKey, html_key: keys.htmlKey, decision: analysis.decision, alerted });
    } catch (error) {
      input.onExperimentError?.(experiment.id, error);
      summary.failed.push({ experiment_id: experiment.id, error: error instanceof Error ? error.message : String(error) });
    }
  }
  if (summary.failed.length > 0 && summary.analysed.length === 0) {
    throw new Error(`analysis failed for every experiment: ${summary.failed.map((f) => `${f.experiment_id}: ${f.error}`).join('; ')}`);
  }
  return summary;
}
