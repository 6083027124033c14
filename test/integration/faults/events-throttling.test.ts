/**
 * Fault: DynamoDB throttles (ProvisionedThroughputExceededException, ThrottlingException) and
 * answers BatchGetItem with UnprocessedKeys, under POST /events/batch (the events handler in
 * process, in front of a real dynalite). The faults are injected by middlewares on the handler's
 * own DynamoDB client: throttles inside the SDK's retry loop, as a fake HTTP answer the SDK parses
 * and retries like DynamoDB's own; partial batch answers before the call, by sending only some
 * keys and answering the rest as unprocessed. Nothing injected reaches dynalite.
 *
 * Documented behaviour:
 * - a throttled call is retried by the SDK (3 attempts, its throttling backoff); events whose
 *   writes succeed within those are stored and counted once, the answer is 200;
 * - a write still throttled after the SDK's attempts fails its group: the group is undone (undo
 *   writes are retried with full jitter while throttled, since a throttle proves nothing was
 *   applied) and the answer is 503 naming exactly the event ids not stored; a retry of the same
 *   batch counts exactly those;
 * - UnprocessedKeys of the assignment reads (and of the interleaved impression reads that credit
 *   clicks) are read again with exponential backoff and full jitter, so no event is counted
 *   under the wrong variant (`~unassigned`) or credited to nobody; keys still unprocessed after 6
 *   calls make the request a 503 naming every event, before anything is written;
 * - BatchWriteItem is not used (an event's claim is a conditional put, which BatchWriteItem
 *   cannot carry), so UnprocessedItems cannot occur.
 *
 * Reconciliation: after the retries, each variant's counters equal exactly the distinct events
 * sent (event sums and the user-level sums), and nothing is counted under `~unassigned`.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS_BUCKET, FUNCTIONS, TABLES } from '../../../lib/resources.ts';
import { localEnvironment } from '../../../local/runtime.ts';
import type { EventInput } from '../../../lambdas/domain/events/event.ts';
import { UNASSIGNED_VARIANT } from '../../../lambdas/domain/events/event.ts';
import { INTERLEAVING_COUNTER_VARIANT } from '../../../lambdas/domain/events/interleaving-credit.ts';
import { encodeArtifact } from '../../../lambdas/domain/recommenders/artifact.ts';
import { twoArmExperiment } from '../../../lambdas/services/synthetic-counters.ts';
import { S3ModelArtifactStore } from '../../../lambdas/storage/artifact-store.ts';
import { DynamoCounterRepository } from '../../../lambdas/storage/counter-store.ts';
import { DynamoExperimentRepository } from '../../../lambdas/storage/experiment-repository.ts';
import { startLocalAws, type LocalAws } from '../../helpers/local-aws.ts';
import { apiEvent, bodyOf, jsonPost, lambdaContext } from '../../handlers/support/api-gateway.ts';
import {
  CALL_LEVEL,
  DynamoFaultInjector,
  WIRE_LEVEL,
  eventPool,
  expectedTotals,
  factorModel,
  isNegative,
  pick,
  pkOf,
  sumDays,
  type DynamoInput,
  type ThrottleError,
} from './support/faults.ts';

const USERS = Array.from({ length: 24 }, (_, i) => `throttle-user-${i}`);
const variantOf = (userId: string) => (Number(userId.split('-').pop()) % 2 === 0 ? 'control' : 'treatment');
const EXPERIMENTS = {
  retried: 'exp-throttle-retried',
  exhausted: 'exp-throttle-exhausted',
  unprocessed: 'exp-unprocessed',
  stuck: 'exp-unprocessed-stuck',
  interleaving: 'exp-unprocessed-interleaving',
};

type Handler = (event: never, context: never) => Promise<APIGatewayProxyResult>;
let aws: LocalAws;
let eventsHandler: Handler;
let recommendHandler: Handler;
let faults: DynamoFaultInjector;
let counters: DynamoCounterRepository;

/** Which step of ingestion a DynamoDB call is. */
function stepOf(commandName: string | undefined, input: DynamoInput): string {
  const pk = pkOf(input);
  if (commandName === 'BatchGetItemCommand') return input.RequestItems?.[TABLES.events.localName] ? 'impression-batch-get' : 'assignment-batch-get';
  if (pk === 'EXPERIMENT') return 'experiment-get';
  if (commandName === 'PutItemCommand') return pk.startsWith('ASSIGN#') ? 'assignment-put' : 'claim';
  const sk = input.Key?.sk ?? '';
  if (pk.includes('#USER#') && sk.startsWith('DAY#'))
    return commandName === 'GetItemCommand' ? 'quota-get' : isNegative(input) ? 'quota-give-back' : 'quota-take';
  if (commandName === 'GetItemCommand') return 'get';
  if (pk.includes('#USER#')) return isNegative(input) ? 'user-undo' : 'user-add';
  if (pk.includes('#VAR#')) return isNegative(input) ? 'daily-undo' : 'daily-add';
  if (pk.startsWith('EVENT#imp-')) return 'team-credit';
  if (pk.startsWith('EVENT#')) return input.ExpressionAttributeValues?.[':true'] === true ? 'reclaim' : 'unclaim';
  return commandName ?? 'unknown';
}

