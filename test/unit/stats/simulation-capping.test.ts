/**
 * One abusive user against the capped analysis, by simulation (seeded, in process). The public
 * API key ships in every client, so one client can send, for one user id, the most events the
 * daily limits allow, every day of the test: 1,000 clicks, 5,000 impressions, 200 purchases of
 * 100,000, 1,000 watch times of a day and 1,000 ratings. Added to an honest simulated experiment
 * (the population, click model and counter arithmetic of `npm run bench:simulate`), such a user
 * must not change what the capped analysis decides, in either arm, whatever they send; the same
 * user does flip the uncapped analysis (so the attack is real), and the sums stay exact although
 * the attacker's uncapped revenue and watch-time squares pass 2^53.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DAILY_EVENT_LIMITS } from '../../../lambdas/domain/events/plausibility.ts';
import { MAX_PURCHASE_VALUE, MAX_WATCH_TIME_SECONDS } from '../../../lambdas/domain/events/event.ts';
import { resolveAssignment } from '../../../lambdas/domain/experiments/assignment.ts';
import { createExperiment } from '../../../lambdas/domain/experiments/lifecycle.ts';
import type { Experiment } from '../../../lambdas/domain/experiments/model.ts';
import { analysisFromCounters, type ExperimentAnalysis } from '../../../lambdas/services/experiment-results.ts';
import { buildWorld, type BenchWorld } from '../../../simulator/bench.ts';
import type { SimulatedEvent } from '../../../simulator/behaviour.ts';
import { createInProcessTarget } from '../../../simulator/in-process-target.ts';
import { runSimulation } from '../../../simulator/run.ts';
import type { DailyCounter } from '../../../lambdas/storage/counter-store.ts';

const FIRST_DAY_MS = Date.parse('2026-01-05T00:00:00Z');
const DAYS = 14;
const USERS = 8000;
/**
 * Caps sized for this population: its most active honest users reach 14 impressions, 9 clicks,
 * 4 purchases, 52 of revenue and 7.7 hours of watch time over the fortnight.
 */
const CAPS = { clicks: 20, impressions: 30, purchases: 5, revenue: 100, watch_time_seconds: 36_000 };

type Rows = Record<string, DailyCounter[]>;
type Strategy = 'clicks' | 'impressions' | 'everything';

function experiment(): Experiment {
  return createExperiment({
    now: new Date(FIRST_DAY_MS - 3_600_000),
    request: {
      id: 'capping-attack',
      name: 'capping attack',
      status: 'running',
      variants: [
        { name: 'control', model_id: 'content', model_version: 'sim', weight: 0.5, is_control: true },
        { name: 'treatment', model_id: 'content', model_version: 'sim', weight: 0.5 },
      ],
      target_metric: { kind: 'click_through' },
      min_sample_size: 250,
      minimum_detectable_effect: 0.1,
      caps: CAPS,
    },
  });
}

/** The counters of an honest run of the whole population, with `lift` planted in the treatment. */
async function honestRun(world: BenchWorld, subject: Experiment, lift: number): Promise<{ rows: Rows; lastDay: string }> {
  const target = createInProcessTarget({ experiment: subject, firstDayMs: FIRST_DAY_MS, slateOf: (_, userId) => world.slates.get(userId) ?? [] });
  await runSimulation({
    population: world.population,
    target,
    experimentId: subject.id,
    days: DAYS,
    seed: 11,
    liftByVariant: lift === 0 ? {} : { treatment: lift },
    concurrency: 1,
  });
  return { rows: target.countersByVariant(), lastDay: target.lastDay() };
}

/** A user id the experiment assigns to `arm`. */
function userIn(subject: Experiment, arm: string): string {
  for (let i = 0; ; i++) {
    const userId = `attacker-${i}`;
    if (resolveAssignment({ experiment: subject, userId, stored: undefined }).variant === arm) return userId;
  }
}

