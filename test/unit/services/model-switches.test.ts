/**
 * The analysis split at a model switch: the report marks each switch and compares the target
 * since the last one beside the whole period, from daily counters written as the events path
 * writes them (per-day increments, a user's squares as deltas). Expected figures come from the
 * raw per-user activity the counters were written from.
 */
import { describe, expect, it } from 'vitest';
import { createExperiment, switchModelVersions } from '../../../lambdas/domain/experiments/lifecycle.ts';
import type { Experiment } from '../../../lambdas/domain/experiments/model.ts';
import { mulberry32 } from '../../../lambdas/domain/recommenders/data/random.ts';
import { countersFrom } from '../../../lambdas/services/analysis-input.ts';
import { analysisFromCounters } from '../../../lambdas/services/experiment-results.ts';
import { periodStartAfter } from '../../../lambdas/services/model-switches.ts';
import { renderAnalysisReport } from '../../../lambdas/services/report.ts';
import { addDays } from '../../../lambdas/services/synthetic-counters.ts';
import type { DailyCounter } from '../../../lambdas/storage/counter-store.ts';

const FIRST_DAY = '2026-11-01';
const SWITCH_AT = `${addDays(FIRST_DAY, 7)}T02:00:00.000Z`;
const LAST_DAY = addDays(FIRST_DAY, 13);
const USERS_PER_ARM = 600;

/** One user's activity on one day. */
interface Activity {
  user: string;
  variant: string;
  day: string;
  impressions: number;
  clicks: number;
  purchases: number;
}

function following(targetKind: 'click_through' | 'conversion'): Experiment {
  const started = createExperiment({
    now: new Date(`${FIRST_DAY}T00:00:00Z`),
    request: {
      id: 'follows',
      name: 'follows',
      status: 'running',
      follow_latest: true,
      variants: [
        { name: 'control', model_id: 'popularity', model_version: 'v1', weight: 0.5, is_control: true },
        { name: 'treatment', model_id: 'als', model_version: 'v1', weight: 0.5 },
      ],
      target_metric: { kind: targetKind },
      min_sample_size: 100,
    },
  });
  return switchModelVersions(started, {
    versions: { control: { model_id: 'popularity', model_version: 'v2' }, treatment: { model_id: 'als', model_version: 'v2' } },
    runId: 'run-7',
    now: new Date(SWITCH_AT),
  });
}

/**
 * Users who come back: each arm's users arrive over the first week and are active on about half
 * of the days after; the treatment clicks and buys more before the switch, the same after it.
 */
function simulateActivity(): Activity[] {
  const random = mulberry32(20261201);
  const activity: Activity[] = [];
  for (const variant of ['control', 'treatment']) {
    for (let u = 0; u < USERS_PER_ARM; u++) {
      const user = `${variant}-${u}`;
      const arrival = Math.floor(random() * 7);
      const heavy = random() < 0.3;
      for (let d = arrival; d <= 13; d++) {
        if (d > arrival && random() < 0.5) continue;
        const day = addDays(FIRST_DAY, d);
        const ctr = variant === 'treatment' && day < '2026-11-08' ? 0.14 : 0.1;
        const buy = variant === 'treatment' && day < '2026-11-08' ? 0.06 : 0.04;
        const impressions = heavy ? 12 : 4;
        let clicks = 0;
        for (let i = 0; i < impressions; i++) if (random() < ctr) clicks++;
        activity.push({ user, variant, day, impressions, clicks, purchases: random() < buy ? 1 : 0 });
      }
    }
  }
  return activity;
}

/** Daily counters as the events path writes them: a user's exposure, first click and first purchase on their day, squares as deltas. */
function countersOf(activity: readonly Activity[]): Record<string, DailyCounter[]> {
  const totals = new Map<string, { clicks: number; impressions: number; purchases: number }>();
  const rows = new Map<string, Record<string, number>>();
  for (const a of [...activity].sort((x, y) => (x.day < y.day ? -1 : x.day > y.day ? 1 : 0))) {
    const before = totals.get(a.user);
    const after = {
      clicks: (before?.clicks ?? 0) + a.clicks,
      impressions: (before?.impressions ?? 0) + a.impressions,
      purchases: (before?.purchases ?? 0) + a.purchases,
    };
    totals.set(a.user, after);
    const key = `${a.variant}|${a.day}`;
    const row = rows.get(key) ?? {};
    const add = (field: string, value: number) => (row[field] = (row[field] ?? 0) + value);
    const b = before ?? { clicks: 0, impressions: 0, purchases: 0 };
    if (!before) add('exposed_users', 1);
    add('impressions', a.impressions);
    add('clicks', a.clicks);
    add('conversions', a.purchases);
    if (b.clicks === 0 && after.clicks > 0) add('clickers', 1);
    if (b.purchases === 0 && after.purchases > 0) add('converters', 1);
    add('user_clicks_sq_sum', after.clicks ** 2 - b.clicks ** 2);
    add('user_impressions_sq_sum', after.impressions ** 2 - b.impressions ** 2);
    add('user_clicks_impressions_sum', after.clicks * after.impressions - b.clicks * b.impressions);
    rows.set(key, row);
  }
  const out: Record<string, DailyCounter[]> = { control: [], treatment: [] };
  for (const [key, row] of rows) {
    const [variant, day] = key.split('|');
    out[variant].push({ day, ...row });
  }
  return out;
}

