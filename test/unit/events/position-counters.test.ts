/**
 * The counters of the recommendation metrics: lists by length, clicks by position, and the
 * fallback impressions by reason (counterIncrements). Bounded: at most one per-position
 * attribute per event, and only positions 1 to MAX_COUNTED_POSITION.
 */
import { describe, expect, it } from 'vitest';
import { clickPositionField, counterIncrements, MAX_COUNTED_POSITION, slateLengthField, type AcceptedEvent } from '../../../lambdas/domain/events/event.ts';
import { planCounterGroups } from '../../../lambdas/domain/events/counters.ts';

const slate = (length: number): NonNullable<AcceptedEvent['slate']> =>
  Array.from({ length }, (_, i) => ({ item_id: `i${i}`, position: i + 1, score: 1 - i / 100 }));

describe('impressions', () => {
  it('count their list once, by its length, however long it is', () => {
    expect(counterIncrements({ event_type: 'impression', fallback: null, slate: slate(10) })).toEqual({ impressions: 1, slate_len_10: 1 });
    expect(counterIncrements({ event_type: 'impression', fallback: null, slate: slate(MAX_COUNTED_POSITION) })).toEqual({
      impressions: 1,
      [slateLengthField(MAX_COUNTED_POSITION)]: 1,
    });
  });

  it('count an empty or missing slate as an impression only', () => {
    expect(counterIncrements({ event_type: 'impression', fallback: null, slate: [] })).toEqual({ impressions: 1 });
    expect(counterIncrements({ event_type: 'impression', fallback: null })).toEqual({ impressions: 1 });
  });

  it('leave a list longer than the counters keep out of the per-length counts', () => {
    expect(counterIncrements({ event_type: 'impression', fallback: null, slate: slate(MAX_COUNTED_POSITION + 1) })).toEqual({ impressions: 1 });
  });

  it.each([
    ['unknown-user', { fallback_cold_start_impressions: 1 }],
    ['artifact-unavailable', { fallback_artifact_impressions: 1 }],
    ['a reason recorded by an older version', {}],
    ['constructor', {}],
  ])('keep the fallback reason %s apart, with fallback_impressions the total of every reason', (fallback, apart) => {
    expect(counterIncrements({ event_type: 'impression', fallback, slate: slate(5) })).toEqual({
      impressions: 1,
      fallback_impressions: 1,
      slate_len_5: 1,
      ...apart,
    });
  });
});

describe('clicks', () => {
  it.each([1, 3, MAX_COUNTED_POSITION])('at position %i count at that position too', (position) => {
    expect(counterIncrements({ event_type: 'click', fallback: null, position })).toEqual({ clicks: 1, [clickPositionField(position)]: 1 });
  });

  it.each([undefined, 0, MAX_COUNTED_POSITION + 1, 1000, 2.5])('with position %s count as clicks only', (position) => {
    expect(counterIncrements({ event_type: 'click', fallback: null, position })).toEqual({ clicks: 1 });
  });
});

describe('a group of events', () => {
  it('adds the per-position counts of its lists and clicks into the one daily update', () => {
    // Prepare
    const at = Date.parse('2026-12-01T10:00:00Z');
    const base = { user_id: 'u1', experiment_id: 'exp', received_at_ms: at };
    const events: AcceptedEvent[] = [
      { ...base, event_id: 'imp-1', event_type: 'impression', slate: slate(10), fallback: null },
      { ...base, event_id: 'imp-2', event_type: 'impression', slate: slate(10), fallback: 'unknown-user' },
      { ...base, event_id: 'c1', event_type: 'click', item_id: 'i0', position: 1 },
      { ...base, event_id: 'c2', event_type: 'click', item_id: 'i2', position: 3 },
      { ...base, event_id: 'c3', event_type: 'click', item_id: 'i0', position: 1 },
    ];

    // Act
    const [group] = planCounterGroups(events.map((event) => ({ event, variant: 'treatment' })));

    // Assess
    expect(group.increments).toMatchObject({
      impressions: 2,
      slate_len_10: 2,
      fallback_impressions: 1,
      fallback_cold_start_impressions: 1,
      clicks: 3,
      clicks_pos_1: 2,
      clicks_pos_3: 1,
    });
    // Bounded: every per-position attribute names a position the counters keep.
    const positional = Object.keys(group.increments).filter((field) => /^(clicks_pos|slate_len)_/.test(field));
    expect(positional.every((field) => Number(field.split('_').at(-1)) <= MAX_COUNTED_POSITION)).toBe(true);
  });
});
