/**
 * The arithmetic `abrec bench load` decides lost and duplicated events by: it must report a lost
 * or a duplicated event whenever the store's books show one, including when a loss and a double
 * count of another event would cancel out in the counter.
 */
import { describe, expect, it } from 'vitest';
import { COUNT_FIELD, reconcile, reconcileType, reconcileUsers, type TypeEvidence, type UserEvidence } from '../../../cli/commands/bench-load-reconcile.ts';
import { ZERO_TOTALS, type UserTotals } from '../../../lambdas/domain/events/counters.ts';
import { counterIncrements, eventTypes, type EventType } from '../../../lambdas/domain/events/event.ts';

const clean = (n: number): TypeEvidence => ({ acknowledged: n, acknowledgedStored: n, unacknowledgedStored: 0, counted: n });
const totals = (partial: Partial<UserTotals>): UserTotals => ({ ...ZERO_TOTALS, ...partial });
const allTypes = (evidence: Partial<Record<EventType, TypeEvidence>>) =>
  Object.fromEntries(eventTypes.map((type) => [type, evidence[type] ?? clean(0)])) as Record<EventType, TypeEvidence>;
const noUsers = reconcileUsers([]);

describe('bench load reconciliation of one event type', () => {
  it.each<[string, TypeEvidence, { lost: number; duplicated: number; notStored: number; notCounted: number }]>([
    ['every acknowledged event stored and counted once', clean(1000), { lost: 0, duplicated: 0, notStored: 0, notCounted: 0 }],
    [
      'an acknowledged event with no item (and no count)',
      { acknowledged: 1000, acknowledgedStored: 999, unacknowledgedStored: 0, counted: 999 },
      { lost: 1, duplicated: 0, notStored: 1, notCounted: 0 },
    ],
    [
      'an event stored as counted that the counter misses',
      { acknowledged: 1000, acknowledgedStored: 1000, unacknowledgedStored: 0, counted: 999 },
      { lost: 1, duplicated: 0, notStored: 0, notCounted: 1 },
    ],
    [
      'an event counted twice',
      { acknowledged: 1000, acknowledgedStored: 1000, unacknowledgedStored: 0, counted: 1001 },
      { lost: 0, duplicated: 1, notStored: 0, notCounted: 0 },
    ],
    [
      'a lost event and a double count of another cancelling in the counter (or a counted event whose item is gone): the loss shows',
      { acknowledged: 1000, acknowledgedStored: 999, unacknowledgedStored: 0, counted: 1000 },
      { lost: 1, duplicated: 0, notStored: 1, notCounted: 0 },
    ],
    [
      'an unacknowledged event stored and counted (its answer was lost)',
      { acknowledged: 1000, acknowledgedStored: 1000, unacknowledgedStored: 3, counted: 1003 },
      { lost: 0, duplicated: 0, notStored: 0, notCounted: 0 },
    ],
    [
      'an unacknowledged stored event the counter misses',
      { acknowledged: 1000, acknowledgedStored: 1000, unacknowledgedStored: 3, counted: 1002 },
      { lost: 1, duplicated: 0, notStored: 0, notCounted: 1 },
    ],
  ])('%s', (_name, evidence, expected) => {
    // Act
    const result = reconcileType(evidence);

    // Assess
    expect({ lost: result.lost, duplicated: result.duplicated, notStored: result.notStored, notCounted: result.notCounted }).toEqual(expected);
  });
});

