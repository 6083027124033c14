/**
 * The dashboard's read use cases on real protocols: the report history and a day's report
 * written by the scheduled analysis into s3rver, and the model catalogue of the default
 * artifacts as the local runtime provisions them, through the S3 stores the Lambda uses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS_BUCKET, TABLES } from '../../lib/resources.ts';
import { DEFAULT_ARTIFACTS_DIR } from '../../local/runtime.ts';
import { ensureDatasetAndPointers, readDefaultModelSet, uploadDefaultArtifacts } from '../../local/provision.ts';
import { toHttpError } from '../../lambdas/common/errors.ts';
import { telemetry } from '../../lambdas/common/observability.ts';
import { analyzeRunningExperiments } from '../../lambdas/services/analysis-run.ts';
import { createModelCatalog } from '../../lambdas/services/model-catalog.ts';
import { createReportHistory } from '../../lambdas/services/report-history.ts';
import { addDays, syntheticDailyCounters, twoArmExperiment } from '../../lambdas/services/synthetic-counters.ts';
import { S3ModelArtifactStore } from '../../lambdas/storage/artifact-store.ts';
import { DynamoCounterRepository } from '../../lambdas/storage/counter-store.ts';
import { DynamoExperimentRepository } from '../../lambdas/storage/experiment-repository.ts';
import { S3ObjectStore } from '../../lambdas/storage/object-store.ts';
import { ObjectReportStore } from '../../lambdas/storage/report-store.ts';
import { startLocalAws, type LocalAws } from '../helpers/local-aws.ts';

const FIRST_DAY = '2026-03-01';
const ID = 'exp-history';
const BUCKET = ARTIFACTS_BUCKET.localName;
const REPORT_DAYS = [addDays(FIRST_DAY, 11), addDays(FIRST_DAY, 12), addDays(FIRST_DAY, 13)];

let aws: LocalAws;
let history: ReturnType<typeof createReportHistory>;
let catalog: ReturnType<typeof createModelCatalog>;

beforeAll(async () => {
  aws = await startLocalAws();
  const experiments = new DynamoExperimentRepository(aws.doc, TABLES.experiments.localName);
  const counters = new DynamoCounterRepository(aws.doc, TABLES.counters.localName);
  const objects = new S3ObjectStore(aws.s3, BUCKET);
  const reports = new ObjectReportStore(objects);
  await experiments.create(twoArmExperiment(ID, { now: new Date(`${FIRST_DAY}T00:00:00Z`) }));
  const arms = [
    { variant: 'control', users: 5000, ctr: 0.05, conversionRate: 0.05 },
    { variant: 'treatment', users: 5000, ctr: 0.07, conversionRate: 0.05 },
  ];
  for (const row of syntheticDailyCounters({ arms, days: 14, firstDay: FIRST_DAY }))
    await counters.add(ID, row.variant, row.day, row.increments as Record<string, number>);
  for (const day of REPORT_DAYS) {
    await analyzeRunningExperiments({ experiments, counters, reports, now: new Date(`${day}T03:00:00Z`), day, publishAlert: async () => {}, telemetry });
  }
  await uploadDefaultArtifacts(aws.s3, DEFAULT_ARTIFACTS_DIR);
  await ensureDatasetAndPointers(aws.s3, DEFAULT_ARTIFACTS_DIR);
  history = createReportHistory({ experiments, reports });
  catalog = createModelCatalog({ artifacts: new S3ModelArtifactStore(aws.s3, BUCKET), objects });
});
afterAll(async () => aws?.stop());

describe('report history on s3rver', () => {
  it('lists every analysed day newest first, each with the decision its report.json carries', async () => {
    // Act
    const { experiment_id, reports } = await history.list(ID);

    // Assess
    expect(experiment_id).toBe(ID);
    expect(reports.map((r) => r.day)).toEqual([...REPORT_DAYS].reverse());
    for (const report of reports) {
      const stored = (await history.get(ID, report.day)) as { decision: string; winner: string | null };
      expect(report).toMatchObject({ decision: stored.decision, winner: stored.winner, json_key: `reports/${ID}/${report.day}/report.json` });
    }
  });

  it("returns the day's self-contained HTML page", async () => {
    // Act
    const html = await history.getHtml(ID, REPORT_DAYS[2]);

    // Assess
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<script/i);
  });

  it('answers 404 for a day the analysis did not run', async () => {
    // The service's error as the handler answers it.
    const answered = history.get(ID, FIRST_DAY).catch((error: unknown) => {
      throw toHttpError(error);
    });
    await expect(answered).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('model catalogue on s3rver', () => {
  it("lists the default models, each with its manifest's offline metrics and the version latest.json publishes", async () => {
    // Prepare
    const defaults = await readDefaultModelSet(DEFAULT_ARTIFACTS_DIR);

    // Act
    const { models } = await catalog.list();

    // Assess
    expect(models.map((m) => m.model_id)).toEqual(defaults.models.map((m) => m.model_id).sort());
    for (const pinned of defaults.models) {
      const model = models.find((m) => m.model_id === pinned.model_id)!;
      expect(model.latest_version).toBe(pinned.model_version);
      expect(model.versions).toEqual([expect.objectContaining({ version: pinned.model_version, latest: true, algorithm: pinned.algorithm })]);
      expect(Object.keys(model.versions[0].metrics ?? {}).length).toBeGreaterThan(0);
    }
  });
});
