/**
 * `abrec analyze --experiment ID` against the local runtime (`abrec serve` in-process): the CLI
 * reads GET /experiments/{id}/results through the admin client, with the admin key from the
 * data directory, and sees the same report the analysis Lambda writes to S3.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeCommand } from '../../cli/commands/analyze.ts';
import { UsageError, type CliIO } from '../../cli/command.ts';
import { ARTIFACTS_BUCKET, TABLES } from '../../lib/resources.ts';
import { DEFAULT_EXPERIMENT_ID } from '../../lambdas/domain/experiments/defaults.ts';
import type { ExperimentAnalysis } from '../../lambdas/services/experiment-results.ts';
import { addDays, syntheticDailyCounters } from '../../lambdas/services/synthetic-counters.ts';
import { DynamoCounterRepository } from '../../lambdas/storage/counter-store.ts';
import { LOCAL_CREDENTIALS } from '../../lambdas/common/client-options.ts';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime.ts';

let runtime: LocalRuntime;
let dataDir: string;
let s3: S3Client;
let dynamo: DynamoDBClient;
const TODAY = new Date().toISOString().slice(0, 10);

/** A CliIO that records stdout; the environment carries no ABREC_* variables. */
function fakeIo(): CliIO & { out: string[]; lastJson: () => Record<string, unknown> } {
  const out: string[] = [];
  return {
    out,
    stdout: (text) => void out.push(text),
    stderr: () => {},
    readStdin: async () => '',
    env: {},
    signal: new AbortController().signal,
    lastJson: () => JSON.parse(out.join('').trim().split('\n').at(-1) as string) as Record<string, unknown>,
  };
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'abrec-analyze-cli-'));
  runtime = await startLocalRuntime({ dataDir, port: 0 });
  const config = { region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 };
  dynamo = new DynamoDBClient({ ...config, endpoint: runtime.servers.dynamoEndpoint });
  s3 = new S3Client({ ...config, endpoint: runtime.servers.s3Endpoint, forcePathStyle: true });
});
afterAll(async () => {
  dynamo?.destroy();
  s3?.destroy();
  await runtime?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('abrec analyze --experiment against abrec serve', () => {
  it('prints insufficient data with its reason before any counters exist', async () => {
    // Prepare
    const io = fakeIo();

    // Act
    await analyzeCommand.run(['--experiment', DEFAULT_EXPERIMENT_ID, '--url', runtime.url, '--data-dir', dataDir, '--json'], io);

    // Assess
    expect(io.lastJson()).toMatchObject({
      experiment_id: DEFAULT_EXPERIMENT_ID,
      result: 'insufficient-data',
      reason: 'no counters yet',
      decision: 'keep-running',
    });
  });

  it('prints the same decision the analysis Lambda writes to S3 for the same counters', async () => {
    // Prepare: a week of counters ending today, then the scheduled function.
    const counters = new DynamoCounterRepository(DynamoDBDocumentClient.from(dynamo), TABLES.counters.localName);
    const arms = [
      { variant: 'control', users: 4000, ctr: 0.05, conversionRate: 0.05 },
      { variant: 'treatment', users: 4000, ctr: 0.07, conversionRate: 0.05 },
    ];
    for (const row of syntheticDailyCounters({ arms, days: 7, firstDay: addDays(TODAY, -6) })) {
      await counters.add(DEFAULT_EXPERIMENT_ID, row.variant, row.day, row.increments as Record<string, number>);
    }
    await runtime.invoke('analysis', { day: TODAY });
    const object = await s3.send(new GetObjectCommand({ Bucket: ARTIFACTS_BUCKET.localName, Key: `reports/${DEFAULT_EXPERIMENT_ID}/${TODAY}/report.json` }));
    const written = JSON.parse(await (object.Body as { transformToString: () => Promise<string> }).transformToString()) as ExperimentAnalysis;
    const io = fakeIo();

    // Act
    await analyzeCommand.run(['--experiment', DEFAULT_EXPERIMENT_ID, '--url', runtime.url, '--data-dir', dataDir, '--json'], io);

    // Assess
    const printed = io.lastJson();
    expect(written).toMatchObject({ decision: 'ship', winner: 'treatment' });
    expect(printed).toMatchObject({
      experiment_id: DEFAULT_EXPERIMENT_ID,
      result: 'ok',
      decision: written.decision,
      decision_reason: written.decision_reason,
      winner: 'treatment',
    });
    const treatment = (printed.results as { variant: string; always_valid_p_value: number }[])[0];
    expect(treatment.always_valid_p_value).toBe(written.report?.comparisons[0].alwaysValidPValue);
  });

  it('answers a usage error naming an unknown experiment', async () => {
    // Act
    const run = analyzeCommand.run(['--experiment', 'no-such-experiment', '--url', runtime.url, '--data-dir', dataDir], fakeIo());

    // Assess
    await expect(run).rejects.toThrow(UsageError);
    await expect(run).rejects.toThrow(/no-such-experiment: no such experiment/);
  });

  it('says where it looked when no admin key can be found', async () => {
    // Act
    const run = analyzeCommand.run(['--experiment', DEFAULT_EXPERIMENT_ID, '--url', runtime.url, '--data-dir', join(dataDir, 'missing')], fakeIo());

    // Assess
    await expect(run).rejects.toThrow(/no admin key/);
  });
});
