/**
 * Analysis reports under `reports/<experiment>/<day>/report.{json,html}`, and the record of the
 * alert sent for a day (`alert.json`).
 *
 * A day's report is visible once complete: report.html is written first and report.json last,
 * and a day is listed only when its report.json exists. A run that fails between the two leaves
 * an HTML page that nothing lists (the rerun overwrites it); one that fails while overwriting a
 * day leaves the day's previous JSON with a newer page until the rerun.
 */
import type { ObjectStore } from './object-store.ts';

/** The alert sent for an experiment's day: what it said, so a rerun of the day does not send it again. */
export interface AlertRecord {
  decision: string;
  /** The breached guardrails as `<variant>:<metric>`, sorted. */
  guardrails_breached: string[];
  sent_at: string;
}

export interface ReportStore {
  /** Writes both forms of one report, the HTML first and the JSON last; returns their keys. Same experiment and day → same keys. */
  put(experimentId: string, day: string, report: { json: unknown; html: string }): Promise<{ jsonKey: string; htmlKey: string }>;
  /** The JSON report of one experiment and day, or undefined if there is none. */
  getJson(experimentId: string, day: string): Promise<unknown>;
  /** The self-contained HTML page of one experiment and day, or undefined if there is none. */
  getHtml(experimentId: string, day: string): Promise<string | undefined>;
  /** The days that have a complete report of this experiment (its report.json), newest first (read by listing its prefix). */
  listDays(experimentId: string): Promise<string[]>;
  /** The alert recorded as sent for an experiment's day, or undefined. */
  getAlert(experimentId: string, day: string): Promise<AlertRecord | undefined>;
  /** Records the alert sent for an experiment's day (replacing an earlier record of that day). */
  putAlert(experimentId: string, day: string, alert: AlertRecord): Promise<void>;
}

export const reportKeys = (experimentId: string, day: string) => ({
  jsonKey: `reports/${experimentId}/${day}/report.json`,
  htmlKey: `reports/${experimentId}/${day}/report.html`,
});

export const alertKey = (experimentId: string, day: string) => `reports/${experimentId}/${day}/alert.json`;

/** The JSON is written last, so its key is the one that makes a day's report visible. */
const REPORT_KEY = /^reports\/[^/]+\/(\d{4}-\d{2}-\d{2})\/report\.json$/;

/** Reports as objects of an {@link ObjectStore} (the artifacts bucket in AWS and locally). */
export class ObjectReportStore implements ReportStore {
  constructor(private readonly objects: ObjectStore) {}

  async put(experimentId: string, day: string, report: { json: unknown; html: string }) {
    const keys = reportKeys(experimentId, day);
    await this.objects.put(keys.htmlKey, report.html, 'text/html; charset=utf-8');
    await this.objects.put(keys.jsonKey, JSON.stringify(report.json, null, 1), 'application/json');
    return keys;
  }

  async getJson(experimentId: string, day: string): Promise<unknown> {
    const bytes = await this.objects.get(reportKeys(experimentId, day).jsonKey);
    return bytes && bytes.byteLength > 0 ? (JSON.parse(new TextDecoder().decode(bytes)) as unknown) : undefined;
  }

  async getHtml(experimentId: string, day: string): Promise<string | undefined> {
    const bytes = await this.objects.get(reportKeys(experimentId, day).htmlKey);
    return bytes ? new TextDecoder().decode(bytes) : undefined;
  }

  async listDays(experimentId: string): Promise<string[]> {
    const days = new Set<string>();
    for (const key of await this.objects.list(`reports/${experimentId}/`)) {
      const day = REPORT_KEY.exec(key)?.[1];
      if (day !== undefined) days.add(day);
    }
    return [...days].sort().reverse();
  }

  async getAlert(experimentId: string, day: string): Promise<AlertRecord | undefined> {
    const bytes = await this.objects.get(alertKey(experimentId, day));
    return bytes && bytes.byteLength > 0 ? (JSON.parse(new TextDecoder().decode(bytes)) as AlertRecord) : undefined;
  }

  async putAlert(experimentId: string, day: string, alert: AlertRecord): Promise<void> {
    await this.objects.put(alertKey(experimentId, day), JSON.stringify(alert), 'application/json');
  }
}
