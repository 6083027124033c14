/**
 * The daily reports of an experiment as the admin API shows them: the history (days found by
 * listing the experiment's report prefix, never by scanning a table) with each day's decision,
 * and one day's report as JSON or as its self-contained HTML page. Storage is injected.
 */
import { mapWithConcurrency } from '../common/concurrency.ts';
import { NotFoundError, ValidationError } from '../domain/errors.ts';
import type { FieldError } from '../domain/field-error.ts';
import { requireExperiment } from '../domain/experiments/lifecycle.ts';
import type { ExperimentRepository } from '../storage/experiment-repository.ts';
import { reportKeys, type ReportStore } from '../storage/report-store.ts';

/** How many of the newest reports the history opens to show their decision. */
export const HISTORY_DECISIONS = 60;
/** Report reads in flight at once while the history is built. */
const READ_CONCURRENCY = 8;

const EXPERIMENT_ID = /^[a-z0-9_-]{1,64}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** One day of the history; the decision fields are absent for days older than the newest {@link HISTORY_DECISIONS} or whose JSON cannot be read. */
export interface ReportSummary {
  day: string;
  json_key: string;
  html_key: string;
  decision?: string;
  decision_reason?: string;
  winner?: string | null;
  result?: string;
  /** The final report of an experiment its schedule stopped. */
  final?: true;
}

export interface ReportHistory {
  experiment_id: string;
  /** Newest first. */
  reports: ReportSummary[];
}

export interface ReportHistoryDeps {
  experiments: ExperimentRepository;
  reports: ReportStore;
}

/** The problem with an experiment id from a path, or undefined when it is one the API could have created. */
function idProblem(id: string): FieldError | undefined {
  return EXPERIMENT_ID.test(id) ? undefined : { field: 'id', message: "must be an experiment id of 1 to 64 characters a-z, 0-9, '-' and '_'" };
}

/** The problem with a report day from a path: the form YYYY-MM-DD and a real calendar date. */
function dayProblem(day: string): FieldError | undefined {
  const time = DAY.test(day) ? Date.parse(`${day}T00:00:00Z`) : Number.NaN;
  // Date.parse rolls 2026-02-30 over to March; reading the date back refuses it.
  const valid = !Number.isNaN(time) && new Date(time).toISOString().slice(0, 10) === day;
  return valid ? undefined : { field: 'day', message: 'must be a date YYYY-MM-DD' };
}

/** The forms a report is stored in: `report.json` and `report.html`. */
export type ReportFormat = 'json' | 'html';

function formatProblem(format: string): FieldError | undefined {
  return format === 'json' || format === 'html' ? undefined : { field: 'format', message: "must be 'json' or 'html'" };
}

/** Checks path parameters before any store is asked (400 naming every bad one). */
function assertValid(problems: (FieldError | undefined)[]): void {
  const found = problems.filter((problem): problem is FieldError => problem !== undefined);
  if (found.length > 0) throw new ValidationError(found);
}

/** The decision fields of a stored report (absent when the JSON lacks them). */
function decisionOf(json: unknown): Pick<ReportSummary, 'decision' | 'decision_reason' | 'winner' | 'result' | 'final'> {
  const report = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  return {
    decision: text(report.decision),
    decision_reason: text(report.decision_reason),
    winner: typeof report.winner === 'string' || report.winner === null ? (report.winner as string | null) : undefined,
    result: text(report.result),
    final: typeof report.final === 'object' && report.final !== null ? true : undefined,
  };
}

/** Builds the report use cases over their storage. */
export function createReportHistory({ experiments, reports }: ReportHistoryDeps) {
  /** One day's report JSON; 404 when there is none. */
  async function get(id: string, day: string): Promise<unknown> {
    assertValid([idProblem(id), dayProblem(day)]);
    const json = await reports.getJson(id, day);
    if (json === undefined) throw new NotFoundError(`No report of ${id} for ${day}`, [{ field: 'day', message: `no report of ${id} for ${day}` }]);
    return json;
  }

  /** One day's self-contained HTML page; 404 when there is none. */
  async function getHtml(id: string, day: string): Promise<string> {
    assertValid([idProblem(id), dayProblem(day)]);
    const html = await reports.getHtml(id, day);
    if (html === undefined) throw new NotFoundError(`No report of ${id} for ${day}`, [{ field: 'day', message: `no report of ${id} for ${day}` }]);
    return html;
  }

  return {
    /** Every day with a report, newest first, the newest {@link HISTORY_DECISIONS} with their decision; 404 for an unknown experiment. */
    async list(id: string): Promise<ReportHistory> {
      assertValid([idProblem(id)]);
      requireExperiment(await experiments.get(id), id);
      const days = await reports.listDays(id);
      const opened = await mapWithConcurrency(days.slice(0, HISTORY_DECISIONS), READ_CONCURRENCY, (day) => reports.getJson(id, day));
      return {
        experiment_id: id,
        reports: days.map((day, i): ReportSummary => {
          const { jsonKey, htmlKey } = reportKeys(id, day);
          const read = opened[i];
          // A report that cannot be read still belongs to the history; it only loses its decision.
          const decision = read?.status === 'fulfilled' ? decisionOf(read.value) : {};
          const present = Object.fromEntries(Object.entries(decision).filter(([, value]) => value !== undefined));
          return { day, json_key: jsonKey, html_key: htmlKey, ...present };
        }),
      };
    },

    get,
    getHtml,

    /** One day's report in the requested form (`format` as the query string gave it; 400 naming it otherwise). */
    async read(id: string, day: string, format: string): Promise<{ format: 'json'; json: unknown } | { format: 'html'; html: string }> {
      assertValid([idProblem(id), dayProblem(day), formatProblem(format)]);
      return format === 'html' ? { format, html: await getHtml(id, day) } : { format: 'json', json: await get(id, day) };
    },
  };
}
