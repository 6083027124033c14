/**
 * The events `abrec bench load` sends: unique ids, every type, and a request id only where the
 * service recorded that slate for that same user, with an item of it (the service refuses an
 * event naming another user's slate, or a click on an item the slate did not hold).
 */
import { describe, expect, it } from 'vitest';
import { eventGenerator, LoadLedger } from '../../../cli/commands/bench-load-traffic.ts';
import { eventSchema } from '../../../lambdas/domain/events/event.ts';
import { mulberry32 } from '../../../lambdas/domain/recommenders/data/random.ts';

function setUp() {
  const ledger = new LoadLedger();
  ledger.noteSlate('1', {
    requestId: 'r-1',
    items: [
      { item_id: 'a', rank: 1 },
      { item_id: 'b', rank: 2 },
    ],
  });
  ledger.noteSlate('2', { requestId: 'r-2', items: [{ item_id: 'c', rank: 1 }] });
  const users = Array.from({ length: 50 }, (_, i) => String(i + 1));
  const generator = eventGenerator({ experimentId: 'bench-load-x', idPrefix: 'load-t', users, random: mulberry32(7), ledger });
  return { ledger, generator };
}

describe('bench load event generator', () => {
  it('sends valid events of every type with ids unique across batches', () => {
    // Arrange
    const { generator } = setUp();

    // Act
    const events = [...generator.eventsPhaseBatch(500), ...generator.eventsPhaseBatch(500)];

    // Assess
    expect(new Set(events.map((e) => e.sent.id)).size).toBe(1000);
    expect(new Set(events.map((e) => e.sent.type))).toEqual(new Set(['impression', 'click', 'purchase', 'rating', 'watch_time']));
    for (const { body, sent } of events) {
      expect(eventSchema.safeParse(body).success).toBe(true);
      expect([body.event_id, body.event_type, body.user_id]).toEqual([sent.id, sent.type, sent.user]);
    }
  });

  it('names a request id only on a slate recorded for the same user, with an item and position of that slate', () => {
    // Arrange
    const { generator, ledger } = setUp();

    // Act
    const events = generator.eventsPhaseBatch(2000).map((e) => e.body);

    // Assess
    const withRequest = events.filter((e) => e.request_id !== undefined);
    expect(withRequest.length).toBeGreaterThan(0);
    for (const event of withRequest) {
      const slate = ledger.slates.get(String(event.user_id))!;
      expect(event.request_id).toBe(slate.requestId);
      expect(slate.items).toContainEqual({ item_id: event.item_id, rank: event.position });
      expect(['click', 'purchase']).toContain(event.event_type);
    }
    expect(events.filter((e) => !['1', '2'].includes(String(e.user_id))).every((e) => e.request_id === undefined)).toBe(true);
  });

  it("sends a session's click (and what follows it) on the slate the user just got, and only a rating without one", () => {
    // Arrange
    const { generator, ledger } = setUp();

    // Act
    const onSlate = generator.sessionBatch('1', ledger.slates.get('1')).map((e) => e.body);
    const withoutSlate = generator.sessionBatch('9', undefined).map((e) => e.body);

    // Assess
    expect(onSlate[0]).toMatchObject({ event_type: 'click', user_id: '1', request_id: 'r-1' });
    expect(onSlate.every((e) => e.item_id === onSlate[0].item_id)).toBe(true);
    expect(withoutSlate).toEqual([expect.objectContaining({ event_type: 'rating', user_id: '9' })]);
    expect(withoutSlate[0].request_id).toBeUndefined();
  });
});
