import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { apiEvent, bodyOf, fieldsOf, jsonPost, lambdaContext } from './support/api-gateway.ts';
import { FakeTables, conditionalCheckFailed } from './support/aws.ts';
import { TABLE, stubHandlerEnv } from './support/env.ts';
import './support/matchers.ts';
import { NOW } from './support/models.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const today = NOW.toISOString().slice(0, 10);
let handler: typeof import('../../lambdas/events.ts').handler;
let tables: FakeTables;

const click = (overrides: Record<string, unknown> = {}) => ({
  event_id: 'evt-1',
  event_type: 'click',
  user_id: 'u1',
  experiment_id: 'default',
  item_id: 'i4',
  request_id: 'req-1',
  position: 1,
  ...overrides,
});

const postEvent = (body: unknown) => handler(jsonPost('/events', body), lambdaContext());
const postBatch = (events: unknown[]) => handler(jsonPost('/events/batch', { events }, { resource: '/events/batch' }), lambdaContext());
const writes = () => [...ddb.commandCalls(PutCommand), ...ddb.commandCalls(UpdateCommand)];
const counterUpdates = () => ddb.commandCalls(UpdateCommand).filter((c) => c.args[0].input.TableName === TABLE.counters);

describe('POST /events and /events/batch', () => {
  beforeAll(async () => {
    stubHandlerEnv();
    ({ handler } = await import('../../lambdas/events.ts'));
  });
  afterAll(() => vi.unstubAllEnvs());
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'], now: NOW });
    ddb.reset();
    tables = new FakeTables(ddb).seedAssignment('default', 'u1', 'treatment');
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
        Key: { pk: 'EXP#default#VAR#treatment', sk: `DAY#${today}` },
        UpdateExpression: 'ADD #m0 :v0',
        ExpressionAttributeNames: { '#m0': 'clicks' },
        ExpressionAttributeValues: { ':v0': 1 },
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
      expect(counterUpdates()).toHaveLength(1);
    });

    it('answers 503 and un-claims the event when the counter update fails', async () => {
      // Prepare
      ddb.on(UpdateCommand, { TableName: TABLE.counters }).rejects(new Error('ProvisionedThroughputExceededException'));

      // Act
      const result = await postEvent(click());

      // Assess
      expect(result.statusCode).toBe(503);
      expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
        TableName: TABLE.events,
        Key: { pk: 'EVENT#evt-1', sk: 'E' },
        UpdateExpression: 'SET counted = :false',
        ExpressionAttributeValues: { ':false': false },
      });
    });

    it('answers 400 naming user_id when the user has no assignment in the experiment', async () => {
      // Act
      const result = await postEvent(click({ user_id: 'never-recommended' }));

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['user_id']);
      expect(writes()).toHaveLength(0);
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

    it('answers 400 malformed_json for a body that is not JSON', async () => {
      // Act
      const result = await postEvent('{"event_type": "click",');

      // Assess
      expect(result.statusCode).toBe(400);
      expect(bodyOf<{ error: { code: string } }>(result).error.code).toBe('malformed_json');
      expect(writes()).toHaveLength(0);
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
    it('is refused whole with 400 listing every bad index and field, and nothing is written', async () => {
      // Prepare
      const events = [
        click({ event_id: 'a' }),
        click({ event_id: 'b', event_type: 'rating', value: 7 }),
        click({ event_id: 'c', item_id: undefined }),
      ];

      // Act
      const result = await postBatch(events);

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['events[1].value', 'events[2].item_id']);
      expect(ddb).not.toHaveReceivedCommand(PutCommand);
      expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
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
      expect(counterUpdates()).toHaveLength(2);
    });

    it('answers 400 naming the index of a user without an assignment', async () => {
      // Prepare
      tables.seedAssignment('default', 'u2', 'control');
      const events = [click({ event_id: 'a', user_id: 'u2' }), click({ event_id: 'b', user_id: 'stranger' })];

      // Act
      const result = await postBatch(events);

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['events[1].user_id']);
      expect(writes()).toHaveLength(0);
    });
  });
});
