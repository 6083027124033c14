/** Analysis reports in S3 under `reports/<experiment>/<day>/report.{json,html}`. */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

export interface ReportStore {
  /** Writes both forms of one report; returns their keys. Same experiment and day → same keys. */
  put(experimentId: string, day: string, report: { json: unknown; html: string }): Promise<{ jsonKey: string; htmlKey: string }>;
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
}
