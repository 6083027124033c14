import { describe, expect, it } from 'vitest';
import { sfc32 } from '../../../lambdas/domain/recommenders/data/random.ts';
import { attractiveness, DEFAULT_BEHAVIOUR, examination, liking, respondToSlate } from '../../../simulator/behaviour.ts';
import type { SimulatedUser } from '../../../simulator/population.ts';

const user: SimulatedUser = {
  userId: 'u1',
  taste: new Map([
    ['loved', 5],
    ['liked', 4],
    ['meh', 3],
    ['hated', 1],
  ]),
  meanRating: 3.5,
  returnProbability: 0.5,
};
const slate = ['loved', 'liked', 'meh', 'hated', 'unrated'].map((item_id, i) => ({ item_id, rank: i + 1 }));

describe('the position-based click model', () => {
  it('examines rank r with probability r^-eta', () => {
    expect([1, 2, 4, 10].map((r) => examination(r))).toEqual([1, 0.5, 0.25, 0.1]);
    expect(examination(4, { ...DEFAULT_BEHAVIOUR, examinationDecay: 0.5 })).toBe(0.5);
  });

  it('makes an item more attractive the more the user liked it, unrated items least, and seen items less', () => {
    const like = (item: string) => liking(user, item, [1, 5]);
    const a = (item: string, shown = false) => attractiveness(like(item), user.taste.has(item), shown);
    expect([like('loved'), like('liked'), like('meh'), like('hated'), like('unrated')]).toEqual([1, 0.75, 0.5, 0, 0]);
    expect(a('loved')).toBeCloseTo(DEFAULT_BEHAVIOUR.maxAttractiveness, 12);
    expect(a('loved')).toBeGreaterThan(a('liked'));
    expect(a('liked')).toBeGreaterThan(a('meh'));
    expect(a('hated')).toBe(DEFAULT_BEHAVIOUR.baseAttractiveness);
    expect(a('unrated')).toBe(DEFAULT_BEHAVIOUR.baseAttractiveness);
    expect(a('loved', true)).toBeCloseTo(a('loved') * DEFAULT_BEHAVIOUR.repeatFactor, 12);
  });

  it('reads half-star scales (ml-latest, 0.5 to 5) onto the same liking', () => {
    const halfStars: SimulatedUser = {
      ...user,
      taste: new Map([
        ['a', 0.5],
        ['b', 5],
        ['c', 2.75],
      ]),
    };
    expect(['a', 'b', 'c'].map((item) => liking(halfStars, item, [0.5, 5]))).toEqual([0, 1, 0.5]);
  });
});

describe('respondToSlate', () => {
  const respond = (seed: number, lift = 0, shown = new Set<string>()) =>
    respondToSlate({ user, experimentId: 'exp', requestId: `req-${seed}`, slate, shown, lift, ratingScale: [1, 5], random: sfc32(seed) });

  it('gives every event an id derived from the request, so a resent batch is the same batch', () => {
    const events = Array.from({ length: 300 }, (_, seed) => respond(seed)).flat();
    const ids = events.map((e) => e.event_id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const event of events) {
      expect(event.event_id.startsWith(`${event.request_id}:`)).toBe(true);
      expect(event).toMatchObject({ user_id: 'u1', experiment_id: 'exp' });
    }
    expect(respond(7)).toEqual(respond(7));
  });

  it('leaves request_id out when the service did not record the slate, with the same events and ids otherwise', () => {
    // Act
    const recorded = Array.from({ length: 50 }, (_, seed) => respond(seed)).flat();
    const unrecorded = Array.from({ length: 50 }, (_, seed) =>
      respondToSlate({
        user,
        experimentId: 'exp',
        requestId: `req-${seed}`,
        slateRecorded: false,
        slate,
        shown: new Set(),
        lift: 0,
        ratingScale: [1, 5],
        random: sfc32(seed),
      }),
    ).flat();

    // Assess
    expect(unrecorded.length).toBeGreaterThan(0);
    expect(unrecorded.every((e) => !('request_id' in e))).toBe(true);
    expect(unrecorded).toEqual(recorded.map(({ request_id: _omitted, ...rest }) => rest));
  });

  it('clicks loved items at the top far more often than unrated ones further down, and follows a click with valid purchases, ratings and watch time', () => {
    const events = Array.from({ length: 4000 }, (_, seed) => respond(seed)).flat();
    const clicks = (item: string) => events.filter((e) => e.event_type === 'click' && e.item_id === item).length;
    expect(clicks('loved')).toBeGreaterThan(1500);
    expect(clicks('unrated')).toBeLessThan(40);
    for (const rating of events.filter((e) => e.event_type === 'rating')) expect(rating.value).toBe(user.taste.get(rating.item_id) ?? 4);
    for (const watch of events.filter((e) => e.event_type === 'watch_time')) expect(watch.value).toBeGreaterThanOrEqual(300);
    expect(events.some((e) => e.event_type === 'purchase' && e.item_id === 'hated')).toBe(false);
  });

  it('multiplies the click-through by exactly 1 + the planted lift, draw for draw', () => {
    // The same streams with and without the lift: every control click is also a treated click.
    let control = 0;
    let treated = 0;
    for (let seed = 0; seed < 20_000; seed++) {
      control += respond(seed).filter((e) => e.event_type === 'click').length;
      treated += respond(seed, 0.2).filter((e) => e.event_type === 'click').length;
    }
    // 20,000 slates give about 15,000 clicks: the ratio's standard error is under 1 %.
    expect(treated / control).toBeGreaterThan(1.17);
    expect(treated / control).toBeLessThan(1.23);
  });

  it('remembers the slate as shown, so the items are less attractive on the next visit', () => {
    const shown = new Set<string>();
    respond(1, 0, shown);
    expect([...shown].sort()).toEqual(['hated', 'liked', 'loved', 'meh', 'unrated']);
    const fresh = Array.from({ length: 3000 }, (_, seed) => respond(seed).filter((e) => e.event_type === 'click').length).reduce((a, b) => a + b, 0);
    const again = Array.from({ length: 3000 }, (_, seed) => respond(seed, 0, new Set(shown)).filter((e) => e.event_type === 'click').length).reduce(
      (a, b) => a + b,
      0,
    );
    expect(again / fresh).toBeGreaterThan(0.4);
    expect(again / fresh).toBeLessThan(0.6);
  });
});
