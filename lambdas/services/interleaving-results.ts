/**
 * The preference test of an interleaving experiment from its daily counters: impressions won by
 * each team (the net preference transitions on the `~interleaving` counter), a two-sided exact
 * sign test over wins (ties excluded), the decision and what the promotion guard needs.
 *
 * Pure, like the A/B analysis: the same counters give the same document everywhere. The A/B
 * engine is not run: every interleaved impression shows both models, so the team counters are
 * not two independent samples and have no exposures to check for sample ratio mismatch.
 *
 * Decisions use the always-valid sign test (a Beta-mixture SPRT over the daily cumulative wins),
 * so reading the report every day does not inflate false positives; the fixed-horizon p-value is
 * reported beside it. A decision also waits for `min_sample_size` interleaved impressions.
 */
import { INTERLEAVED_IMPRESSIONS_FIELD, INTERLEAVING_COUNTER_VARIANT, WIN_FIELDS } from '../domain/events/interleaving-credit.ts';
import { alwaysValidSignTest, signTest, type PreferenceTestResult } from '../domain/experiments/interleaving.ts';
import { controlOf, type Experiment, type Variant } from '../domain/experiments/model.ts';
import type { PromotionAnalysis } from '../domain/experiments/lifecycle.ts';
import type { Decision } from '../domain/stats/index.ts';
import type { DailyCounter } from '../storage/counter-store.ts';

/** One team of the test: the variant whose model placed its items, and what was credited to it. */
export interface TeamSummary {
  variant: string;
  /** Clicks credited to the team (every click event, repeated clicks on one item included). */
  clicks: number;
  /** Purchases credited to the team. */
  conversions: number;
}

/** The preference section of an interleaving experiment's analysis document. */
export interface InterleavingPreference extends PreferenceTestResult {
  method: string;
  team_a: TeamSummary;
  team_b: TeamSummary;
  /** 1 − confidence_level. */
  alpha: number;
  /** The experiment's min_sample_size, counted in interleaved impressions. */
  min_impressions: number;
  /** The preferred team's variant when significant and min_impressions is reached, else null. */
  winner: string | null;
  /** Click events of the experiment credited to no team (no request_id, unknown item, ...). */
  uncredited_clicks: number;
  /** Always-valid p-value over the daily looks so far: the one decisions use. */
  always_valid_p_value: number;
}

/** The decision part of an interleaving analysis. */
export interface InterleavingDecision {
  result: 'ok' | 'insufficient-data';
  reason: string | null;
  decision: Decision;
  decision_reason: string;
  winner: string | null;
  promotion: PromotionAnalysis;
}

const numberOf = (item: DailyCounter, field: string): number => {
  const value = item[field];
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
};

/** Sums the given fields over the days on or before `through`. */
export function sumThrough(items: readonly DailyCounter[] | undefined, fields: readonly string[], through: string): Record<string, number> {
  const totals = Object.fromEntries(fields.map((field) => [field, 0]));
  for (const item of items ?? []) {
    if (item.day > through) continue;
    for (const field of fields) totals[field] += numberOf(item, field);
  }
  return totals;
}

/** Team a is the control, team b the other variant (still named once a promotion deactivated it). */
export function teamsOf(experiment: Experiment): { a: Variant; b: Variant } {
  const a = controlOf(experiment);
  const others = experiment.variants.filter((v) => !v.is_control);
  const b = others.find((v) => v.active) ?? others[0];
  if (b === undefined) throw new Error(`interleaving experiment ${experiment.id} has no treatment`);
  return { a, b };
}

/**
 * The preference test through the end of `day`. Ties are the interleaved impressions neither
 * team won, clicked or not (they do not enter the sign test, only `delta`).
 */
