/**
 * The model switches of an experiment that follows the latest models, in its analysis: each
 * switch of its `model_history` (when, which run, the versions every arm serves from then on),
 * and the target metric's comparison over the period since the last switch beside the one over
 * the whole experiment. The decision stays on the whole period (the always-valid test over every
 * look); the period's figures say whether the latest versions still differ as the whole does.
 *
 * The period starts on the first whole day on the new versions (the day after the switch, or its
 * day for a switch at 00:00 UTC): daily counters cannot split a day. It is analysed on the
 * counters' increments from that day on (analysis-input.ts, countersFrom): every user exposed so
 * far with what they did in the period.
 */
import type { ArmVersions, Experiment, ModelHistoryEntry } from '../domain/experiments/model.ts';
import { buildExperimentReport, StatsInputError, type ExperimentReport, type Interval } from '../domain/stats/index.ts';
import type { DailyCounter } from '../storage/counter-store.ts';
import { buildAnalysisInput } from './analysis-input.ts';

/** One switch as the report marks it. */
export interface ModelSwitchMark {
  /** When the arms switched (ISO). */
  at: string;
  /** Its UTC day, where the timeline marks it. */
  day: string;
  /** The retraining run that published the versions. */
  run_id: string | null;
  /** The versions every arm serves from `at` on. */
  versions: ArmVersions;
}

/** The target metric over one period: each variant's estimate, each treatment against control. */
export interface PeriodComparison {
  /** First day included (null: from the start). */
  from: string | null;
  /** Last day with counters in the period; null when it has none. */
  through: string | null;
  result: 'ok' | 'insufficient-data';
  reason: string | null;
  variants: { name: string; users: number; estimate: number | null; interval: Interval | null }[];
  comparisons: {
    variant: string;
    difference: number | null;
    difference_interval: Interval | null;
    lift: number | null;
    lift_interval: Interval | null;
    /** Fixed-horizon p-value of this one look (the decision uses the whole period's always-valid test). */
    p_value: number | null;
  }[];
}

/** The `model_switches` section of an analysis. */
export interface ModelSwitchesReport {
  /** Every switch by a retraining run, oldest first (the history's first entry is the start, not a switch). */
  switches: ModelSwitchMark[];
  /** The target over the whole experiment (the report's own comparison). */
  whole_period: PeriodComparison;
  /** The target from the first whole day on the versions of the last switch. */
  since_last_switch: PeriodComparison;
  note: string;
}

const DAY_MS = 86_400_000;

/** The first whole UTC day on the versions a switch at `at` installed. */
export function periodStartAfter(at: string): string {
  const ms = Date.parse(at);
  const day = new Date(ms).toISOString().slice(0, 10);
  return ms === Date.parse(`${day}T00:00:00Z`) ? day : new Date(ms + DAY_MS).toISOString().slice(0, 10);
}

/** The switches made by retraining runs (entries with a run id), as the report marks them. */
export function switchMarks(history: readonly ModelHistoryEntry[] | undefined): ModelSwitchMark[] {
  return (history ?? [])
    .filter((entry) => entry.run_id !== undefined)
    .map((entry) => ({ at: entry.at, day: entry.at.slice(0, 10), run_id: entry.run_id ?? null, versions: entry.versions }));
}

/** The period figures of an engine report. */
export function periodOf(report: ExperimentReport, from: string | null): PeriodComparison {
  return {
    from,
    through: report.through,
    result: 'ok',
    reason: null,
    variants: report.variants.map((v) => ({ name: v.name, users: v.users, estimate: v.estimate, interval: v.interval })),
    comparisons: report.comparisons.map((c) =>
      c.status === 'ok'
        ? {
            variant: c.variant,
            difference: c.difference,
            difference_interval: c.differenceInterval,
            lift: c.relativeLift,
            lift_interval: c.relativeLiftInterval,
            p_value: c.pValue,
          }
        : { variant: c.variant, difference: null, difference_interval: null, lift: null, lift_interval: null, p_value: null },
    ),
  };
}

const insufficient = (from: string | null, reason: string): PeriodComparison => ({
  from,
  through: null,
  result: 'insufficient-data',
  reason,
  variants: [],
  comparisons: [],
});

/** The target over the counters from `from` through `through`. */
export function periodComparison(
  experiment: Experiment,
  countersByVariant: Readonly<Record<string, readonly DailyCounter[]>>,
  { from, through, mde }: { from: string; through: string; mde?: number },
): PeriodComparison {
  if (from > through) return insufficient(from, `the period starts on ${from}, after the analysis day`);
  const input = buildAnalysisInput(experiment, countersByVariant, { from, through, mde });
  if (input.status !== 'ok') return insufficient(from, input.reason);
  try {
    // The target alone: guardrails and the metrics panel stay on the whole period.
    return periodOf(buildExperimentReport({ config: { ...input.config, guardrails: [] }, counters: input.counters }), from);
  } catch (error) {
    if (error instanceof StatsInputError) return insufficient(from, error.message);
    throw error;
  }
}

/**
 * The model switches section: null for an experiment no retraining run has switched. Needs the
 * whole period's engine report (null when there is none yet).
 */
export function modelSwitchesReport(
  experiment: Experiment,
  countersByVariant: Readonly<Record<string, readonly DailyCounter[]>>,
  { day, mde, whole }: { day: string; mde?: number; whole: ExperimentReport | null },
): ModelSwitchesReport | null {
  const switches = switchMarks(experiment.model_history).filter((mark) => mark.day <= day);
  if (switches.length === 0) return null;
  const from = periodStartAfter(switches[switches.length - 1].at);
  return {
    switches,
    whole_period: whole === null ? insufficient(null, 'no report of the whole period yet') : periodOf(whole, null),
    since_last_switch: periodComparison(experiment, countersByVariant, { from, through: day, mde }),
    note:
      'The decision uses the whole period. Since the last switch: counters from the first whole day on the new versions; every user exposed so far counts, ' +
      'with what they did in the period (per-user second moments are increments of squares, so a click-through interval is an approximation, possibly narrower than exact when a rate changed at the switch; ' +
      'clickers and converters count first clicks and first purchases in the period). Its p-value is of this single look.',
  };
}
