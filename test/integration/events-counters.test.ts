/**
 * The event repository and the assignment reader on dynalite: coalesced counters, user-level
 * statistics from the per-user aggregates, duplicates that cost no counter update, re-claims.
 */
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLES } from '../../lib/resources.ts';
import type { VariantEvent } from '../../lambdas/domain/events/counters.ts';
import { DEFAULT_USER_CAPS } from '../../lambdas/domain/experiments/caps.ts';
import { acceptEvent, type EventType } from '../../lambdas/domain/events/event.ts';
import { DynamoAssignmentReader, assignmentRefKey } from '../../lambdas/storage/assignment-reader.ts';
import { DynamoCounterRepository, type DailyCounter } from '../../lambdas/storage/counter-store.ts';
import { DynamoEventRepository } from '../../lambdas/storage/event-store.ts';
import { DynamoExperimentRepository } from '../../lambdas/storage/experiment-repository.ts';
import { startLocalAws, type LocalAws } from '../helpers/local-aws.ts';

const NOW = Date.parse('2026-11-23T10:00:00Z');
let aws: LocalAws;
let counters: DynamoCounterRepository;
let events: DynamoEventRepository;

const event = (experimentId: string, id: string, userId: string, type: EventType, value?: number) =>
  acceptEvent(
    {
      event_id: id,
      event_type: type,
      user_id: userId,
      experiment_id: experimentId,
      item_id: type === 'click' || type === 'purchase' ? 'i1' : undefined,
      value,
    },
    NOW,
  );

/** Sums daily counters over days into one object of totals. */
const total = (days: DailyCounter[]) =>
  days.reduce<Record<string, number>>((sum, day) => {
    for (const [k, v] of Object.entries(day)) if (typeof v === 'number') sum[k] = (sum[k] ?? 0) + v;
    return sum;
  }, {});

beforeAll(async () => {
  aws = await startLocalAws();
  counters = new DynamoCounterRepository(aws.doc, TABLES.counters.localName);
  events = new DynamoEventRepository(aws.doc, TABLES.events.localName, counters);
});
afterAll(async () => aws.stop());

