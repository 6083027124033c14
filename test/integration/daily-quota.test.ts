/**
 * The per-user daily limits on dynalite: conditional ADDs that take a user's share, refuse the
 * types over the limit while granting the others, and hold under concurrent requests of one user
 * (never more granted than the limit).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLES } from '../../lib/resources.ts';
import { DAILY_EVENT_LIMITS } from '../../lambdas/domain/events/plausibility.ts';
import { DynamoDailyQuota } from '../../lambdas/storage/daily-quota.ts';
import { startLocalAws, type LocalAws } from '../helpers/local-aws.ts';

let aws: LocalAws;
let quota: DynamoDailyQuota;
const limits = { ...DAILY_EVENT_LIMITS, click: 10, purchase: 2 };
const DAY = '2026-11-30';

beforeAll(async () => {
  aws = await startLocalAws();
  quota = new DynamoDailyQuota(aws.doc, TABLES.counters.localName, limits);
});
afterAll(async () => aws.stop());

describe('DynamoDailyQuota on dynalite', () => {
  it('grants events up to the limit and refuses the type that would pass it, granting the others', async () => {
    // Prepare
    const claim = (counts: Record<string, number>) => ({ experimentId: 'e', userId: 'u-mixed', day: DAY, counts });
    await quota.take(claim({ click: 8 }));

    // Act
    const grant = await quota.take(claim({ click: 3, rating: 1 }));

    // Assess
    expect(grant).toEqual({ granted: ['rating'], over: ['click'] });
    expect(await quota.usedOn('e', 'u-mixed', DAY)).toEqual({ click: 8, rating: 1 });
  });

  it('gives back a share, so the same events can be taken again', async () => {
    // Prepare
    const claim = { experimentId: 'e', userId: 'u-back', day: DAY, counts: { purchase: 2 } };
    await quota.take(claim);

    // Act
    await quota.giveBack(claim);
    const again = await quota.take(claim);

    // Assess
    expect(again).toEqual({ granted: ['purchase'], over: [] });
    expect(await quota.usedOn('e', 'u-back', DAY)).toEqual({ purchase: 2 });
  });

  it('keeps days, users and experiments apart', async () => {
    // Act
    await quota.take({ experimentId: 'e', userId: 'u-apart', day: DAY, counts: { click: 10 } });
    const otherDay = await quota.take({ experimentId: 'e', userId: 'u-apart', day: '2026-12-01', counts: { click: 10 } });
    const otherExperiment = await quota.take({ experimentId: 'f', userId: 'u-apart', day: DAY, counts: { click: 10 } });

    // Assess
    expect([otherDay.over, otherExperiment.over]).toEqual([[], []]);
  });

  it('never grants more than the limit to concurrent requests of one user', async () => {
    // Act: 25 requests of one click each, at once
    const grants = await Promise.all(Array.from({ length: 25 }, () => quota.take({ experimentId: 'e', userId: 'u-race', day: DAY, counts: { click: 1 } })));

    // Assess
    expect(grants.filter((g) => g.granted.includes('click'))).toHaveLength(10);
    expect(await quota.usedOn('e', 'u-race', DAY)).toEqual({ click: 10 });
  });
});
