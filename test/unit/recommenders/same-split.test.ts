import { describe, expect, it } from 'vitest';
import { parseRatings } from '../../../lambdas/domain/recommenders/data/formats.ts';
import { gateDecision, gateSplit } from '../../../lambdas/domain/recommenders/same-split.ts';

// Users 1 and 2 rated in 1997; user 1 and a new user 3 sent feedback after the last run (t >= 1,000,000,000 s).
const DATA = ['1\t1\t5\t880000000', '1\t2\t4\t880000001', '2\t1\t3\t880000002', '2\t3\t2\t880000003', '1\t3\t4\t1000000500', '3\t2\t5\t1000000600'].join('\n');
const dataset = parseRatings(DATA, { fileName: 'u.data' });
const metrics = (ndcg: number) => ({ ndcg_at_10: ndcg, precision_at_10: 0, recall_at_10: 0, map_at_10: 0, users_evaluated: 1 });

describe('the split the gate measures both versions on', () => {
  it('holds out the feedback logged since the last run when a user with older rows sent some', () => {
    // Act
    const split = gateSplit(dataset, 1_000_000_000);

    // Assess
    expect(split.kind).toBe('logged-since-last-run');
    expect([...split.test].map((row) => dataset.timestamp[row])).toEqual([1000000500, 1000000600]);
    expect(split.train).toHaveLength(4);
  });

  it('falls back to the per-user 75/25 holdout when nothing was logged since the last run', () => {
    expect(gateSplit(dataset, 2_000_000_000).kind).toBe('per-user-75-25');
    expect(gateSplit(dataset).kind).toBe('per-user-75-25');
  });

  it('publishes a candidate at most max_regression below the published version, and says on which split', () => {
    expect(gateDecision(metrics(0.098), metrics(0.1), 0.02, 'logged-since-last-run')).toEqual({
      accepted: true,
      reason: 'not worse: nDCG@10 0.0980 vs current 0.1000 on the feedback logged since the last run, held out (floor 0.0980, max regression 0.02)',
    });
    expect(gateDecision(metrics(0.097), metrics(0.1), 0.02).accepted).toBe(false);
    expect(gateDecision(metrics(0), null, 0)).toEqual({ accepted: true, reason: 'no published version yet' });
  });
});