describe('DynamoEventRepository.recordBatch on dynalite', () => {
  it('counts a batch with the user-level sums the delta method needs', async () => {
    // Prepare: u1 clicks twice in 3 impressions, u2 clicks once in 1 and buys, u3 only sees 2.
    const batch: VariantEvent[] = [
      ['a1', 'u1', 'impression'],
      ['a2', 'u1', 'impression'],
      ['a3', 'u1', 'impression'],
      ['a4', 'u1', 'click'],
      ['a5', 'u1', 'click'],
      ['b1', 'u2', 'impression'],
      ['b2', 'u2', 'click'],
      ['b3', 'u2', 'purchase'],
      ['c1', 'u3', 'impression'],
      ['c2', 'u3', 'impression'],
    ].map(([id, user, type]) => ({ event: event('exp-stats', id, user, type as EventType, type === 'purchase' ? 20 : undefined), variant: 'control' }));

    // Act
    const result = await events.recordBatch(batch);

    // Assess
    expect(result).toMatchObject({ duplicates: [], failed: [] });
    expect(result.stored).toHaveLength(10);
    expect(total(await counters.dailyCounters('exp-stats', 'control'))).toEqual({
      impressions: 6,
      clicks: 3,
      conversions: 1,
      revenue_n: 1,
      revenue_sum: 20,
      revenue_sum_sq: 400,
      clickers: 2,
      converters: 1,
      user_clicks_sq_sum: 2 ** 2 + 1 ** 2,
      user_impressions_sq_sum: 3 ** 2 + 1 ** 2 + 2 ** 2,
      user_clicks_impressions_sum: 2 * 3 + 1 * 1,
      user_purchases_sq_sum: 1,
      // Revenue per user in cents, exact integers.
      revenue_cents: 2000,
      user_revenue_cents_sq_sum: 2000 ** 2,
      // No user reaches a default cap: the capped sums equal the uncapped ones.
      capped_clicks: 3,
      capped_clicks_sq_sum: 2 ** 2 + 1 ** 2,
      capped_impressions: 6,
      capped_impressions_sq_sum: 3 ** 2 + 1 ** 2 + 2 ** 2,
      capped_clicks_impressions_sum: 2 * 3 + 1 * 1,
      capped_purchases: 1,
      capped_purchases_sq_sum: 1,
      capped_revenue_cents: 2000,
      capped_revenue_cents_sq_sum: 2000 ** 2,
    });
  });

  it('caps each user at the experiment caps: increments min(after, K) − min(before, K) and their squares, and counts the users at a cap', async () => {
    // Prepare: caps of 2 clicks and 5.00 of revenue; u1 clicks 3 times over two batches and buys for 4.00 and 3.50.
    const caps = { ...DEFAULT_USER_CAPS, clicks: 2, revenue_cents: 500 };
    const of = (id: string, user: string, type: EventType, value?: number): VariantEvent => ({
      event: event('exp-caps', id, user, type, value),
      variant: 'control',
      caps,
    });

    // Act
    await events.recordBatch([of('k1', 'u1', 'click'), of('k2', 'u1', 'click'), of('k3', 'u1', 'purchase', 4), of('k4', 'u2', 'click')]);
    await events.recordBatch([of('k5', 'u1', 'click'), of('k6', 'u1', 'purchase', 3.5)]);

    // Assess: u1 counts 2 clicks and 500 cents; u2 1 click and nothing bought.
    expect(total(await counters.dailyCounters('exp-caps', 'control'))).toMatchObject({
      clicks: 4,
      user_clicks_sq_sum: 3 ** 2 + 1,
      capped_clicks: 2 + 1,
      capped_clicks_sq_sum: 2 ** 2 + 1,
      users_at_clicks_cap: 1,
      revenue_cents: 750,
      user_revenue_cents_sq_sum: 750 ** 2,
      capped_revenue_cents: 500,
      capped_revenue_cents_sq_sum: 500 ** 2,
      users_at_revenue_cap: 1,
    });
  });

  it('keeps user-level sums right when the same users come back in a later batch', async () => {
    // Prepare: u1 had 2 clicks and 3 impressions; one more click brings c² from 4 to 9.
    const later = [{ event: event('exp-stats', 'a6', 'u1', 'click'), variant: 'control' }];

    // Act
    await events.recordBatch(later);

    // Assess
    const totals = total(await counters.dailyCounters('exp-stats', 'control'));
    expect(totals).toMatchObject({ clicks: 4, clickers: 2, user_clicks_sq_sum: 3 ** 2 + 1, user_clicks_impressions_sum: 3 * 3 + 1 });
    const { Item } = await aws.doc.send(new GetCommand({ TableName: TABLES.counters.localName, Key: { pk: 'EXP#exp-stats#USER#u1', sk: 'AGG' } }));
    expect(Item).toMatchObject({ clicks: 3, impressions: 3 });
    expect(Item?.purchases ?? 0).toBe(0);
  });

  it('leaves every counter unchanged when the same batch arrives again', async () => {
    // Prepare
    const batch = Array.from({ length: 30 }, (_, i) => ({
      event: event('exp-again', `r-${i}`, `u${i % 5}`, i % 3 ? 'click' : 'impression'),
      variant: 'treatment',
    }));
    await events.recordBatch(batch);
    const before = await counters.dailyCounters('exp-again', 'treatment');

    // Act
    const again = await events.recordBatch(batch);

    // Assess
    expect(again.duplicates).toHaveLength(30);
    expect(again.stored).toHaveLength(0);
    expect(await counters.dailyCounters('exp-again', 'treatment')).toEqual(before);
  });

  it('counts once an event stored by an earlier attempt that was un-claimed', async () => {
    // Prepare: an attempt stored the event, its counters failed and it was set back to counted = false.
    const click = event('exp-reclaim', 'x-1', 'u1', 'click');
    await events.recordBatch([{ event: click, variant: 'control' }]);
    await aws.doc.send(
      new UpdateCommand({
        TableName: TABLES.events.localName,
        Key: { pk: 'EVENT#x-1', sk: 'E' },
        UpdateExpression: 'SET counted = :f',
        ExpressionAttributeValues: { ':f': false },
      }),
    );
    await counters.add('exp-reclaim', 'control', '2026-11-23', {
      clicks: -1,
      clickers: -1,
      user_clicks_sq_sum: -1,
      capped_clicks: -1,
      capped_clicks_sq_sum: -1,
    });
    await counters.addUserTotals('exp-reclaim', 'u1', { clicks: -1, impressions: 0, purchases: 0, revenue_cents: 0, watch_ms: 0 });

    // Act
    const retry = await events.recordBatch([{ event: click, variant: 'control' }]);
    const duplicate = await events.recordBatch([{ event: click, variant: 'control' }]);

    // Assess
    expect([retry.stored, duplicate.duplicates]).toEqual([['x-1'], ['x-1']]);
    expect(total(await counters.dailyCounters('exp-reclaim', 'control'))).toMatchObject({ clicks: 1, clickers: 1, user_clicks_sq_sum: 1 });
  });
});

