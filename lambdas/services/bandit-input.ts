/**
 * From a bandit's stored daily counters to the report's bandit input (stats/bandit.ts): per day,
 * each analysed arm's observed users and successes, the exposures the logged allocation implies
 * and the inverse-propensity sums of its reward (domain/events/bandit-counters.ts), cumulative.
 *
 * The expected exposures of arm v are summed over the items of every variant: each exposure adds
 * the whole allocation to the item of the arm it got. Pure, like analysis-input.ts.
 */
import {
  BANDIT_INVERSE_PROPENSITY_FIELD,
  BANDIT_INVERSE_PROPENSITY_SQ_FIELD,
  BANDIT_LOGGED_EXPOSURES_FIELD,
  expectedExposuresField,
  rewardInversePropensityFields,
  type BanditReward,
} from '../domain/events/bandit-counters.ts';
import type { Experiment, Variant } from '../domain/experiments/model.ts';
import type { BanditArmSums, BanditLook, BanditReportInput } from '../domain/stats/index.ts';
import type { DailyCounter } from '../storage/counter-store.ts';

/** The bandit's 0/1 reward for its target metric: the success field its posterior counts. */
export function banditRewardOf(experiment: Pick<Experiment, 'target_metric'>): { field: BanditReward; definition: string } {
  return experiment.target_metric.kind === 'conversion'
    ? { field: 'converters', definition: 'bought at least once (converters / exposed users)' }
    : { field: 'clickers', definition: 'clicked at least once (clickers / exposed users)' };
}

const numberOf = (item: DailyCounter, field: string): number => {
  const value = item[field];
  if (typeof value === 'bigint') return Number(value);
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
};

/** What the report's bandit input adds to the analysis input: the looks, and the split they expect. */
export interface BanditAnalysisInput {
  input: BanditReportInput;
  /** Each analysed arm's share of the expected exposures through the last day; null when not recorded. */
  expectedShares: Record<string, number> | null;
}

/**
 * The bandit input for the analysed arms `kept` (in the report's order), through `through`
 * (inclusive; every day when absent), over the days any of them has a counter item, as
 * buildAnalysisInput's rows. 'not-recorded' when some exposure did not log its allocation
 * (counters written before the allocation was logged): the report then checks the split against
 * the configured weights, as for a fixed split, and says why.
 */
export function banditAnalysisInput(
  experiment: Pick<Experiment, 'target_metric' | 'variants'>,
  kept: readonly Pick<Variant, 'name' | 'is_control'>[],
  countersByVariant: Readonly<Record<string, readonly DailyCounter[]>>,
  through?: string,
): BanditAnalysisInput {
  const included = (day: string) => through === undefined || day <= through;
  const names = kept.map((variant) => variant.name);
  const days = [...new Set(names.flatMap((name) => (countersByVariant[name] ?? []).map((item) => item.day)).filter(included))].sort();
  const reward = banditRewardOf(experiment);
  const rewardFields = rewardInversePropensityFields(reward.field);
  // Every variant's items: an exposure of any arm carries the shares of all of them.
  const allItems = experiment.variants.flatMap((variant) => (countersByVariant[variant.name] ?? []).filter((item) => included(item.day)));
  const logged = allItems.reduce((sum, item) => sum + numberOf(item, BANDIT_LOGGED_EXPOSURES_FIELD), 0);
  const exposed = allItems.reduce((sum, item) => sum + numberOf(item, 'exposed_users'), 0);
  if (logged < exposed) {
    const reason =
      logged === 0
        ? 'no exposure logged its allocation (counters written before bandits logged it): the split is checked against the configured weights'
        : `only ${logged} of ${exposed} exposures logged their allocation (the others were counted before bandits logged it): the split is checked against the configured weights`;
    return { input: { status: 'not-recorded', reason }, expectedShares: null };
  }

  const running: BanditArmSums[] = kept.map((variant) => ({
    name: variant.name,
    isControl: variant.is_control,
    exposedUsers: 0,
    expectedExposures: 0,
    successes: 0,
    inversePropensitySum: 0,
    inversePropensitySqSum: 0,
    rewardInversePropensitySum: 0,
    rewardInversePropensitySqSum: 0,
  }));
  const byDay = new Map<string, DailyCounter[]>();
  for (const item of allItems) byDay.set(item.day, [...(byDay.get(item.day) ?? []), item]);
  const ownItems = (name: string, day: string) => (countersByVariant[name] ?? []).filter((item) => item.day === day);
  const addExpected = (day: string) => {
    for (const item of byDay.get(day) ?? []) {
      for (const arm of running) arm.expectedExposures += numberOf(item, expectedExposuresField(arm.name));
    }
  };
  // Each look takes the expectations of every day up to it, days only other variants have included.
  const allDays = [...byDay.keys()].sort();
  let next = 0;
  const looks: BanditLook[] = days.map((day) => {
    while (next < allDays.length && allDays[next] <= day) addExpected(allDays[next++]);
    running.forEach((arm) => {
      for (const item of ownItems(arm.name, day)) {
        arm.exposedUsers += numberOf(item, 'exposed_users');
        arm.successes += numberOf(item, reward.field);
        arm.inversePropensitySum += numberOf(item, BANDIT_INVERSE_PROPENSITY_FIELD);
        arm.inversePropensitySqSum += numberOf(item, BANDIT_INVERSE_PROPENSITY_SQ_FIELD);
        arm.rewardInversePropensitySum += numberOf(item, rewardFields.sum);
        arm.rewardInversePropensitySqSum += numberOf(item, rewardFields.sumSq);
      }
    });
    return { day, arms: running.map((arm) => ({ ...arm })) };
  });
  const totalExpected = running.reduce((sum, arm) => sum + arm.expectedExposures, 0);
  const expectedShares = totalExpected > 0 ? Object.fromEntries(running.map((arm) => [arm.name, arm.expectedExposures / totalExpected])) : null;
  return { input: { status: 'ok', reward: reward.definition, looks }, expectedShares };
}
