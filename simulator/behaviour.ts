/**
 * What a simulated user does with a slate: a position-based click model (Craswell et al. 2008;
 * Joachims et al. 2017). The user examines the item at rank r with probability r^-eta, and
 * clicks an examined item with an attractiveness that rises with their hidden rating of it
 * (graded relevance to click probability as in Chapelle et al.'s ERR: (2^g - 1) / (2^gmax - 1)),
 * small for items they never rated, and lower for items they were already shown on an earlier
 * visit (novelty fades). A click may lead to a purchase, a rating (their true one) and watch
 * time. A planted lift multiplies the click probability of the treatment's users by 1 + lift;
 * since nothing the user does later depends on their clicks (fatigue follows what was shown, not
 * what was clicked), the expected click-through of the treatment is exactly 1 + lift times the
 * control's: a run has a known truth. Pure: randomness comes from the caller's seeded stream.
 */
import type { Random } from '../lambdas/domain/recommenders/data/random.ts';
import type { SimulatedUser } from './population.ts';

export interface BehaviourParameters {
  /** Examination probability at rank r is r^-eta. */
  examinationDecay: number;
  /** Click probability of an examined item the user loves (top of the scale). */
  maxAttractiveness: number;
  /** Click probability of an examined item the user never rated (or rated lowest). */
  baseAttractiveness: number;
  /** Attractiveness multiplier of an item the user was already shown on an earlier visit. */
  repeatFactor: number;
  /** After a click: P(purchase) = purchaseRate x liking (0..1 on the rating scale). */
  purchaseRate: number;
  /** After a click: P(the user rates it). */
  rateProbability: number;
  /** After a click: P(the user watches it), for seconds growing with liking. */
  watchProbability: number;
}

export const DEFAULT_BEHAVIOUR: BehaviourParameters = {
  examinationDecay: 1,
  maxAttractiveness: 0.5,
  baseAttractiveness: 0.02,
  repeatFactor: 0.5,
  purchaseRate: 0.3,
  rateProbability: 0.3,
  watchProbability: 0.6,
};

/** One slate item as /recommend answers it. */
export interface SlateItem {
  item_id: string;
  rank: number;
}

/** An event as POST /events/batch takes it (snake_case: the API's own shape). */
export interface SimulatedEvent {
  event_id: string;
  event_type: 'click' | 'purchase' | 'rating' | 'watch_time';
  user_id: string;
  experiment_id: string;
  item_id: string;
  request_id?: string;
  position?: number;
  value?: number;
}

/** The user's liking of an item on 0..1: their hidden rating rescaled, or 0 when they never rated it. */
export function liking(user: SimulatedUser, itemId: string, ratingScale: [number, number]): number {
  const rating = user.taste.get(itemId);
  if (rating === undefined) return 0;
  const [low, high] = ratingScale;
  return high > low ? Math.min(1, Math.max(0, (rating - low) / (high - low))) : 1;
}

/** P(click | examined) for one item, before any planted lift. */
export function attractiveness(like: number, rated: boolean, shownBefore: boolean, params: BehaviourParameters = DEFAULT_BEHAVIOUR): number {
  const graded = rated ? (2 ** (4 * like) - 1) / 15 : 0;
  const base = params.baseAttractiveness + (params.maxAttractiveness - params.baseAttractiveness) * graded;
  return shownBefore ? base * params.repeatFactor : base;
}

/** P(examined) at a 1-based rank. */
export const examination = (rank: number, params: BehaviourParameters = DEFAULT_BEHAVIOUR) => rank ** -params.examinationDecay;

/**
 * The events one visit produces. `shown` is the user's memory of items shown on earlier visits
 * (this slate is added to it afterwards); `lift` is the planted multiplier minus one for this
 * user's arm (0 for control).
 */
export function respondToSlate({
  user,
  experimentId,
  requestId,
  slateRecorded = true,
  slate,
  shown,
  lift,
  ratingScale,
  random,
  params = DEFAULT_BEHAVIOUR,
}: {
  user: SimulatedUser;
  experimentId: string;
  requestId: string;
  /** Whether the service recorded the slate (else `request_id` is left out; ids still derive from it). */
  slateRecorded?: boolean;
  slate: readonly SlateItem[];
  shown: Set<string>;
  lift: number;
  ratingScale: [number, number];
  random: Random;
  params?: BehaviourParameters;
}): SimulatedEvent[] {
  const events: SimulatedEvent[] = [];
  const base = { user_id: user.userId, experiment_id: experimentId, ...(slateRecorded ? { request_id: requestId } : {}) };
  for (const { item_id: itemId, rank } of slate) {
    // Draw both numbers for every item, so the streams of two arms stay aligned item by item.
    const examined = random() < examination(rank, params);
    const clickDraw = random();
    if (!examined) continue;
    const like = liking(user, itemId, ratingScale);
    const p = Math.min(1, attractiveness(like, user.taste.has(itemId), shown.has(itemId), params) * (1 + lift));
    if (clickDraw >= p) continue;
    // Ids derive from the server's request id: a resent batch carries the same ids and is counted once.
    const id = `${requestId}:${rank}`;
    events.push({ ...base, event_id: `${id}:click`, event_type: 'click', item_id: itemId, position: rank });
    if (random() < params.purchaseRate * like) {
      events.push({
        ...base,
        event_id: `${id}:purchase`,
        event_type: 'purchase',
        item_id: itemId,
        position: rank,
        value: Math.round((2 + 18 * random()) * 100) / 100,
      });
    }
    if (random() < params.rateProbability) {
      const rating = user.taste.get(itemId) ?? user.meanRating;
      events.push({ ...base, event_id: `${id}:rating`, event_type: 'rating', item_id: itemId, value: Math.min(5, Math.max(1, Math.round(rating))) });
    }
    if (random() < params.watchProbability) {
      events.push({ ...base, event_id: `${id}:watch`, event_type: 'watch_time', item_id: itemId, value: Math.round(300 + 6900 * like * random()) });
    }
  }
  for (const { item_id: itemId } of slate) shown.add(itemId);
  return events;
}
