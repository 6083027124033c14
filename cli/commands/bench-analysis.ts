/**
 * `abrec bench analysis` (npm run bench:analysis): the scheduled analysis end to end on real
 * protocols (dynalite and s3rver started here), for an experiment of ten thousand events and
 * one of ten million. The counters are daily aggregates, so both hold the same number of
 * counter items (days x variants x shards) and the analysis reads and costs the same; the benchmark
 * prints the timings and the DynamoDB items each run read to show it.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ARTIFACTS_BUCKET, TABLES } from '../../lib/resources.ts';
import { DOCUMENT_CLIENT_OPTIONS, localClientOptions } from '../../lambdas/common/client-options.ts';
import type { Experiment } from '../../lambdas/domain/experiments/model.ts';
import { COUNTER_SHARDS } from '../../lambdas/domain/events/counters.ts';
import { telemetry } from '../../lambdas/common/observability.ts';
import { analyzeRunningExperiments } from '../../lambdas/services/analysis-run.ts';
import { addDays, twoArmExperiment, eventsOf, syntheticDailyCounters, usersForEvents } from '../../lambdas/services/synthetic-counters.ts';
import { DynamoCounterRepository } from '../../lambdas/storage/counter-store.ts';
import { DynamoExperimentRepository } from '../../lambdas/storage/experiment-repository.ts';
import { S3ObjectStore } from '../../lambdas/storage/object-store.ts';
import { ObjectReportStore } from '../../lambdas/storage/report-store.ts';
import { ensureBucket, ensureTables } from '../../local/provision.ts';
import { startLocalServers } from '../../local/servers.ts';
import { parseCommandArgs, UsageError, type CliCommand, type CliIO } from '../command.ts';
import { textTable } from '../text-table.ts';

/** A running 50/50 click-through experiment as the admin API would store it. */
export function benchExperiment(id: string, now: Date, overrides: { min_sample_size?: number } = {}): Experiment {
  return twoArmExperiment(id, {
    now,
    variants: [
      { name: 'control', model_id: 'content', model_version: 'bench', weight: 0.5, is_control: true },
      { name: 'treatment', model_id: 'als', model_version: 'bench', weight: 0.5 },
    ],
    guardrails: [{ metric: 'conversion', max_relative_degradation: 0.1 }],
    min_sample_size: overrides.min_sample_size ?? 100,
    start_time: now.toISOString(),
  });
}

/** One row of the benchmark output. */
export interface BenchAnalysisRow {
  experiment_id: string;
  events: number;
  users: number;
  counter_items: number;
  dynamodb_items_read: number;
  dynamodb_requests: number;
  /** Median over the timed runs, milliseconds. */
  analysis_ms: number;
  runs_ms: number[];
  decision: string;
}

/** A day's increments as COUNTER_SHARDS shard items would hold them: integers split evenly, fractional sums kept whole in shard 0. */
export function splitAcrossShards(increments: Record<string, number>): Record<string, number>[] {
  const shards = Array.from({ length: COUNTER_SHARDS }, () => ({}) as Record<string, number>);
  for (const [metric, value] of Object.entries(increments)) {
    if (!Number.isInteger(value)) {
      shards[0][metric] = value;
      continue;
    }
    const part = Math.trunc(value / COUNTER_SHARDS);
    shards.forEach((shard, i) => {
      shard[metric] = i === 0 ? value - part * (COUNTER_SHARDS - 1) : part;
    });
  }
  return shards;
}

/** Counts the items every DynamoDB read returns, at the client, below the repositories. */
function countReads(client: DynamoDBClient): { items: number; requests: number; reset: () => void } {
  const counter = { items: 0, requests: 0, reset: () => Object.assign(counter, { items: 0, requests: 0 }) };
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const output = result.output as { ScannedCount?: number; Item?: unknown; Items?: unknown[] };
      counter.requests++;
      counter.items += output.ScannedCount ?? output.Items?.length ?? (output.Item ? 1 : 0);
      return result;
    },
    { step: 'initialize', name: 'benchReadCounter' },
  );
  return counter;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const HELP = `Usage:
  abrec bench analysis [--events 10000,10000000] [--days 14] [--runs 20] [--json]

Starts dynalite and s3rver in a temporary directory, seeds the daily counters that a 50/50
click-through experiment of each event count would have (days x 2 variants; counters are
aggregates, so seeding does not depend on the event count), then runs the scheduled analysis
(services/analysis-run.ts with the DynamoDB repositories and the S3 report store) for each
experiment and prints the median time and the DynamoDB items read.

Options:
  --events LIST   comma-separated event counts (default 10000,10000000)
  --days N        days of counters (default 14)
  --runs N        timed runs per experiment, after 3 warm-up runs (default 20)
  --json          print {"results": [...]} as the last line of stdout

Example: npm run bench:analysis -- --events 10000 --runs 5`;

