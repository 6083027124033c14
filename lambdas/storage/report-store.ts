/** Analysis reports under `reports/<experiment>/<day>/report.{json,html}`. */
import type { ObjectStore } from './object-store.ts';

export interface ReportStore {
  /** Writes both forms of one report; returns their keys. Same experiment and day → same keys. */
  put(experimentId: string, day: string, report: { json: unknown; html: string }): Promise<{ jsonKey: string; htmlKey: string }>;
  /** The JSON report of one experiment and day, or undefined if there is none. */
  getJson(experimentId: string, day: string): Promise<unknown>;
  /** The self-contained HTML page of one experiment and day, or undefined if there is none. */
  getHtml(experimentId: string, day: string): Promise<string | undefined>;
  /** The days that have a report of this experiment, newest first (read by listing its prefix). */
  listDays(experimentId: string): Promise<string[]>;
}

export const reportKeys = (experimentId: string, day: string) => ({
  jsonKey: `reports/${experimentId}/${day}/report.json`,
  htmlKey: `reports/${experimentId}/${day}/report.html`,
});

const REPORT_KEY = /^reports\/[^/]+\/(\d{4}-\d{2}-\d{2})\/report\.(?:json|html)$/;

/** Reports as objects of an {@link ObjectStore} (the artifacts bucket in AWS and locally). */
export class ObjectReportStore implements ReportStore {
  constructor(private readonly objects: ObjectStore) {}

  async put(experimentId: string, day: string, report: { json: unknown; html: string }) {
    const keys = reportKeys(experimentId, day);
    await Promise.all([
      this.objects.put(keys.jsonKey, JSON.stringify(report.json, null, 1), 'application/json'),
      this.objects.put(keys.htmlKey, report.html, 'text/html; charset=utf-8'),
    ]);
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
}
