/**
 * The simulation loop: D simulated days; each day every user comes back with their own
 * probability, asks for recommendations, responds to the slate (behaviour.ts), and the day's
 * events go out in batches of at most 1,000. The target is a port: the HTTP API (local runtime
 * or a deployed stack) or, for the benchmark, the same domain code in process. Every random
 * draw comes from a stream seeded by (seed, day, user), so a run is reproducible whatever the
 * concurrency.
 */
import { deriveSeed, sfc32 } from '../lambdas/domain/recommenders/data/random.ts';
import { respondToSlate, type BehaviourParameters, type SimulatedEvent, type SlateItem } from './behaviour.ts';
import type { Population } from './population.ts';

/** The batch limit of POST /events/batch. */
export const MAX_EVENTS_PER_BATCH = 1000;

export interface Recommendation {
  variant: string;
  request_id: string;
  items: SlateItem[];
  /** False when the service could not record the slate: events then leave `request_id` out (the API refuses a request id with no recorded slate). */
  impression_recorded?: boolean;
}

export interface SimulationTarget {
  /** Moves to simulated day `day` (0-based), closing the previous one (its daily analysis runs). */
  startDay: (day: number) => Promise<void>;
  recommend: (userId: string) => Promise<Recommendation>;
  /** Stores a batch (at most 1,000) exactly once, retrying as needed; throws if it cannot. */
  sendEvents: (events: SimulatedEvent[]) => Promise<void>;
  /** Closes the last day. */
  finish: () => Promise<void>;
}

export interface VariantTally {
  users: number;
  impressions: number;
  clicks: number;
  /** Clicks per impression (slate), as the report's click-through. */
  ctr: number | null;
}

export interface SimulationResult {
  experiment_id: string;
  days: number;
  users: number;
  requests: number;
  events: number;
  by_variant: Record<string, VariantTally>;
}

export interface SimulationProgress {
  day: number;
  days: number;
  usersDone: number;
  usersToday: number;
}

export interface SimulationOptions {
  population: Population;
  target: SimulationTarget;
  experimentId: string;
  days: number;
  seed: number;
  /** Click multiplier minus one, per variant (absent: 0). */
  liftByVariant?: Record<string, number>;
  /** Users served at once (HTTP requests in flight). */
  concurrency?: number;
  behaviour?: BehaviourParameters;
  onProgress?: (progress: SimulationProgress) => void;
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export async function runSimulation({
  population,
  target,
  experimentId,
  days,
  seed,
  liftByVariant = {},
  concurrency = 8,
  behaviour,
  onProgress,
}: SimulationOptions): Promise<SimulationResult> {
  const shown = new Map<string, Set<string>>();
  const tallies = new Map<string, { users: Set<string>; impressions: number; clicks: number }>();
  let requests = 0;
  let events = 0;
  for (let day = 0; day < days; day++) {
    await target.startDay(day);
    const daySeed = deriveSeed(seed, day);
    const visits = population.users
      .map((user, index) => ({ user, random: sfc32(deriveSeed(daySeed, index)) }))
      .filter(({ user, random }) => random() < user.returnProbability);
    let pending: SimulatedEvent[] = [];
    let sending: Promise<void> = Promise.resolve();
    const flush = (batch: SimulatedEvent[]) => {
      sending = sending.then(() => target.sendEvents(batch));
      return sending;
    };
    let done = 0;
    onProgress?.({ day, days, usersDone: 0, usersToday: visits.length });
    await forEachLimited(visits, concurrency, async ({ user, random }) => {
      const slate = await target.recommend(user.userId);
      requests++;
      const tally = tallies.get(slate.variant) ?? { users: new Set<string>(), impressions: 0, clicks: 0 };
      tallies.set(slate.variant, tally);
      tally.users.add(user.userId);
      tally.impressions++;
      const memory = shown.get(user.userId) ?? new Set<string>();
      shown.set(user.userId, memory);
      const produced = respondToSlate({
        user,
        experimentId,
        requestId: slate.request_id,
        slateRecorded: slate.impression_recorded ?? true,
        slate: slate.items,
        shown: memory,
        lift: liftByVariant[slate.variant] ?? 0,
        ratingScale: population.ratingScale,
        random,
        params: behaviour,
      });
      tally.clicks += produced.filter((event) => event.event_type === 'click').length;
      events += produced.length;
      pending.push(...produced);
      while (pending.length >= MAX_EVENTS_PER_BATCH) {
        void flush(pending.slice(0, MAX_EVENTS_PER_BATCH));
        pending = pending.slice(MAX_EVENTS_PER_BATCH);
      }
      onProgress?.({ day, days, usersDone: ++done, usersToday: visits.length });
    });
    if (pending.length > 0) void flush(pending);
    // Every batch of the day is stored before the day closes and its analysis runs.
    await sending;
  }
  await target.finish();
  const byVariant = Object.fromEntries(
    [...tallies.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([variant, t]) => [
        variant,
        { users: t.users.size, impressions: t.impressions, clicks: t.clicks, ctr: t.impressions > 0 ? t.clicks / t.impressions : null },
      ]),
  );
  const users = new Set([...tallies.values()].flatMap((t) => [...t.users])).size;
  return { experiment_id: experimentId, days, users, requests, events, by_variant: byVariant };
}