/** A Lambda context with the function's own timeout left (middy answers early when it runs out). */
const contextOf = (name: 'events' | 'recommend') => ({ ...lambdaContext(name), getRemainingTimeInMillis: () => FUNCTIONS[name].timeoutSeconds * 1000 });

const post = (events: EventInput[]) =>
  eventsHandler(jsonPost('/events/batch', { events }, { resource: '/events/batch' }) as never, contextOf('events') as never);

/** Posts the batches at once, then retries every one not answered 200 (at most 5 rounds); returns the first answers and the batches left. */
async function postAndRetry(batches: EventInput[][]): Promise<{ first: APIGatewayProxyResult[]; left: EventInput[][] }> {
  const first = await Promise.all(batches.map(post));
  let left = batches.filter((_, i) => first[i].statusCode !== 200);
  for (let round = 0; round < 5 && left.length > 0; round++) {
    const answers = await Promise.all(left.map(post));
    left = left.filter((_, i) => answers[i].statusCode !== 200);
  }
  return { first, left };
}

/** Each variant's counters summed over days, for the metrics `expected` names (and `~unassigned`, which must stay empty). */
async function storedTotals(experimentId: string, expected: Record<string, Record<string, number>>) {
  const out: Record<string, Record<string, number>> = {};
  for (const [variant, metrics] of Object.entries(expected))
    out[variant] = pick(sumDays(await counters.dailyCounters(experimentId, variant)), Object.keys(metrics));
  return { ...out, [UNASSIGNED_VARIANT]: sumDays(await counters.dailyCounters(experimentId, UNASSIGNED_VARIANT)) };
}

/** An event's stored item (every event of these tests has an id). */
async function eventItem(eventId: string | undefined) {
  const { Item } = await aws.doc.send(new GetCommand({ TableName: TABLES.events.localName, Key: { pk: `EVENT#${eventId}`, sk: 'E' }, ConsistentRead: true }));
  return Item;
}

/** The batches of one scenario: `count` batches of 100 over a pool of `count × 80` events (consecutive batches share 20 ids unless `disjoint`). */
function batchesOf(experimentId: string, count: number, { disjoint = false } = {}): EventInput[][] {
  const pool = eventPool({ prefix: experimentId, experimentId, users: USERS, size: count * (disjoint ? 100 : 80) });
  const stride = disjoint ? 100 : 80;
  return Array.from({ length: count }, (_, b) => Array.from({ length: 100 }, (_, j) => pool[(b * stride + j) % pool.length]));
}

const distinctOf = (batches: EventInput[][]) => [...new Map(batches.flat().map((e) => [e.event_id, e])).values()];
const errorOf = (nth: number): ThrottleError => (nth % 2 === 0 ? 'ProvisionedThroughputExceededException' : 'ThrottlingException');