/** The daily maximum of each event type one user may send, by strategy. */
function attackEvents(subject: Experiment, userId: string, day: number, strategy: Strategy): SimulatedEvent[] {
  const many = (type: SimulatedEvent['event_type'] | 'impression', count: number, value?: number) =>
    Array.from(
      { length: count },
      (_, i) =>
        ({
          event_id: `${userId}:${day}:${type}:${i}`,
          event_type: type,
          user_id: userId,
          experiment_id: subject.id,
          item_id: 'item-1',
          ...(value === undefined ? {} : { value }),
        }) as SimulatedEvent,
    );
  const impressions = many('impression', DAILY_EVENT_LIMITS.impression);
  const rest = [
    ...many('click', DAILY_EVENT_LIMITS.click),
    ...many('purchase', DAILY_EVENT_LIMITS.purchase, MAX_PURCHASE_VALUE),
    ...many('watch_time', DAILY_EVENT_LIMITS.watch_time, MAX_WATCH_TIME_SECONDS),
    ...many('rating', DAILY_EVENT_LIMITS.rating, 5),
  ];
  if (strategy === 'impressions') return impressions;
  if (strategy === 'clicks') return rest;
  return [...impressions, ...rest];
}

/** The counters one attacker adds over the days: a /recommend a day (their exposure), then the day's maximum. */
async function attackerRows(subject: Experiment, arm: string, strategy: Strategy): Promise<Rows> {
  const userId = userIn(subject, arm);
  const target = createInProcessTarget({ experiment: subject, firstDayMs: FIRST_DAY_MS, slateOf: () => [{ item_id: 'item-1', rank: 1 }] });
  for (let day = 0; day < DAYS; day++) {
    await target.startDay(day);
    await target.recommend(userId);
    await target.sendEvents(attackEvents(subject, userId, day, strategy));
  }
  return target.countersByVariant();
}

/** Both sets of rows: the analysis adds rows of the same variant and day. */
const merged = (a: Rows, b: Rows): Rows =>
  Object.fromEntries([...new Set([...Object.keys(a), ...Object.keys(b)])].map((variant) => [variant, [...(a[variant] ?? []), ...(b[variant] ?? [])]]));

/** The same counters as written before caps existed: the analysis then decides on the uncapped sums. */
const uncapped = (rows: Rows): Rows =>
  Object.fromEntries(
    Object.entries(rows).map(([variant, days]) => [
      variant,
      days.map(
        (row) => Object.fromEntries(Object.entries(row).filter(([field]) => !field.startsWith('capped_') && !field.startsWith('users_at_'))) as DailyCounter,
      ),
    ]),
  );

const zOf = (analysis: ExperimentAnalysis): number => {
  const comparison = analysis.report?.comparisons[0];
  if (comparison?.status !== 'ok') throw new Error('no comparison');
  return comparison.statistic;
};

const ATTACKS = (['control', 'treatment'] as const).flatMap((arm) => (['clicks', 'impressions', 'everything'] as const).map((strategy) => ({ arm, strategy })));

