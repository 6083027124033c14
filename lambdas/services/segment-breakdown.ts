/**
 * The report's `segments` section: the target metric per user segment (user-segments.ts), by
 * two dimensions: the user type (known to the control model, or cold-start) and, when the
 * experiment declares client segments, the segment the client sent at the first exposure. Each
 * dimension runs the same test in every segment (domain/stats/segments.ts) with Holm's correction
 * across every (segment, variant) comparison of the dimension: looking at many segments is itself
 * a multiple comparison. For understanding, not for the decision, which uses every user.
 *
 * The counters are kept per (variant, segment) (`DAY#<day>#S<nn>#G<segment>`), so a segment's
 * totals are the sums of its own rows, and a variant's the sums of all. Pure (no AWS, no I/O).
 */
import { toDouble, type Exact } from '../domain/events/exact.ts';
import type { Experiment } from '../domain/experiments/model.ts';
import { parseSegmentKey } from '../domain/experiments/user-segments.ts';
import { segmentBreakdown, type ComparisonInput, type Interval, type SegmentInput } from '../domain/stats/index.ts';
import type { DailyCounter } from '../storage/counter-store.ts';
import { metricPlanFor } from './analysis-input.ts';
import { cappedSlotsOf, exactTotalsThrough, hasCappedSums } from './capping.ts';

/** Rows of no segment (written before segments existed, or for a user whose assignment has none). */
export const UNRECORDED_SEGMENT = 'unrecorded';
/** The client segment of users whose client sent none. */
export const NO_CLIENT_SEGMENT = 'none';

export type SegmentDimension = 'user_type' | 'client_segment';

/** One treatment against the control inside one segment. */
export interface SegmentComparison {
  variant: string;
  status: 'ok' | 'insufficient-data';
  /** Why there is no test (status insufficient-data). */
  reason?: string;
  controlEstimate?: number;
  treatmentEstimate?: number;
  difference?: number;
  differenceInterval?: Interval;
  relativeLift?: number | null;
  relativeLiftInterval?: Interval | null;
  pValue?: number;
  /** Holm-adjusted over every (segment, variant) comparison of the dimension. */
  pValueAdjustedAcrossSegments: number | null;
}

/** One segment of a dimension. */
export interface SegmentReport {
  segment: string;
  /** Exposed users per variant in the segment. */
  users: Record<string, number>;
  comparisons: SegmentComparison[];
}

/** One dimension's breakdown. */
export interface SegmentDimensionReport {
  dimension: SegmentDimension;
  definition: string;
  segments: SegmentReport[];
}

/** The report's `segments` section. */
export interface SegmentsReport {
  /** The target metric each segment is tested on. */
  metric: string;
  dimensions: SegmentDimensionReport[];
}

type Sums = Record<string, Exact>;

/** The segment of a row along a dimension. */
function segmentAlong(dimension: SegmentDimension, row: DailyCounter): string {
  const key = typeof row.segment === 'string' ? row.segment : undefined;
  const parsed = key === undefined ? undefined : parseSegmentKey(key);
  if (parsed === undefined) return UNRECORDED_SEGMENT;
  return dimension === 'user_type' ? parsed.userType : (parsed.client ?? NO_CLIENT_SEGMENT);
}

/** The engine's input for one segment: the target's samples from each variant's totals there. */
function comparisonInput(
  experiment: Experiment,
  variants: { name: string; weight: number; isControl: boolean; sums: Sums }[],
  capped: boolean,
): ComparisonInput {
  const plan = metricPlanFor(experiment);
  const confidenceLevel = experiment.confidence_level;
  const doubles = (sums: Sums) => Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, toDouble(v)]));
  const meta = variants.map((v) => {
    const totals = doubles(v.sums);
    return { name: v.name, weight: v.weight, isControl: v.isControl, users: totals.exposed_users ?? 0, totals };
  });
  const kind = experiment.target_metric.kind;
  switch (plan.kind) {
    case 'proportion': {
      const field = kind === 'conversion' ? 'converters' : 'clickers';
      return {
        metric: 'proportion',
        confidenceLevel,
        variants: meta.map(({ totals, ...m }) => ({ ...m, sample: { users: m.users, conversions: Math.min(totals[field] ?? 0, m.users) } })),
      };
    }
    case 'ratio':
      return {
        metric: 'ratio',
        confidenceLevel,
        variants: meta.map(({ totals, ...m }) => {
          const slots = capped ? cappedSlotsOf(totals, null) : {};
          const pick = (name: 'clicks' | 'impressions' | 'user_clicks_sq_sum' | 'user_impressions_sq_sum' | 'user_clicks_impressions_sum') =>
            (slots[name] as number | undefined) ?? totals[name] ?? 0;
          return {
            ...m,
            sample: {
              users: m.users,
              sumX: pick('clicks'),
              sumY: pick('impressions'),
              sumX2: pick('user_clicks_sq_sum'),
              sumY2: pick('user_impressions_sq_sum'),
              sumXY: pick('user_clicks_impressions_sum'),
            },
          };
        }),
      };
    case 'mean':
      return {
        metric: 'mean',
        confidenceLevel,
        variants: meta.map(({ totals, ...m }) => {
          if (kind === 'watch_time' && capped) {
            const slots = cappedSlotsOf(totals, 'watch_time');
            return { ...m, sample: { n: slots.value_n ?? 0, sum: slots.value_sum ?? 0, sumSq: slots.value_sum_sq ?? 0 } };
          }
          const prefix = kind === 'watch_time' ? 'watch_time' : 'rating';
          return { ...m, sample: { n: totals[`${prefix}_n`] ?? 0, sum: totals[`${prefix}_sum`] ?? 0, sumSq: totals[`${prefix}_sum_sq`] ?? 0 } };
        }),
      };
    default: {
      const unknown: never = plan.kind;
      throw new Error(`unknown metric kind ${String(unknown)}`);
    }
  }
}