beforeAll(async () => {
  aws = await startLocalAws();
  // The SDK's own retries are part of the behaviour under test: its default of 3 attempts.
  delete process.env.AWS_MAX_ATTEMPTS;
  Object.assign(process.env, localEnvironment(aws.servers), { POWERTOOLS_LOG_LEVEL: 'SILENT' });
  const experiments = new DynamoExperimentRepository(aws.doc, TABLES.experiments.localName);
  counters = new DynamoCounterRepository(aws.doc, TABLES.counters.localName);
  const now = new Date();
  for (const id of [EXPERIMENTS.retried, EXPERIMENTS.exhausted, EXPERIMENTS.unprocessed, EXPERIMENTS.stuck]) {
    await experiments.create(twoArmExperiment(id, { now }));
    for (const [i, userId] of USERS.entries()) {
      await experiments.putAssignmentIfAbsent({
        experimentId: id,
        userId,
        variant: variantOf(userId),
        bucket: i,
        propensity: 0.5,
        assignedAt: now.toISOString(),
      });
    }
  }
  const store = new S3ModelArtifactStore(aws.s3, ARTIFACTS_BUCKET.localName);
  const a = encodeArtifact(factorModel('throttle-a', { users: USERS, items: 40, tilt: 0 }));
  const b = encodeArtifact(factorModel('throttle-b', { users: USERS, items: 40, tilt: 2 }));
  await store.putArtifact(a);
  await store.putArtifact(b);
  await experiments.create(
    twoArmExperiment(EXPERIMENTS.interleaving, {
      now,
      mode: 'interleaving',
      variants: [
        { name: 'control', model_id: 'throttle-a', model_version: a.manifest.version, weight: 0.5, is_control: true },
        { name: 'treatment', model_id: 'throttle-b', model_version: b.manifest.version, weight: 0.5 },
      ],
    }),
  );
  ({ handler: eventsHandler } = (await import('../../../lambdas/events.ts')) as unknown as { handler: Handler });
  ({ handler: recommendHandler } = (await import('../../../lambdas/recommend.ts')) as unknown as { handler: Handler });
  const { dynamoClient } = await import('../../../lambdas/common/clients.ts');
  faults = new DynamoFaultInjector(stepOf);
  dynamoClient().middlewareStack.add(faults.callLevel as never, CALL_LEVEL);
  dynamoClient().middlewareStack.add(faults.wireLevel as never, WIRE_LEVEL);
});

afterAll(async () => {
  await aws?.stop();
});

