import { describe, expect, it } from 'vitest';
import { DAILY_EVENT_LIMITS, planQuotaClaims, slateProblem, splitByLimit } from '../../../lambdas/domain/events/plausibility.ts';

const slate = { user_id: 'u1', experiment_id: 'e', slate: [{ item_id: 'a' }, { item_id: 'b' }] };
const click = (overrides: Record<string, unknown> = {}) => ({
  event_type: 'click' as const,
  user_id: 'u1',
  experiment_id: 'e',
  item_id: 'a',
  request_id: 'r1',
  ...overrides,
});

describe('slateProblem', () => {
  it.each([
    ['a click on a shown item of its own slate', click(), slate, true, false],
    ['an event without request_id', click({ request_id: undefined }), undefined, true, false],
    ['a request_id with no slate, for a user in the test', click(), undefined, true, true],
    ['a request_id with no slate, for a user outside the test', click(), undefined, false, false],
    ["another user's slate", click({ user_id: 'u2' }), slate, true, true],
    ["another user's slate, even outside the test", click({ user_id: 'u2' }), slate, false, true],
    ['a slate of another experiment', click({ experiment_id: 'f' }), slate, true, true],
    ['a click on an item not shown', click({ item_id: 'z' }), slate, true, true],
    ['a purchase of an item not shown', click({ event_type: 'purchase', item_id: 'z' }), slate, true, false],
  ])('%s: refused = %s', (_case, event, recorded, inTest, refused) => {
    expect(slateProblem(event, recorded, inTest) !== undefined).toBe(refused);
  });
});

describe('planQuotaClaims', () => {
  it('groups events by experiment, user and receive day, counting each type and keeping positions', () => {
    // Prepare
    const at = (day: string) => Date.parse(`${day}T12:00:00Z`);
    const events = [
      { event_type: 'click' as const, user_id: 'u1', experiment_id: 'e', received_at_ms: at('2026-11-30') },
      { event_type: 'rating' as const, user_id: 'u2', experiment_id: 'e', received_at_ms: at('2026-11-30') },
      { event_type: 'click' as const, user_id: 'u1', experiment_id: 'e', received_at_ms: at('2026-11-30') },
      { event_type: 'click' as const, user_id: 'u1', experiment_id: 'f', received_at_ms: at('2026-11-30') },
      { event_type: 'click' as const, user_id: 'u1', experiment_id: 'e', received_at_ms: at('2026-12-01') },
    ];

    // Act
    const claims = planQuotaClaims(events);

    // Assess
    expect(claims).toEqual([
      { experimentId: 'e', userId: 'u1', day: '2026-11-30', counts: { click: 2 }, positions: [0, 2] },
      { experimentId: 'e', userId: 'u2', day: '2026-11-30', counts: { rating: 1 }, positions: [1] },
      { experimentId: 'f', userId: 'u1', day: '2026-11-30', counts: { click: 1 }, positions: [3] },
      { experimentId: 'e', userId: 'u1', day: '2026-12-01', counts: { click: 1 }, positions: [4] },
    ]);
  });
});

describe('splitByLimit', () => {
  it('lets a type reach its limit exactly, and refuses one event more', () => {
    expect(splitByLimit({ click: 1, purchase: 1 }, { click: DAILY_EVENT_LIMITS.click - 1, purchase: DAILY_EVENT_LIMITS.purchase })).toEqual({
      fits: ['click'],
      over: ['purchase'],
    });
  });
});
