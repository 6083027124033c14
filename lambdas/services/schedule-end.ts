/**
 * The end of an experiment's schedule, as the analysis run enforces it: a running experiment
 * whose `end_time` or `max_duration_days` has passed (by the run's trigger time) is stopped with
 * a conditional write (the transition names the rule that ended it), its final report is written
 * (`final` in report.json, a banner on the page; counters through the day it ended in), and its
 * decision is alerted once:
 *
 *   1. the stop is written on the revision read, with the final report's alert 'pending': of two
 *      runs that fire together (EventBridge delivers at least once) one wins, the other skips;
 *   2. the winner writes the report and publishes the alert, then records it 'sent' (a re-run
 *      finds the experiment stopped and does nothing);
 *   3. when the report or the publish fails, the alert is recorded 'failed' and the next run
 *      claims it (another conditional write) and writes and sends both again.
 * A run that dies between 1 and 3 leaves the alert 'pending' (visible in GET /experiments/{id})
 * and unsent: at most once, never twice. Storage and the alert sink are injected.
 */
import { escapeHtml } from '../domain/stats/index.ts';
import { endExperimentOnSchedule, recordFinalReport } from '../domain/experiments/lifecycle.ts';
import type { Experiment, FinalReport, ScheduleEndReason } from '../domain/experiments/model.ts';
import { finalReportDay, isScheduleStop, scheduleEndReached } from '../domain/experiments/schedule.ts';
import type { CounterRepository } from '../storage/counter-store.ts';
import { ConcurrentModificationError, type ExperimentRepository } from '../storage/experiment-repository.ts';
import type { ReportStore } from '../storage/report-store.ts';
import type { AnalysedExperiment } from './analysis-run.ts';
import { analyseExperiment, type ExperimentAnalysis } from './experiment-results.ts';
import type { ShownItemRepository } from '../storage/shown-items.ts';
import { renderAnalysisReport, type RenderedReport } from './report.ts';

/** Conditional writes one step of the protocol tries before giving up to the next run. */
const WRITE_ATTEMPTS = 3;

/** How a schedule ended, as the final report states it. */
export interface FinalMarker {
  /** When the experiment ended (its end_time). */
  ended_at: string;
  reason: ScheduleEndReason;
}

/** The final report's document: the analysis through the day the experiment ended, marked final. */
export type FinalAnalysis = ExperimentAnalysis & { final: FinalMarker };

/** The end of an experiment's schedule and its report day, once it has ended. */
export interface ScheduleEnding extends FinalMarker {
  day: string;
}

/**
 * The ended schedule of an experiment: one its schedule stopped, or one still running whose end
 * `nowMs` has passed (the run has not stopped it yet); undefined otherwise.
 */
export function scheduleEndingOf(experiment: Experiment, nowMs: number): ScheduleEnding | undefined {
  if (experiment.status === 'stopped' && isScheduleStop(experiment.stop_reason) && experiment.end_time && experiment.final_report) {
    return { ended_at: experiment.end_time, reason: experiment.stop_reason, day: experiment.final_report.day };
  }
  const end = scheduleEndReached(experiment, nowMs);
  return end ? { ended_at: end.at, reason: end.reason, day: finalReportDay(end.atMs) } : undefined;
}

/** Whether an experiment's final alert failed and is for the next run to send. */
export function finalAlertOutstanding(experiment: Experiment): boolean {
  return experiment.status === 'stopped' && experiment.final_report?.alert === 'failed';
}

/** The final analysis: counters through the day the schedule ended in, marked final. */
export async function analyseFinal(
  experiment: Experiment,
  counters: CounterRepository,
  ending: ScheduleEnding,
  mde?: number,
  shownItems?: ShownItemRepository,
): Promise<FinalAnalysis> {
  const analysis = await analyseExperiment(experiment, counters, { day: ending.day, mde, shownItems });
  return { ...analysis, final: { ended_at: ending.ended_at, reason: ending.reason } };
}