describe('counters per user segment on dynalite', () => {
  it("keeps a (variant, segment) item per day and shard: the exact reader gives a row per segment, the plain one a day's sum", async () => {
    // Prepare: u1 is known, u2 a cold-start user on mobile; u3's assignment predates segments.
    const of = (id: string, user: string, type: EventType, segment?: string): VariantEvent => ({
      event: event('exp-segments', id, user, type),
      variant: 'control',
      ...(segment === undefined ? {} : { segment }),
    });

    // Act
    await events.recordBatch([
      of('g1', 'u1', 'impression', 'known'),
      of('g2', 'u1', 'click', 'known'),
      of('g3', 'u2', 'impression', 'cold-start:mobile'),
      of('g4', 'u3', 'impression'),
    ]);
    await counters.countExposure('exp-segments', 'control', NOW, 'u1', {}, 'known');

    // Assess
    const rows = await counters.exactDailyCounters('exp-segments', 'control');
    expect(rows.map((row) => [row.segment ?? null, row.impressions, row.clicks ?? 0, row.exposed_users ?? 0])).toEqual([
      [null, 1, 0, 0],
      ['cold-start:mobile', 1, 0, 0],
      ['known', 1, 1, 1],
    ]);
    expect(await counters.dailyCounters('exp-segments', 'control')).toEqual([
      expect.objectContaining({ day: '2026-11-23', impressions: 3, clicks: 1, exposed_users: 1 }),
    ]);
  });
});

describe('the CUPED covariate on dynalite', () => {
  it('is recorded once on the user aggregate and returned with the totals, so each change adds x times its outcome', async () => {
    // Prepare: the exposure records x = 9 (a second exposure's 5 is ignored); then u1 clicks twice and buys once.
    await counters.recordCovariate('exp-cuped', 'u1', 9);
    await counters.recordCovariate('exp-cuped', 'u1', 5);
    const of = (id: string, type: EventType, value?: number): VariantEvent => ({ event: event('exp-cuped', id, 'u1', type, value), variant: 'control' });

    // Act
    await events.recordBatch([of('x1', 'impression'), of('x2', 'click')]);
    await events.recordBatch([of('x3', 'click'), of('x4', 'purchase', 12.5)]);

    // Assess: Σx·y over the one user is 9 × their final capped totals and indicators.
    expect(total(await counters.dailyCounters('exp-cuped', 'control'))).toMatchObject({
      covariate_clickers: 9,
      covariate_converters: 9,
      covariate_capped_clicks: 9 * 2,
      covariate_capped_impressions: 9 * 1,
      covariate_capped_purchases: 9,
      covariate_capped_revenue_cents: 9 * 1250,
    });
    const { Item } = await aws.doc.send(new GetCommand({ TableName: TABLES.counters.localName, Key: { pk: 'EXP#exp-cuped#USER#u1', sk: 'AGG' } }));
    expect(Item).toMatchObject({ covariate: 9, clicks: 2, impressions: 1, purchases: 1, revenue_cents: 1250 });
  });
});

