import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLES } from '../../lib/resources.ts';
import { defaultExperiment } from '../../lambdas/domain/experiments/defaults.ts';
import { promoteExperiment } from '../../lambdas/domain/experiments/lifecycle.ts';
import { acceptEvent, type AcceptedEvent } from '../../lambdas/domain/events/event.ts';
import { DynamoCounterRepository } from '../../lambdas/storage/counter-store.ts';
import { DynamoEventRepository } from '../../lambdas/storage/event-store.ts';
import { ConcurrentModificationError, DynamoExperimentRepository } from '../../lambdas/storage/experiment-repository.ts';
import { startLocalAws, type LocalAws } from '../helpers/local-aws.ts';

let aws: LocalAws;
let experiments: DynamoExperimentRepository;
let counters: DynamoCounterRepository;
let events: DynamoEventRepository;

const experiment = (id: string) => ({
  ...defaultExperiment({
    controlModel: { model_id: 'a', model_version: '1111111111111111' },
    treatmentModel: { model_id: 'b', model_version: '2222222222222222' },
    now: new Date('2026-11-01T00:00:00Z'),
  }),
  id,
  salt: id,
});

beforeAll(async () => {
  aws = await startLocalAws();
  experiments = new DynamoExperimentRepository(aws.doc, TABLES.experiments.localName);
  counters = new DynamoCounterRepository(aws.doc, TABLES.counters.localName);
  events = new DynamoEventRepository(aws.doc, TABLES.events.localName, counters);
});
afterAll(async () => aws.stop());

describe('DynamoExperimentRepository on dynalite', () => {
  it('creates, reads and lists experiments without scanning', async () => {
    await experiments.create(experiment('exp-a'));
    await experiments.create(experiment('exp-b'));

    expect((await experiments.get('exp-a'))?.id).toBe('exp-a');
    expect((await experiments.list()).map((e) => e.id)).toEqual(expect.arrayContaining(['exp-a', 'exp-b']));
  });

  it('refuses a duplicate id', async () => {
    await expect(experiments.create(experiment('exp-a'))).rejects.toBeInstanceOf(ConcurrentModificationError);
  });

  it('leaves exactly one winner when two promotions race', async () => {
    await experiments.create(experiment('race'));
    const current = (await experiments.get('race'))!;
    const now = new Date();
    const toControl = promoteExperiment(current, { now, winner: 'control', force: true });
    const toTreatment = promoteExperiment(current, { now, winner: 'treatment', force: true });

    const outcomes = await Promise.allSettled([experiments.update(toControl, current.revision), experiments.update(toTreatment, current.revision)]);

    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason)).toEqual([expect.any(ConcurrentModificationError)]);
    const stored = (await experiments.get('race'))!;
    expect(stored.status).toBe('completed');
    expect(stored.variants.filter((v) => v.active)).toHaveLength(1);
  });

  it('keeps the first stored assignment when two writers race', async () => {
    const base = { experimentId: 'exp-a', userId: 'u-race', bucket: 1, propensity: 0.5, assignedAt: new Date().toISOString() };

    const [a, b] = await Promise.all([
      experiments.putAssignmentIfAbsent({ ...base, variant: 'control' }),
      experiments.putAssignmentIfAbsent({ ...base, variant: 'treatment' }),
    ]);

    expect(a.variant).toBe(b.variant);
    expect((await experiments.getAssignment('exp-a', 'u-race'))?.variant).toBe(a.variant);
  });
});

