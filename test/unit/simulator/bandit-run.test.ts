/**
 * Issue 11, item 1 ("bandits analysed as bandits"), done when "a bandit run of the simulator ends
 * promotable without force, with no sample-ratio alarm". The simulator drives a Thompson-sampling
 * experiment through the in-process target (the service's assignment, allocation, counter
 * arithmetic and analysis, no store): the report checks the split against the allocation in
 * force, decides on the inverse-propensity-weighted estimates, and the lifecycle promotes the arm
 * with the planted lift without `force`. An A/A check over many seeds shows the bandit sample-ratio
 * check does not flag correct runs more often than its level allows, while the configured-weights
 * check it replaces flags about half of them.
 */
import { describe, expect, it } from 'vitest';
import { createExperiment, promoteExperiment } from '../../../lambdas/domain/experiments/lifecycle.ts';
import type { Experiment } from '../../../lambdas/domain/experiments/model.ts';
import { sampleRatioMismatch, SRM_P_VALUE_THRESHOLD } from '../../../lambdas/domain/stats/index.ts';
import { binomialUpper, buildWorld, simulateOnce } from '../../../simulator/bench.ts';

const FIRST_DAY_MS = Date.parse('2026-01-05T00:00:00Z');

/** A running Thompson-sampling bandit configured 50/50, both arms the bench world's model. */
function banditExperiment(salt: string, minShare?: number): Experiment {
  return createExperiment({
    now: new Date(FIRST_DAY_MS - 3_600_000),
    request: {
      id: 'bandit-sim',
      salt,
      name: 'Thompson sampling in the simulator',
      status: 'running',
      mode: 'bandit',
      ...(minShare === undefined ? {} : { bandit: { min_share: minShare } }),
      variants: [
        { name: 'control', model_id: 'content', model_version: 'bench', weight: 0.5, is_control: true },
        { name: 'treatment', model_id: 'content', model_version: 'bench', weight: 0.5 },
      ],
      target_metric: { kind: 'click_through' },
      min_sample_size: 100,
      minimum_detectable_effect: 0.1,
      confidence_level: 0.95,
    },
  });
}

/** The check this item replaces: observed users against the configured weights. */
function configuredWeightsSrm(totals: Record<string, { exposed_users: number }>) {
  const srm = sampleRatioMismatch({ observed: [totals.control.exposed_users, totals.treatment.exposed_users], weights: [0.5, 0.5] });
  if (srm.status !== 'ok') throw new Error(srm.reason);
  return srm;
}

describe('a Thompson-sampling bandit run of the simulator', () => {
  const world = buildWorld({ users: 3000 });

  it('moves traffic to the arm with the planted lift, ships it with no sample-ratio alarm, and is promoted without force', async () => {
    // Prepare: the treatment's clicks carry a planted lift of +50%
    const experiment = banditExperiment('bandit-sim-lift');

    // Act: two weeks of simulated users, the allocation recomputed as the counters grow
    const { analysis } = await simulateOnce({ world, experiment, seed: 11, days: 14, plantedLift: 0.5 });
    const promoted = promoteExperiment(experiment, { now: new Date(FIRST_DAY_MS + 14 * 86_400_000), analysis: analysis.promotion });

    // Assess: the split moved far from the configured 50/50, which the old check called a mismatch
    const { control, treatment } = analysis.totals;
    expect(treatment.exposed_users / (control.exposed_users + treatment.exposed_users)).toBeGreaterThan(0.65);
    expect(configuredWeightsSrm(analysis.totals).flagged).toBe(true);
    // ... while against the allocation in force it is no mismatch
    const report = analysis.report!;
    const bandit = report.bandit!;
    if (bandit.status !== 'ok') throw new Error(bandit.reason);
    expect(report.srm).toEqual(bandit.srm);
    expect(bandit.srm).toMatchObject({ status: 'ok', flagged: false });
    expect(analysis.promotion).toEqual({ significant: true, srm_flagged: false, srm_reference: 'allocation-in-force', winner: 'treatment' });
    expect(analysis.decision).toBe('ship');
    expect(analysis.winner).toBe('treatment');
    expect(analysis.decision_reason).toMatch(/SNIPS/);
    // Each arm's value from the logged propensities, beside the observed rate; the treatment is better.
    const arm = (name: string) => bandit.arms.find((a) => a.name === name)!;
    expect(arm('treatment').snips!).toBeGreaterThan(arm('control').snips!);
    for (const name of ['control', 'treatment']) {
      expect(arm(name)).toMatchObject({ reason: null });
      expect(arm(name).ips).not.toBeNull();
      expect(arm(name).observedRate).not.toBeNull();
    }
    // The lifecycle promotes it without force.
    expect(promoted).toMatchObject({ status: 'completed', winner: 'treatment' });
  });

  it('A/A: the check against the allocation in force flags correct bandit runs no more often than its level allows (100 seeds)', async () => {
    // Prepare: both arms identical, so whatever split the bandit wanders into is correct
    const seeds = Array.from({ length: 100 }, (_, i) => i + 1);

    // Act
    const runs = [];
    for (const seed of seeds) {
      const { analysis } = await simulateOnce({ world, experiment: banditExperiment(`bandit-aa-${seed}`), seed, days: 7, plantedLift: 0, users: 1000 });
      const srm = analysis.report!.srm;
      if (srm.status !== 'ok') throw new Error(srm.reason);
      runs.push({
        pValue: srm.pValue,
        flagged: srm.flagged,
        configuredFlagged: configuredWeightsSrm(analysis.totals).flagged,
        shipped: analysis.decision === 'ship',
      });
    }

    // Assess: within the upper end of the binomial band of the level, at the alarm's 0.001 and at 0.05
    const flagged = runs.filter((run) => run.flagged).length;
    const below05 = runs.filter((run) => run.pValue < 0.05).length;
    expect(flagged).toBeLessThanOrEqual(binomialUpper(seeds.length, SRM_P_VALUE_THRESHOLD));
    expect(below05).toBeLessThanOrEqual(binomialUpper(seeds.length, 0.05));
    // The check it replaces, on the same correct runs: far outside its band.
    const configuredFlagged = runs.filter((run) => run.configuredFlagged).length;
    expect(configuredFlagged).toBeGreaterThan(binomialUpper(seeds.length, SRM_P_VALUE_THRESHOLD) + 10);
    // And the SNIPS decision of an A/A bandit ships no more often than alpha allows.
    expect(runs.filter((run) => run.shipped).length).toBeLessThanOrEqual(binomialUpper(seeds.length, 0.05));
  }, 60_000);
});
