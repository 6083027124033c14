/**
 * `abrec analyze --experiment ID`: every metric of the report, the recommendation metrics and
 * the guardrails it does not check, in the table and in the --json line.
 */
import { describe, expect, it } from 'vitest';
import { createAnalyzeCommand, type MetricsOutput, type RankingOutput } from '../../../cli/commands/analyze.ts';
import { parseExperiment } from '../../../lambdas/domain/experiments/model.ts';
import { analysisFromCounters } from '../../../lambdas/services/experiment-results.ts';
import { syntheticDailyCounters, twoArmExperiment } from '../../../lambdas/services/synthetic-counters.ts';
import { formatSummary, type AnalyzeOutput } from '../../../simulator/summary.ts';
import { recordingIO } from '../../helpers/cli-io.ts';
import type { DailyCounter } from '../../../lambdas/storage/counter-store.ts';

const DAY = '2026-11-14';

/**
 * Fourteen days of counters with lists of 10 and clicks by position, as the events path writes
 * them, without the user-level revenue sums (so revenue per user is shown untested).
 */
function counters(): Record<string, DailyCounter[]> {
  const out: Record<string, DailyCounter[]> = {};
  const arms = [
    { variant: 'control', users: 20_000, ctr: 0.05, conversionRate: 0.09 },
    { variant: 'treatment', users: 20_000, ctr: 0.05, conversionRate: 0.105 },
  ];
  for (const row of syntheticDailyCounters({ arms, days: 14, firstDay: '2026-11-01' })) {
    const impressions = row.increments.impressions ?? 0;
    // Written before the revenue sums existed: neither the raw nor the capped ones (the caps came later still).
    const {
      revenue_cents: _cents,
      user_revenue_cents_sq_sum: _squares,
      capped_revenue_cents: _capped,
      capped_revenue_cents_sq_sum: _cappedSquares,
      ...fields
    } = row.increments as Record<string, number>;
    (out[row.variant] ??= []).push({
      day: row.day,
      ...fields,
      slate_len_10: impressions,
      clicks_pos_1: Math.round(impressions * 0.02),
      clicks_pos_2: Math.round(impressions * 0.01),
    });
  }
  return out;
}

async function analyze() {
  // Stored before the API refused latency guardrails, so the report names it unchecked.
  const experiment = parseExperiment({
    ...twoArmExperiment('exp-42', { now: new Date('2026-11-01T00:00:00Z'), target_metric: { kind: 'conversion' } }),
    guardrails: [{ metric: 'latency_p95_ms', max_relative_degradation: 0.2 }],
  });
  const analysis = analysisFromCounters(experiment, counters(), { day: DAY });
  const command = createAnalyzeCommand({ fetchAnalysis: async () => analysis });
  const io = recordingIO();
  await command.run(['--experiment', 'exp-42', '--json'], io);
  return { analysis, io, json: io.lastJson() };
}

describe('abrec analyze --experiment: every metric', () => {
  it('prints every metric with the role, lift and Holm-adjusted p of the secondary family', async () => {
    // Act
    const { io, json, analysis } = await analyze();

    // Assess
    const text = io.stdoutText();
    const family = analysis.report?.metrics?.family.size;
    expect(text).toContain(`all metrics (secondary p-values Holm-adjusted over one family of ${family} tests; the target is decided above):`);
    expect(text).toMatch(/metric\s+role\s+variant\s+estimate \[95% CI\]\s+lift \[CI\]\s+p\s+p Holm/);
    expect(text).toMatch(/conversion\s+target\s+treatment\s+.*target/);
    expect(text).toMatch(/click-through\s+secondary\s+treatment/);
    expect(text).toMatch(/revenue per user\s+secondary\s+treatment\s+\S+\s+not tested/);
    expect(text).toContain('guardrail latency_p95_ms: NOT CHECKED (not measured by the daily counters');
    const metrics = json.metrics as MetricsOutput;
    expect(metrics.rows.map((row) => [row.metric, row.role])).toEqual([
      ['conversion', 'target'],
      ['click_through', 'secondary'],
      ['revenue_per_user', 'secondary'],
      ['revenue_per_purchase', 'secondary'],
      ['watch_time', 'secondary'],
      ['rating', 'secondary'],
    ]);
    // The JSON carries the panel's numbers, snake_case.
    const panelClickThrough = analysis.report?.metrics?.metrics[1].comparisons[0];
    const clickThrough = metrics.rows[1].comparisons[0];
    expect(panelClickThrough?.status).toBe('ok');
    if (panelClickThrough?.status !== 'ok') return;
    expect(clickThrough).toEqual({
      variant: 'treatment',
      status: 'ok',
      test: 'delta-method-z',
      lift: panelClickThrough.relativeLift,
      lift_ci_low: panelClickThrough.relativeLiftInterval?.low,
      lift_ci_high: panelClickThrough.relativeLiftInterval?.high,
      difference: panelClickThrough.difference,
      ci_low: panelClickThrough.differenceInterval.low,
      ci_high: panelClickThrough.differenceInterval.high,
      p_value: panelClickThrough.pValue,
      p_value_holm: panelClickThrough.pValueAdjusted,
    });
    expect(metrics.rows[0].comparisons[0].p_value_holm).toBeNull();
    expect(json.skipped_guardrails).toEqual([{ metric: 'latency_p95_ms', reason: expect.any(String) }]);
  });

  it('prints the recommendation metrics: reciprocal rank, fallbacks and click-through by position', async () => {
    // Act
    const { io, json } = await analyze();

    // Assess
    const text = io.stdoutText();
    expect(text).toContain('recommendation metrics (descriptive, not tested):');
    expect(text).toMatch(/variant\s+reciprocal rank\s+fallback\s+cold start\s+artifact\s+ctr@1\s+ctr@2/);
    // (2,660 + 1,330 / 2) / 133,312 lists
    expect(text).toMatch(/control\s+0\.0249\s+0\.00%\s+0\.00%\s+0\.00%\s+2\.00%\s+1\.00%/);
    expect(text).toContain('catalogue coverage: not measured: no shown-item markers');
    const ranking = json.ranking as RankingOutput;
    expect(ranking.positions).toBe(10);
    expect(ranking.variants[0]).toMatchObject({
      variant: 'control',
      reciprocal_rank: (2660 + 1330 / 2) / 133_312,
      reciprocal_rank_lists: 133_312,
      fallback_share: 0,
    });
    expect(ranking.variants[0].ctr_by_position[0]).toMatchObject({ position: 1, ctr: expect.closeTo(0.02, 4) });
    expect(ranking.variants[0].ctr_by_position[2]).toMatchObject({ position: 3, ctr: 0 });
  });

  it('gives the npm start summary a table of the secondary metrics from the same line', async () => {
    // Act
    const { json } = await analyze();
    const summary = formatSummary(json as unknown as AnalyzeOutput);

    // Assess
    expect(summary).toMatch(/other metric\s+variant\s+control\s+variant value\s+lift \[CI\]\s+p Holm/);
    expect(summary).toMatch(/click-through\s+treatment/);
    expect(summary).toMatch(/revenue per user\s+treatment\s+\S+\s+\S+\s+not tested/);
    expect(summary).toContain('(secondary: Holm-adjusted over');
  });
});
