/**
 * The key of the events table's items: an event's (`EVENT#<event id>` / `E`), and an interleaved
 * impression slate's, which is stored as the event `imp-<request id>`. In a module of its own
 * because both event-store.ts and impression-store.ts address the table, and the events store
 * holds the impression store: neither needs to import the other for it.
 */
export const eventKey = (eventId: string) => ({ pk: `EVENT#${eventId}`, sk: 'E' });