describe('DynamoEventRepository on dynalite', () => {
  const now = Date.parse('2026-11-23T10:00:00Z');
  /** One event through the batch path, as POST /events stores it. */
  const record = async (event: AcceptedEvent, variant: string) => {
    const result = await events.recordBatch([{ event, variant }]);
    if (result.failed.length > 0) throw result.failed[0].error;
    return result.stored.length === 1 ? 'stored' : 'duplicate';
  };
  const click = (id: string) => acceptEvent({ event_id: id, event_type: 'click', user_id: 'u1', experiment_id: 'exp-events', item_id: 'i1' }, now);

  it('stores and counts a new event once, and a retry as a duplicate', async () => {
    expect(await record(click('e-1'), 'control')).toBe('stored');
    expect(await record(click('e-1'), 'control')).toBe('duplicate');

    const [day] = await counters.dailyCounters('exp-events', 'control');
    expect(day).toMatchObject({ day: '2026-11-23', clicks: 1 });
  });

  it('counts an event exactly once when the same id arrives concurrently', async () => {
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => record(click('e-concurrent'), 'treatment')));

    expect(outcomes.filter((o) => o === 'stored')).toHaveLength(1);
    const [day] = await counters.dailyCounters('exp-events', 'treatment');
    expect(day.clicks).toBe(1);
  });

  it('reads a day as the sum of its counter shards, and an unsharded item of an older version with them', async () => {
    // Prepare: two shards of one day, another day, and an item written before sharding.
    await counters.add('exp-shards', 'control', '2026-11-22', { impressions: 3, clicks: 1 }, 0);
    await counters.add('exp-shards', 'control', '2026-11-22', { impressions: 4 }, 9);
    await counters.add('exp-shards', 'control', '2026-11-23', { impressions: 2 }, 15);
    await aws.doc.send(
      new PutCommand({
        TableName: TABLES.counters.localName,
        Item: { pk: 'EXP#exp-shards#VAR#control', sk: 'DAY#2026-11-22', impressions: 10, exposed_users: 5 },
      }),
    );

    // Act
    const days = await counters.dailyCounters('exp-shards', 'control');

    // Assess
    expect(days).toEqual([
      { day: '2026-11-22', impressions: 17, clicks: 1, exposed_users: 5 },
      { day: '2026-11-23', impressions: 2 },
    ]);
  });

  it('spreads the daily-counter writes of many single events over the shards', async () => {
    // Act: 64 clicks, each its own request, as /events receives them.
    for (let i = 0; i < 64; i++)
      await record(acceptEvent({ event_id: `spread-${i}`, event_type: 'click', user_id: `u${i}`, experiment_id: 'exp-spread', item_id: 'i1' }, now), 'control');

    // Assess: the day's items are several shards, which together hold every click.
    const { Items = [] } = await aws.doc.send(
      new QueryCommand({
        TableName: TABLES.counters.localName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': 'EXP#exp-spread#VAR#control' },
      }),
    );
    expect(Items.length).toBeGreaterThan(8);
    expect(Items.every((item) => /^DAY#2026-11-23#S\d\d$/.test(String(item.sk)))).toBe(true);
    expect(await counters.dailyCounters('exp-spread', 'control')).toEqual([expect.objectContaining({ day: '2026-11-23', clicks: 64, clickers: 64 })]);
  });

  it('records a server-generated impression with the aggregate updated during the claim, and undoes it for an id taken after all', async () => {
    // Prepare
    const impression = (id: string) => acceptEvent({ event_id: id, event_type: 'impression', user_id: 'u-new', experiment_id: 'exp-new', request_id: id }, now);

    // Act
    const first = await events.recordNew(impression('imp-a'), 'treatment');
    const again = await events.recordNew(impression('imp-a'), 'treatment');
    const second = await events.recordNew(impression('imp-b'), 'treatment');

    // Assess: two impressions counted; the repeat left the user's aggregate as it found it.
    expect([first, again, second]).toEqual(['stored', 'duplicate', 'stored']);
    const { Item } = await aws.doc.send(new GetCommand({ TableName: TABLES.counters.localName, Key: { pk: 'EXP#exp-new#USER#u-new', sk: 'AGG' } }));
    expect(Item).toMatchObject({ impressions: 2 });
    expect(Item?.clicks ?? 0).toBe(0);
    expect(await counters.dailyCounters('exp-new', 'treatment')).toEqual([
      { day: '2026-11-23', impressions: 2, user_impressions_sq_sum: 4, capped_impressions: 2, capped_impressions_sq_sum: 4 },
    ]);
  });

  it('sums value metrics with their squares for the t-test', async () => {
    for (const [id, value] of [
      ['w1', 10],
      ['w2', 20],
    ] as const) {
      await record(acceptEvent({ event_id: id, event_type: 'watch_time', user_id: 'u1', experiment_id: 'exp-values', value }, now), 'control');
    }

    const [day] = await counters.dailyCounters('exp-values', 'control');
    expect(day).toMatchObject({ watch_time_n: 2, watch_time_sum: 30, watch_time_sum_sq: 500 });
  });
});
