/**
 * `abrec bench serve` (npm run bench:serve): the serving hot path, measured in process.
 *
 * - For the default artifacts (model-artifacts/, pinned by default-set.json) and a synthetic
 *   62,000-item × 64-factor artifact: the warm GET /recommend handler's p50 / p99, the top-N
 *   time alone (recommendTopN), and floor_ms, the time to read every item-factor byte once
 *   (summing the Float32Array with four accumulators), the memory-bound limit.
 * - DynamoDB calls and write units to store a 1,000-event batch, and to receive it again.
 *
 * Storage is in memory behind the SDK clients' request handler (bench-serve-aws.ts): the
 * handlers run their whole SDK stack (marshalling, signing, deserialization) but no network,
 * so the figures are the handler's own. Prints a table; --json adds one JSON line.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { ARTIFACTS_BUCKET, TABLES } from '../../lib/resources.ts';
import { DEFAULT_ARTIFACTS_DIR, localEnvironment } from '../../local/runtime.ts';
import { readDefaultModelSet } from '../../local/provision.ts';
import { defaultExperiment } from '../../lambdas/domain/experiments/defaults.ts';
import type { Experiment } from '../../lambdas/domain/experiments/model.ts';
import { artifactPrefix, encodeArtifact } from '../../lambdas/domain/recommenders/artifact.ts';
import { prepareForServing, recommendTopN, type ServingModel } from '../../lambdas/domain/recommenders/top-n.ts';
import type { FactorModel } from '../../lambdas/domain/recommenders/types.ts';
import { DirectoryModelArtifactStore } from '../../lambdas/storage/artifact-store.ts';
import { parseCommandArgs, UsageError, type CliCommand } from '../command.ts';
import { textTable } from '../text-table.ts';
import { InMemoryDynamo, InMemoryS3, type CallCounts } from './bench-serve-aws.ts';

/** One artifact's serving figures (milliseconds). */
export interface ServeBenchRow {
  artifact: string;
  items: number;
  factors: number;
  handler_p50_ms: number;
  handler_p99_ms: number;
  topn_p50_ms: number;
  topn_p99_ms: number;
  floor_ms: number;
  /** topn_p50_ms / floor_ms; the goal is at most 1.5 for 62,000 × 64. */
  topn_over_floor: number;
  /** handler_p99_ms − topn_p99_ms; the goal is under 1 ms. */
  handler_overhead_p99_ms: number;
  /** Time the in-memory stores spent answering (the remote service's own work in AWS), per request. */
  service_p50_ms: number;
  /** Handler p99 with the emulated service's time taken out of each request, minus top-N p99. */
  handler_overhead_excl_service_p99_ms: number;
}

/** DynamoDB cost of one batch request. */
export interface BatchCost {
  events: number;
  status: number;
  calls: Record<string, number>;
  write_units: number;
  write_units_per_event: number;
  counter_updates: number;
}

/** The AWS SDK's share: a recommendation's three impression writes alone, through the same client. */
export interface SdkFloor {
  /** p50 / p99 of the three writes (PutItem slate, UpdateItem user aggregate, UpdateItem daily counter), sequential. */
  writes_p50_ms: number;
  writes_p99_ms: number;
  /** The same with the emulated service's own time taken out. */
  writes_excl_service_p99_ms: number;
}

export interface ServeBenchResult {
  storage: string;
  sdk_floor: SdkFloor;
  /** Emulated network round trip added to every DynamoDB and S3 answer (0: none). */
  rtt_ms: number;
  requests: number;
  rows: ServeBenchRow[];
  batches: { new_batch: BatchCost; same_batch_again: BatchCost; distinct_users_batch: BatchCost };
}

const SYNTHETIC = { items: 62_000, factors: 64, users: 2_000, seenPerUser: 40 };
const TOP_N = 10;

/** Deterministic uniform numbers in [-0.5, 0.5) (a 32-bit LCG is plenty for factor values). */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0) / 2 ** 32 - 0.5;
}

