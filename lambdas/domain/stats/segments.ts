import { compareVariants, type ComparisonInput, type ComparisonOutput, type VariantComparison } from './compare.ts';
import { StatsInputError } from './errors.ts';
import { holmAdjust } from './holm.ts';

/** Standard segment names: lifecycle and activity. */
export type LifecycleSegment = 'new' | 'returning';
export type ActivityBucket = 'light' | 'medium' | 'heavy';

/**
 * Activity bucket from the number of active days in the trailing 28 days: 1-3 light, 4-13
 * medium, 14+ heavy (roughly monthly, weekly and daily users).
 */
export function activityBucket(activeDaysLast28: number): ActivityBucket {
  if (!(Number.isInteger(activeDaysLast28) && activeDaysLast28 >= 0 && activeDaysLast28 <= 28)) {
    throw new StatsInputError('activeDaysLast28', `must be a whole number from 0 to 28, got ${String(activeDaysLast28)}`);
  }
  if (activeDaysLast28 >= 14) return 'heavy';
  if (activeDaysLast28 >= 4) return 'medium';
  return 'light';
}

/** 'new' when the user's first exposure to the product falls inside the experiment. */
export function lifecycleSegment({ firstSeenDay, experimentStartDay }: { firstSeenDay: string; experimentStartDay: string }): LifecycleSegment {
  return firstSeenDay >= experimentStartDay ? 'new' : 'returning';
}

/** One segment's aggregates, shaped like any comparison input. */
export interface SegmentInput {
  segment: string;
  input: ComparisonInput;
}

/** One segment's results. */
export interface SegmentResult extends ComparisonOutput {
  segment: string;
  /**
   * Holm-adjusted over every (segment, variant) comparison in the breakdown: looking at many
   * segments is itself a multiple comparison, so only this column supports a claim about a
   * single segment. The per-segment `pValueAdjusted` corrects over variants only.
   */
  pValueAdjustedAcrossSegments: Record<string, number | null>;
}

/**
 * Runs the same tests in every segment (new vs returning users, activity buckets, ...).
 * Segment results are for understanding, not for the ship decision, which uses the whole
 * population; hence the extra correction across segments.
 */
export function segmentBreakdown(segments: SegmentInput[]): SegmentResult[] {
  const names = new Set<string>();
  segments.forEach((segment, i) => {
    if (typeof segment.segment !== 'string' || segment.segment.length === 0) throw new StatsInputError(`segments[${i}].segment`, 'must be a non-empty string');
    if (names.has(segment.segment)) throw new StatsInputError(`segments[${i}].segment`, `duplicate segment '${segment.segment}'`);
    names.add(segment.segment);
  });
  const outputs = segments.map((segment) => ({ segment: segment.segment, ...compareVariants(segment.input) }));
  const all = outputs.flatMap((output) => output.comparisons.map((comparison: VariantComparison) => (comparison.status === 'ok' ? comparison.pValue : 1)));
  const adjusted = holmAdjust(all);
  let next = 0;
  return outputs.map((output) => ({
    ...output,
    pValueAdjustedAcrossSegments: Object.fromEntries(
      output.comparisons.map((comparison) => {
        const value = adjusted[next++];
        return [comparison.variant, comparison.status === 'ok' ? value : null];
      }),
    ),
  }));
}
