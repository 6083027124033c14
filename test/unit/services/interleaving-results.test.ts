/**
 * The analysis of interleaving experiments (preference test, decision, promotion guard, report
 * page) and the event-side helpers (mode cache, slate reads).
 */
import { describe, expect, it } from 'vitest';
import { twoArmExperiment } from '../../../lambdas/services/synthetic-counters.ts';
import { acceptEvent } from '../../../lambdas/domain/events/event.ts';
import type { StoredImpression } from '../../../lambdas/domain/events/interleaving-credit.ts';
import { signTest } from '../../../lambdas/domain/experiments/interleaving.ts';
import type { CreateExperimentInput, Experiment } from '../../../lambdas/domain/experiments/model.ts';
import { analysisFromCounters, readVariantCounters } from '../../../lambdas/services/experiment-results.ts';
import { ExperimentModeCache, attributeInterleavingEvents } from '../../../lambdas/services/interleaving-credit.ts';
import { renderAnalysisReport } from '../../../lambdas/services/report.ts';
import type { CounterRepository } from '../../../lambdas/storage/counter-store.ts';
import type { DailyCounter } from '../../../lambdas/storage/counter-store.ts';

const NOW = new Date('2026-11-20T12:00:00Z');
const DAY = '2026-11-20';

function experiment(overrides: Partial<CreateExperimentInput> = {}): Experiment {
  return twoArmExperiment('il', {
    now: NOW,
    mode: 'interleaving',
    guardrails: [{ metric: 'click_through', max_relative_degradation: 0.1 }],
    min_sample_size: 200,
    ...overrides,
  });
}

/** Two days of interleaving counters that add up to the given totals. */
function counters({
  impressions,
  winsA,
  winsB,
  clicksA = winsA,
  clicksB = winsB,
  uncredited = 0,
}: {
  impressions: number;
  winsA: number;
  winsB: number;
  clicksA?: number;
  clicksB?: number;
  uncredited?: number;
}): Record<string, DailyCounter[]> {
  const half = (n: number) => Math.floor(n / 2);
  return {
    '~interleaving': [
      {
        day: '2026-11-19',
        impressions: half(impressions),
        interleaved_impressions: half(impressions),
        interleaving_wins_a: half(winsA),
        interleaving_wins_b: half(winsB),
      },
      {
        day: DAY,
        impressions: impressions - half(impressions),
        interleaved_impressions: impressions - half(impressions),
        interleaving_wins_a: winsA - half(winsA),
        interleaving_wins_b: winsB - half(winsB),
        clicks: uncredited,
      },
      { day: '2026-11-21', interleaved_impressions: 1000, interleaving_wins_b: 900 },
    ],
    control: [{ day: DAY, clicks: clicksA }],
    treatment: [{ day: DAY, clicks: clicksB }],
  };
}

describe('interleaving analysis from counters', () => {
  it('runs the sign test over the wins through the analysis day, with the other impressions as ties', () => {
    // Act
    const analysis = analysisFromCounters(experiment(), counters({ impressions: 400, winsA: 20, winsB: 44, uncredited: 3 }), { day: DAY });

    // Assess
    const expected = signTest({ wins_a: 20, wins_b: 44, ties: 336, alpha: 0.05 });
    expect(analysis.preference).toMatchObject({
      wins_a: 20,
      wins_b: 44,
      ties: 336,
      impressions: 400,
      uncredited_clicks: 3,
      team_a: { variant: 'control', clicks: 20 },
      team_b: { variant: 'treatment', clicks: 44 },
    });
    expect(analysis.preference!.p_value).toBeCloseTo(expected.p_value, 12);
    expect(analysis.report).toBeNull();
  });

  it('ships a preferred treatment and lets the promotion guard promote it', () => {
    // Act
    const analysis = analysisFromCounters(experiment(), counters({ impressions: 400, winsA: 20, winsB: 44 }), { day: DAY });

    // Assess
    expect(analysis).toMatchObject({ result: 'ok', decision: 'ship', winner: 'treatment', through: DAY });
    expect(analysis.promotion).toEqual({ significant: true, srm_flagged: false, winner: 'treatment' });
  });

  it('stops a treatment the control is preferred over, naming the control as the one to keep', () => {
    // Act
    const analysis = analysisFromCounters(experiment(), counters({ impressions: 400, winsA: 44, winsB: 20 }), { day: DAY });

    // Assess
    expect(analysis).toMatchObject({ decision: 'stop-no-effect', winner: 'control', promotion: { significant: true, winner: 'control' } });
  });

  it('keeps running, and refuses promotion, before min_sample_size impressions even with p < alpha', () => {
    // Act
    const analysis = analysisFromCounters(experiment({ min_sample_size: 1000 }), counters({ impressions: 400, winsA: 20, winsB: 44 }), { day: DAY });

    // Assess
    expect(analysis.preference!.p_value).toBeLessThan(0.05);
    expect(analysis).toMatchObject({ decision: 'keep-running', winner: null, promotion: { significant: false, srm_flagged: false } });
    expect(analysis.decision_reason).toContain('min_sample_size of 1000 interleaved impressions');
  });

  it('keeps running without a significant preference', () => {
    // Act
    const analysis = analysisFromCounters(experiment(), counters({ impressions: 400, winsA: 30, winsB: 34 }), { day: DAY });

    // Assess
    expect(analysis).toMatchObject({ decision: 'keep-running', winner: null, promotion: { significant: false } });
  });

  it('reports insufficient data before any interleaved impression', () => {
    // Act
    const analysis = analysisFromCounters(experiment(), {}, { day: DAY });

    // Assess
    expect(analysis).toMatchObject({ result: 'insufficient-data', reason: 'no interleaved impressions yet', decision: 'keep-running', through: null });
    expect(analysis.preference).toMatchObject({ impressions: 0, p_value: 1, preferred: 'none' });
  });

  it('says why the guardrails are not checked', () => {
    // Act
    const analysis = analysisFromCounters(experiment(), counters({ impressions: 10, winsA: 1, winsB: 1 }), { day: DAY });

    // Assess
    expect(analysis.skipped_guardrails).toEqual([
      { metric: 'click_through', reason: 'interleaving shows both models in every list: guardrails need an A/B split' },
    ]);
  });

  it('renders a report page with the preference test instead of the A/B engine page', () => {
    // Prepare
    const analysis = analysisFromCounters(experiment(), counters({ impressions: 400, winsA: 20, winsB: 44 }), { day: DAY });

    // Act
    const { html } = renderAnalysisReport(analysis);

    // Assess
    expect(html).toContain('Interleaving preference test');
    expect(html).toContain('<td>b</td><td>treatment</td><td>44</td>');
    expect(html).toContain('Decision: <strong>ship</strong>');
  });

  it('reads the interleaving counter besides the variants', async () => {
    // Prepare
    const read: string[] = [];
    const repository = {
      exactDailyCounters: async (_id: string, variant: string) => {
        read.push(variant);
        return [];
      },
    } as unknown as CounterRepository;

    // Act
    await readVariantCounters(experiment(), repository);

    // Assess
    expect(read.sort()).toEqual(['control', 'treatment', '~interleaving']);
  });
});

