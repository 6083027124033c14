import { describe, expect, it } from 'vitest';
import { planCounterGroups } from '../../../lambdas/domain/events/counters.ts';
import {
  MAX_BATCH_SIZE,
  MAX_PURCHASE_VALUE,
  MAX_WATCH_TIME_SECONDS,
  acceptEvent,
  counterIncrements,
  eventSchema,
  type EventType,
} from '../../../lambdas/domain/events/event.ts';

const NOW = Date.parse('2026-11-23T10:00:00Z');
const base = { user_id: 'u1', experiment_id: 'e1', item_id: 'i1' };
const problemsOf = (candidate: Record<string, unknown>) => {
  const parsed = eventSchema.safeParse({ ...base, ...candidate });
  return parsed.success ? [] : parsed.error.issues.map((issue) => issue.path.join('.'));
};

describe('event values', () => {
  it.each([
    ['purchase', 1e200],
    ['purchase', 1e10],
    ['purchase', MAX_PURCHASE_VALUE + 0.01],
    ['purchase', -1],
    ['watch_time', MAX_WATCH_TIME_SECONDS + 1],
    ['rating', 6],
    ['click', 1e10],
    ['impression', -5],
  ])('refuses a %s of value %s, naming value once', (eventType, value) => {
    expect(problemsOf({ event_type: eventType, value })).toEqual(['value']);
  });

  it('still names a missing item_id next to an out-of-range value', () => {
    expect(problemsOf({ event_type: 'purchase', value: 1e10, item_id: undefined })).toEqual(['value', 'item_id']);
  });

  it.each([
    ['purchase', MAX_PURCHASE_VALUE],
    ['purchase', 0],
    ['purchase', 12.34],
    ['watch_time', MAX_WATCH_TIME_SECONDS],
    ['rating', 5],
  ])('accepts a %s of value %s', (eventType, value) => {
    expect(problemsOf({ event_type: eventType, value })).toEqual([]);
  });

  it.each<[EventType, number]>([
    ['purchase', MAX_PURCHASE_VALUE],
    ['watch_time', MAX_WATCH_TIME_SECONDS],
    ['rating', 5],
  ])('keeps every counter increment of a full batch of %s events at the bound a safe integer', (eventType, value) => {
    // Prepare: the largest ADD one request can send is one group holding the whole batch.
    const events = Array.from({ length: MAX_BATCH_SIZE }, (_, i) => ({
      event: acceptEvent({ event_id: `e-${i}`, event_type: eventType, user_id: `u-${i}`, experiment_id: 'e1', item_id: 'i1', value }, NOW),
      variant: 'control',
    }));

    // Act
    const [group] = planCounterGroups(events);

    // Assess: the SDK refuses to marshal any number beyond 2^53.
    for (const amount of Object.values(group.increments)) expect(typeof amount === 'number' && Math.abs(amount) <= Number.MAX_SAFE_INTEGER).toBe(true);
    const perShardDayCapacity = Number.MAX_SAFE_INTEGER / Math.max(...Object.values(counterIncrements({ event_type: eventType, value })));
    expect(perShardDayCapacity).toBeGreaterThan(500_000);
  });
});
