/**
 * The bandit's counters: each exposure adds the allocation in force and its 1/p, 1/p²; each
 * change of a user's 0/1 reward adds ±1/p, ±1/p²; events carry the propensity into the groups.
 */
import { describe, expect, it } from 'vitest';
import {
  BANDIT_INVERSE_PROPENSITY_FIELD,
  BANDIT_INVERSE_PROPENSITY_SQ_FIELD,
  BANDIT_LOGGED_EXPOSURES_FIELD,
  banditExposureIncrements,
  banditRewardIncrements,
  expectedExposuresField,
  loggedAllocation,
  counterAmount,
  rewardInversePropensityFields,
} from '../../../lambdas/domain/events/bandit-counters.ts';
import { addIncrements, planCounterGroups, ZERO_TOTALS } from '../../../lambdas/domain/events/counters.ts';
import { acceptEvent } from '../../../lambdas/domain/events/event.ts';

const totals = (clicks: number, purchases: number) => ({ ...ZERO_TOTALS, clicks, purchases });

describe('loggedAllocation', () => {
  it('normalises the positive shares as the draw does and leaves out the ones DynamoDB cannot hold', () => {
    const logged = loggedAllocation({ control: 0.2, treatment: 0.6, other: 0 });
    expect(Object.keys(logged)).toEqual(['control', 'treatment']);
    expect(logged.control).toBeCloseTo(0.25, 15);
    expect(logged.treatment).toBeCloseTo(0.75, 15);
    expect(loggedAllocation({ control: 1, treatment: 1e-200 })).toEqual({ control: 1 });
  });
});

describe('banditExposureIncrements', () => {
  it("adds one logged exposure, every arm's share into its expected exposures, and 1/p, 1/p²", () => {
    // Act
    const increments = banditExposureIncrements({ allocation: { control: 0.25, treatment: 0.75 }, propensity: 0.25 });

    // Assess
    expect(increments).toEqual({
      [BANDIT_LOGGED_EXPOSURES_FIELD]: 1,
      [expectedExposuresField('control')]: 0.25,
      [expectedExposuresField('treatment')]: 0.75,
      [BANDIT_INVERSE_PROPENSITY_FIELD]: 4,
      [BANDIT_INVERSE_PROPENSITY_SQ_FIELD]: 16,
    });
  });

  it('rounds every amount to 12 decimals, so no DynamoDB sum needs more than its 38 digits', () => {
    // Act: a share of 1e-20 would reach down to 1e-36, past what a sum of thousands can hold
    const increments = banditExposureIncrements({ allocation: { control: 1 / 3, treatment: 2 / 3 - 1e-20, other: 1e-20 }, propensity: 1 / 3 });

    // Assess
    expect(increments[expectedExposuresField('control')]).toBe(0.333333333333);
    expect(increments[expectedExposuresField('other')]).toBeUndefined();
    expect(increments[BANDIT_INVERSE_PROPENSITY_FIELD]).toBe(3);
    for (const amount of Object.values(increments)) expect(Math.abs(amount * 1e12 - Math.round(amount * 1e12))).toBeLessThan(1e-3);
    expect(counterAmount(-2.5e-12)).toBe(-counterAmount(2.5e-12));
  });

  it('adds nothing without an allocation (an A/B assignment, or one stored before it was logged)', () => {
    expect(banditExposureIncrements({ propensity: 0.5 })).toEqual({});
    expect(banditExposureIncrements({ allocation: { control: 1 }, propensity: 0 })).toEqual({});
  });
});

describe('banditRewardIncrements', () => {
  const clickers = rewardInversePropensityFields('clickers');
  const converters = rewardInversePropensityFields('converters');

  it('adds 1/p and 1/p² when the user first clicks, and nothing for the clicks after', () => {
    expect(banditRewardIncrements(totals(0, 0), totals(1, 0), 0.25)).toEqual({ [clickers.sum]: 4, [clickers.sumSq]: 16 });
    expect(banditRewardIncrements(totals(1, 0), totals(3, 0), 0.25)).toEqual({});
  });

  it('counts a first purchase as the conversion reward, at the same time as a first click', () => {
    expect(banditRewardIncrements(totals(0, 0), totals(1, 1), 0.5)).toEqual({
      [clickers.sum]: 2,
      [clickers.sumSq]: 4,
      [converters.sum]: 2,
      [converters.sumSq]: 4,
    });
    expect(banditRewardIncrements(totals(1, 0), totals(1, 1), 0.5)).toEqual({ [converters.sum]: 2, [converters.sumSq]: 4 });
  });

  it('takes the reward back on an undo, so a change and its undo sum to nothing', () => {
    // Act
    const sum = addIncrements(banditRewardIncrements(totals(0, 0), totals(2, 1), 0.3), banditRewardIncrements(totals(2, 1), totals(0, 0), 0.3));

    // Assess
    for (const amount of Object.values(sum)) expect(amount).toBe(0);
  });

  it('adds nothing for a user without a propensity (an A/B experiment)', () => {
    expect(banditRewardIncrements(totals(0, 0), totals(1, 1), undefined)).toEqual({});
  });
});

describe('planCounterGroups', () => {
  it("keeps each bandit user's propensity with the group, and none for other users", () => {
    // Prepare
    const event = (id: string, user: string) =>
      acceptEvent({ event_id: id, event_type: 'click', user_id: user, experiment_id: 'b', item_id: 'i1' }, Date.parse('2026-03-02T10:00:00Z'));

    // Act
    const [group] = planCounterGroups([
      { event: event('e1', 'u1'), variant: 'treatment', propensity: 0.7 },
      { event: event('e2', 'u2'), variant: 'treatment' },
    ]);

    // Assess
    expect(group.propensities).toEqual(new Map([['u1', 0.7]]));
  });
});
