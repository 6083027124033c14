import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { apiEvent, bodyOf, fieldsOf, jsonPost, lambdaContext } from './support/api-gateway.ts';
import { FakeTables, conditionalCheckFailed } from './support/aws.ts';
import { TABLE, stubHandlerEnv } from './support/env.ts';
import './support/matchers.ts';
import { NOW } from './support/models.ts';
import { defaultExperiment } from '../../lambdas/domain/experiments/defaults.ts';
import type { Experiment } from '../../lambdas/domain/experiments/model.ts';
import { counterShard } from '../../lambdas/domain/events/counters.ts';
import { counterKey } from '../../lambdas/storage/counter-store.ts';
import { interactionLogKey } from '../../lambdas/storage/interaction-log.ts';

/** An interleaving experiment (control = team a, treatment = team b), seeded per test. */
const INTERLEAVING_ID = 'il-exp';
const interleavingExperiment = {
  ...defaultExperiment({ controlModel: { model_id: 'm-a', model_version: 'aaaa' }, treatmentModel: { model_id: 'm-b', model_version: 'bbbb' }, now: NOW }),
  id: INTERLEAVING_ID,
  mode: 'interleaving',
} as Experiment;

/** The A/B experiment most tests post to: events for experiments that do not exist are refused. */
const abExperiment = {
  ...defaultExperiment({ controlModel: { model_id: 'm-a', model_version: 'aaaa' }, treatmentModel: { model_id: 'm-b', model_version: 'bbbb' }, now: NOW }),
  id: 'default',
} as Experiment;

const ddb = mockClient(DynamoDBDocumentClient);
const today = NOW.toISOString().slice(0, 10);
let handler: typeof import('../../lambdas/events.ts').handler;
let assignments: FakeAssignments;

const click = (overrides: Record<string, unknown> = {}) => ({
  event_id: 'evt-1',
  event_type: 'click',
  user_id: 'u1',
  experiment_id: 'default',
  item_id: 'i4',
  position: 1,
  ...overrides,
});

/**
 * Assignments answered to BatchGetItem (the handler reads them 100 keys per call), with the
 * first `unprocessedRounds` calls leaving their last key unprocessed, as a throttled table does.
 */
class FakeAssignments {
  private readonly variants = new Map<string, string>();
  private readonly segments = new Map<string, string>();
  /** Impression slates in the events table, by pk, for interleaving credit. */
  readonly impressions = new Map<string, Record<string, unknown>>();
  unprocessedRounds = 0;

  constructor() {
    ddb.on(BatchGetCommand).callsFake((input: { RequestItems: Record<string, { Keys: { pk: string }[] }> }) => {
      if (input.RequestItems[TABLE.events]) {
        const items = input.RequestItems[TABLE.events].Keys.flatMap(({ pk }) => (this.impressions.has(pk) ? [this.impressions.get(pk)!] : []));
        return { Responses: { [TABLE.events]: items }, UnprocessedKeys: {} };
      }
      const keys = input.RequestItems[TABLE.experiments].Keys;
      const served = this.unprocessedRounds-- > 0 ? keys.slice(0, -1) : keys;
      const items = served.flatMap(({ pk }) => {
        const variant = this.variants.get(pk);
        const [, experimentId, userId] = pk.split('#');
        const segment = this.segments.get(pk);
        return variant
          ? [
              {
                assignment: {
                  experimentId,
                  userId,
                  variant,
                  bucket: 1,
                  propensity: 0.5,
                  assignedAt: NOW.toISOString(),
                  ...(segment === undefined ? {} : { segment }),
                },
              },
            ]
          : [];
      });
      const unprocessed = keys.slice(served.length);
      return { Responses: { [TABLE.experiments]: items }, UnprocessedKeys: unprocessed.length ? { [TABLE.experiments]: { Keys: unprocessed } } : {} };
    });
  }

  seed(experimentId: string, userId: string, variant: string, segment?: string): this {
    this.variants.set(`ASSIGN#${experimentId}#${userId}`, variant);
    if (segment !== undefined) this.segments.set(`ASSIGN#${experimentId}#${userId}`, segment);
    return this;
  }

  /** An interleaved impression slate as /recommend stores it (request id `req-<n>`). */
  seedImpression(requestId: string, { userId = 'u1', experimentId = INTERLEAVING_ID, counted = true } = {}): this {
    return this.seedSlate(requestId, {
      userId,
      experimentId,
      counted,
      slate: [
        { item_id: 'i4', position: 1, score: 2, team: 'a', variant: 'control' },
        { item_id: 'i7', position: 2, score: 1.5, team: 'b', variant: 'treatment' },
        { item_id: 'i2', position: 3, score: 1, team: 'b', variant: 'treatment' },
      ],
    });
  }

  /** A slate as /recommend stores it for an A/B experiment (default: user u1 in `default`, items i4 and i5). */
  seedSlate(
    requestId: string,
    {
      userId = 'u1',
      experimentId = 'default',
      counted = true,
      slate = [{ item_id: 'i4', position: 1, score: 2 } as Record<string, unknown>, { item_id: 'i5', position: 2, score: 1 }],
    } = {},
  ): this {
    this.impressions.set(`EVENT#imp-${requestId}`, {
      event_id: `imp-${requestId}`,
      user_id: userId,
      experiment_id: experimentId,
      request_id: requestId,
      counted,
      slate,
    });
    return this;
  }
}

/** A conditional-check failure carrying the existing item, as DynamoDB returns it with ReturnValuesOnConditionCheckFailure. */
const alreadyCounted = () =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: { httpStatusCode: 400 }, Item: { counted: { BOOL: true } } });

const postEvent = (body: unknown) => handler(jsonPost('/events', body), lambdaContext());
const postBatch = (events: unknown[]) => handler(jsonPost('/events/batch', { events }, { resource: '/events/batch' }), lambdaContext());
const writes = () => [...ddb.commandCalls(PutCommand), ...ddb.commandCalls(UpdateCommand)];
/** The daily limit items (`EXP#<e>#USER#<u>` / `DAY#<day>`) are in the counters table too, but are not counters. */
const isQuota = (key: Record<string, unknown> | undefined) => String(key?.pk).includes('#USER#') && String(key?.sk).startsWith('DAY#');
const quotaUpdates = () => ddb.commandCalls(UpdateCommand).filter((c) => c.args[0].input.TableName === TABLE.counters && isQuota(c.args[0].input.Key));
const counterUpdates = () => ddb.commandCalls(UpdateCommand).filter((c) => c.args[0].input.TableName === TABLE.counters && !isQuota(c.args[0].input.Key));
const dailyUpdates = () => counterUpdates().filter((c) => String(c.args[0].input.Key?.pk).includes('#VAR#'));
const userUpdates = () => counterUpdates().filter((c) => String(c.args[0].input.Key?.pk).includes('#USER#'));
/** What an ADD update adds, attribute name → amount. */
const addedBy = (call: ReturnType<typeof counterUpdates>[number]) => {
  const { ExpressionAttributeNames: names = {}, ExpressionAttributeValues: values = {} } = call.args[0].input;
  return Object.fromEntries(Object.entries(names).map(([alias, name]) => [name, values[alias.replace('#m', ':v')]]));
};