const sum = (activity: readonly Activity[], field: 'clicks' | 'impressions' | 'purchases') => activity.reduce((total, a) => total + a[field], 0);

describe('periodStartAfter', () => {
  it('starts the period on the day after a switch within a day, and on the day of one at midnight', () => {
    expect(periodStartAfter('2026-11-08T02:00:00.000Z')).toBe('2026-11-09');
    expect(periodStartAfter('2026-11-08T00:00:00.000Z')).toBe('2026-11-08');
  });
});

describe('countersFrom', () => {
  it("keeps the increments from the day on and carries earlier exposures onto the period's first day", () => {
    // Prepare
    const counters = {
      a: [
        { day: '2026-11-01', exposed_users: 5, clicks: 3 },
        { day: '2026-11-03', exposed_users: 2, clicks: 4 },
        { day: '2026-11-02', exposed_users: 1, clicks: 1 },
      ],
      b: [{ day: '2026-11-01', exposed_users: 4 }],
    };

    // Act
    const period = countersFrom(counters, '2026-11-02');

    // Assess
    expect(period).toEqual({
      a: [
        { day: '2026-11-02', exposed_users: 6, clicks: 1 },
        { day: '2026-11-03', exposed_users: 2, clicks: 4 },
      ],
      b: [{ day: '2026-11-02', exposed_users: 4 }],
    });
  });
});