describe('one user at the daily limits, every day, against the capped analysis', () => {
  const subject = experiment();
  let world: BenchWorld;
  const attackers = new Map<string, Rows>();
  let aa: { rows: Rows; lastDay: string };
  let planted: { rows: Rows; lastDay: string };

  beforeAll(async () => {
    world = buildWorld({ users: USERS });
    aa = await honestRun(world, subject, 0);
    planted = await honestRun(world, subject, 0.3);
    for (const { arm, strategy } of ATTACKS) attackers.set(`${arm}/${strategy}`, await attackerRows(subject, arm, strategy));
  }, 120_000);

  const analyse = (rows: Rows, lastDay: string) => analysisFromCounters(subject, rows, { day: lastDay });

  it('leaves honest users below the caps: capped and uncapped analyses agree without an attacker', () => {
    // Act
    const capped = analyse(aa.rows, aa.lastDay);
    const plain = analyse(uncapped(aa.rows), aa.lastDay);

    // Assess
    expect(capped.capping?.usedByDecision).toBe(true);
    expect(plain.capping?.usedByDecision).toBe(false);
    for (const metric of capped.capping?.metrics ?? []) for (const variant of metric.variants) expect(variant.usersAtCap ?? 0).toBe(0);
    expect(zOf(capped)).toBeCloseTo(zOf(plain), 12);
  });

  it.each(ATTACKS)(
    'keeps the A/A decision (no ship) with the attacker in $arm sending $strategy, moving z by no more than the reported bound',
    ({ arm, strategy }) => {
      // Prepare
      const honest = analyse(aa.rows, aa.lastDay);
      const bound = honest.capping?.oneUserInfluence;

      // Act
      const attacked = analyse(merged(aa.rows, attackers.get(`${arm}/${strategy}`)!), aa.lastDay);

      // Assess
      console.log(
        `capping A/A, attacker in ${arm} sending ${strategy}: z ${zOf(honest).toFixed(3)} -> ${zOf(attacked).toFixed(3)} capped, ${zOf(analyse(uncapped(merged(aa.rows, attackers.get(`${arm}/${strategy}`)!)), aa.lastDay)).toFixed(3)} uncapped; one-user bound ${(bound as { maxStatisticShift: number }).maxStatisticShift.toFixed(3)}`,
      );
      expect(honest.decision).toBe('keep-running');
      expect(attacked.decision).toBe(honest.decision);
      expect(bound?.status).toBe('ok');
      expect(Math.abs(zOf(attacked) - zOf(honest))).toBeLessThanOrEqual((bound as { maxStatisticShift: number }).maxStatisticShift + 1e-9);
      expect(attacked.capping?.metrics.find((m) => m.metric === 'clicks')?.variants.find((v) => v.variant === arm)?.usersAtCap).toBe(
        strategy === 'impressions' ? 0 : 1,
      );
    },
  );

  it.each(ATTACKS)('keeps the planted lift shipping with the attacker in $arm sending $strategy', ({ arm, strategy }) => {
    // Prepare
    const honest = analyse(planted.rows, planted.lastDay);

    // Act
    const attacked = analyse(merged(planted.rows, attackers.get(`${arm}/${strategy}`)!), planted.lastDay);

    // Assess
    console.log(
      `capping planted +30%, attacker in ${arm} sending ${strategy}: z ${zOf(honest).toFixed(3)} -> ${zOf(attacked).toFixed(3)} capped (${attacked.decision}), uncapped ${analyse(uncapped(merged(planted.rows, attackers.get(`${arm}/${strategy}`)!)), planted.lastDay).decision}`,
    );
    expect(honest.decision).toBe('ship');
    expect(attacked.decision).toBe('ship');
    expect(attacked.winner).toBe('treatment');
  });

  it('is flipped by the same user when the analysis runs on uncapped sums: the planted lift no longer ships', () => {
    // Act
    const blocked = ATTACKS.filter(
      ({ arm, strategy }) => analyse(uncapped(merged(planted.rows, attackers.get(`${arm}/${strategy}`)!)), planted.lastDay).decision !== 'ship',
    );

    // Assess: an attacker's clicks or impressions move an arm's click-through and blow up its variance.
    expect(analyse(uncapped(planted.rows), planted.lastDay).decision).toBe('ship');
    expect(blocked.length).toBeGreaterThanOrEqual(4);
  });

  it("keeps the attacker's uncapped sums exact past 2^53, BigInts from the write to the report", () => {
    // Prepare: 200 purchases of 100,000 a day for 14 days, in cents; 1,000 day-long watch times a day, in ms.
    const revenueCents = BigInt(DAILY_EVENT_LIMITS.purchase * MAX_PURCHASE_VALUE * 100 * DAYS);
    const watchMs = BigInt(DAILY_EVENT_LIMITS.watch_time * MAX_WATCH_TIME_SECONDS * 1000 * DAYS);
    const rows = attackers.get('treatment/everything')!.treatment;

    // Act
    const sum = (field: string) => rows.reduce((total, row) => total + BigInt(row[field] ?? 0), 0n);

    // Assess: each day adds (after)² − (before)² exactly, so the days telescope to the total's square.
    expect(sum('user_revenue_cents_sq_sum')).toBe(revenueCents * revenueCents);
    expect(sum('user_watch_ms_sq_sum')).toBe(watchMs * watchMs);
    expect(revenueCents * revenueCents > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(sum('capped_revenue_cents')).toBe(BigInt(CAPS.revenue * 100));
    const analysis = analyse(merged(planted.rows, attackers.get('treatment/everything')!), planted.lastDay);
    const revenue = analysis.capping?.metrics.find((m) => m.metric === 'revenue');
    const treatment = revenue?.variants.find((v) => v.variant === 'treatment');
    expect(treatment?.usersAtCap).toBe(1);
    expect(treatment!.uncapped!.estimate).toBeGreaterThan(100 * treatment!.capped!.estimate);
  });
});