describe('POST /events/batch while DynamoDB throttles', () => {
  it('stores every event exactly once when the SDK retries absorb the throttles', async () => {
    // Prepare: the first attempt of every 4th claim, 3rd user aggregate, 2nd daily counter and
    // odd assignment read is throttled, and the second attempt of every 9th user aggregate.
    faults.reset();
    faults.throttle = (step, nth, attempt) => {
      const hit =
        (step === 'claim' && nth % 4 === 0 && attempt === 1) ||
        (step === 'user-add' && ((nth % 3 === 0 && attempt === 1) || (nth % 9 === 0 && attempt === 2))) ||
        (step === 'daily-add' && nth % 2 === 0 && attempt === 1) ||
        (step === 'assignment-batch-get' && nth % 2 === 1 && attempt === 1) ||
        (step === 'experiment-get' && attempt === 1);
      return hit ? errorOf(nth) : undefined;
    };
    const batches = batchesOf(EXPERIMENTS.retried, 5);

    // Act
    const { first, left } = await postAndRetry(batches);

    // Assess
    expect(faults.throttled.length).toBeGreaterThan(100);
    expect(faults.throttled).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^claim#/),
        expect.stringMatching(/^user-add#\d+@2$/),
        expect.stringMatching(/^daily-add#/),
        expect.stringMatching(/^assignment-batch-get#/),
      ]),
    );
    expect(first.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200]);
    expect(left).toEqual([]);
    const expected = expectedTotals(distinctOf(batches), variantOf);
    expect(await storedTotals(EXPERIMENTS.retried, expected)).toEqual({ ...expected, [UNASSIGNED_VARIANT]: {} });
  });

  it('answers 503 naming exactly the events not stored when throttling outlasts the SDK retries, and a retry counts them once', async () => {
    // Prepare: every attempt of a few forward writes is throttled (the SDK gives up after 3), and
    // of the first undo writes that follow (each is tried again by the undo's own retries, as a
    // new call). A daily-limit take that fails refuses its whole request before anything is stored.
    faults.reset();
    faults.throttle = (step, nth, attempt) => {
      const exhausted =
        (step === 'claim' && (nth === 30 || nth === 230)) ||
        (step === 'user-add' && nth === 5) ||
        (step === 'daily-add' && (nth === 3 || nth === 8)) ||
        (step === 'quota-take' && nth === 40);
      const undo = (step === 'user-undo' || step === 'unclaim' || step === 'daily-undo') && nth <= 4;
      return exhausted || undo ? errorOf(nth + attempt) : undefined;
    };
    const batches = batchesOf(EXPERIMENTS.exhausted, 4, { disjoint: true });

    // Act
    const first = await Promise.all(batches.map(post));
    const named = first.map((r) =>
      r.statusCode === 503 ? bodyOf<{ error: { details: { field: string; message: string }[] } }>(r).error.details.map((d) => d.message) : [],
    );
    const countedAfterFirst = await Promise.all(batches.map((batch) => Promise.all(batch.map(async (e) => (await eventItem(e.event_id))?.counted === true))));
    faults.throttle = () => undefined;
    const retried = await Promise.all(batches.map((batch, i) => (first[i].statusCode === 200 ? undefined : post(batch))));

    // Assess
    // Undo writes throttled through all of the SDK's attempts, then retried by the undo itself.
    expect(faults.throttled).toEqual(expect.arrayContaining(['user-undo#1@3', 'unclaim#1@3']));
    expect(faults.seen.get('unclaim')).toBeGreaterThan(4);
    expect(first.map((r) => (r.statusCode === 200 || r.statusCode === 503 ? 'ok' : r.body))).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(first.filter((r) => r.statusCode === 503).length).toBeGreaterThan(0);
    batches.forEach((batch, i) => {
      // Acknowledged = counted: an event is counted after the first answer exactly when the answer did not name it.
      const notStored = new Set<string | undefined>(named[i]);
      expect(batch.filter((_, j) => !countedAfterFirst[i][j]).map((e) => e.event_id)).toEqual(
        batch.filter((e) => notStored.has(e.event_id)).map((e) => e.event_id),
      );
    });
    expect(retried.map((r) => r?.statusCode ?? 200)).toEqual([200, 200, 200, 200]);
    const expected = expectedTotals(distinctOf(batches), variantOf);
    expect(await storedTotals(EXPERIMENTS.exhausted, expected)).toEqual({ ...expected, [UNASSIGNED_VARIANT]: {} });
  });
});