/**
 * The `segments` section from the experiment and its variants' counters (rows per day and
 * segment) through `through`: the analysed variants (active, weight > 0), control first.
 */
export function segmentsReport(
  experiment: Experiment,
  countersByVariant: Readonly<Record<string, readonly DailyCounter[]>>,
  { through }: { through?: string } = {},
): SegmentsReport {
  const analysed = experiment.variants.filter((v) => v.active && v.weight > 0).sort((a, b) => Number(b.is_control) - Number(a.is_control));
  const capped = analysed.every((v) =>
    hasCappedSums(Object.fromEntries(Object.entries(exactTotalsThrough(countersByVariant[v.name] ?? [], through)).map(([k, x]) => [k, toDouble(x)]))),
  );
  const dimensions: { dimension: SegmentDimension; definition: string; order: string[] }[] = [
    {
      dimension: 'user_type',
      definition: 'known to the control model at the first exposure, or cold-start (served the popularity list)',
      order: ['known', 'cold-start'],
    },
  ];
  if (experiment.segments !== undefined && experiment.segments.length > 0) {
    dimensions.push({
      dimension: 'client_segment',
      definition: 'the segment the client sent with the first request (GET /recommend?segment=)',
      order: [...experiment.segments, NO_CLIENT_SEGMENT],
    });
  }
  return {
    metric: metricPlanFor(experiment).definition,
    dimensions: dimensions.map(({ dimension, definition, order }) => {
      // Each variant's totals per segment of the dimension.
      const bySegment = new Map<string, Map<string, DailyCounter[]>>();
      for (const variant of analysed) {
        for (const row of countersByVariant[variant.name] ?? []) {
          const segment = segmentAlong(dimension, row);
          const variants = bySegment.get(segment) ?? bySegment.set(segment, new Map()).get(segment)!;
          variants.set(variant.name, [...(variants.get(variant.name) ?? []), row]);
        }
      }
      const names = [...bySegment.keys()].sort((a, b) => {
        const rank = (s: string) => (order.includes(s) ? order.indexOf(s) : order.length);
        return rank(a) - rank(b) || a.localeCompare(b);
      });
      const inputs: SegmentInput[] = names.map((segment) => ({
        segment,
        input: comparisonInput(
          experiment,
          analysed.map((v) => ({
            name: v.name,
            weight: v.weight,
            isControl: v.is_control,
            sums: exactTotalsThrough(bySegment.get(segment)!.get(v.name) ?? [], through),
          })),
          capped,
        ),
      }));
      const results = segmentBreakdown(inputs);
      return {
        dimension,
        definition,
        segments: results.map((result, i) => ({
          segment: result.segment,
          users: Object.fromEntries(inputs[i].input.variants.map((v) => [v.name, v.users])),
          comparisons: result.comparisons.map(
            (c): SegmentComparison =>
              c.status === 'ok'
                ? {
                    variant: c.variant,
                    status: 'ok',
                    controlEstimate: c.controlEstimate,
                    treatmentEstimate: c.treatmentEstimate,
                    difference: c.difference,
                    differenceInterval: c.differenceInterval,
                    relativeLift: c.relativeLift,
                    relativeLiftInterval: c.relativeLiftInterval,
                    pValue: c.pValue,
                    pValueAdjustedAcrossSegments: result.pValueAdjustedAcrossSegments[c.variant] ?? null,
                  }
                : { variant: c.variant, status: 'insufficient-data', reason: c.reason, pValueAdjustedAcrossSegments: null },
          ),
        })),
      };
    }),
  };
}
