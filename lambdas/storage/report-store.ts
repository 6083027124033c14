/** Analysis reports in S3 under `reports/<experiment>/<day>/report.{json,html}`. */
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

export interface ReportStore {
  /** Writes both forms of one report; returns their keys. Same experiment and day → same keys. */
  put(experimentId: string, day: string, report: { json: unknown; html: string }): Promise<{ jsonKey: string; htmlKey: string }>;
  /** The JSON report of one experiment and day, or undefined if there is none. */
  getJson(experimentId: string, day: string): Promise<unknown>;
}

export const reportKeys = (experimentId: string, day: string) => ({
  jsonKey: `reports/${experimentId}/${day}/report.json`,
  htmlKey: `reports/${experimentId}/${day}/report.html`,
});

export class S3ReportStore implements ReportStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async put(experimentId: string, day: string, report: { json: unknown; html: string }) {
    const keys = reportKeys(experimentId, day);
    await Promise.all([
      this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: keys.jsonKey, Body: JSON.stringify(report.json, null, 1), ContentType: 'application/json' })),
      this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: keys.htmlKey, Body: report.html, ContentType: 'text/html; charset=utf-8' })),
    ]);
    return keys;
  }

  async getJson(experimentId: string, day: string): Promise<unknown> {
    try {
      const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: reportKeys(experimentId, day).jsonKey }));
      const text = await response?.Body?.transformToString();
      return text ? (JSON.parse(text) as unknown) : undefined;
    } catch (error) {
      const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return undefined;
      throw error;
    }
  }
}
