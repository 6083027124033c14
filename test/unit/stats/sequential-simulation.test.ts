/**
 * The sequential plan against the report itself (seeded): users arrive over 14 days at the
 * planned size, the report is read every day, and a run ends at its first terminal decision.
 * With a true lift equal to the MDE the report must ship at least as often as the planned
 * power; with no lift it must ship no more often than alpha allows.
 */
import { describe, expect, it } from 'vitest';
import {
  buildExperimentReport,
  isTerminalDecision,
  sequentialPower,
  sequentialSampleSize,
  type DailyVariantCounters,
  type Decision,
} from '../../../lambdas/domain/stats/index.ts';
import { twoArmConfig } from './fixtures.ts';
import { binomialBand, seededRandom, type SeededRandom } from './simulation.ts';

const BASELINE = 0.09;
const MDE = 0.1;
const ALPHA = 0.05;
const POWER = 0.8;
const DAYS = 14;
const RUNS = 400;
const CONFIG = twoArmConfig({ guardrails: [], baseline: BASELINE, confidence_level: 1 - ALPHA, power: POWER, mde: MDE });
const PLANNED = sequentialSampleSize({ baselineRate: BASELINE, relativeMde: MDE, alpha: ALPHA, power: POWER }).usersPerVariant;

const UNUSED = {
  impressions: 0,
  clicks: 0,
  value_n: 0,
  value_sum: 0,
  value_sum_sq: 0,
  user_clicks_sq_sum: 0,
  user_impressions_sq_sum: 0,
  user_clicks_impressions_sum: 0,
};

/** One experiment read daily; returns its first terminal decision (or keep-running at day 14). */
function runExperiment(random: SeededRandom, treatmentRate: number): Decision {
  const rows: DailyVariantCounters[] = [];
  let users = 0;
  let control = 0;
  let treatment = 0;
  for (let d = 1; d <= DAYS; d++) {
    const arriving = Math.round((PLANNED * d) / DAYS) - users;
    users += arriving;
    control += random.binomial(arriving, BASELINE);
    treatment += random.binomial(arriving, treatmentRate);
    const day = `2026-11-${String(d).padStart(2, '0')}`;
    rows.push(
      { day, variant: 'control', exposed_users: users, conversions: control, ...UNUSED },
      { day, variant: 'treatment', exposed_users: users, conversions: treatment, ...UNUSED },
    );
    const decision = buildExperimentReport({ config: CONFIG, counters: rows }).decision.decision;
    if (isTerminalDecision(decision)) return decision;
  }
  return 'keep-running';
}

function tally(seed: number, treatmentRate: number): Record<Decision, number> {
  const random = seededRandom(seed);
  const counts: Record<Decision, number> = { ship: 0, 'keep-running': 0, 'stop-no-effect': 0, 'investigate-srm': 0 };
  for (let r = 0; r < RUNS; r++) counts[runExperiment(random, treatmentRate)] += 1;
  return counts;
}

describe(`the sequential plan (${RUNS} runs, ${DAYS} daily looks, baseline ${BASELINE}, MDE +${MDE * 100}%)`, () => {
  it('plans the size the report uses', () => {
    const last = Array.from({ length: 2 }, (_, i) => ({
      day: '2026-11-14',
      variant: i === 0 ? 'control' : 'treatment',
      exposed_users: PLANNED,
      conversions: 2900,
      ...UNUSED,
    }));

    expect(buildExperimentReport({ config: CONFIG, counters: last }).sampleSize).toMatchObject({
      requiredPerVariant: PLANNED,
      fixedHorizonPerVariant: 16583,
      progress: 1,
    });
    expect(PLANNED).toBe(32130);
  });

  describe('a true lift equal to the MDE', () => {
    const counts = tally(7001, BASELINE * (1 + MDE));
    const shipRate = counts.ship / RUNS;
    // What the normal model predicts for this schedule: above the target, because the plan
    // counts the final look only.
    const predicted = sequentialPower({
      differenceVariancePerUser: BASELINE * (1 - BASELINE) + BASELINE * (1 + MDE) * (1 - BASELINE * (1 + MDE)),
      absoluteMde: BASELINE * MDE,
      alpha: ALPHA,
      usersPerVariant: PLANNED,
      looks: DAYS,
    });
    const band = binomialBand(RUNS, predicted, 0.999);
    console.info(
      `sequential plan ${PLANNED}/variant, lift = MDE: ship ${counts.ship}/${RUNS} = ${shipRate.toFixed(3)} (model ${predicted.toFixed(3)}); stop-no-effect ${counts['stop-no-effect']}; still running ${counts['keep-running']}`,
    );

    it('ships in at least 80% of runs at the planned size', () => {
      expect(shipRate).toBeGreaterThanOrEqual(POWER);
    });

    it('ships about as often as the power model predicts for 14 looks', () => {
      expect(counts.ship).toBeGreaterThanOrEqual(band.low);
      expect(counts.ship).toBeLessThanOrEqual(band.high);
    });

    it('abandons an MDE-sized effect as no effect at most alpha of the time', () => {
      expect(counts['stop-no-effect']).toBeLessThanOrEqual(binomialBand(RUNS, ALPHA, 0.999).high);
    });
  });

  describe('A/A (no lift)', () => {
    const counts = tally(7002, BASELINE);
    console.info(
      `A/A: ship ${counts.ship}/${RUNS} = ${(counts.ship / RUNS).toFixed(3)}; stop-no-effect ${counts['stop-no-effect']}; still running ${counts['keep-running']}`,
    );

    it('ships in at most alpha of runs (within the binomial band)', () => {
      expect(counts.ship).toBeLessThanOrEqual(binomialBand(RUNS, ALPHA, 0.999).high);
    });

    it('ends most runs as no effect at the planned size rather than running on', () => {
      expect(counts['stop-no-effect'] / RUNS).toBeGreaterThan(0.7);
    });
  });
});
