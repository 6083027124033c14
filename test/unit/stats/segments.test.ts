/**
 * Segment breakdowns: the same tests per segment, with a correction across segments.
 */
import { describe, expect, it } from 'vitest';
import { activityBucket, holmAdjust, lifecycleSegment, segmentBreakdown, type ComparisonInput } from '../../../lambdas/domain/stats/index.ts';

function proportionInput(control: [number, number], treatment: [number, number]): ComparisonInput {
  return {
    metric: 'proportion',
    confidenceLevel: 0.95,
    variants: [
      { name: 'control', weight: 1, isControl: true, users: control[0], sample: { users: control[0], conversions: control[1] } },
      { name: 'treatment', weight: 1, isControl: false, users: treatment[0], sample: { users: treatment[0], conversions: treatment[1] } },
    ],
  };
}

describe('segmentBreakdown', () => {
  const results = segmentBreakdown([
    { segment: 'new', input: proportionInput([3000, 240], [3000, 300]) },
    { segment: 'returning', input: proportionInput([7000, 700], [7000, 705]) },
    { segment: 'heavy', input: proportionInput([1, 0], [1, 1]) },
  ]);

  it('runs the tests in every segment', () => {
    expect(results.map((r) => r.segment)).toEqual(['new', 'returning', 'heavy']);
    expect(results[0].comparisons[0]).toMatchObject({ status: 'ok', variant: 'treatment' });
  });

  it('Holm-adjusts across all segment comparisons, counting insufficient ones as p = 1', () => {
    const raw = results.map((r) => (r.comparisons[0].status === 'ok' ? r.comparisons[0].pValue : 1));
    const expected = holmAdjust(raw);

    expect(results[0].pValueAdjustedAcrossSegments.treatment).toBe(expected[0]);
    expect(results[1].pValueAdjustedAcrossSegments.treatment).toBe(expected[1]);
    expect(results[2].pValueAdjustedAcrossSegments.treatment).toBeNull();
  });

  it('rejects duplicate segment names', () => {
    const input = proportionInput([100, 10], [100, 12]);

    expect(() =>
      segmentBreakdown([
        { segment: 'new', input },
        { segment: 'new', input },
      ]),
    ).toThrow(/segments\[1\]\.segment/);
  });
});

describe('segment assignment', () => {
  it.each([
    [0, 'light'],
    [3, 'light'],
    [4, 'medium'],
    [13, 'medium'],
    [14, 'heavy'],
    [28, 'heavy'],
  ] as const)('puts %i active days in the %s bucket', (days, bucket) => {
    expect(activityBucket(days)).toBe(bucket);
  });

  it('rejects more than 28 active days', () => {
    expect(() => activityBucket(29)).toThrow(/activeDaysLast28/);
  });

  it('calls a user first seen on or after the start new, before it returning', () => {
    expect(lifecycleSegment({ firstSeenDay: '2026-11-01', experimentStartDay: '2026-11-01' })).toBe('new');
    expect(lifecycleSegment({ firstSeenDay: '2026-10-31', experimentStartDay: '2026-11-01' })).toBe('returning');
  });
});