describe('ExperimentModeCache', () => {
  it('reads a running experiment once within the TTL, and a draft every time', async () => {
    // Prepare
    const reads: string[] = [];
    const stored: Record<string, Experiment> = { il: experiment(), draft: experiment({ id: 'draft', status: 'draft' }) };
    const cache = new ExperimentModeCache(
      {
        get: async (id) => {
          reads.push(id);
          return stored[id];
        },
      },
      1000,
    );

    // Act
    const modes = [
      await cache.modeOf('il', 0),
      await cache.modeOf('il', 500),
      await cache.modeOf('draft', 0),
      await cache.modeOf('draft', 1),
      await cache.modeOf('il', 1500),
    ];

    // Assess
    expect(modes).toEqual(['interleaving', 'interleaving', 'interleaving', 'interleaving', 'interleaving']);
    expect(reads).toEqual(['il', 'draft', 'draft', 'il']);
  });

  it('gives the mode of each distinct experiment of a batch, and undefined (not interleaving) for an unknown id', async () => {
    // Prepare
    const stored: Record<string, Experiment> = { il: experiment(), ab: experiment({ id: 'ab', mode: 'ab' }) };
    const cache = new ExperimentModeCache({ get: async (id) => stored[id] });

    // Act
    const modes = await cache.modes(['ab', 'il', 'missing', 'il'], 0);

    // Assess
    expect([...modes]).toEqual([
      ['ab', 'ab'],
      ['il', 'interleaving'],
      ['missing', undefined],
    ]);
  });
});

describe('attributeInterleavingEvents', () => {
  it('reads slates only for the request ids of clicks and purchases, once each', async () => {
    // Prepare
    const asked: string[][] = [];
    const slate: StoredImpression = {
      event_id: 'imp-r1',
      user_id: 'u1',
      experiment_id: 'il',
      counted: true,
      slate: [{ item_id: 'x', position: 1, score: 1, team: 'a', variant: 'control' }],
    };
    const reader = {
      byRequestIds: async (ids: Iterable<string>) => {
        asked.push([...ids]);
        return new Map([['r1', slate]]);
      },
    };
    const events = [
      acceptEvent({ event_type: 'click', user_id: 'u1', experiment_id: 'il', item_id: 'x', request_id: 'r1' }, NOW.getTime()),
      acceptEvent({ event_type: 'watch_time', user_id: 'u1', experiment_id: 'il', value: 30, request_id: 'r2' }, NOW.getTime()),
      acceptEvent({ event_type: 'purchase', user_id: 'u1', experiment_id: 'il', item_id: 'x', request_id: 'r1' }, NOW.getTime()),
    ];

    // Act
    const attributed = await attributeInterleavingEvents(events, reader);

    // Assess
    expect(asked).toEqual([['r1']]);
    expect(attributed.map((a) => a.variant)).toEqual(['control', '~interleaving', 'control']);
  });
});