describe('DynamoEventRepository on dynalite, an event id reused with different content', () => {
  it('is a conflict, stored and counted as first sent, while the rest of the batch is counted; a retry gets duplicates and the same conflict', async () => {
    // Prepare: k-1 was stored as a click of u1.
    await events.recordBatch([{ event: event('exp-conflict', 'k-1', 'u1', 'click'), variant: 'control' }]);
    const batch = [
      { event: event('exp-conflict', 'k-1', 'u1', 'purchase', 30), variant: 'control' },
      { event: event('exp-conflict', 'k-2', 'u2', 'click'), variant: 'control' },
    ];

    // Act
    const first = await events.recordBatch(batch);
    const retry = await events.recordBatch(batch);

    // Assess
    expect(first).toMatchObject({ stored: ['k-2'], duplicates: [], conflicts: ['k-1'], failed: [] });
    expect(retry).toMatchObject({ stored: [], duplicates: ['k-2'], conflicts: ['k-1'], failed: [] });
    const totals = total(await counters.dailyCounters('exp-conflict', 'control'));
    expect(totals).toMatchObject({ clicks: 2 });
    expect(totals.conversions).toBeUndefined();
    const stored = await aws.doc.send(new GetCommand({ TableName: TABLES.events.localName, Key: { pk: 'EVENT#k-1', sk: 'E' } }));
    expect(stored.Item).toMatchObject({ event_type: 'click', counted: true });
  });

  it('treats an item stored before fingerprints existed as the same content (duplicate)', async () => {
    // Prepare
    const click = event('exp-legacy', 'l-1', 'u1', 'click');
    await events.recordBatch([{ event: click, variant: 'control' }]);
    await aws.doc.send(new UpdateCommand({ TableName: TABLES.events.localName, Key: { pk: 'EVENT#l-1', sk: 'E' }, UpdateExpression: 'REMOVE content_sha256' }));

    // Act
    const again = await events.recordBatch([{ event: event('exp-legacy', 'l-1', 'u1', 'impression'), variant: 'control' }]);

    // Assess
    expect(again).toMatchObject({ stored: [], duplicates: ['l-1'], conflicts: [] });
  });
});

describe('DynamoAssignmentReader on dynalite', () => {
  it('reads 250 assignments in 100-key BatchGetItem calls and leaves out users without one', async () => {
    // Prepare
    const experiments = new DynamoExperimentRepository(aws.doc, TABLES.experiments.localName);
    const users = Array.from({ length: 250 }, (_, i) => `reader-${i}`);
    for (const [i, userId] of users.entries()) {
      if (i % 50 === 7) continue;
      await experiments.putAssignmentIfAbsent({
        experimentId: 'exp-read',
        userId,
        variant: i % 2 ? 'treatment' : 'control',
        bucket: i,
        propensity: 0.5,
        assignedAt: new Date(NOW).toISOString(),
      });
    }
    const reader = new DynamoAssignmentReader(aws.doc, TABLES.experiments.localName);

    // Act
    const variants = await reader.variants(users.map((userId) => ({ experimentId: 'exp-read', userId })));

    // Assess
    expect(variants.size).toBe(245);
    expect(variants.get(assignmentRefKey('exp-read', 'reader-3'))).toBe('treatment');
    expect(variants.has(assignmentRefKey('exp-read', 'reader-7'))).toBe(false);
  });
});
