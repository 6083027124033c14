/**
 * Team-draft interleaving (Radlinski, Kurup & Joachims, 2008). Instead of splitting users,
 * every user sees one list mixing both models' rankings; each click is credited to the model
 * (team) that contributed the item. A per-impression preference and a sign test over many
 * impressions detect the better ranker with far less traffic than an A/B test.
 */
import jStat from 'jstat';
import { logBeta } from '../stats/special.ts';
import { fieldError } from './errors.ts';
import { hashV1 } from './hash.ts';
import { RESERVED_SALT_PREFIX } from './model.ts';
import { mulberry32 } from '../recommenders/data/random.ts';

/** 'a' is the control's list, 'b' the treatment's. */
export type Team = 'a' | 'b';

export interface InterleavedItem {
  item_id: string;
  team: Team;
}

/** The seed of one impression's coin flips: reproducible from user and request ids. */
export function interleavingSeed({ userId, requestId }: { userId: string; requestId: string }): number {
  return hashV1(`${RESERVED_SALT_PREFIX}interleave:${requestId}`, userId);
}

/**
 * Interleaves two ranked lists. In each round the team with fewer picks (a coin flip on a
 * tie) adds its highest-ranked item not already shown; when one list runs out the other
 * continues. The result holds no duplicates, and with no `length` limit it is a permutation
 * of the union of both lists (duplicates inside a list are ignored).
 */
export function teamDraftInterleave({
  listA,
  listB,
  userId,
  requestId,
  length,
}: {
  listA: readonly string[];
  listB: readonly string[];
  userId: string;
  requestId: string;
  /** Maximum items to return; defaults to everything. */
  length?: number;
}): InterleavedItem[] {
  const random = mulberry32(interleavingSeed({ userId, requestId }));
  const limit = length ?? Number.POSITIVE_INFINITY;
  const shown = new Set<string>();
  const result: InterleavedItem[] = [];
  const cursor = { a: 0, b: 0 };
  const picks = { a: 0, b: 0 };
  const lists = { a: listA, b: listB };

  const nextOf = (team: Team): string | undefined => {
    const list = lists[team];
    while (cursor[team] < list.length && shown.has(list[cursor[team]])) cursor[team]++;
    return list[cursor[team]];
  };

  while (result.length < limit) {
    const candidateA = nextOf('a');
    const candidateB = nextOf('b');
    if (candidateA === undefined && candidateB === undefined) break;
    // The coin is flipped on every tie, even if one list is exhausted, so the random stream
    // (and therefore the result) depends only on the round, not on list contents.
    const coin = picks.a === picks.b ? random() < 0.5 : undefined;
    let team: Team = picks.a < picks.b || coin === true ? 'a' : 'b';
    if (team === 'a' && candidateA === undefined) team = 'b';
    if (team === 'b' && candidateB === undefined) team = 'a';
    const item = team === 'a' ? candidateA! : candidateB!;
    shown.add(item);
    picks[team]++;
    result.push({ item_id: item, team });
  }
  return result;
}

/** Outcome of one impression. */
export type Preference = 'a' | 'b' | 'tie';

export interface ImpressionCredit {
  clicks_a: number;
  clicks_b: number;
  preference: Preference;
}

/**
 * Credits each clicked item to the team that placed it (clicks on items not shown are
 * ignored, repeated clicks count once) and calls the impression for the team with more.
 */
export function creditClicks({ interleaved, clickedItemIds }: { interleaved: readonly InterleavedItem[]; clickedItemIds: Iterable<string> }): ImpressionCredit {
  const teamOf = new Map(interleaved.map((item) => [item.item_id, item.team]));
  const counts = { a: 0, b: 0 };
  for (const id of new Set(clickedItemIds)) {
    const team = teamOf.get(id);
    if (team) counts[team]++;
  }
  const preference: Preference = counts.a > counts.b ? 'a' : counts.b > counts.a ? 'b' : 'tie';
  return { clicks_a: counts.a, clicks_b: counts.b, preference };
}