describe('POST /events and /events/batch', () => {
  beforeAll(async () => {
    stubHandlerEnv();
    ({ handler } = await import('../../lambdas/events.ts'));
  });
  afterAll(() => vi.unstubAllEnvs());
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'], now: NOW });
    ddb.reset();
    new FakeTables(ddb).seedExperiment(interleavingExperiment).seedExperiment(abExperiment);
    assignments = new FakeAssignments().seed('default', 'u1', 'treatment');
  });
  afterEach(() => vi.useRealTimers());

  describe('a single event', () => {
    it('stores a valid click with a conditional put and adds it to the variant counter (201)', async () => {
      // Act
      const result = await postEvent(click());

      // Assess
      expect(result.statusCode).toBe(201);
      expect(bodyOf(result)).toEqual({ event_id: 'evt-1', status: 'stored' });
      expect(ddb).toHaveReceivedCommandWith(PutCommand, {
        TableName: TABLE.events,
        ConditionExpression: 'attribute_not_exists(pk)',
        Item: expect.objectContaining({ pk: 'EVENT#evt-1', variant: 'treatment', counted: true, received_at_ms: NOW.getTime() }),
      });
      expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
        TableName: TABLE.counters,
        Key: counterKey('default', 'treatment', today, counterShard('evt-1')),
      });
      // The user's first click: its own count and, capped at caps.clicks, the user-level sums.
      expect(addedBy(dailyUpdates()[0])).toMatchObject({ clicks: 1, clickers: 1, user_clicks_sq_sum: 1, capped_clicks: 1, capped_clicks_sq_sum: 1 });
    });

    it("dates the event by the gateway's receive time (requestTimeEpoch), not the function's clock", async () => {
      // Prepare
      const received = NOW.getTime() - 3 * 86_400_000;
      const request = jsonPost('/events', click());
      request.requestContext.requestTimeEpoch = received;

      // Act
      const result = await handler(request, lambdaContext());

      // Assess
      expect(result.statusCode).toBe(201);
      expect(ddb).toHaveReceivedCommandWith(PutCommand, {
        TableName: TABLE.events,
        Item: expect.objectContaining({ pk: 'EVENT#evt-1', received_at_ms: received }),
      });
      expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
        TableName: TABLE.counters,
        Key: counterKey('default', 'treatment', new Date(received).toISOString().slice(0, 10), counterShard('evt-1')),
      });
    });

    it("adds a click to the user's aggregate and returns its new totals for the user-level statistics", async () => {
      // Prepare
      ddb
        .on(UpdateCommand, { TableName: TABLE.counters, Key: { pk: 'EXP#default#USER#u1', sk: 'AGG' } })
        .resolves({ Attributes: { clicks: 3, impressions: 10, purchases: 1 } });

      // Act
      await postEvent(click());

      // Assess: only the changed total is ADDed; ALL_NEW returns them all (the cross term needs the impressions).
      expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
        TableName: TABLE.counters,
        Key: { pk: 'EXP#default#USER#u1', sk: 'AGG' },
        UpdateExpression: 'ADD #m0 :v0',
        ExpressionAttributeNames: { '#m0': 'clicks' },
        ExpressionAttributeValues: { ':v0': 1 },
        ReturnValues: 'ALL_NEW',
      });
      expect(addedBy(dailyUpdates()[0])).toMatchObject({
        clicks: 1,
        user_clicks_sq_sum: 9 - 4,
        user_clicks_impressions_sum: 30 - 20,
        capped_clicks: 1,
        capped_clicks_sq_sum: 9 - 4,
        capped_clicks_impressions_sum: 30 - 20,
      });
      expect(addedBy(dailyUpdates()[0])).not.toHaveProperty('clickers');
    });

    it("adds the cross moments Σx·y of the user's covariate, which the aggregate's ALL_NEW answer returns with the totals", async () => {
      // Prepare: the exposure recorded covariate 12 on u1's aggregate; this is their first click.
      ddb
        .on(UpdateCommand, { TableName: TABLE.counters, Key: { pk: 'EXP#default#USER#u1', sk: 'AGG' } })
        .resolves({ Attributes: { clicks: 1, impressions: 3, covariate: 12 } });

      // Act
      await postEvent(click());

      // Assess: x times the change of each capped outcome and of the clicker indicator.
      expect(addedBy(dailyUpdates()[0])).toMatchObject({ covariate_clickers: 12, covariate_capped_clicks: 12 });
      expect(addedBy(dailyUpdates()[0])).not.toHaveProperty('covariate_sum');
    });

    it("adds only the capped part of a click past the user's clicks cap, and counts the user at the cap once", async () => {
      // Prepare: the default clicks cap is 50; this click takes the user from 50 to 51.
      ddb
        .on(UpdateCommand, { TableName: TABLE.counters, Key: { pk: 'EXP#default#USER#u1', sk: 'AGG' } })
        .resolves({ Attributes: { clicks: 51, impressions: 10 } });

      // Act
      await postEvent(click());

      // Assess: the uncapped sums move, the capped ones do not.
      const added = addedBy(dailyUpdates()[0]);
      expect(added).toMatchObject({ clicks: 1, user_clicks_sq_sum: 51 ** 2 - 50 ** 2, user_clicks_impressions_sum: 10 });
      expect(Object.keys(added).filter((name) => name.startsWith('capped_') || name.startsWith('users_at_'))).toEqual([]);
    });

    it('acknowledges a duplicate that DynamoDB returns as already counted without a second request', async () => {
      // Prepare
      ddb.on(PutCommand, { TableName: TABLE.events }).rejects(alreadyCounted());

      // Act
      const result = await postEvent(click());

      // Assess: no counter is touched, and the share of the daily limit taken for it is given back
      expect(result.statusCode).toBe(200);
      expect(counterUpdates()).toHaveLength(0);
      expect(quotaUpdates().map((c) => c.args[0].input.ExpressionAttributeValues?.[':n0'])).toEqual([1, -1]);
    });

    describe('an event id reused', () => {
      /** The content fingerprint the first post of `body` stored on its item. */
      const fingerprintOf = async (body: Record<string, unknown>) => {
        await postEvent(body);
        const item = ddb.commandCalls(PutCommand).find((c) => c.args[0].input.TableName === TABLE.events)!.args[0].input.Item!;
        ddb.resetHistory();
        return String(item.content_sha256);
      };
      const storedAs = (fingerprint: string, counted = true) =>
        new ConditionalCheckFailedException({
          message: 'The conditional request failed',
          $metadata: { httpStatusCode: 400 },
          Item: { counted: { BOOL: counted }, content_sha256: { S: fingerprint } },
        });

      it('with different content answers 409 conflict naming event_id, and counts nothing', async () => {
        // Prepare: evt-1 was stored as a click on i4; now it comes back as a purchase.
        const fingerprint = await fingerprintOf(click());
        ddb.on(PutCommand, { TableName: TABLE.events }).rejects(storedAs(fingerprint));

        // Act
        const result = await postEvent(click({ event_type: 'purchase', value: 10 }));

        // Assess
        expect(result.statusCode).toBe(409);
        expect(bodyOf<{ error: { code: string } }>(result).error.code).toBe('conflict');
        expect(fieldsOf(result)).toEqual(['event_id']);
        expect(counterUpdates()).toHaveLength(0);
        expect(ddb).not.toHaveReceivedCommandWith(UpdateCommand, { TableName: TABLE.events, ConditionExpression: 'counted = :false' });
      });

      it('with the same content is still a duplicate (200)', async () => {
        // Prepare
        const fingerprint = await fingerprintOf(click());
        ddb.on(PutCommand, { TableName: TABLE.events }).rejects(storedAs(fingerprint));

        // Act
        const result = await postEvent(click());

        // Assess
        expect(result.statusCode).toBe(200);
        expect(bodyOf(result)).toEqual({ event_id: 'evt-1', status: 'duplicate' });
        expect(counterUpdates()).toHaveLength(0);
      });

      it('with different content is a conflict when the store returns no item (dynalite): the item is read', async () => {
        // Prepare: an un-claimed earlier attempt with another content must not be re-claimed either.
        new FakeTables(ddb).seedExperiment(abExperiment).seed(TABLE.events, { pk: 'EVENT#evt-1', sk: 'E', counted: false, content_sha256: 'another-content' });
        ddb.on(PutCommand, { TableName: TABLE.events }).rejects(conditionalCheckFailed());

        // Act
        const result = await postEvent(click());

        // Assess
        expect(result.statusCode).toBe(409);
        expect(fieldsOf(result)).toEqual(['event_id']);
        expect(ddb).not.toHaveReceivedCommandWith(UpdateCommand, { TableName: TABLE.events, ConditionExpression: 'counted = :false' });
        expect(counterUpdates()).toHaveLength(0);
      });

      it('in a batch stores and counts the others and answers 409 naming only the conflicting index', async () => {
        // Prepare
        const fingerprint = await fingerprintOf(click({ event_id: 'b', item_id: 'i9' }));
        ddb.on(PutCommand, { TableName: TABLE.events, Item: { pk: 'EVENT#b' } }).rejects(storedAs(fingerprint));

        // Act
        const result = await postBatch(['a', 'b', 'c'].map((id) => click({ event_id: id })));

        // Assess
        expect(result.statusCode).toBe(409);
        expect(fieldsOf(result)).toEqual(['events[1].event_id']);
        expect(bodyOf<{ error: { details: { message: string }[] } }>(result).error.details[0].message).toContain('b ');
        expect(dailyUpdates()[0].args[0].input.ExpressionAttributeValues?.[':v0']).toBe(2);
      });

      it('twice inside one batch with different content stores the first and names the second', async () => {
        // Act
        const result = await postBatch([click({ event_id: 'x' }), click({ event_id: 'y' }), click({ event_id: 'x', item_id: 'i9' }), click({ event_id: 'x' })]);

        // Assess
        expect(result.statusCode).toBe(409);
        expect(fieldsOf(result)).toEqual(['events[2].event_id']);
        expect(ddb).toHaveReceivedCommandTimes(PutCommand, 2);
      });
    });

    it('acknowledges a duplicate already counted with 200 and leaves the counters alone', async () => {
      // Prepare
      ddb.on(PutCommand, { TableName: TABLE.events }).rejects(conditionalCheckFailed());
      ddb.on(UpdateCommand, { TableName: TABLE.events, ConditionExpression: 'counted = :false' }).rejects(conditionalCheckFailed());

      // Act
      const result = await postEvent(click());

      // Assess
      expect(result.statusCode).toBe(200);
      expect(bodyOf(result)).toEqual({ event_id: 'evt-1', status: 'duplicate' });
      expect(counterUpdates()).toHaveLength(0);
    });

    it('counts a retried event whose earlier counter update failed (stored but un-claimed)', async () => {
      // Prepare
      ddb.on(PutCommand, { TableName: TABLE.events }).rejects(conditionalCheckFailed());

      // Act
      const result = await postEvent(click());

      // Assess
      expect(result.statusCode).toBe(201);
      expect(ddb).toHaveReceivedCommandWith(UpdateCommand, { TableName: TABLE.events, ConditionExpression: 'counted = :false' });
      expect(dailyUpdates()).toHaveLength(1);
    });

    it('answers 503 and un-claims the event when the counter update fails', async () => {
      // Prepare
      ddb.on(UpdateCommand, { TableName: TABLE.counters }).rejects(new Error('ProvisionedThroughputExceededException'));
      ddb.on(UpdateCommand, { TableName: TABLE.counters, Key: { pk: 'EXP#default#USER#u1', sk: `DAY#${today}` } }).resolves({});

      // Act
      const result = await postEvent(click());

      // Assess
      expect(result.statusCode).toBe(503);
      expect(fieldsOf(result)).toEqual(['event_id']);
      expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
        TableName: TABLE.events,
        Key: { pk: 'EVENT#evt-1', sk: 'E' },
        UpdateExpression: 'SET counted = :false',
        ExpressionAttributeValues: { ':false': false },
      });
    });

    it('undoes the user aggregate with a negative ADD when the daily counter update fails', async () => {
      // Prepare
      ddb
        .on(UpdateCommand, { TableName: TABLE.counters, Key: { pk: 'EXP#default#USER#u1', sk: 'AGG' } })
        .resolvesOnce({ Attributes: { clicks: 1, impressions: 0, purchases: 0 } })
        .resolvesOnce({ Attributes: { clicks: 0, impressions: 0, purchases: 0 } });
      ddb
        .on(UpdateCommand, { TableName: TABLE.counters, Key: counterKey('default', 'treatment', today, counterShard('evt-1')) })
        .rejects(new Error('ProvisionedThroughputExceededException'));

      // Act
      const result = await postEvent(click());

      // Assess: nothing else changed the user, so the undo needs no correction write.
      expect(result.statusCode).toBe(503);
      expect(userUpdates().map(addedBy)).toEqual([{ clicks: 1 }, { clicks: -1 }]);
      expect(dailyUpdates()).toHaveLength(1);
    });

    it('records the correction when another request changed the same user between the ADD and its undo', async () => {
      // Prepare: our click took clicks 0 → 1, another request's click took it to 2 before our undo (2 → 1).
      ddb
        .on(UpdateCommand, { TableName: TABLE.counters, Key: { pk: 'EXP#default#USER#u1', sk: 'AGG' } })
        .resolvesOnce({ Attributes: { clicks: 1, impressions: 0, purchases: 0 } })
        .resolvesOnce({ Attributes: { clicks: 1, impressions: 0, purchases: 0 } });
      ddb
        .on(UpdateCommand, { TableName: TABLE.counters, Key: counterKey('default', 'treatment', today, counterShard('evt-1')) })
        .rejectsOnce(new Error('ProvisionedThroughputExceededException'))
        .resolves({});

      // Act
      const result = await postEvent(click());

      // Assess: unrecorded forward change (+1 clicker, Σc² +1) plus the undo 2 → 1 (Σc² −3) = (+1, −2).
      expect(result.statusCode).toBe(503);
      expect(addedBy(dailyUpdates()[1])).toEqual({ clickers: 1, user_clicks_sq_sum: -2, capped_clicks_sq_sum: -2 });
    });

    it('answers 503 naming the event when its conditional put is throttled, and counts nothing', async () => {
      // Prepare
      ddb.on(PutCommand, { TableName: TABLE.events }).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' }));

      // Act
      const result = await postEvent(click());

      // Assess
      expect(result.statusCode).toBe(503);
      expect(bodyOf<{ error: { code: string; details: { message: string }[] } }>(result).error).toMatchObject({
        code: 'store_unavailable',
        details: [{ message: 'evt-1' }],
      });
      expect(counterUpdates()).toHaveLength(0);
    });

    it('answers 503 naming the event, not 500, when the assignments cannot be read', async () => {
      // Prepare
      ddb.on(BatchGetCommand).rejects(new Error('connect ECONNREFUSED'));

      // Act
      const result = await postEvent(click());

      // Assess
      expect(result.statusCode).toBe(503);
      expect(writes()).toHaveLength(0);
    });

    it('keeps the event of a user outside the test under the unassigned pseudo-variant, never in a variant', async () => {
      // Act
      const result = await postEvent(click({ user_id: 'never-recommended' }));

      // Assess
      expect(result.statusCode).toBe(201);
      const counterKeys = ddb
        .commandCalls(UpdateCommand)
        .map((c) => String(c.args[0].input.Key?.pk))
        .filter((pk) => pk.includes('#VAR#'));
      expect(counterKeys).toEqual(['EXP#default#VAR#~unassigned']);
    });

    it('answers 400 naming timestamp for a timestamp more than 5 minutes in the future', async () => {
      // Act
      const result = await postEvent(click({ timestamp: new Date(NOW.getTime() + 10 * 60_000).toISOString() }));

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['timestamp']);
      expect(writes()).toHaveLength(0);
    });

    it('answers 400 naming timestamp for a timestamp more than 7 days in the past', async () => {
      // Act
      const result = await postEvent(click({ timestamp: NOW.getTime() - 8 * 86_400_000 }));

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['timestamp']);
    });

    it('answers 400 naming value for a purchase whose square would pass 2^53, and writes nothing', async () => {
      // Act
      const result = await postEvent(click({ event_type: 'purchase', value: 1e10 }));

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['value']);
      expect(writes()).toHaveLength(0);
    });

    it('answers 404 naming experiment_id for an experiment that does not exist, and writes nothing', async () => {
      // Act
      const result = await postEvent(click({ experiment_id: 'no-such-experiment' }));

      // Assess
      expect(result.statusCode).toBe(404);
      expect(bodyOf<{ error: { code: string } }>(result).error.code).toBe('not_found');
      expect(fieldsOf(result)).toEqual(['experiment_id']);
      expect(writes()).toHaveLength(0);
      expect(ddb).not.toHaveReceivedCommand(BatchGetCommand);
    });

    it('answers 400 malformed_json for a body that is not JSON', async () => {
      // Act
      const result = await postEvent('{"event_type": "click",');

      // Assess
      expect(result.statusCode).toBe(400);
      expect(bodyOf<{ error: { code: string } }>(result).error.code).toBe('malformed_json');
      expect(writes()).toHaveLength(0);
    });

    it('answers 400 naming a key sent twice, instead of keeping the last value, and writes nothing', async () => {
      // Act
      const result = await postEvent(
        '{"event_id":"evt-1","event_type":"click","event_type":"purchase","user_id":"u1","experiment_id":"default","item_id":"i4","value":10}',
      );

      // Assess
      expect(result.statusCode).toBe(400);
      expect(bodyOf<{ error: { code: string } }>(result).error.code).toBe('malformed_json');
      expect(fieldsOf(result)).toEqual(['event_type']);
      expect(writes()).toHaveLength(0);
    });

    describe('identity', () => {
      const NFC = 'Am\u00e9lie';
      const NFD = 'Ame\u0301lie';

      it('stores and counts the NFD form of an id under its NFC form, so both forms are one user', async () => {
        // Prepare
        assignments.seed('default', NFC, 'treatment');

        // Act
        const results = [await postEvent(click({ event_id: 'evt-nfc', user_id: NFC })), await postEvent(click({ event_id: 'evt-nfd', user_id: NFD }))];

        // Assess
        expect(results.map((r) => r.statusCode)).toEqual([201, 201]);
        const stored = ddb
          .commandCalls(PutCommand)
          .filter((c) => c.args[0].input.TableName === TABLE.events)
          .map((c) => c.args[0].input.Item?.user_id);
        expect(stored).toEqual([NFC, NFC]);
        expect(userUpdates().map((c) => c.args[0].input.Key)).toEqual([
          { pk: `EXP#default#USER#${NFC}`, sk: 'AGG' },
          { pk: `EXP#default#USER#${NFC}`, sk: 'AGG' },
        ]);
        expect(dailyUpdates().map((c) => String(c.args[0].input.Key?.pk))).toEqual([
          expect.stringContaining('#VAR#treatment'),
          expect.stringContaining('#VAR#treatment'),
        ]);
      });

      it('normalises every id of an event (experiment, item, request and event ids too)', async () => {
        // Prepare
        assignments.seedSlate(`req-${NFC}`, { slate: [{ item_id: `i-${NFC}`, position: 1, score: 1 }] });

        // Act
        const result = await postEvent(click({ event_id: `evt-${NFD}`, item_id: `i-${NFD}`, request_id: `req-${NFD}` }));

        // Assess
        expect(result.statusCode).toBe(201);
        expect(bodyOf(result)).toEqual({ event_id: `evt-${NFC}`, status: 'stored' });
        expect(ddb).toHaveReceivedCommandWith(PutCommand, {
          TableName: TABLE.events,
          Item: expect.objectContaining({ pk: `EVENT#evt-${NFC}`, item_id: `i-${NFC}`, request_id: `req-${NFC}` }),
        });
      });

      it.each([
        ['a lone high surrogate in user_id', { user_id: 'u\ud800' }, 'user_id'],
        ['a lone low surrogate in item_id', { item_id: '\udc00i4' }, 'item_id'],
        ['a C1 control character (NEL, U+0085) in user_id', { user_id: 'u\u00851' }, 'user_id'],
        ['a C1 control character (U+009F) in experiment_id', { experiment_id: 'default\u009f' }, 'experiment_id'],
        ['a C1 control character (U+0080) in event_id', { event_id: '\u0080evt' }, 'event_id'],
      ])('answers 400 naming the field for %s, and writes nothing', async (_case, overrides, field) => {
        // Act
        const result = await postEvent(click(overrides));

        // Assess
        expect(result.statusCode).toBe(400);
        expect(fieldsOf(result)).toEqual([field]);
        expect(writes()).toHaveLength(0);
      });

      it('checks the byte limit after normalising (NFC is never longer here, so 128 NFD é pass as 256 bytes)', async () => {
        // Act: 128 × "e\u0301" is 384 bytes of UTF-8 as sent, 256 once composed.
        const result = await postEvent(click({ user_id: 'e\u0301'.repeat(128) }));

        // Assess
        expect(result.statusCode).toBe(201);
        expect(ddb).toHaveReceivedCommandWith(PutCommand, { TableName: TABLE.events, Item: expect.objectContaining({ user_id: '\u00e9'.repeat(128) }) });
      });
    });

    it('answers 400 naming content-type for a body that is not sent as application/json', async () => {
      // Prepare
      const event = apiEvent({ method: 'POST', path: '/events', headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify(click()) });

      // Act
      const result = await handler(event, lambdaContext());

      // Assess
      expect(result.statusCode).toBe(400);
      expect(bodyOf<{ error: { code: string } }>(result).error.code).toBe('unsupported_media_type');
      expect(fieldsOf(result)).toEqual(['content-type']);
      expect(writes()).toHaveLength(0);
    });
  });

  describe('a batch', () => {
    it('is refused whole with 400 naming the index and key of a key sent twice', async () => {
      // Prepare
      const event = (id: string, userIds: string) => `{"event_id":"${id}","event_type":"click",${userIds},"experiment_id":"default","item_id":"i4"}`;
      const body = `{"events":[${event('evt-1', '"user_id":"u1"')},${event('evt-2', '"user_id":"u1","user_id":"u2"')}]}`;

      // Act
      const result = await handler(jsonPost('/events/batch', body, { resource: '/events/batch' }), lambdaContext());

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['events[1].user_id']);
      expect(writes()).toHaveLength(0);
    });

    it('is refused whole with 400 listing every bad index and field, and nothing is written', async () => {
      // Prepare
      const events = [click({ event_id: 'a' }), click({ event_id: 'b', event_type: 'rating', value: 7 }), click({ event_id: 'c', item_id: undefined })];

      // Act
      const result = await postBatch(events);

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['events[1].value', 'events[2].item_id']);
      expect(ddb).not.toHaveReceivedCommand(PutCommand);
      expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
    });

    it('with one poison-pill value (a purchase of 1e200) is refused whole with 400 naming it, and nothing is written', async () => {
      // Prepare
      const events = [
        click({ event_id: 'a' }),
        click({ event_id: 'b', event_type: 'purchase', value: 1e200 }),
        click({ event_id: 'c', event_type: 'purchase', value: 99.99 }),
      ];

      // Act
      const result = await postBatch(events);

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['events[1].value']);
      expect(writes()).toHaveLength(0);
    });

    it('naming an experiment that does not exist is refused whole with 404 naming events[i].experiment_id, and nothing is written', async () => {
      // Act
      const result = await postBatch([
        click({ event_id: 'a' }),
        click({ event_id: 'b', experiment_id: 'ghost-1' }),
        click({ event_id: 'c' }),
        click({ event_id: 'd', experiment_id: 'ghost-1' }),
      ]);

      // Assess
      expect(result.statusCode).toBe(404);
      expect(fieldsOf(result)).toEqual(['events[1].experiment_id', 'events[3].experiment_id']);
      expect(writes()).toHaveLength(0);
    });

    it('reads each distinct experiment id once per batch, and an unknown one not again while it is cached', async () => {
      // Prepare
      const events = Array.from({ length: 300 }, (_, i) => click({ event_id: `g-${i}`, experiment_id: ['ghost-2', 'ghost-3', 'ghost-2'][i % 3] }));
      const experimentReads = () =>
        ddb
          .commandCalls(GetCommand)
          .filter((c) => c.args[0].input.TableName === TABLE.experiments)
          .map((c) => c.args[0].input.Key?.sk);

      // Act
      const first = await postBatch(events);
      const second = await postBatch(events);

      // Assess
      expect([first.statusCode, second.statusCode]).toEqual([404, 404]);
      expect(experimentReads().sort()).toEqual(['ghost-2', 'ghost-3']);
    });

    it('of 1,001 events is refused with 400 naming events, and nothing is written', async () => {
      // Prepare
      const events = Array.from({ length: 1001 }, (_, i) => click({ event_id: `e-${i}` }));

      // Act
      const result = await postBatch(events);

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['events']);
      expect(writes()).toHaveLength(0);
    });

    it('stores a duplicate inside one batch once and reports it as a duplicate', async () => {
      // Prepare
      const events = [click({ event_id: 'x' }), click({ event_id: 'y', event_type: 'purchase', value: 12.5 }), click({ event_id: 'x' })];

      // Act
      const result = await postBatch(events);

      // Assess
      expect(result.statusCode).toBe(200);
      expect(bodyOf(result)).toEqual({ received: 3, stored: 2, duplicates: 1 });
      expect(ddb).toHaveReceivedCommandTimes(PutCommand, 2);
    });

    it('coalesces the counters: one update per (variant, day) and one per user, whatever the number of events', async () => {
      // Prepare: 1,000 events of 20 users, 10 per variant.
      const users = Array.from({ length: 20 }, (_, u) => `user-${u}`);
      users.forEach((user, u) => {
        assignments.seed('default', user, u % 2 === 0 ? 'control' : 'treatment');
      });
      const events = Array.from({ length: 1000 }, (_, i) =>
        click({ event_id: `e-${i}`, user_id: users[i % 20], event_type: i % 4 === 0 ? 'impression' : 'click' }),
      );

      // Act
      const result = await postBatch(events);

      // Assess
      expect(result.statusCode).toBe(200);
      expect(bodyOf(result)).toEqual({ received: 1000, stored: 1000, duplicates: 0 });
      expect(ddb).toHaveReceivedCommandTimes(PutCommand, 1000);
      expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 1);
      expect(userUpdates()).toHaveLength(20);
      expect(
        dailyUpdates()
          .map((c) => c.args[0].input.Key?.pk)
          .sort(),
      ).toEqual(['EXP#default#VAR#control', 'EXP#default#VAR#treatment']);
    });

    it("counts each user's events in their segment's daily item: one update per (variant, segment, day), every event once", async () => {
      // Prepare: u1 (treatment) and u2 (control) are known users, u3 (control) a cold-start one.
      assignments.seed('default', 'u1', 'treatment', 'known').seed('default', 'u2', 'control', 'known').seed('default', 'u3', 'control', 'cold-start');
      const events = ['u1', 'u1', 'u2', 'u3', 'u3', 'u3'].map((user_id, i) => click({ event_id: `s-${i}`, user_id }));

      // Act
      await postBatch(events);

      // Assess
      const perItem = dailyUpdates().map((c) => [c.args[0].input.Key?.pk, String(c.args[0].input.Key?.sk).split('#G')[1], addedBy(c).clicks]);
      expect(perItem.sort()).toEqual([
        ['EXP#default#VAR#control', 'cold-start', 3],
        ['EXP#default#VAR#control', 'known', 1],
        ['EXP#default#VAR#treatment', 'known', 2],
      ]);
    });

    it('adds exactly the events of each variant to its daily counter', async () => {
      // Prepare
      assignments.seed('default', 'u2', 'control');
      const events = [
        click({ event_id: 'a' }),
        click({ event_id: 'b', user_id: 'u2' }),
        click({ event_id: 'c', user_id: 'u2', event_type: 'purchase', value: 3 }),
      ];

      // Act
      await postBatch(events);

      // Assess
      const control = dailyUpdates().find((c) => c.args[0].input.Key?.pk === 'EXP#default#VAR#control')!.args[0].input;
      const added = Object.fromEntries(
        Object.entries(control.ExpressionAttributeNames!).map(([alias, name]) => [name, control.ExpressionAttributeValues![alias.replace('#m', ':v')]]),
      );
      expect(added).toMatchObject({
        clicks: 1,
        conversions: 1,
        revenue_n: 1,
        revenue_sum: 3,
        revenue_sum_sq: 9,
        clickers: 1,
        converters: 1,
        user_clicks_sq_sum: 1,
      });
      // Revenue per user in cents, capped at the default 1,000 units.
      expect(added).toMatchObject({
        revenue_cents: 300,
        user_revenue_cents_sq_sum: 90_000,
        capped_revenue_cents: 300,
        capped_revenue_cents_sq_sum: 90_000,
        capped_purchases: 1,
      });
    });

    it('costs no counter update for a batch sent again', async () => {
      // Prepare
      ddb.on(PutCommand, { TableName: TABLE.events }).rejects(alreadyCounted());
      const events = Array.from({ length: 50 }, (_, i) => click({ event_id: `again-${i}` }));

      // Act
      const result = await postBatch(events);

      // Assess
      expect(bodyOf(result)).toEqual({ received: 50, stored: 0, duplicates: 50 });
      expect(counterUpdates()).toHaveLength(0);
    });

    it('answers 503 listing exactly the events whose put failed, and counts the others', async () => {
      // Prepare
      ddb
        .on(PutCommand, { TableName: TABLE.events, Item: { pk: 'EVENT#b' } })
        .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
      ddb
        .on(PutCommand, { TableName: TABLE.events, Item: { pk: 'EVENT#d' } })
        .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
      const events = ['a', 'b', 'c', 'd'].map((id) => click({ event_id: id }));

      // Act
      const result = await postBatch(events);

      // Assess
      expect(result.statusCode).toBe(503);
      expect(
        bodyOf<{ error: { details: { message: string }[] } }>(result)
          .error.details.map((d) => d.message)
          .sort(),
      ).toEqual(['b', 'd']);
      expect(dailyUpdates()[0].args[0].input.ExpressionAttributeValues?.[':v0']).toBe(2);
    });

    it('looks assignments up 100 keys per BatchGetItem call', async () => {
      // Prepare
      const users = Array.from({ length: 250 }, (_, u) => `many-${u}`);
      users.forEach((user) => {
        assignments.seed('default', user, 'control');
      });

      // Act
      const result = await postBatch(users.map((user, i) => click({ event_id: `m-${i}`, user_id: user })));

      // Assess
      expect(result.statusCode).toBe(200);
      expect(ddb.commandCalls(BatchGetCommand).map((c) => c.args[0].input.RequestItems![TABLE.experiments].Keys!.length)).toEqual([100, 100, 50]);
    });

    it('retries the keys BatchGetItem left unprocessed', async () => {
      // Prepare
      assignments.seed('default', 'u2', 'control');
      assignments.unprocessedRounds = 2;

      // Act
      const result = await postBatch([click({ event_id: 'a' }), click({ event_id: 'b', user_id: 'u2' })]);

      // Assess
      expect(result.statusCode).toBe(200);
      expect(ddb.commandCalls(BatchGetCommand).map((c) => c.args[0].input.RequestItems![TABLE.experiments].Keys!.length)).toEqual([2, 1, 1]);
    });

    it('counts a batch mixing assigned and unassigned users under their variant and the unassigned key', async () => {
      // Prepare
      assignments.seed('default', 'u2', 'control');
      const events = [click({ event_id: 'a', user_id: 'u2' }), click({ event_id: 'b', user_id: 'stranger' })];

      // Act
      const result = await postBatch(events);

      // Assess
      expect(result.statusCode).toBe(200);
      const counterKeys = ddb
        .commandCalls(UpdateCommand)
        .map((c) => String(c.args[0].input.Key?.pk))
        .filter((pk) => pk.includes('#VAR#'))
        .sort();
      expect(counterKeys).toEqual(['EXP#default#VAR#control', 'EXP#default#VAR#~unassigned']);
    });
  });

  describe('in an interleaving experiment', () => {
    const ilClick = (overrides: Record<string, unknown> = {}) => click({ experiment_id: INTERLEAVING_ID, request_id: 'req-1', item_id: 'i7', ...overrides });
    const impressionUpdates = () =>
      ddb.commandCalls(UpdateCommand).filter((c) => c.args[0].input.TableName === TABLE.events && String(c.args[0].input.Key?.pk).startsWith('EVENT#imp-'));
    const dailyOf = (variant: string) => dailyUpdates().filter((c) => c.args[0].input.Key?.pk === `EXP#${INTERLEAVING_ID}#VAR#${variant}`);
    const increments = (call: ReturnType<typeof dailyUpdates>[number]) => {
      const { ExpressionAttributeNames: names = {}, ExpressionAttributeValues: values = {} } = call.args[0].input;
      return Object.fromEntries(Object.entries(names).map(([key, name]) => [name, values[`:v${key.slice(2)}`]]));
    };

    it("credits a click to the team whose item was clicked, under that team's variant, without an assignment", async () => {
      // Prepare: i7 was placed by team b (treatment); the user has no stored assignment
      assignments.seedImpression('req-1');
      ddb
        .on(UpdateCommand, { TableName: TABLE.events, Key: { pk: 'EVENT#imp-req-1', sk: 'E' } })
        .resolves({ Attributes: { team_a_clicks: 0, team_b_clicks: 1 } });

      // Act
      const result = await postEvent(ilClick());

      // Assess
      expect(result.statusCode).toBe(201);
      expect(ddb).toHaveReceivedCommandWith(PutCommand, {
        TableName: TABLE.events,
        Item: expect.objectContaining({ pk: 'EVENT#evt-1', variant: 'treatment', team: 'b' }),
      });
      expect(dailyOf('treatment').map(increments)).toEqual([{ clicks: 1, clicks_pos_1: 1 }]);
      expect(userUpdates()).toHaveLength(0);
    });

    it('adds the click once to the impression, and the tie → b transition to the interleaving counter', async () => {
      // Prepare
      assignments.seedImpression('req-1');
      ddb
        .on(UpdateCommand, { TableName: TABLE.events, Key: { pk: 'EVENT#imp-req-1', sk: 'E' } })
        .resolves({ Attributes: { team_a_clicks: 0, team_b_clicks: 1 } });

      // Act
      await postEvent(ilClick());

      // Assess
      expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
        TableName: TABLE.events,
        Key: { pk: 'EVENT#imp-req-1', sk: 'E' },
        UpdateExpression: 'ADD team_a_clicks :a, team_b_clicks :b, credited_items :items',
        ConditionExpression: 'attribute_exists(pk) AND NOT contains(credited_items, :item)',
        ExpressionAttributeValues: { ':a': 0, ':b': 1, ':items': new Set(['i7']), ':item': 'i7' },
        ReturnValues: 'UPDATED_NEW',
      });
      expect(dailyOf('~interleaving').map(increments)).toEqual([{ interleaving_wins_b: 1 }]);
    });

    it('moves a win from b back to a tie when team a catches up', async () => {
      // Prepare: the impression had one b-click; this a-click makes it 1–1
      assignments.seedImpression('req-1');
      ddb
        .on(UpdateCommand, { TableName: TABLE.events, Key: { pk: 'EVENT#imp-req-1', sk: 'E' } })
        .resolves({ Attributes: { team_a_clicks: 1, team_b_clicks: 1 } });

      // Act
      await postEvent(ilClick({ item_id: 'i4' }));

      // Assess
      expect(dailyOf('control').map(increments)).toEqual([{ clicks: 1, clicks_pos_1: 1 }]);
      expect(dailyOf('~interleaving').map(increments)).toEqual([{ interleaving_wins_b: -1 }]);
    });

    it('counts a duplicate click once: the second answer is 200 and touches neither the impression nor a counter', async () => {
      // Prepare
      assignments.seedImpression('req-1');
      ddb.on(PutCommand, { TableName: TABLE.events }).rejects(alreadyCounted());

      // Act
      const result = await postEvent(ilClick());

      // Assess
      expect(result.statusCode).toBe(200);
      expect(impressionUpdates()).toHaveLength(0);
      expect(counterUpdates()).toHaveLength(0);
    });

    it('counts a second click on an item already credited as a click of its team, but not again for the preference', async () => {
      // Prepare: the impression's condition fails, the item is already in credited_items
      assignments.seedImpression('req-1');
      ddb.on(UpdateCommand, { TableName: TABLE.events, Key: { pk: 'EVENT#imp-req-1', sk: 'E' } }).rejects(conditionalCheckFailed());

      // Act
      const result = await postEvent(ilClick({ event_id: 'evt-2' }));

      // Assess
      expect(result.statusCode).toBe(201);
      expect(dailyOf('treatment').map(increments)).toEqual([{ clicks: 1, clicks_pos_1: 1 }]);
      expect(dailyOf('~interleaving')).toHaveLength(0);
    });

    it.each([
      ['an item that is not in the slate', { item_id: 'i99' }],
      ['a request_id with no impression', { request_id: 'req-unknown' }],
      ["another user's impression", { user_id: 'u2' }],
    ])('refuses a click on %s with a 422 naming request_id, and writes nothing', async (_case, overrides) => {
      // Prepare
      assignments.seedImpression('req-1');

      // Act
      const result = await postEvent(ilClick(overrides));

      // Assess
      expect(result.statusCode).toBe(422);
      expect(fieldsOf(result)).toEqual(['request_id']);
      expect(writes()).toHaveLength(0);
    });

    it.each([['no request_id', { request_id: undefined }, 'no-request-id']])(
      'stores a click with %s, credited to nobody under the interleaving counter',
      async (_case, overrides, reason) => {
        // Prepare
        assignments.seedImpression('req-1');

        // Act
        const result = await postEvent(ilClick(overrides));

        // Assess
        expect(result.statusCode).toBe(201);
        expect(ddb).toHaveReceivedCommandWith(PutCommand, {
          TableName: TABLE.events,
          Item: expect.objectContaining({ variant: '~interleaving', no_credit_reason: reason }),
        });
        expect(dailyOf('~interleaving').map(increments)).toEqual([{ clicks: 1, clicks_pos_1: 1 }]);
        expect(impressionUpdates()).toHaveLength(0);
      },
    );

    it('undoes the team count and the impression credit, and answers 503, when the win counter update fails', async () => {
      // Prepare
      assignments.seedImpression('req-1');
      ddb
        .on(UpdateCommand, { TableName: TABLE.events, Key: { pk: 'EVENT#imp-req-1', sk: 'E' } })
        .resolvesOnce({ Attributes: { team_a_clicks: 0, team_b_clicks: 1 } })
        .resolvesOnce({ Attributes: { team_a_clicks: 0, team_b_clicks: 0 } });
      ddb
        .on(UpdateCommand, { TableName: TABLE.counters, Key: counterKey(INTERLEAVING_ID, '~interleaving', today, counterShard('evt-1')) })
        .rejects(new Error('ProvisionedThroughputExceededException'));

      // Act
      const result = await postEvent(ilClick());

      // Assess: the team's +1 is negated, the credit removed (no correction needed), the event un-claimed
      expect(result.statusCode).toBe(503);
      expect(dailyOf('treatment').map(increments)).toEqual([
        { clicks: 1, clicks_pos_1: 1 },
        { clicks: -1, clicks_pos_1: -1 },
      ]);
      expect(impressionUpdates().map((c) => c.args[0].input.UpdateExpression)).toEqual([
        'ADD team_a_clicks :a, team_b_clicks :b, credited_items :items',
        'ADD team_a_clicks :a, team_b_clicks :b DELETE credited_items :items',
      ]);
      expect(dailyOf('~interleaving')).toHaveLength(1);
      expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
        TableName: TABLE.events,
        Key: { pk: 'EVENT#evt-1', sk: 'E' },
        UpdateExpression: 'SET counted = :false',
      });
    });

    it('reads the impression slates of a batch with one BatchGetItem per 100 request ids', async () => {
      // Prepare
      const batch = Array.from({ length: 150 }, (_, i) => ilClick({ event_id: `c-${i}`, request_id: `req-${i}` }));
      for (let i = 0; i < 150; i++) assignments.seedImpression(`req-${i}`);

      // Act
      const result = await postBatch(batch);

      // Assess
      expect(result.statusCode).toBe(200);
      const impressionReads = ddb.commandCalls(BatchGetCommand).filter((c) => c.args[0].input.RequestItems?.[TABLE.events]);
      expect(impressionReads.map((c) => c.args[0].input.RequestItems![TABLE.events].Keys!.length)).toEqual([100, 50]);
    });
  });

  describe('abuse checks', () => {
    const quotaKey = (userId: string) => ({ pk: `EXP#default#USER#${userId}`, sk: `DAY#${today}` });

    it("stores a click that names an item of its user's recorded slate", async () => {
      // Prepare
      assignments.seedSlate('req-ab');

      // Act
      const result = await postEvent(click({ request_id: 'req-ab', item_id: 'i5' }));

      // Assess
      expect(result.statusCode).toBe(201);
    });

    it.each([
      ['names no recorded slate', { request_id: 'req-made-up' }],
      ['names a slate of another user', { request_id: 'req-ab', user_id: 'u2' }],
      ['names a slate of another experiment', { request_id: 'req-other-exp' }],
      ['names an item its slate did not show', { request_id: 'req-ab', item_id: 'i99' }],
    ])('refuses a click of an assigned user that %s with a 422 naming request_id, writing nothing', async (_case, overrides) => {
      // Prepare
      assignments.seed('default', 'u2', 'control').seedSlate('req-ab').seedSlate('req-other-exp', { experimentId: INTERLEAVING_ID });

      // Act
      const result = await postEvent(click(overrides));

      // Assess
      expect(result.statusCode).toBe(422);
      expect(bodyOf(result)).toMatchObject({ error: { code: 'slate_mismatch' } });
      expect(fieldsOf(result)).toEqual(['request_id']);
      expect(writes()).toHaveLength(0);
    });

    it('names every mismatched request_id of a batch by index and writes nothing', async () => {
      // Prepare
      assignments.seedSlate('req-ab');

      // Act
      const result = await postBatch([
        click({ event_id: 'e0', request_id: 'req-ab' }),
        click({ event_id: 'e1', request_id: 'req-x' }),
        click({ event_id: 'e2', request_id: 'req-ab', item_id: 'i9' }),
      ]);

      // Assess
      expect(result.statusCode).toBe(422);
      expect(fieldsOf(result)).toEqual(['events[1].request_id', 'events[2].request_id']);
      expect(writes()).toHaveLength(0);
    });

    it('accepts a purchase or a rating of an item the slate did not show (only clicks must name a shown item)', async () => {
      // Prepare
      assignments.seedSlate('req-ab');

      // Act
      const result = await postBatch([
        { event_id: 'p1', event_type: 'purchase', user_id: 'u1', experiment_id: 'default', item_id: 'i99', value: 3, request_id: 'req-ab' },
        { event_id: 'r1', event_type: 'rating', user_id: 'u1', experiment_id: 'default', item_id: 'i98', value: 4, request_id: 'req-ab' },
      ]);

      // Assess
      expect(result.statusCode).toBe(200);
      expect(bodyOf(result)).toMatchObject({ stored: 2 });
    });

    it('keeps the events of a user outside the test (no assignment, so no slate by design) under the unassigned key', async () => {
      // Act: u9 has no assignment
      const result = await postEvent(click({ user_id: 'u9', request_id: 'req-holdout' }));

      // Assess
      expect(result.statusCode).toBe(201);
      expect(ddb).toHaveReceivedCommandWith(PutCommand, { TableName: TABLE.events, Item: expect.objectContaining({ variant: '~unassigned' }) });
    });

    it('reads the assignments and the slates of a batch with one BatchGetItem each', async () => {
      // Prepare
      assignments.seedSlate('req-ab');

      // Act
      await postBatch([click({ event_id: 'e0', request_id: 'req-ab' }), click({ event_id: 'e1' })]);

      // Assess
      const reads = ddb.commandCalls(BatchGetCommand).map((c) => Object.keys(c.args[0].input.RequestItems!)[0]);
      expect(reads.sort()).toEqual([TABLE.events, TABLE.experiments].sort());
    });

    it("takes each user's events from their daily limit with one conditional ADD per user and type", async () => {
      // Act
      const result = await postBatch([
        click({ event_id: 'e0' }),
        click({ event_id: 'e1', item_id: 'i5' }),
        { event_id: 'r1', event_type: 'rating', user_id: 'u1', experiment_id: 'default', item_id: 'i4', value: 4 },
      ]);

      // Assess
      expect(result.statusCode).toBe(200);
      expect(quotaUpdates()).toHaveLength(1);
      expect(quotaUpdates()[0].args[0].input).toMatchObject({
        Key: quotaKey('u1'),
        UpdateExpression: 'ADD #t0 :n0, #t1 :n1 SET #exp = :exp',
        ConditionExpression: '(attribute_not_exists(#t0) OR #t0 <= :room0) AND (attribute_not_exists(#t1) OR #t1 <= :room1)',
        ExpressionAttributeNames: { '#t0': 'click', '#t1': 'rating' },
        ExpressionAttributeValues: { ':n0': 2, ':room0': 998, ':n1': 1, ':room1': 999 },
      });
    });

    it('refuses with a 429 naming user_id the events over the limit, and stores the rest of the batch', async () => {
      // Prepare: u1 already sent 1,000 clicks and 3 ratings today; the first ADD (click and rating) fails its condition
      ddb
        .on(UpdateCommand, { TableName: TABLE.counters, Key: quotaKey('u1') })
        .rejectsOnce(conditionalCheckFailed())
        .resolves({});
      ddb.on(GetCommand, { TableName: TABLE.counters, Key: quotaKey('u1') }).resolves({ Item: { ...quotaKey('u1'), click: 1000, rating: 3 } });
      assignments.seed('default', 'u2', 'control');

      // Act
      const result = await postBatch([
        click({ event_id: 'over' }),
        { event_id: 'r1', event_type: 'rating', user_id: 'u1', experiment_id: 'default', item_id: 'i4', value: 4 },
        click({ event_id: 'other-user', user_id: 'u2' }),
      ]);

      // Assess: only the click of u1 is refused; the retry of the rating alone is conditional again
      expect(result.statusCode).toBe(429);
      expect(bodyOf(result)).toMatchObject({ error: { code: 'daily_limit_exceeded' } });
      expect(fieldsOf(result)).toEqual(['events[0].user_id']);
      const stored = ddb
        .commandCalls(PutCommand)
        .filter((c) => c.args[0].input.TableName === TABLE.events)
        .map((c) => c.args[0].input.Item!.event_id);
      expect(stored.sort()).toEqual(['other-user', 'r1']);
      const u1Takes = quotaUpdates().filter((c) => c.args[0].input.Key!.pk === quotaKey('u1').pk);
      expect(u1Takes.map((c) => c.args[0].input.ExpressionAttributeNames)).toEqual([
        { '#exp': 'expires_at', '#t0': 'click', '#t1': 'rating' },
        { '#exp': 'expires_at', '#t0': 'rating' },
      ]);
    });

    it('refuses a single event over the limit with a 429, writing no event and no counter', async () => {
      // Prepare
      ddb.on(UpdateCommand, { TableName: TABLE.counters, Key: quotaKey('u1') }).rejects(conditionalCheckFailed());
      ddb.on(GetCommand, { TableName: TABLE.counters, Key: quotaKey('u1') }).resolves({ Item: { click: 1000 } });

      // Act
      const result = await postEvent(click());

      // Assess
      expect(result.statusCode).toBe(429);
      expect(fieldsOf(result)).toEqual(['user_id']);
      expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
      expect(counterUpdates()).toHaveLength(0);
    });

    it('refuses at once a batch holding more events of one type than a day allows, without a write', async () => {
      // Act: 201 purchases of one user (the limit is 200)
      const purchases = Array.from({ length: 201 }, (_, i) => ({
        event_id: `p${i}`,
        event_type: 'purchase',
        user_id: 'u1',
        experiment_id: 'default',
        item_id: 'i4',
        value: 1,
      }));
      const result = await postBatch(purchases);

      // Assess
      expect(result.statusCode).toBe(429);
      expect(fieldsOf(result)).toHaveLength(201);
      expect(writes()).toHaveLength(0);
    });

    it('gives back the share of events that were not stored, so the retry of a failed request is not charged twice', async () => {
      // Prepare: the claim of the event fails
      ddb.on(PutCommand, { TableName: TABLE.events }).rejects(new Error('ProvisionedThroughputExceededException'));

      // Act
      const result = await postEvent(click());

      // Assess
      expect(result.statusCode).toBe(503);
      expect(quotaUpdates().map((c) => c.args[0].input.ExpressionAttributeValues?.[':n0'])).toEqual([1, -1]);
      expect(quotaUpdates()[1].args[0].input.ConditionExpression).toBeUndefined();
    });

    it('answers 503 naming every event, and stores nothing, when the daily limits cannot be read', async () => {
      // Prepare
      ddb.on(UpdateCommand, { TableName: TABLE.counters, Key: quotaKey('u1') }).rejects(new Error('ProvisionedThroughputExceededException'));

      // Act
      const result = await postEvent(click());

      // Assess
      expect(result.statusCode).toBe(503);
      expect(fieldsOf(result)).toEqual(['event_id']);
      expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
    });
  });

  describe('the interaction log the weekly retraining reads', () => {
    it('logs the feedback of a request (not its impressions) as one item under the day, shard and time of its first event, before claiming any event', async () => {
      // Act
      const result = await postBatch([
        click(),
        { event_id: 'evt-2', event_type: 'rating', user_id: 'u1', experiment_id: 'default', item_id: 'i9', value: 4 },
        { event_id: 'evt-3', event_type: 'impression', user_id: 'u1', experiment_id: 'default' },
      ]);

      // Assess
      expect(result.statusCode).toBe(200);
      const [write] = ddb.commandCalls(BatchWriteCommand);
      const items = write.args[0].input.RequestItems![TABLE.events].map((request) => request.PutRequest!.Item!);
      expect(items).toEqual([
        expect.objectContaining({
          ...interactionLogKey(NOW.getTime(), 'evt-1'),
          events: [
            expect.objectContaining({ event_id: 'evt-1', event_type: 'click', user_id: 'u1', received_at_ms: NOW.getTime() }),
            { event_id: 'evt-2', event_type: 'rating', user_id: 'u1', item_id: 'i9', value: 4, received_at_ms: NOW.getTime() },
          ],
        }),
      ]);
      expect(items[0].pk).toMatch(new RegExp(`^ILOG#${today}#S\\d{2}$`));
      const order = ddb.calls().map((call) => call.args[0]);
      const firstClaim = order.findIndex((command) => command instanceof PutCommand && String(command.input.Item?.pk).startsWith('EVENT#'));
      expect(order.findIndex((command) => command instanceof BatchWriteCommand)).toBeLessThan(firstClaim);
    });

    it('answers 503 and claims and counts nothing when the log cannot be written, so the retry logs and counts the events once', async () => {
      // Prepare
      ddb
        .on(BatchWriteCommand)
        .rejects(Object.assign(new Error('Throughput exceeds the current capacity'), { name: 'ProvisionedThroughputExceededException' }));

      // Act
      const result = await postEvent(click());

      // Assess
      expect(result.statusCode).toBe(503);
      expect(ddb.commandCalls(PutCommand).filter((call) => String(call.args[0].input.Item?.pk).startsWith('EVENT#'))).toEqual([]);
      expect(dailyUpdates()).toEqual([]);
    });
  });
});