/** A synthetic factor model of catalogue size: random factors, a few seen items per user. */
export function syntheticModel({ items, factors, users, seenPerUser }: typeof SYNTHETIC, seed: number): FactorModel {
  const random = lcg(seed);
  const userFactors = new Float32Array(users * factors);
  for (let i = 0; i < userFactors.length; i++) userFactors[i] = random();
  const itemFactors = new Float32Array(items * factors);
  for (let i = 0; i < itemFactors.length; i++) itemFactors[i] = random();
  const seenOffsets = new Int32Array(users + 1);
  const seenItems = new Int32Array(users * seenPerUser);
  for (let u = 0; u < users; u++) {
    const picked = new Set<number>();
    while (picked.size < seenPerUser) picked.add(Math.floor((random() + 0.5) * items));
    seenItems.set(
      [...picked].sort((a, b) => a - b),
      u * seenPerUser,
    );
    seenOffsets[u + 1] = (u + 1) * seenPerUser;
  }
  const itemPopularity = new Float32Array(items);
  for (let i = 0; i < items; i++) itemPopularity[i] = Math.floor((random() + 0.5) * 1000);
  return {
    modelId: 'synthetic-62k',
    algorithm: 'synthetic',
    factors,
    userIds: Array.from({ length: users }, (_, u) => `s${u}`),
    itemIds: Array.from({ length: items }, (_, i) => `item-${i}`),
    userFactors,
    itemFactors,
    userBias: new Float32Array(users),
    itemBias: new Float32Array(items).map(() => random() * 0.1),
    globalBias: 0,
    itemPopularity,
    seenOffsets,
    seenItems,
    ratingScale: [1, 5],
    hyperparameters: { factors },
    metrics: {},
    trainingData: { fingerprint: `synthetic-${seed}`, ratings: users * seenPerUser, users, items, source: 'bench' },
  };
}

/** The memory-bound floor: read every item-factor byte once. Four accumulators, so the adds do not serialise. */
export function sumFactors(v: Float32Array): number {
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  const n = v.length & ~3;
  for (let i = 0; i < n; i += 4) {
    a += v[i];
    b += v[i + 1];
    c += v[i + 2];
    d += v[i + 3];
  }
  for (let i = n; i < v.length; i++) a += v[i];
  return a + b + c + d;
}

/** The q-quantile (nearest rank) of sorted values. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'bench',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:bench',
    memoryLimitInMB: '1769',
    awsRequestId: 'bench',
    logGroupName: '/aws/lambda/bench',
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => 10_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function proxyEvent(method: 'GET' | 'POST', path: string, query: Record<string, string> | null, body?: string): APIGatewayProxyEvent {
  return {
    resource: path,
    path,
    httpMethod: method,
    headers: body ? { 'content-type': 'application/json' } : {},
    multiValueHeaders: {},
    queryStringParameters: query,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: body ?? null,
    isBase64Encoded: false,
    requestContext: { requestId: 'bench', resourcePath: path, httpMethod: method, stage: 'bench' } as APIGatewayProxyEvent['requestContext'],
  };
}

type LambdaHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

interface Harness {
  doc: DynamoDBDocumentClient;
  dynamo: InMemoryDynamo;
  s3: InMemoryS3;
  recommend: LambdaHandler;
  events: LambdaHandler;
}

/**
 * Time spent inside the emulated services. In AWS that work happens on DynamoDB's and S3's
 * servers, not in the Lambda, so the benchmark reports the handler's overhead with and without it.
 */
let serviceMs = 0;
function timeService<T extends { handle: (request: never) => Promise<unknown> }>(store: T, rttMs: number): T {
  const original = store.handle.bind(store) as (request: never) => Promise<unknown>;
  store.handle = (async (request: never) => {
    const started = performance.now();
    try {
      return await original(request);
    } finally {
      serviceMs += performance.now() - started;
      // The emulated network: the answer arrives a round trip later (not counted as service work).
      if (rttMs > 0) await new Promise((resolve) => setTimeout(resolve, rttMs));
    }
  }) as T['handle'];
  return store;
}

