import { describe, expect, it } from 'vitest';
import type { SimulatedEvent } from '../../../simulator/behaviour.ts';
import type { Population, SimulatedUser } from '../../../simulator/population.ts';
import { MAX_EVENTS_PER_BATCH, runSimulation, type SimulationTarget } from '../../../simulator/run.ts';

/** Users who love every item they are shown, so days produce thousands of events. */
function population(users: number): Population {
  const items = Array.from({ length: 10 }, (_, i) => `i${i}`);
  const list: SimulatedUser[] = Array.from({ length: users }, (_, u) => ({
    userId: `u${u}`,
    taste: new Map(items.map((item) => [item, 5])),
    meanRating: 4,
    returnProbability: u % 2 === 0 ? 0.9 : 0.3,
  }));
  return { users: list, training: undefined as never, ratingScale: [1, 5], heldOutRatings: 0 };
}

function recordingTarget() {
  const batches: SimulatedEvent[][] = [];
  const days: string[] = [];
  let n = 0;
  const target: SimulationTarget = {
    startDay: async (day) => void days.push(`start ${day}`),
    recommend: async (userId) => {
      await new Promise((resolve) => setTimeout(resolve, Number(userId.slice(1)) % 3));
      return {
        variant: Number(userId.slice(1)) % 2 === 0 ? 'control' : 'treatment',
        request_id: `r-${userId}-${++n}`,
        items: Array.from({ length: 10 }, (_, i) => ({ item_id: `i${i}`, rank: i + 1 })),
      };
    },
    sendEvents: async (events) => void batches.push(events),
    finish: async () => void days.push('finish'),
  };
  return { target, batches, days };
}

describe('runSimulation', () => {
  it('sends every event once, in batches of at most 1,000, and closes each day before the next', async () => {
    // Prepare
    const { target, batches, days } = recordingTarget();

    // Act
    const result = await runSimulation({ population: population(2000), target, experimentId: 'e', days: 2, seed: 3 });

    // Assess
    expect(days).toEqual(['start 0', 'start 1', 'finish']);
    expect(Math.max(...batches.map((b) => b.length))).toBe(MAX_EVENTS_PER_BATCH);
    const ids = batches.flat().map((e) => e.event_id);
    expect(ids).toHaveLength(result.events);
    expect(new Set(ids).size).toBe(ids.length);
    expect(result.by_variant.control.clicks + result.by_variant.treatment.clicks).toBe(batches.flat().filter((e) => e.event_type === 'click').length);
  });

  it('gives the same users, visits and events whatever the concurrency', async () => {
    const run = async (concurrency: number) => {
      const { target, batches } = recordingTarget();
      const result = await runSimulation({ population: population(300), target, experimentId: 'e', days: 3, seed: 8, concurrency });
      const perUser = new Map<string, number>();
      for (const e of batches.flat()) perUser.set(`${e.user_id}:${e.event_type}`, (perUser.get(`${e.user_id}:${e.event_type}`) ?? 0) + 1);
      return { ...result, perUser: [...perUser.entries()].sort() };
    };
    expect(await run(1)).toEqual(await run(16));
  });

  it('brings users back with their own probability each day', async () => {
    const { target } = recordingTarget();
    const result = await runSimulation({ population: population(4000), target, experimentId: 'e', days: 1, seed: 1 });
    // 2,000 users at 0.9 and 2,000 at 0.3: 2,400 expected visits, standard deviation about 24.
    expect(result.requests).toBeGreaterThan(2300);
    expect(result.requests).toBeLessThan(2500);
  });
});
