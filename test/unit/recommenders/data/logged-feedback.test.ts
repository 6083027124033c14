import { describe, expect, it } from 'vitest';
import { feedbackStrength, mergeLoggedFeedback, type LoggedInteraction } from '../../../../lambdas/domain/recommenders/data/logged-feedback.ts';

const BASE = '1\t10\t3\t881250949\n1\t11\t2\t881250950\n2\t10\t5\t881250951\n';
const at = (day: number) => Date.UTC(2026, 11, day);
const event = (overrides: Partial<LoggedInteraction> & Pick<LoggedInteraction, 'eventId' | 'eventType'>): LoggedInteraction => ({
  userId: '1',
  itemId: '12',
  receivedAtMs: at(1),
  ...overrides,
});

describe('logged feedback as training data', () => {
  it.each([
    ['rating', 4.4, 4],
    ['rating', 0.2, 1],
    ['purchase', undefined, 5],
    ['click', undefined, 4],
    ['watch_time', 1800, 5],
    ['watch_time', 300, 4],
    ['watch_time', 299, 3],
  ] as const)('a %s with value %s has strength %d', (eventType, value, strength) => {
    expect(feedbackStrength({ eventType, value })).toBe(strength);
  });

  it('adds a pair the base does not have, replaces the base line of a pair it has, and keeps the rest verbatim', () => {
    // Act
    const { text, summary } = mergeLoggedFeedback(BASE, [
      event({ eventId: 'a', eventType: 'click', itemId: '12' }),
      event({ eventId: 'b', eventType: 'rating', itemId: '11', value: 5, receivedAtMs: at(2) }),
    ]);

    // Assess
    expect(text.split('\n').filter(Boolean)).toEqual(['1\t10\t3\t881250949', '2\t10\t5\t881250951', `1\t12\t4\t${at(1) / 1000}`, `1\t11\t5\t${at(2) / 1000}`]);
    expect(summary).toEqual({
      baseRatings: 3,
      logged: { rating: 1, click: 1, purchase: 0, watch_time: 0 },
      skipped: 0,
      loggedPairs: 2,
      replacedBaseLines: 1,
      ratings: 4,
    });
  });

  it('lets the latest explicit rating win over implicit signals of the same pair, and the strongest implicit signal win among them', () => {
    // Act
    const explicit = mergeLoggedFeedback('', [
      event({ eventId: 'p', eventType: 'purchase', receivedAtMs: at(3) }),
      event({ eventId: 'r1', eventType: 'rating', value: 2, receivedAtMs: at(1) }),
      event({ eventId: 'r2', eventType: 'rating', value: 3, receivedAtMs: at(2) }),
    ]);
    const implicit = mergeLoggedFeedback('', [event({ eventId: 'c', eventType: 'click' }), event({ eventId: 'w', eventType: 'watch_time', value: 10 })]);

    // Assess
    expect(explicit.text).toBe(`1\t12\t3\t${at(3) / 1000}\n`);
    expect(implicit.text).toBe(`1\t12\t4\t${at(1) / 1000}\n`);
  });

  it('counts an event id read twice once, and skips (and counts) what u.data cannot hold', () => {
    // Act
    const { summary } = mergeLoggedFeedback(BASE, [
      event({ eventId: 'a', eventType: 'click' }),
      event({ eventId: 'a', eventType: 'click', receivedAtMs: at(2) }),
      event({ eventId: 'b', eventType: 'watch_time', itemId: undefined, value: 60 }),
      event({ eventId: 'c', eventType: 'click', userId: 'user-7' }),
    ]);

    // Assess
    expect(summary).toMatchObject({ logged: { rating: 0, click: 2, purchase: 0, watch_time: 1 }, skipped: 2, loggedPairs: 1, ratings: 4 });
  });
});