/** The banner that opens a final report's page. */
function finalBanner({ final, decision, winner }: FinalAnalysis): string {
  const outcome = winner ? `${decision} (${winner})` : decision;
  return (
    '<p class="final-report" role="status" style="border:2px solid #0d6efd;background:#e7f1ff;padding:.5rem .75rem;border-radius:.25rem">' +
    `<strong>Final report</strong>: the experiment ended at ${escapeHtml(final.ended_at)} (${escapeHtml(final.reason)}). ` +
    `Final decision: <strong>${escapeHtml(outcome)}</strong>.</p>`
  );
}

/** Both documents of the final report: the analysis page with the final banner under its title. */
export function renderFinalReport(analysis: FinalAnalysis): RenderedReport {
  const { html } = renderAnalysisReport(analysis);
  // Every report page opens with its title; the banner follows it.
  return { json: analysis, html: html.replace('</h1>', () => `</h1>\n${finalBanner(analysis)}`) };
}

/** The alert of a final report: sent once per experiment, whatever the decision. */
export function finalAlertFor(analysis: FinalAnalysis, htmlKey: string): { subject: string; message: string } {
  const outcome = analysis.winner ? `${analysis.decision} (${analysis.winner})` : analysis.decision;
  return {
    subject: `abrec: ${analysis.experiment_id} final: ${outcome}, ${analysis.final.reason}`,
    message: JSON.stringify({
      experiment_id: analysis.experiment_id,
      final: true,
      ended_at: analysis.final.ended_at,
      end_reason: analysis.final.reason,
      day: analysis.day,
      decision: analysis.decision,
      reason: analysis.decision_reason,
      winner: analysis.winner,
      guardrails_breached: analysis.guardrails_breached,
      report: htmlKey,
    }),
  };
}

/** What enforcing the schedule needs from the run. */
export interface ScheduleRunContext {
  experiments: ExperimentRepository;
  counters: CounterRepository;
  shownItems?: ShownItemRepository;
  reports: ReportStore;
  /** The run's time: the trigger's (EventBridge's firing time). */
  now: Date;
  mde?: number;
  publishAlert: (subject: string, message: string) => Promise<void>;
}

/**
 * Applies `change` to the freshest revision of an experiment, with a conditional write, retried
 * when an operator's edit got in between; undefined when `change` says there is nothing to do.
 */
async function writeFresh(
  ctx: ScheduleRunContext,
  experiment: Experiment,
  change: (current: Experiment) => Experiment | undefined,
): Promise<Experiment | undefined> {
  let current: Experiment | undefined = experiment;
  for (let attempt = 1; current !== undefined; attempt++) {
    const next = change(current);
    if (next === undefined) return undefined;
    try {
      await ctx.experiments.update(next, current.revision);
      return next;
    } catch (error) {
      if (!(error instanceof ConcurrentModificationError) || attempt >= WRITE_ATTEMPTS) throw error;
      current = await ctx.experiments.get(experiment.id);
    }
  }
  return undefined;
}

/** Records the final alert's state on whatever revision is current. */
function recordAlert(ctx: ScheduleRunContext, experiment: Experiment, changes: Partial<FinalReport>): Promise<Experiment | undefined> {
  return writeFresh(ctx, experiment, (current) => (current.final_report ? recordFinalReport(current, { now: ctx.now, changes }) : undefined));
}

