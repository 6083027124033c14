/**
 * The admin API and every metric: GET /experiments/{id}/results carries the report's metrics
 * panel and ranking panel; POST and PATCH refuse guardrails no report could check (400 naming
 * the field), while an experiment stored with one still gets its results, naming it unchecked.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createExperiment } from '../../lambdas/domain/experiments/lifecycle.ts';
import { parseExperiment, type Experiment } from '../../lambdas/domain/experiments/model.ts';
import type { ExperimentAnalysis } from '../../lambdas/services/experiment-results.ts';
import { analysisFromCounters } from '../../lambdas/services/experiment-results.ts';
import { addDays, syntheticDailyCounters } from '../../lambdas/services/synthetic-counters.ts';
import { apiEvent, bodyOf, fieldsOf, jsonPost, lambdaContext } from './support/api-gateway.ts';
import { FakeBucket, FakeTables } from './support/aws.ts';
import { TABLE, stubHandlerEnv } from './support/env.ts';
import './support/matchers.ts';
import { NOW, tinyArtifact } from './support/models.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const s3 = mockClient(S3Client);
const control = tinyArtifact({ modelId: 'popularity-test' });
const treatment = tinyArtifact({ modelId: 'factors-test', shift: 3 });
const ID = 'metrics-test';
const DAY = NOW.toISOString().slice(0, 10);

let handler: typeof import('../../lambdas/experiments.ts').handler;
let tables: FakeTables;

function createRequest(overrides: Record<string, unknown> = {}) {
  return {
    id: ID,
    name: 'Every metric',
    variants: [
      { name: 'control', model_id: control.manifest.model_id, model_version: control.manifest.version, weight: 0.5, is_control: true },
      { name: 'treatment', model_id: treatment.manifest.model_id, model_version: treatment.manifest.version, weight: 0.5 },
    ],
    target_metric: { kind: 'click_through' },
    ...overrides,
  };
}

const running = (overrides: Record<string, unknown> = {}): Experiment =>
  createExperiment({ request: createRequest({ status: 'running', ...overrides }), now: NOW });
const experimentPuts = () => ddb.commandCalls(PutCommand).filter((c) => c.args[0].input.TableName === TABLE.experiments);
const results = () =>
  handler(apiEvent({ path: `/experiments/${ID}/results`, resource: '/experiments/{id}/results', pathParameters: { id: ID } }), lambdaContext());

/**
 * Seven days of counters ending on DAY, with the per-position and fallback counters the events
 * path writes: lists of 10, clicks decaying with the position, cold-start and artifact fallbacks.
 */
function seedCounters(): Record<string, { day: string; [field: string]: number | string }[]> {
  const out: Record<string, { day: string; [field: string]: number | string }[]> = {};
  const arms = [
    { variant: 'control', users: 5000, ctr: 0.05, conversionRate: 0.05 },
    { variant: 'treatment', users: 5000, ctr: 0.07, conversionRate: 0.05 },
  ];
  for (const row of syntheticDailyCounters({ arms, days: 7, firstDay: addDays(DAY, -6) })) {
    const impressions = row.increments.impressions ?? 0;
    const top = row.variant === 'control' ? 0.02 : 0.03;
    const positional = Object.fromEntries(Array.from({ length: 10 }, (_, p) => [`clicks_pos_${p + 1}`, Math.round((impressions * top) / (p + 1))]));
    const fields = {
      ...(row.increments as Record<string, number>),
      slate_len_10: impressions,
      ...positional,
      fallback_impressions: 12,
      fallback_cold_start_impressions: 9,
      fallback_artifact_impressions: 2,
    };
    tables.seedCounter(ID, row.variant, row.day, fields);
    (out[row.variant] ??= []).push({ day: row.day, ...fields });
  }
  return out;
}