export function preferenceFromCounters(
  experiment: Experiment,
  countersByVariant: Readonly<Record<string, readonly DailyCounter[]>>,
  day: string,
): InterleavingPreference {
  const teams = teamsOf(experiment);
  const pseudo = sumThrough(countersByVariant[INTERLEAVING_COUNTER_VARIANT], [INTERLEAVED_IMPRESSIONS_FIELD, WIN_FIELDS.a, WIN_FIELDS.b, 'clicks'], day);
  const team = (name: string): TeamSummary => ({
    variant: name,
    ...(sumThrough(countersByVariant[name], ['clicks', 'conversions'], day) as { clicks: number; conversions: number }),
  });
  // Counters only go negative through a half-applied undo (reported as CounterInconsistency); clamp so the test stays defined.
  const wins_a = Math.max(0, pseudo[WIN_FIELDS.a]);
  const wins_b = Math.max(0, pseudo[WIN_FIELDS.b]);
  const impressions = Math.max(pseudo[INTERLEAVED_IMPRESSIONS_FIELD], wins_a + wins_b);
  const alpha = Number((1 - experiment.confidence_level).toPrecision(12));
  const fixed = signTest({ wins_a, wins_b, ties: impressions - wins_a - wins_b, alpha });
  // Daily cumulative wins, in day order, for the always-valid test.
  let cumulativeA = 0;
  let cumulativeB = 0;
  const looks = [...(countersByVariant[INTERLEAVING_COUNTER_VARIANT] ?? [])]
    .filter((item) => item.day <= day)
    .sort((x, y) => (x.day < y.day ? -1 : x.day > y.day ? 1 : 0))
    .map((item) => {
      cumulativeA = Math.max(0, cumulativeA + numberOf(item, WIN_FIELDS.a));
      cumulativeB = Math.max(0, cumulativeB + numberOf(item, WIN_FIELDS.b));
      return { wins_a: Math.round(cumulativeA), wins_b: Math.round(cumulativeB) };
    });
  const sequential = alwaysValidSignTest(looks.length > 0 ? looks : [{ wins_a, wins_b }]);
  const alwaysValid = sequential[sequential.length - 1];
  const preferred: PreferenceTestResult['preferred'] = alwaysValid < alpha && wins_a !== wins_b ? (wins_a > wins_b ? 'a' : 'b') : 'none';
  const test = { ...fixed, preferred };
  const reached = impressions >= experiment.min_sample_size;
  const winner = reached && test.preferred !== 'none' ? teams[test.preferred].name : null;
  return {
    method:
      'team-draft interleaving: per impression, the team with more distinct clicked items wins; always-valid sign test (Beta(5, 5) mixture SPRT over daily looks) decides, the two-sided exact sign test is reported beside it (ties excluded)',
    ...test,
    team_a: team(teams.a.name),
    team_b: team(teams.b.name),
    alpha,
    min_impressions: experiment.min_sample_size,
    winner,
    uncredited_clicks: pseudo.clicks,
    always_valid_p_value: alwaysValid,
  };
}

/**
 * The decision from the preference test: 'ship' when the treatment (team b) is preferred,
 * 'stop-no-effect' when the control (team a) is (the treatment lost; the control may be
 * promoted to complete the test), otherwise 'keep-running'. Promotion is allowed for the
 * preferred variant only, and never before min_sample_size impressions.
 */
export function interleavingDecision(preference: InterleavingPreference): InterleavingDecision {
  const p = `${preference.always_valid_p_value.toPrecision(3)} always-valid (fixed-horizon ${preference.p_value.toPrecision(3)})`;
  const score = `${preference.wins_a} impressions won by ${preference.team_a.variant}, ${preference.wins_b} by ${preference.team_b.variant}, ${preference.ties} ties`;
  if (preference.impressions === 0) {
    const reason = 'no interleaved impressions yet';
    return {
      result: 'insufficient-data',
      reason,
      decision: 'keep-running',
      decision_reason: `insufficient data: ${reason}`,
      winner: null,
      promotion: { significant: false, srm_flagged: false },
    };
  }
  const ok = (decision: Decision, decision_reason: string, winner: string | null): InterleavingDecision => ({
    result: 'ok',
    reason: null,
    decision,
    decision_reason,
    winner,
    promotion: winner === null ? { significant: false, srm_flagged: false } : { significant: true, srm_flagged: false, winner },
  });
  if (preference.impressions < preference.min_impressions) {
    return ok(
      'keep-running',
      `min_sample_size of ${preference.min_impressions} interleaved impressions not reached (${preference.impressions}; ${score}; sign test p = ${p})`,
      null,
    );
  }
  if (preference.preferred === 'b')
    return ok('ship', `${preference.team_b.variant} is preferred (${score}; sign test p = ${p}, alpha ${preference.alpha})`, preference.team_b.variant);
  if (preference.preferred === 'a') {
    return ok(
      'stop-no-effect',
      `the control ${preference.team_a.variant} is preferred over ${preference.team_b.variant} (${score}; sign test p = ${p}, alpha ${preference.alpha})`,
      preference.team_a.variant,
    );
  }
  return ok('keep-running', `no significant preference yet (${score}; sign test p = ${p}, alpha ${preference.alpha})`, null);
}
