/**
 * The segments section (segment-breakdown.ts): the target per user segment, from counters kept
 * per (variant, segment), with Holm's correction across the segments of a dimension.
 */
import { describe, expect, it } from 'vitest';
import {
  addIncrements,
  addTotals,
  exposureIncrements,
  userStatIncrements,
  userTotalsDelta,
  ZERO_TOTALS,
  type Increments,
  type UserTotals,
} from '../../../lambdas/domain/events/counters.ts';
import { counterIncrements, type EventType } from '../../../lambdas/domain/events/event.ts';
import { userCapsOf } from '../../../lambdas/domain/experiments/caps.ts';
import type { Experiment } from '../../../lambdas/domain/experiments/model.ts';
import { holmAdjust, ratioMetricTest } from '../../../lambdas/domain/stats/index.ts';
import { analysisFromCounters } from '../../../lambdas/services/experiment-results.ts';
import { renderAnalysisReport } from '../../../lambdas/services/report.ts';
import { segmentsReport } from '../../../lambdas/services/segment-breakdown.ts';
import { twoArmExperiment } from '../../../lambdas/services/synthetic-counters.ts';
import type { DailyCounter } from '../../../lambdas/storage/counter-store.ts';

const NOW = new Date('2026-03-01T00:00:00Z');
const DAY = '2026-03-02';

interface SimUser {
  variant: string;
  segment?: string;
  impressions: number;
  clicks: number;
}

/** Deterministic users: known users click more in the treatment, cold-start ones do not; a third send a client segment. */
function population(): SimUser[] {
  const users: SimUser[] = [];
  for (let i = 0; i < 400; i++) {
    const variant = i % 2 === 0 ? 'control' : 'treatment';
    const known = i % 5 !== 0;
    const client = i % 3 === 0 ? 'mobile' : undefined;
    const impressions = 3 + (i % 7);
    const rate = known ? (variant === 'treatment' ? 0.3 : 0.2) : 0.1;
    const clicks = Math.floor(impressions * rate + ((i * 37) % 11) / 11);
    users.push({ variant, segment: `${known ? 'known' : 'cold-start'}${client ? `:${client}` : ''}`, impressions, clicks });
  }
  return users;
}

/** The rows the service keeps: one per (variant, day, segment), written user by user. */
function countersOf(experiment: Experiment, users: SimUser[]): Record<string, DailyCounter[]> {
  const caps = userCapsOf(experiment);
  const rows = new Map<string, Increments>();
  for (const user of users) {
    const key = `${user.variant}\u0000${user.segment ?? ''}`;
    const row = rows.get(key) ?? rows.set(key, {}).get(key)!;
    addIncrements(row, exposureIncrements());
    let totals: UserTotals = ZERO_TOTALS;
    const events: EventType[] = [
      ...Array.from({ length: user.impressions }, (): EventType => 'impression'),
      ...Array.from({ length: user.clicks }, (): EventType => 'click'),
    ];
    for (const event_type of events) {
      const after = addTotals(totals, userTotalsDelta({ event_type }));
      addIncrements(row, { ...counterIncrements({ event_type, fallback: null }), ...userStatIncrements(totals, after, caps) });
      totals = after;
    }
  }
  const out: Record<string, DailyCounter[]> = {};
  for (const [key, row] of rows) {
    const [variant, segment] = key.split('\u0000');
    (out[variant] ??= []).push(segment === '' ? { day: DAY, ...row } : { day: DAY, segment, ...row });
  }
  return out;
}

/** The ratio sample of the users matching `keep`, summed independently of the counters. */
function sample(users: SimUser[], keep: (u: SimUser) => boolean) {
  const chosen = users.filter(keep);
  return {
    users: chosen.length,
    sumX: chosen.reduce((s, u) => s + u.clicks, 0),
    sumY: chosen.reduce((s, u) => s + u.impressions, 0),
    sumX2: chosen.reduce((s, u) => s + u.clicks ** 2, 0),
    sumY2: chosen.reduce((s, u) => s + u.impressions ** 2, 0),
    sumXY: chosen.reduce((s, u) => s + u.clicks * u.impressions, 0),
  };
}

describe('the segments section', () => {
  const users = population();

  it('tests the target in each user type, with Holm across the segments, equal to the test on those users alone', () => {
    // Prepare
    const experiment = twoArmExperiment('segments', { now: NOW });

    // Act
    const report = segmentsReport(experiment, countersOf(experiment, users));

    // Assess
    expect(report.dimensions.map((d) => d.dimension)).toEqual(['user_type']);
    const [types] = report.dimensions;
    expect(types.segments.map((s) => s.segment)).toEqual(['known', 'cold-start']);
    const raw = types.segments.map((segment) => {
      const ofType = (u: SimUser) => u.segment!.split(':')[0] === segment.segment;
      const expected = ratioMetricTest({
        control: sample(users, (u) => u.variant === 'control' && ofType(u)),
        treatment: sample(users, (u) => u.variant === 'treatment' && ofType(u)),
        confidenceLevel: 0.95,
      });
      if (expected.status !== 'ok') throw new Error(`no reference test: ${expected.reason}`);
      const [comparison] = segment.comparisons;
      expect(comparison.difference).toBeCloseTo(expected.difference, 12);
      expect(comparison.pValue).toBeCloseTo(expected.pValue, 12);
      return expected.pValue;
    });
    const holm = holmAdjust(raw);
    types.segments.forEach((segment, i) => {
      expect(segment.comparisons[0].pValueAdjustedAcrossSegments).toBeCloseTo(holm[i], 12);
    });
    expect(types.segments[0].comparisons[0].relativeLift).toBeGreaterThan(0.2);
  });

  it('adds the client segments the experiment declares, users who sent none apart, and rows of no segment as unrecorded', () => {
    // Prepare
    const experiment = { ...twoArmExperiment('segments', { now: NOW }), segments: ['mobile', 'web'] } as Experiment;
    const legacy = users.slice(0, 40).map((u) => ({ ...u, segment: undefined }));

    // Act
    const report = segmentsReport(experiment, countersOf(experiment, [...users.slice(40), ...legacy]));

    // Assess
    const client = report.dimensions.find((d) => d.dimension === 'client_segment')!;
    expect(client.segments.map((s) => s.segment)).toEqual(['mobile', 'none', 'unrecorded']);
    expect(client.segments.find((s) => s.segment === 'unrecorded')?.users).toEqual({ control: 20, treatment: 20 });
    expect(report.dimensions[0].segments.map((s) => s.segment)).toEqual(['known', 'cold-start', 'unrecorded']);
  });

  it('is in report.json and the HTML page, a row and a small plot on a shared axis per segment', () => {
    // Prepare
    const experiment = { ...twoArmExperiment('segments', { now: NOW, min_sample_size: 10 }), segments: ['mobile'] } as Experiment;

    // Act
    const { json, html } = renderAnalysisReport(analysisFromCounters(experiment, countersOf(experiment, users), { day: DAY }));

    // Assess
    expect(json.segments?.dimensions.map((d) => d.segments.length)).toEqual([2, 2]);
    expect(html).toContain('<h2>Segments</h2>');
    expect(html.match(/<svg viewBox="0 0 220 18"/g)).toHaveLength(4);
    // The variant totals are the sums over the segments: the decision sees every user.
    expect(json.totals.control.exposed_users + json.totals.treatment.exposed_users).toBe(users.length);
  });
});