describe('POST /events/batch while BatchGetItem leaves keys unprocessed', () => {
  it('reads the unprocessed assignments again, so every event is counted under its variant', async () => {
    // Prepare: every assignment read processes only half of its keys (rounded up).
    faults.reset();
    faults.processKeys = (step, _nth, keys) => (step === 'assignment-batch-get' ? Math.ceil(keys / 2) : keys);
    const batches = batchesOf(EXPERIMENTS.unprocessed, 3);

    // Act
    const { first, left } = await postAndRetry(batches);

    // Assess
    expect(faults.unprocessed.filter((n) => n > 0).length).toBeGreaterThan(3);
    expect(first.map((r) => r.statusCode)).toEqual([200, 200, 200]);
    expect(left).toEqual([]);
    const expected = expectedTotals(distinctOf(batches), variantOf);
    expect(await storedTotals(EXPERIMENTS.unprocessed, expected)).toEqual({ ...expected, [UNASSIGNED_VARIANT]: {} });
  });

  it('answers 503 naming every event, writing nothing, when keys stay unprocessed, and the retry counts them once', async () => {
    // Prepare: the assignment reads of the first request process nothing, 6 calls in a row.
    faults.reset();
    faults.processKeys = (step, nth, keys) => (step === 'assignment-batch-get' && nth <= 6 ? 0 : keys);
    const [batch] = batchesOf(EXPERIMENTS.stuck, 1, { disjoint: true });

    // Act
    const first = await post(batch);
    const storedAfterFirst = await Promise.all(batch.map((e) => eventItem(e.event_id)));
    const retry = await post(batch);

    // Assess
    expect(first.statusCode).toBe(503);
    expect(
      bodyOf<{ error: { details: { message: string }[] } }>(first)
        .error.details.map((d) => d.message)
        .sort(),
    ).toEqual(batch.map((e) => e.event_id).sort());
    expect(storedAfterFirst.filter((item) => item !== undefined)).toEqual([]);
    expect(retry.statusCode).toBe(200);
    const expected = expectedTotals(distinctOf([batch]), variantOf);
    expect(await storedTotals(EXPERIMENTS.stuck, expected)).toEqual({ ...expected, [UNASSIGNED_VARIANT]: {} });
  });

  it('reads the unprocessed impression slates again, so every interleaved click is credited to the team that placed it', async () => {
    // Prepare: 30 interleaved slates; one click on each of the first four items of each.
    faults.reset();
    const slates: { request_id: string; user_id: string; items: { item_id: string; variant: string }[] }[] = [];
    for (let i = 0; i < 30; i++) {
      const userId = USERS[i % USERS.length];
      const answer = await recommendHandler(
        apiEvent({ path: '/recommend', query: { user_id: userId, top_n: '6', experiment_id: EXPERIMENTS.interleaving } }) as never,
        contextOf('recommend') as never,
      );
      const body = bodyOf<{ request_id: string; impression_recorded: boolean; items: { item_id: string; variant: string }[] }>(answer);
      expect(body.impression_recorded).toBe(true);
      slates.push({ request_id: body.request_id, user_id: userId, items: body.items });
    }
    const clicks = slates.flatMap((slate) =>
      slate.items.slice(0, 4).map(
        (item, rank) =>
          ({
            event_id: `ilv-${slate.request_id}-${rank}`,
            event_type: 'click',
            user_id: slate.user_id,
            experiment_id: EXPERIMENTS.interleaving,
            item_id: item.item_id,
            request_id: slate.request_id,
            position: rank + 1,
          }) as EventInput,
      ),
    );
    faults.processKeys = (step, _nth, keys) => (step === 'impression-batch-get' ? Math.ceil(keys / 2) : keys);

    // Act
    const answer = await post(clicks);

    // Assess
    expect(answer.statusCode).toBe(200);
    expect(faults.unprocessed.filter((n) => n > 0).length).toBeGreaterThan(2);
    const byVariant = (variant: string) => slates.flatMap((slate) => slate.items.slice(0, 4)).filter((item) => item.variant === variant).length;
    for (const variant of ['control', 'treatment']) {
      expect({ variant, clicks: sumDays(await counters.dailyCounters(EXPERIMENTS.interleaving, variant)).clicks ?? 0 }).toEqual({
        variant,
        clicks: byVariant(variant),
      });
    }
    const uncredited = await Promise.all(clicks.map(async (click) => (await eventItem(click.event_id))?.no_credit_reason));
    expect(uncredited.filter((reason) => reason !== undefined)).toEqual([]);
    expect(sumDays(await counters.dailyCounters(EXPERIMENTS.interleaving, INTERLEAVING_COUNTER_VARIANT)).interleaved_impressions).toBe(30);
  });
});