/** Runs the benchmark; the servers live only for its duration. */
export async function benchAnalysis({
  events,
  days,
  runs,
  log,
}: {
  events: number[];
  days: number;
  runs: number;
  log: (line: string) => void;
}): Promise<BenchAnalysisRow[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'abrec-bench-analysis-'));
  const servers = await startLocalServers({ dataDir });
  const dynamo = new DynamoDBClient(localClientOptions('dynamodb', servers.dynamoEndpoint, { maxAttempts: 1 }));
  const s3 = new S3Client(localClientOptions('s3', servers.s3Endpoint, { maxAttempts: 1 }));
  try {
    await ensureTables(dynamo);
    await ensureBucket(s3);
    const reads = countReads(dynamo);
    const doc = DynamoDBDocumentClient.from(dynamo, DOCUMENT_CLIENT_OPTIONS);
    const experiments = new DynamoExperimentRepository(doc, TABLES.experiments.localName);
    const counters = new DynamoCounterRepository(doc, TABLES.counters.localName);
    const reports = new ObjectReportStore(new S3ObjectStore(s3, ARTIFACTS_BUCKET.localName));
    const firstDay = '2026-01-01';
    const lastDay = addDays(firstDay, days - 1);
    const now = new Date(`${lastDay}T23:00:00Z`);

    const rows: BenchAnalysisRow[] = [];
    for (const count of events) {
      const id = `bench-${count}`;
      const users = usersForEvents(count, 2, 0.05, 0.03);
      const seeded = syntheticDailyCounters({
        arms: [
          { variant: 'control', users, ctr: 0.05, conversionRate: 0.03 },
          { variant: 'treatment', users, ctr: 0.052, conversionRate: 0.03 },
        ],
        days,
        firstDay,
      });
      log(
        `seeding ${id}: ${seeded.length * COUNTER_SHARDS} counter items for ${seeded.reduce((sum, row) => sum + eventsOf(row.increments), 0).toLocaleString('en-US')} events`,
      );
      await experiments.create(benchExperiment(id, new Date(`${firstDay}T00:00:00Z`)));
      // Spread over the shards as live traffic writes them, so the reads are what production reads.
      for (const row of seeded) {
        for (const [shard, increments] of splitAcrossShards(row.increments as Record<string, number>).entries())
          await counters.add(id, row.variant, row.day, increments, shard);
      }

      const run = () => analyzeRunningExperiments({ experiments, counters, reports, now, experimentId: id, publishAlert: async () => {}, telemetry });
      // Warm-up: JIT, module and connection set-up are not the analysis.
      for (let i = 0; i < 3; i++) await run();
      const times: number[] = [];
      let decision = '';
      reads.reset();
      for (let i = 0; i < runs; i++) {
        const started = performance.now();
        const summary = await run();
        times.push(performance.now() - started);
        decision = summary.analysed[0]?.decision ?? 'failed';
      }
      rows.push({
        experiment_id: id,
        events: seeded.reduce((sum, row) => sum + eventsOf(row.increments), 0),
        users: users * 2,
        counter_items: seeded.length * COUNTER_SHARDS,
        dynamodb_items_read: reads.items / runs,
        dynamodb_requests: reads.requests / runs,
        analysis_ms: Number(median(times).toFixed(1)),
        runs_ms: times.map((t) => Number(t.toFixed(1))),
        decision,
      });
    }
    return rows;
  } finally {
    dynamo.destroy();
    s3.destroy();
    await servers.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** The result table. */
export function formatBenchAnalysisTable(rows: BenchAnalysisRow[]): string {
  const header = ['experiment', 'events', 'users', 'counter items', 'DynamoDB items read/run', 'requests/run', 'median ms', 'decision'];
  const body = rows.map((row) => [
    row.experiment_id,
    row.events.toLocaleString('en-US'),
    row.users.toLocaleString('en-US'),
    String(row.counter_items),
    String(row.dynamodb_items_read),
    String(row.dynamodb_requests),
    row.analysis_ms.toFixed(1),
    row.decision,
  ]);
  return textTable([header, ...body], { leftAligned: 0, rule: false }).join('\n');
}

/** A whole number option within bounds, or a usage error naming it. */
function integerOption(raw: string | undefined, name: string, fallback: number, { min, max }: { min: number; max: number }): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(value) || value < min || value > max)
    throw new UsageError(`${name} must be an integer between ${min} and ${max}, got '${raw}'`);
  return value;
}

/** `abrec bench analysis`. */
export const benchAnalysisCommand: CliCommand = {
  path: ['bench', 'analysis'],
  summary: 'Analysis time and DynamoDB reads for 10 thousand vs 10 million events (dynalite + s3rver)',
  help: HELP,
  run: async (argv: string[], io: CliIO): Promise<number> => {
    const values = parseCommandArgs(argv, {
      events: { type: 'string' },
      days: { type: 'string' },
      runs: { type: 'string' },
      json: { type: 'boolean', default: false },
    });
    const events = (values.events ?? '10000,10000000').split(',').map((part) => integerOption(part, '--events', 0, { min: 10, max: 1e12 }));
    const days = integerOption(values.days, '--days', 14, { min: 1, max: 366 });
    const runs = integerOption(values.runs, '--runs', 20, { min: 1, max: 100 });
    const rows = await benchAnalysis({ events, days, runs, log: (line) => io.stderr(`${line}\n`) });
    io.stdout(`${formatBenchAnalysisTable(rows)}\n`);
    const reads = new Set(rows.map((row) => row.dynamodb_items_read));
    const times = rows.map((row) => row.analysis_ms);
    io.stdout(
      `DynamoDB items read per run: ${reads.size === 1 ? `${[...reads][0]} for every size (days x variants x ${COUNTER_SHARDS} shards + the experiment)` : [...reads].join(' vs ')}; ` +
        `median time, largest / smallest event count: ${(times[times.length - 1] / times[0]).toFixed(2)}x\n`,
    );
    if (values.json) io.stdout(`${JSON.stringify({ days, runs, results: rows })}\n`);
    return 0;
  },
};