export interface PreferenceTestResult {
  wins_a: number;
  wins_b: number;
  ties: number;
  impressions: number;
  /** `(wins_a + ties / 2) / impressions - 0.5`: > 0 favours a; 0 when there are no impressions. */
  delta: number;
  /** Two-sided exact binomial (sign) test of wins_a vs wins_b, ties excluded. */
  p_value: number;
  /** The winner at level `alpha`, or 'none'. */
  preferred: Team | 'none';
}

/** Counts per outcome from a list of impression preferences. */
export function countPreferences(preferences: Iterable<Preference>): { wins_a: number; wins_b: number; ties: number } {
  const counts = { wins_a: 0, wins_b: 0, ties: 0 };
  for (const p of preferences) {
    if (p === 'a') counts.wins_a++;
    else if (p === 'b') counts.wins_b++;
    else counts.ties++;
  }
  return counts;
}

/**
 * Two-sided exact sign test: under "no preference" wins_a ~ Binomial(wins_a + wins_b, 1/2).
 * `p = min(1, 2 · P(X <= min(wins_a, wins_b)))`, with the binomial CDF from the regularised
 * incomplete beta function, `P(X <= k) = I_{1/2}(n - k, k + 1)`.
 */
export function signTest({ wins_a, wins_b, ties = 0, alpha = 0.05 }: { wins_a: number; wins_b: number; ties?: number; alpha?: number }): PreferenceTestResult {
  for (const [field, value] of Object.entries({ wins_a, wins_b, ties })) {
    if (!Number.isInteger(value) || value < 0) throw fieldError(field, `must be an integer >= 0, got ${value}`);
  }
  const n = wins_a + wins_b;
  const k = Math.min(wins_a, wins_b);
  const tail = n === 0 ? 1 : jStat.ibeta(0.5, n - k, k + 1);
  const p_value = Math.min(1, 2 * tail);
  const impressions = n + ties;
  const delta = impressions === 0 ? 0 : (wins_a + ties / 2) / impressions - 0.5;
  const preferred: PreferenceTestResult['preferred'] = p_value < alpha && wins_a !== wins_b ? (wins_a > wins_b ? 'a' : 'b') : 'none';
  return { wins_a, wins_b, ties, impressions, delta, p_value, preferred };
}

/** Concentration of the Beta(k, k) mixture of the always-valid sign test: sd of θ ≈ 0.15 around 1/2, tuned to the sizeable preferences interleaving detects. */
export const SEQUENTIAL_SIGN_TEST_PRIOR = 5;

/**
 * Always-valid p-values of the sign test for cumulative wins read repeatedly (e.g. daily): the
 * mixture likelihood ratio of θ ~ Beta(k, k) against θ = 1/2 for "team b wins a decisive
 * impression" is a martingale under the null, so by Ville's inequality the running minimum of
 * 1 / ratio is a p-value that stays valid however often it is read (Robbins' mixture SPRT).
 * `looks` are cumulative counts in time order; returns one p-value per look.
 */
export function alwaysValidSignTest(looks: readonly { wins_a: number; wins_b: number }[], prior = SEQUENTIAL_SIGN_TEST_PRIOR): number[] {
  let best = 1;
  const logBetaPrior = logBeta(prior, prior);
  return looks.map(({ wins_a, wins_b }) => {
    for (const [field, value] of Object.entries({ wins_a, wins_b })) {
      if (!Number.isInteger(value) || value < 0) throw fieldError(field, `must be an integer >= 0, got ${value}`);
    }
    const n = wins_a + wins_b;
    const logRatio = logBeta(prior + wins_b, prior + wins_a) - logBetaPrior + n * Math.LN2;
    best = Math.min(best, Math.min(1, Math.exp(-logRatio)));
    return best;
  });
}
