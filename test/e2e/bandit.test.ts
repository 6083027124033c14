/**
 * Issue 11, item 1 on the local runtime: a Thompson-sampling experiment driven over HTTP by
 * `abrec simulate` with a planted lift ends with a report that checks its split against the
 * allocation in force (no sample-ratio alarm), ships the better arm on its inverse-propensity
 * estimates, and is promoted through the admin API without `force`. The counters the service
 * wrote are checked against the raw log it kept: every stored assignment's allocation and
 * propensity, and which of those users clicked.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main.ts';
import { TABLES } from '../../lib/resources.ts';
import {
  BANDIT_INVERSE_PROPENSITY_FIELD,
  BANDIT_LOGGED_EXPOSURES_FIELD,
  expectedExposuresField,
  rewardInversePropensityFields,
} from '../../lambdas/domain/events/bandit-counters.ts';
import type { Experiment } from '../../lambdas/domain/experiments/model.ts';
import type { ExperimentAnalysis } from '../../lambdas/services/experiment-results.ts';
import { DynamoCounterRepository } from '../../lambdas/storage/counter-store.ts';
import type { StoredAssignment } from '../../lambdas/storage/experiment-repository.ts';
import { LOCAL_CREDENTIALS } from '../../lambdas/common/client-options.ts';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime.ts';
import type { SimulationSessionResult } from '../../simulator/session.ts';
import { recordingIO } from '../helpers/cli-io.ts';

const ID = 'bandit-e2e';
let dataDir: string;
let runtime: LocalRuntime;
let doc: DynamoDBDocumentClient;

const admin = (path: string, init: RequestInit = {}) =>
  fetch(`${runtime.url}${path}`, { ...init, headers: { 'x-admin-key': runtime.adminKey, 'content-type': 'application/json', ...(init.headers ?? {}) } });

async function scanAll(table: string, prefix: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({ TableName: table, FilterExpression: 'begins_with(pk, :p)', ExpressionAttributeValues: { ':p': prefix }, ExclusiveStartKey: start }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'abrec-bandit-'));
  runtime = await startLocalRuntime({ dataDir, port: 0, scheduleCheckMs: 0 });
  doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', credentials: LOCAL_CREDENTIALS, endpoint: runtime.servers.dynamoEndpoint }));
});

afterAll(async () => {
  doc?.destroy();
  await runtime?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('a bandit on the local runtime', () => {
  it('moves traffic to the arm with the planted lift, reports no sample-ratio alarm, ships it and is promoted without force', async () => {
    // Prepare: a running bandit configured 50/50, both arms the default control model, so the
    // planted lift on the treatment's clicks is the only difference
    const base = (await (await admin('/experiments/default')).json()) as Experiment;
    const model = base.variants.find((v) => v.is_control)!;
    const created = await admin('/experiments', {
      method: 'POST',
      body: JSON.stringify({
        id: ID,
        name: 'Thompson sampling, planted lift',
        status: 'running',
        mode: 'bandit',
        bandit: { min_share: 0.1 },
        variants: [
          { name: 'control', model_id: model.model_id, model_version: model.model_version, weight: 0.5, is_control: true },
          { name: 'treatment', model_id: model.model_id, model_version: model.model_version, weight: 0.5 },
        ],
        target_metric: { kind: 'click_through' },
        min_sample_size: 50,
        minimum_detectable_effect: 0.5,
      }),
    });
    expect(created.status).toBe(201);

    // Act: seven simulated days over HTTP, a report each night, then the results and a promotion without force
    const io = recordingIO({ env: { ABREC_URL: runtime.url, ABREC_DATA_DIR: dataDir } });
    const code = await runCli(['simulate', '--experiment', ID, '--planted-lift', '3', '--days', '7', '--seed', '4', '--json'], io);
    expect(code, io.stderrText()).toBe(0);
    const simulation = io.lastJson() as unknown as SimulationSessionResult;
    const analysis = (await (await admin(`/experiments/${ID}/results`)).json()) as ExperimentAnalysis;
    const promoted = await admin(`/experiments/${ID}/promote`, { method: 'POST', body: JSON.stringify({}) });

    // Assess: the split moved, the report checks it against the allocation in force
    const users = simulation.by_variant;
    expect(users.treatment.users).toBeGreaterThan(users.control.users);
    const bandit = analysis.report?.bandit;
    if (bandit?.status !== 'ok') throw new Error(`no bandit section: ${JSON.stringify(bandit)}`);
    expect(bandit.srm).toMatchObject({ status: 'ok', flagged: false });
    expect(analysis.report?.srm).toEqual(bandit.srm);
    expect({ decision: analysis.decision, winner: analysis.winner, promotion: analysis.promotion }).toEqual({
      decision: 'ship',
      winner: 'treatment',
      promotion: { significant: true, srm_flagged: false, srm_reference: 'allocation-in-force', winner: 'treatment' },
    });
    expect(promoted.status).toBe(200);
    expect(await promoted.json()).toMatchObject({ status: 'completed', winner: 'treatment' });

    // ... and the counters it read are what the raw log says: every stored assignment's
    // allocation and propensity, and which of those users clicked
    const assignments = (await scanAll(TABLES.experiments.localName, `ASSIGN#${ID}#`)).map((item) => item.assignment as StoredAssignment);
    const clicked = new Set(
      (await scanAll(TABLES.events.localName, 'EVENT#')).filter((e) => e.experiment_id === ID && e.event_type === 'click').map((e) => e.user_id as string),
    );
    const counters = new DynamoCounterRepository(doc, TABLES.counters.localName);
    const totals = Object.fromEntries(
      await Promise.all(
        ['control', 'treatment'].map(async (arm) => {
          const days = await counters.dailyCounters(ID, arm);
          const sum = (field: string) => days.reduce((s, d) => s + Number(d[field] ?? 0), 0);
          return [arm, { sum, exposed: sum('exposed_users') }] as const;
        }),
      ),
    );
    expect(assignments.length).toBe(totals.control.exposed + totals.treatment.exposed);
    for (const arm of ['control', 'treatment']) {
      const own = assignments.filter((a) => a.variant === arm);
      const near = (actual: number, expected: number) => expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-9 * Math.max(1, expected));
      expect(totals[arm].sum(BANDIT_LOGGED_EXPOSURES_FIELD)).toBe(own.length);
      near(
        totals[arm].sum(BANDIT_INVERSE_PROPENSITY_FIELD),
        own.reduce((s, a) => s + 1 / a.propensity, 0),
      );
      near(
        totals[arm].sum(rewardInversePropensityFields('clickers').sum),
        own.filter((a) => clicked.has(a.userId)).reduce((s, a) => s + 1 / a.propensity, 0),
      );
      // The expected users of an arm: its share in every stored allocation, whatever arm the user got.
      near(
        bandit.arms.find((a) => a.name === arm)!.expectedExposures,
        assignments.reduce((s, a) => s + (a.allocation?.[arm] ?? Number.NaN), 0),
      );
      for (const a of own) expect(a.allocation?.[arm]).toBe(a.propensity);
      near(
        totals.control.sum(expectedExposuresField(arm)) + totals.treatment.sum(expectedExposuresField(arm)),
        bandit.arms.find((a) => a.name === arm)!.expectedExposures,
      );
    }
  }, 240_000);
});