describe('the analysis of an experiment switched by a retraining run', () => {
  const activity = simulateActivity();
  const counters = countersOf(activity);
  const periodFrom = periodStartAfter(SWITCH_AT);
  const inPeriod = (variant: string) => activity.filter((a) => a.variant === variant && a.day >= periodFrom);
  const whole = (variant: string) => activity.filter((a) => a.variant === variant);

  it('marks the switch with its day, run and versions', () => {
    // Act
    const analysis = analysisFromCounters(following('click_through'), counters, { day: LAST_DAY });

    // Assess
    expect(analysis.model_switches?.switches).toEqual([
      {
        at: SWITCH_AT,
        day: '2026-11-08',
        run_id: 'run-7',
        versions: { control: { model_id: 'popularity', model_version: 'v2' }, treatment: { model_id: 'als', model_version: 'v2' } },
      },
    ]);
    expect(analysis.model_switches?.since_last_switch.from).toBe('2026-11-09');
  });

  it("gives click-through since the switch from the period's clicks and impressions beside the whole period's, and the whole period still decides", () => {
    // Act
    const analysis = analysisFromCounters(following('click_through'), counters, { day: LAST_DAY });
    const section = analysis.model_switches!;

    // Assess: estimates are the raw data's pooled rates over each period
    for (const variant of ['control', 'treatment']) {
      expect(section.since_last_switch.variants.find((v) => v.name === variant)?.estimate).toBeCloseTo(
        sum(inPeriod(variant), 'clicks') / sum(inPeriod(variant), 'impressions'),
        12,
      );
      expect(section.whole_period.variants.find((v) => v.name === variant)?.estimate).toBeCloseTo(
        sum(whole(variant), 'clicks') / sum(whole(variant), 'impressions'),
        12,
      );
    }
    expect(section.since_last_switch.result).toBe('ok');
    expect(section.since_last_switch.through).toBe(LAST_DAY);
    // The period's users are everyone exposed so far.
    expect(section.since_last_switch.variants.map((v) => v.users)).toEqual(section.whole_period.variants.map((v) => v.users));
    // Before the switch the treatment clicked more: the whole period shows a lift the period after it does not.
    const [wholeLift] = section.whole_period.comparisons;
    const [periodLift] = section.since_last_switch.comparisons;
    expect(wholeLift.lift_interval!.low).toBeGreaterThan(0);
    expect(periodLift.lift_interval!.low).toBeLessThan(0);
    expect(periodLift.lift_interval!.high).toBeGreaterThan(0);
    expect(section.whole_period.comparisons[0].p_value).toBe(analysis.report!.comparisons[0].status === 'ok' ? analysis.report!.comparisons[0].pValue : null);
  });

  it("gives an approximate click-through interval since the switch: 0.99 and 0.85 of the width the period's own per-user sums give", () => {
    // Prepare: the delta-method interval of each arm from each user's clicks and impressions in the period (0 for a user who did not return)
    const trueStandardError = (variant: string) => {
      const perUser = new Map<string, { x: number; y: number }>();
      for (const a of whole(variant)) perUser.set(a.user, { x: 0, y: 0 });
      for (const a of inPeriod(variant)) {
        const u = perUser.get(a.user)!;
        u.x += a.clicks;
        u.y += a.impressions;
      }
      const users = [...perUser.values()];
      const n = users.length;
      const mx = users.reduce((s, u) => s + u.x, 0) / n;
      const my = users.reduce((s, u) => s + u.y, 0) / n;
      const r = mx / my;
      const linearised = users.reduce((s, u) => s + (u.x - r * u.y) ** 2, 0) / (n - 1);
      return Math.sqrt(linearised / (n * my * my));
    };

    // Act
    const section = analysisFromCounters(following('click_through'), counters, { day: LAST_DAY }).model_switches!;

    // Assess: the counters hold increments of each user's squares and products, not the period's own (see countersFrom)
    const widths: Record<string, number> = {};
    for (const variant of ['control', 'treatment']) {
      const interval = section.since_last_switch.variants.find((v) => v.name === variant)!.interval!;
      const width = interval.high - interval.low;
      const trueWidth = 2 * 1.959963984540054 * trueStandardError(variant);
      widths[variant] = width / trueWidth;
    }
    expect(widths.control).toBeCloseTo(0.986, 3);
    expect(widths.treatment).toBeCloseTo(0.851, 3);
  });

  it('gives conversion since the switch as the first purchases in the period over every user exposed so far', () => {
    // Act
    const section = analysisFromCounters(following('conversion'), counters, { day: LAST_DAY }).model_switches!;

    // Assess
    const firstPurchases = (variant: string) => {
      const bought = new Set(
        whole(variant)
          .filter((a) => a.day < periodFrom && a.purchases > 0)
          .map((a) => a.user),
      );
      return new Set(
        inPeriod(variant)
          .filter((a) => a.purchases > 0 && !bought.has(a.user))
          .map((a) => a.user),
      ).size;
    };
    for (const variant of ['control', 'treatment']) {
      const estimate = section.since_last_switch.variants.find((v) => v.name === variant)?.estimate;
      expect(estimate).toBeCloseTo(firstPurchases(variant) / new Set(whole(variant).map((a) => a.user)).size, 12);
    }
  });

  it('says why there is no comparison yet when the analysis day is the switch day', () => {
    // Act
    const section = analysisFromCounters(following('click_through'), counters, { day: '2026-11-08' }).model_switches!;

    // Assess
    expect(section.since_last_switch).toMatchObject({ result: 'insufficient-data', reason: 'the period starts on 2026-11-09, after the analysis day' });
    expect(section.whole_period.result).toBe('ok');
  });

  it('has no section for a pinned experiment, nor for a day before the switch', () => {
    // Prepare
    const pinned = { ...following('click_through'), follow_latest: false, model_history: undefined };

    // Act
    const pinnedAnalysis = analysisFromCounters(pinned, counters, { day: LAST_DAY });
    const beforeSwitch = analysisFromCounters(following('click_through'), counters, { day: '2026-11-07' });

    // Assess
    expect(pinnedAnalysis.model_switches).toBeUndefined();
    expect(beforeSwitch.model_switches).toBeUndefined();
  });

  it('marks the switch on the HTML timeline and shows both periods side by side', () => {
    // Act
    const { html } = renderAnalysisReport(analysisFromCounters(following('click_through'), counters, { day: LAST_DAY }));

    // Assess
    expect(html).toContain('<h2>Model switches</h2>');
    expect(html.match(/class="switch-marker"/g)?.length).toBe(2);
    expect(html).toContain('2026-11-08');
    expect(html).toMatch(/Since the last switch \(from 2026-11-09\)/);
    expect(html).toMatch(/Whole period/);
  });
});