/** Points the handlers at in-memory storage: env as the CDK would set it, request handlers swapped. */
async function harness(rttMs: number): Promise<Harness> {
  // The local runtime's environment (same source of truth as the stack), pointed at endpoints
  // that are never dialled: the clients' request handlers are swapped for in-memory stores below.
  Object.assign(process.env, localEnvironment({ dynamoEndpoint: 'http://dynamodb.in-memory.invalid', s3Endpoint: 'http://s3.in-memory.invalid' }), {
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  const { dynamoClient, s3Client } = await import('../../lambdas/common/clients.ts');
  const dynamo = timeService(new InMemoryDynamo(), rttMs);
  const s3 = timeService(new InMemoryS3(), rttMs);
  (dynamoClient().config as { requestHandler: unknown }).requestHandler = dynamo;
  (s3Client().config as { requestHandler: unknown }).requestHandler = s3;
  const recommend = (await import('../../lambdas/recommend.ts')).handler as unknown as LambdaHandler;
  const events = (await import('../../lambdas/events.ts')).handler as unknown as LambdaHandler;
  return { doc: dynamoClient(), dynamo, s3, recommend, events };
}

async function putDirectory(s3: InMemoryS3, dir: string): Promise<void> {
  const entries = await readdir(join(dir, 'models'), { withFileTypes: true, recursive: true });
  for (const entry of entries.filter((e) => e.isFile())) {
    const file = join(entry.parentPath, entry.name);
    s3.put(ARTIFACTS_BUCKET.localName, `models/${relative(join(dir, 'models'), file).split(sep).join('/')}`, await readFile(file));
  }
}

function seedExperiment(dynamo: InMemoryDynamo, experiment: Experiment): void {
  dynamo.seed(TABLES.experiments.localName, { pk: 'EXPERIMENT', sk: experiment.id, revision: experiment.revision, data: experiment });
}

function seedAssignment(dynamo: InMemoryDynamo, experimentId: string, userId: string, variant: string): void {
  dynamo.seed(TABLES.experiments.localName, {
    pk: `ASSIGN#${experimentId}#${userId}`,
    sk: 'A',
    assignment: { experimentId, userId, variant, bucket: 0, propensity: 0.5, assignedAt: '2026-01-01T00:00:00.000Z' },
  });
}

/**
 * Times the warm handler and, interleaved with it (so a noisy neighbour hits both alike), the
 * top-N computation and the factor read on the same users.
 */
async function measure(h: Harness, name: string, serving: ServingModel, experimentId: string, users: string[], requests: number): Promise<ServeBenchRow> {
  const request = (user: string) =>
    h.recommend(proxyEvent('GET', '/recommend', { user_id: user, top_n: String(TOP_N), experiment_id: experimentId }), lambdaContext());
  for (let i = 0; i < Math.min(200, requests); i++) {
    const response = await request(users[i % users.length]);
    if (response.statusCode !== 200) throw new Error(`warm-up request for ${name} answered ${response.statusCode}: ${response.body}`);
    recommendTopN(serving, users[i % users.length], TOP_N);
    sumFactors(serving.model.itemFactors);
  }
  const handlerMs: number[] = [];
  const ownMs: number[] = [];
  const servedMs: number[] = [];
  const topNMs: number[] = [];
  const floorMs: number[] = [];
  let sink = 0;
  for (let i = 0; i < requests; i++) {
    const user = users[i % users.length];
    let t = performance.now();
    const serviceBefore = serviceMs;
    const response = await request(user);
    const elapsed = performance.now() - t;
    handlerMs.push(elapsed);
    servedMs.push(serviceMs - serviceBefore);
    ownMs.push(elapsed - (serviceMs - serviceBefore));
    if (JSON.parse(response.body).fallback !== null) throw new Error(`${name}: user ${user} got a fallback, the benchmark needs personal scores`);
    t = performance.now();
    sink += recommendTopN(serving, user, TOP_N).items.length;
    topNMs.push(performance.now() - t);
    t = performance.now();
    sink += sumFactors(serving.model.itemFactors);
    floorMs.push(performance.now() - t);
  }
  if (Number.isNaN(sink)) throw new Error('unreachable: keeps the measured work alive');
  for (const a of [handlerMs, ownMs, servedMs, topNMs, floorMs]) a.sort((x, y) => x - y);
  const floor = quantile(floorMs, 0.5);
  const topN50 = quantile(topNMs, 0.5);
  return {
    artifact: name,
    items: serving.model.itemIds.length,
    factors: serving.model.factors,
    handler_p50_ms: round3(quantile(handlerMs, 0.5)),
    handler_p99_ms: round3(quantile(handlerMs, 0.99)),
    topn_p50_ms: round3(topN50),
    topn_p99_ms: round3(quantile(topNMs, 0.99)),
    floor_ms: round3(floor),
    topn_over_floor: floor > 0 ? round3(topN50 / floor) : 0,
    handler_overhead_p99_ms: round3(quantile(handlerMs, 0.99) - quantile(topNMs, 0.99)),
    service_p50_ms: round3(quantile(servedMs, 0.5)),
    handler_overhead_excl_service_p99_ms: round3(quantile(ownMs, 0.99) - quantile(topNMs, 0.99)),
  };
}

/**
 * The three DynamoDB writes of a recorded impression, alone, through the handlers' own client:
 * the floor the AWS SDK sets under the handler's overhead whatever the handler does.
 */
async function sdkFloor(h: Harness, requests: number): Promise<SdkFloor> {
  const slate = Array.from({ length: TOP_N }, (_, i) => ({ item_id: `item-${i}`, position: i + 1, score: 4.2 - i / 10 }));
  const writes = async (i: number) => {
    const id = `imp-floor-${i}`;
    await h.doc.send(
      new PutCommand({
        TableName: TABLES.events.localName,
        Item: { pk: `EVENT#${id}`, sk: 'E', event_id: id, event_type: 'impression', user_id: 'floor', slate, counted: true },
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    await h.doc.send(
      new UpdateCommand({
        TableName: TABLES.counters.localName,
        Key: { pk: 'EXP#floor#USER#floor', sk: 'AGG' },
        UpdateExpression: 'ADD #c :c, #m :m, #p :p',
        ExpressionAttributeNames: { '#c': 'clicks', '#m': 'impressions', '#p': 'purchases' },
        ExpressionAttributeValues: { ':c': 0, ':m': 1, ':p': 0 },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    await h.doc.send(
      new UpdateCommand({
        TableName: TABLES.counters.localName,
        Key: { pk: 'EXP#floor#VAR#control', sk: 'DAY#2026-01-01#S00' },
        UpdateExpression: 'ADD #m :m, #s :s',
        ExpressionAttributeNames: { '#m': 'impressions', '#s': 'user_impressions_sq_sum' },
        ExpressionAttributeValues: { ':m': 1, ':s': 2 * i + 1 },
      }),
    );
  };
  for (let i = 0; i < 200; i++) await writes(-1 - i);
  const total: number[] = [];
  const own: number[] = [];
  for (let i = 0; i < requests; i++) {
    const serviceBefore = serviceMs;
    const t = performance.now();
    await writes(i);
    const elapsed = performance.now() - t;
    total.push(elapsed);
    own.push(elapsed - (serviceMs - serviceBefore));
  }
  total.sort((a, b) => a - b);
  own.sort((a, b) => a - b);
  return { writes_p50_ms: round3(quantile(total, 0.5)), writes_p99_ms: round3(quantile(total, 0.99)), writes_excl_service_p99_ms: round3(quantile(own, 0.99)) };
}

/** Sends one batch and returns what it cost in DynamoDB. */
async function batchCost(h: Harness, events: unknown[]): Promise<BatchCost> {
  h.dynamo.resetCounts();
  const response = await h.events(proxyEvent('POST', '/events/batch', null, JSON.stringify({ events })), lambdaContext());
  const counts: CallCounts = h.dynamo.counts;
  return {
    events: events.length,
    status: response.statusCode,
    calls: counts.calls,
    write_units: counts.writeUnits,
    write_units_per_event: round3(counts.writeUnits / events.length),
    counter_updates: counts.calls[`UpdateItem ${TABLES.counters.localName}`] ?? 0,
  };
}

function batchEvents(experimentId: string, users: string[], size: number, prefix: string) {
  const types = ['impression', 'impression', 'impression', 'impression', 'impression', 'click', 'click', 'click', 'purchase', 'rating'];
  return Array.from({ length: size }, (_, i) => {
    const type = types[i % types.length];
    return {
      event_id: `${prefix}-${i}`,
      event_type: type,
      user_id: users[i % users.length],
      experiment_id: experimentId,
      item_id: type === 'click' || type === 'purchase' ? `item-${i % 97}` : undefined,
      value: type === 'purchase' ? 9.99 : type === 'rating' ? (i % 5) + 1 : undefined,
      position: (i % 10) + 1,
    };
  });
}

/** Runs the whole benchmark. */
export async function runServeBench({
  requests,
  artifactsDir,
  seed,
  rttMs = 0,
}: {
  requests: number;
  artifactsDir: string;
  seed: number;
  rttMs?: number;
}): Promise<ServeBenchResult> {
  const h = await harness(rttMs);
  const rows: ServeBenchRow[] = [];

  // The default artifacts, served by the default experiment exactly as the local runtime creates it.
  const set = await readDefaultModelSet(artifactsDir);
  await putDirectory(h.s3, artifactsDir);
  const experiment = defaultExperiment({ controlModel: set.control, treatmentModel: set.treatment });
  seedExperiment(h.dynamo, experiment);
  const store = new DirectoryModelArtifactStore(artifactsDir);
  for (const [variant, ref] of [
    ['treatment', set.treatment],
    ['control', set.control],
  ] as const) {
    const serving = prepareForServing(await store.loadModel(ref.model_id, ref.model_version));
    const users = serving.model.userIds.slice(0, 200);
    for (const user of users) seedAssignment(h.dynamo, experiment.id, user, variant);
    rows.push(await measure(h, `default ${variant} (${ref.model_id})`, serving, experiment.id, users, requests));
  }

  // The catalogue-sized synthetic artifact, pinned by both variants of its own experiment.
  const model = syntheticModel(SYNTHETIC, seed);
  const encoded = encodeArtifact(model, new Date('2026-01-01T00:00:00Z'));
  const prefix = artifactPrefix(encoded.manifest.model_id, encoded.manifest.version);
  for (const [path, bytes] of encoded.files) h.s3.put(ARTIFACTS_BUCKET.localName, prefix + path, bytes);
  h.s3.put(ARTIFACTS_BUCKET.localName, `${prefix}manifest.json`, JSON.stringify(encoded.manifest));
  const ref = { model_id: encoded.manifest.model_id, model_version: encoded.manifest.version };
  const synthetic = { ...defaultExperiment({ controlModel: ref, treatmentModel: ref }), id: 'bench-synthetic', salt: 'bench-synthetic' };
  seedExperiment(h.dynamo, synthetic);
  const syntheticUsers = model.userIds.slice(0, 500);
  for (const [i, user] of syntheticUsers.entries()) seedAssignment(h.dynamo, synthetic.id, user, i % 2 ? 'treatment' : 'control');
  rows.push(await measure(h, `synthetic ${SYNTHETIC.items}x${SYNTHETIC.factors}`, prepareForServing(model), synthetic.id, syntheticUsers, requests));

  const floor = await sdkFloor(h, requests);

  // Write costs: 1,000 events of 100 users, the same batch again, and 1,000 events of 1,000 users.
  // Events must name an experiment that exists (unknown ones are refused before any write).
  seedExperiment(h.dynamo, { ...defaultExperiment({ controlModel: set.control, treatmentModel: set.treatment }), id: 'bench-writes', salt: 'bench-writes' });
  const batchUsers = Array.from({ length: 1000 }, (_, i) => `writer-${i}`);
  for (const [i, user] of batchUsers.entries()) seedAssignment(h.dynamo, 'bench-writes', user, i % 2 ? 'treatment' : 'control');
  const batch = batchEvents('bench-writes', batchUsers.slice(0, 100), 1000, 'w');
  const newBatch = await batchCost(h, batch);
  const again = await batchCost(h, batch);
  const distinct = await batchCost(h, batchEvents('bench-writes', batchUsers, 1000, 'distinct'));

  return {
    storage:
      'in-memory DynamoDB and S3 behind the SDK request handler (full SDK stack, no network); DynamoDB semantics incl. ReturnValuesOnConditionCheckFailure',
    rtt_ms: rttMs,
    sdk_floor: floor,
    requests,
    rows,
    batches: { new_batch: newBatch, same_batch_again: again, distinct_users_batch: distinct },
  };
}

function table(result: ServeBenchResult): string {
  const header = [
    'artifact',
    'items',
    'k',
    'handler p50',
    'handler p99',
    'top-N p50',
    'top-N p99',
    'floor',
    'top-N/floor',
    'overhead p99',
    'service p50',
    'overhead p99 excl. service',
  ];
  const lines = result.rows.map((r) =>
    [
      r.artifact,
      r.items,
      r.factors,
      r.handler_p50_ms,
      r.handler_p99_ms,
      r.topn_p50_ms,
      r.topn_p99_ms,
      r.floor_ms,
      r.topn_over_floor,
      r.handler_overhead_p99_ms,
      r.service_p50_ms,
      r.handler_overhead_excl_service_p99_ms,
    ].map(String),
  );
  const batchLine = (name: string, b: BatchCost) =>
    `  ${name.padEnd(26)} status ${b.status}, ${Object.entries(b.calls)
      .map(([op, n]) => `${op} ${n}`)
      .join(', ')}; ${b.write_units} WCU (${b.write_units_per_event}/event), ${b.counter_updates} counter updates`;
  return [
    `Serving, in process (${result.requests} warm requests per artifact, times in ms; storage: ${result.storage}${result.rtt_ms > 0 ? `; every answer delayed by an emulated ${result.rtt_ms} ms round trip, so the handler columns include the waits` : ''})`,
    ...textTable([header, ...lines], { rule: false }),
    `AWS SDK floor: the three impression writes alone through the same client (PutItem slate, UpdateItem user aggregate, UpdateItem daily counter): p50 ${result.sdk_floor.writes_p50_ms}, p99 ${result.sdk_floor.writes_p99_ms}, p99 excl. service ${result.sdk_floor.writes_excl_service_p99_ms}`,
    '',
    'DynamoDB cost of POST /events/batch',
    batchLine('1,000 events, 100 users', result.batches.new_batch),
    batchLine('the same batch again', result.batches.same_batch_again),
    batchLine('1,000 events, 1,000 users', result.batches.distinct_users_batch),
    '',
  ].join('\n');
}

export const benchServeCommand: CliCommand = {
  path: ['bench', 'serve'],
  summary: 'Serving benchmark: handler and top-N latency against the memory-bound floor, write units per event batch',
  help: `Usage: abrec bench serve [--requests N] [--seed S] [--artifacts DIR] [--rtt-ms MS] [--json]

Runs the GET /recommend and POST /events/batch handlers in process, on in-memory DynamoDB and
S3 behind the AWS SDK's request handler (the whole SDK stack runs, no network):

  - for the default artifacts (default-set.json) and a synthetic 62,000-item x 64-factor
    artifact: the warm handler's p50 and p99, the top-N time alone and floor_ms, the time to
    read every item-factor byte once (goal: top-N within 1.5 x floor_ms; handler overhead
    beyond top-N under 1 ms at p99);
  - the DynamoDB calls and write units spent on a 1,000-event batch and on the same batch
    again (goal: at most 2 write units per new event, no counter update for a duplicate).

Options:
  --requests N     measured requests per artifact (default 1000)
  --seed S         seed of the synthetic artifact (default 42)
  --artifacts DIR  the default model set (default model-artifacts/)
  --rtt-ms MS      delay every DynamoDB and S3 answer by MS ms, an emulated network round
                   trip: the handler p50 then shows how many round trips a request waits
                   for (default 0)
  --json           also print one JSON object as the last line
  -h, --help       show this help

Example: npm run bench:serve -- --requests 2000 --rtt-ms 1`,
  run: async (argv, io) => {
    const values = parseCommandArgs(argv, {
      requests: { type: 'string' },
      seed: { type: 'string' },
      artifacts: { type: 'string' },
      'rtt-ms': { type: 'string' },
      json: { type: 'boolean' },
    });
    const requests = Number(values.requests ?? '1000');
    if (!Number.isInteger(requests) || requests < 10) throw new UsageError(`--requests must be an integer of at least 10, got "${values.requests}"`);
    const seed = Number(values.seed ?? '42');
    if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got "${values.seed}"`);
    const rttMs = Number(values['rtt-ms'] ?? '0');
    if (!Number.isFinite(rttMs) || rttMs < 0 || rttMs > 1000)
      throw new UsageError(`--rtt-ms must be a number of milliseconds from 0 to 1000, got "${values['rtt-ms']}"`);
    const result = await runServeBench({ requests, seed, rttMs, artifactsDir: values.artifacts ?? DEFAULT_ARTIFACTS_DIR });
    io.stdout(table(result));
    if (values.json) io.stdout(`${JSON.stringify(result)}\n`);
    return 0;
  },
};