describe('bench load reconciliation of the user aggregates', () => {
  const user = (userId: string, expected: Partial<UserTotals>, actual: Partial<UserTotals> | undefined, unansweredRecommends = 0): UserEvidence => ({
    userId,
    expected: totals(expected),
    actual: actual === undefined ? undefined : totals(actual),
    unansweredRecommends,
  });

  it('finds nothing when every aggregate matches', () => {
    // Act
    const result = reconcileUsers([user('1', { impressions: 3, clicks: 1 }, { impressions: 3, clicks: 1 }), user('2', {}, undefined)]);

    // Assess
    expect(result).toMatchObject({ users: 2, mismatched: 0, lost: 0, duplicated: 0, unacknowledgedImpressions: 0 });
  });

  it('accounts up to one impression per unanswered /recommend request as recorded without acknowledgement', () => {
    // Act
    const result = reconcileUsers([user('1', { impressions: 3 }, { impressions: 5 }, 2), user('2', { impressions: 1 }, { impressions: 1 }, 1)]);

    // Assess
    expect(result).toMatchObject({ mismatched: 0, lost: 0, duplicated: 0, unacknowledgedImpressions: 2 });
  });

  it('reports impressions beyond the unanswered requests as duplicated, and a missing click as lost', () => {
    // Act
    const result = reconcileUsers([
      user('1', { impressions: 3 }, { impressions: 6 }, 2),
      user('2', { clicks: 2, purchases: 1 }, { clicks: 1, purchases: 1 }),
      user('3', { clicks: 1 }, undefined),
    ]);

    // Assess
    expect(result).toMatchObject({ users: 3, mismatched: 3, lost: 2, duplicated: 1, unacknowledgedImpressions: 2 });
    expect(result.mismatches).toEqual([
      { userId: '1', metric: 'impressions', expected: 3, actual: 6, allowance: 2 },
      { userId: '2', metric: 'clicks', expected: 2, actual: 1, allowance: 0 },
      { userId: '3', metric: 'clicks', expected: 1, actual: 0, allowance: 0 },
    ]);
  });

  it('allows no extra click or purchase for an unanswered /recommend request', () => {
    // Act
    const result = reconcileUsers([user('1', { clicks: 1 }, { clicks: 2 }, 3)]);

    // Assess
    expect(result).toMatchObject({ mismatched: 1, duplicated: 1, unacknowledgedImpressions: 0 });
  });
});

describe('bench load reconciliation of a run', () => {
  it('reports lost 0 and duplicated 0 for clean books', () => {
    // Act
    const result = reconcile(allTypes({ impression: clean(500), click: clean(200), purchase: clean(20) }), noUsers);

    // Assess
    expect([result.lost, result.duplicated]).toEqual([0, 0]);
  });

  it('sums the types, and takes the user view when it sees more lost or duplicated events', () => {
    // Arrange
    const types = allTypes({
      click: { acknowledged: 10, acknowledgedStored: 9, unacknowledgedStored: 0, counted: 9 },
      rating: { acknowledged: 5, acknowledgedStored: 5, unacknowledgedStored: 0, counted: 7 },
    });
    const users = reconcileUsers([{ userId: '1', expected: totals({ clicks: 4 }), actual: totals({ clicks: 1 }), unansweredRecommends: 0 }]);

    // Act
    const result = reconcile(types, users);

    // Assess
    expect(result.types.click.lost).toBe(1);
    expect(result.types.rating.duplicated).toBe(2);
    expect([result.lost, result.duplicated]).toEqual([3, 2]);
  });

  it("reports a click lost for one user and another user's click counted twice, which balance in the counter", () => {
    // Arrange: every item is there, the counter holds the right total, the aggregates do not.
    const types = allTypes({ click: clean(10) });
    const users = reconcileUsers([
      { userId: '1', expected: totals({ clicks: 5 }), actual: totals({ clicks: 4 }), unansweredRecommends: 0 },
      { userId: '2', expected: totals({ clicks: 5 }), actual: totals({ clicks: 6 }), unansweredRecommends: 0 },
    ]);

    // Act
    const result = reconcile(types, users);

    // Assess
    expect([result.types.click.lost, result.types.click.duplicated]).toEqual([0, 0]);
    expect([result.lost, result.duplicated]).toEqual([1, 1]);
  });

  it.each(eventTypes)('reads the counter %s adds exactly 1 to', (type) => {
    // Act
    const increments = counterIncrements({ event_type: type, value: 3, fallback: null });

    // Assess
    expect(increments[COUNT_FIELD[type]]).toBe(1);
  });
});