/** Writes the final report of a stopped experiment whose alert this run holds, sends the alert and records it. */
async function deliverFinal(ctx: ScheduleRunContext, stopped: Experiment): Promise<AnalysedExperiment> {
  const ending = scheduleEndingOf(stopped, ctx.now.getTime())!;
  let analysis: FinalAnalysis;
  let htmlKey: string;
  let jsonKey: string;
  try {
    analysis = await analyseFinal(stopped, ctx.counters, ending, ctx.mde, ctx.shownItems);
    ({ jsonKey, htmlKey } = await ctx.reports.put(stopped.id, ending.day, renderFinalReport(analysis)));
    const { subject, message } = finalAlertFor(analysis, htmlKey);
    await ctx.publishAlert(subject, message);
  } catch (error) {
    // Nothing was sent: the next run claims the alert and tries again.
    await recordAlert(ctx, stopped, { alert: 'failed' }).catch(() => undefined);
    throw error;
  }
  await recordAlert(ctx, stopped, { alert: 'sent', alerted_at: ctx.now.toISOString(), decision: analysis.decision, winner: analysis.winner });
  return {
    experiment_id: stopped.id,
    json_key: jsonKey,
    html_key: htmlKey,
    decision: analysis.decision,
    alerted: true,
    final: true,
    stop_reason: ending.reason,
  };
}

/** Writes an ordinary daily report, without an alert (the final one follows in the same run). */
async function dailyReport(ctx: ScheduleRunContext, experiment: Experiment, day: string): Promise<AnalysedExperiment> {
  const analysis = await analyseExperiment(experiment, ctx.counters, { day, mde: ctx.mde, shownItems: ctx.shownItems });
  const { jsonKey, htmlKey } = await ctx.reports.put(experiment.id, day, renderAnalysisReport(analysis));
  return { experiment_id: experiment.id, json_key: jsonKey, html_key: htmlKey, decision: analysis.decision, alerted: false };
}

/**
 * The run's work on an experiment whose schedule has ended, or undefined when the schedule has
 * nothing to do with it (the run analyses `day` as usual):
 * - running past its end: the day's report first when `day` is before the day it ended (an end
 *   in the small hours, before the 03:00 run) and the experiment ran on it, then the stop, the
 *   final report and the alert;
 * - stopped by the schedule with a failed alert: the final report and the alert again;
 * - stopped by the schedule and asked for a day from its final day on: the final report
 *   rewritten (an on-demand run never turns it into an ordinary one), no alert.
 * Returns no entries for an experiment a concurrent run or an operator stopped first.
 */
export async function enforceSchedule(ctx: ScheduleRunContext, experiment: Experiment, day: string): Promise<AnalysedExperiment[] | undefined> {
  const ending = scheduleEndingOf(experiment, ctx.now.getTime());
  if (!ending) return undefined;

  if (experiment.status === 'running') {
    const ranOnDay = experiment.start_time === undefined || day >= experiment.start_time.slice(0, 10);
    const entries = day < ending.day && ranOnDay ? [await dailyReport(ctx, experiment, day)] : [];
    const stopped = await writeFresh(ctx, experiment, (current) =>
      scheduleEndReached(current, ctx.now.getTime()) ? endExperimentOnSchedule(current, { now: ctx.now }) : undefined,
    );
    return stopped ? [...entries, await deliverFinal(ctx, stopped)] : entries;
  }

  if (finalAlertOutstanding(experiment)) {
    // Claimed by one conditional write: a concurrent run that claims it first makes this one skip.
    const claimed = recordFinalReport(experiment, { now: ctx.now, changes: { alert: 'pending' } });
    try {
      await ctx.experiments.update(claimed, experiment.revision);
    } catch (error) {
      if (error instanceof ConcurrentModificationError) return [];
      throw error;
    }
    return [await deliverFinal(ctx, claimed)];
  }

  if (day < ending.day) return undefined;
  const analysis = await analyseFinal(experiment, ctx.counters, ending, ctx.mde, ctx.shownItems);
  const { jsonKey, htmlKey } = await ctx.reports.put(experiment.id, ending.day, renderFinalReport(analysis));
  return [
    {
      experiment_id: experiment.id,
      json_key: jsonKey,
      html_key: htmlKey,
      decision: analysis.decision,
      alerted: false,
      final: true,
      stop_reason: ending.reason,
    },
  ];
}