describe('admin API: every metric', () => {
  beforeAll(async () => {
    stubHandlerEnv();
    ({ handler } = await import('../../lambdas/experiments.ts'));
  });
  afterAll(() => vi.unstubAllEnvs());
  beforeEach(() => {
    ddb.reset();
    s3.reset();
    tables = new FakeTables(ddb);
    new FakeBucket(s3).putArtifact(control).putArtifact(treatment);
  });

  describe('GET /experiments/{id}/results', () => {
    beforeEach(() => vi.useFakeTimers({ toFake: ['Date'], now: NOW }));
    afterEach(() => vi.useRealTimers());

    it('returns every metric, the secondary ones Holm-adjusted as one family, and the recommendation metrics', async () => {
      // Prepare
      const experiment = running();
      tables.seedExperiment(experiment);
      const counters = seedCounters();

      // Act
      const result = await results();

      // Assess
      expect(result.statusCode).toBe(200);
      const body = bodyOf<ExperimentAnalysis>(result);
      expect(body).toEqual(JSON.parse(JSON.stringify(analysisFromCounters(experiment, counters, { day: DAY }))));
      const metrics = body.report?.metrics;
      expect(metrics?.metrics.map((m) => [m.id, m.role])).toEqual([
        ['click_through', 'target'],
        ['conversion', 'secondary'],
        ['revenue_per_user', 'secondary'],
        ['revenue_per_purchase', 'secondary'],
        ['watch_time', 'secondary'],
        ['rating', 'secondary'],
      ]);
      expect(metrics?.family).toMatchObject({ method: 'holm', size: metrics?.metrics.filter((m) => m.role === 'secondary' && m.notTested === null).length });
      const ranking = body.report?.ranking;
      expect(ranking?.positions).toBe(10);
      const [controlRanking, treatmentRanking] = ranking?.variants ?? [];
      expect(controlRanking.byPosition[0]).toMatchObject({ status: 'ok', position: 1 });
      expect(
        treatmentRanking.byPosition[0].status === 'ok' &&
          controlRanking.byPosition[0].status === 'ok' &&
          treatmentRanking.byPosition[0].ctr > controlRanking.byPosition[0].ctr,
      ).toBe(true);
      expect(controlRanking.fallback).toMatchObject({ fallbackImpressions: 84, coldStartImpressions: 63, artifactImpressions: 14, unclassifiedImpressions: 7 });
      expect(ranking?.coverage).toMatchObject({ status: 'not-measured' });
    });

    it('answers for an experiment stored with a latency guardrail, naming it as not checked', async () => {
      // Prepare: stored before the API refused such guardrails
      tables.seedExperiment(
        parseExperiment({
          ...running(),
          guardrails: [
            { metric: 'latency_p95_ms', max_relative_degradation: 0.2 },
            { metric: 'conversion', max_relative_degradation: 0.1 },
          ],
        }),
      );
      seedCounters();

      // Act
      const result = await results();

      // Assess
      expect(result.statusCode).toBe(200);
      const body = bodyOf<ExperimentAnalysis>(result);
      expect(body.skipped_guardrails).toEqual([{ metric: 'latency_p95_ms', reason: expect.stringContaining('not measured by the daily counters') }]);
      expect(body.report?.guardrails).toEqual([expect.objectContaining({ metric: 'conversion_rate', variant: 'treatment', status: 'ok' })]);
    });
  });

  describe('guardrails no report could check', () => {
    it('POST answers 400 naming guardrails[1].metric for a latency guardrail, and stores nothing', async () => {
      // Act
      const result = await handler(
        jsonPost(
          '/experiments',
          createRequest({
            guardrails: [
              { metric: 'conversion', max_relative_degradation: 0.1 },
              { metric: 'latency_p95_ms', max_relative_degradation: 0.2 },
            ],
          }),
        ),
        lambdaContext(),
      );

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['guardrails[1].metric']);
      expect(bodyOf<{ error: { message: string } }>(result).error.message).toContain('not measured by the daily counters');
      expect(experimentPuts()).toHaveLength(0);
    });

    it('PATCH answers 400 naming guardrails[0].metric for an error-rate guardrail, and writes nothing', async () => {
      // Prepare
      tables.seedExperiment(running());

      // Act
      const result = await handler(
        apiEvent({
          method: 'PATCH',
          path: `/experiments/${ID}`,
          resource: '/experiments/{id}',
          pathParameters: { id: ID },
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ guardrails: [{ metric: 'error_rate', max_relative_degradation: 0.5 }] }),
        }),
        lambdaContext(),
      );

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['guardrails[0].metric']);
      expect(experimentPuts()).toHaveLength(0);
    });

    it('POST accepts a guardrail on each measured metric (201)', async () => {
      // Act
      const result = await handler(
        jsonPost(
          '/experiments',
          createRequest({ guardrails: ['click_through', 'conversion', 'watch_time', 'rating'].map((metric) => ({ metric, max_relative_degradation: 0.1 })) }),
        ),
        lambdaContext(),
      );

      // Assess
      expect(result.statusCode).toBe(201);
    });
  });
});
