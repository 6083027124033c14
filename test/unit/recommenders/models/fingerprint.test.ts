import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fingerprintRatings } from '../../../../lambdas/domain/recommenders/models/common.ts';
import type { RatingsDataset } from '../../../../lambdas/domain/recommenders/types.ts';

/** Rows that exercise every branch of the encoder: a repeated pair, odd timestamps, half stars, non-ASCII ids. */
function awkwardRatings(): RatingsDataset {
  return {
    userIndex: Int32Array.from([0, 1, 0, 0, 2, 1]),
    itemIndex: Int32Array.from([1, 0, 1, 1, 2, 1]),
    rating: Float32Array.from([3.5, 1, 2, 4, 0.5, 5]),
    timestamp: Float64Array.from([5, -3, 5, 1e22, 1.5, 0]),
    userIds: ['ü9', '10', '2'],
    itemIds: ['b', 'a', '日本'],
    ratingScale: [0.5, 5],
  };
}

describe('fingerprintRatings', () => {
  it('is the sha256 of the rows as tab-separated UTF-8 text sorted by user id, item id, time and rating', () => {
    // prepare
    const dataset = awkwardRatings();
    // Ids compare as strings, not by index: user '10' < '2' < 'ü9', item 'a' < 'b'; the repeated (ü9, a) pair goes by time, then rating.
    const ordered = ['10\ta\t5\t0', '10\tb\t1\t-3', '2\t日本\t0.5\t1.5', 'ü9\ta\t2\t5', 'ü9\ta\t3.5\t5', 'ü9\ta\t4\t1e+22'];
    // act
    const fingerprint = fingerprintRatings(dataset);
    // assess
    expect(fingerprint).toBe(
      createHash('sha256')
        .update(ordered.map((line) => `${line}\n`).join(''), 'utf8')
        .digest('hex'),
    );
  });

  it('hashes rows that span several internal chunks like one text', () => {
    // prepare
    const rows = 20_000;
    const dataset: RatingsDataset = {
      userIndex: Int32Array.from({ length: rows }, (_, r) => r % 7),
      itemIndex: Int32Array.from({ length: rows }, (_, r) => r),
      rating: Float32Array.from({ length: rows }, (_, r) => 1 + (r % 5)),
      timestamp: Float64Array.from({ length: rows }, (_, r) => 880_000_000 + r),
      userIds: Array.from({ length: 7 }, (_, u) => `user-${u}`),
      itemIds: Array.from({ length: rows }, (_, i) => `item-${String(i).padStart(6, '0')}`),
      ratingScale: [1, 5],
    };
    const lines: string[] = [];
    for (let u = 0; u < 7; u++)
      for (let r = u; r < rows; r += 7) lines.push(`user-${u}\titem-${String(r).padStart(6, '0')}\t${1 + (r % 5)}\t${880_000_000 + r}\n`);
    // act
    const fingerprint = fingerprintRatings(dataset);
    // assess
    expect(fingerprint).toBe(createHash('sha256').update(lines.join('')).digest('hex'));
  });

  it('writes integer timestamps beyond 32 bits exactly as String() does', () => {
    // prepare
    const timestamps = [2_147_483_647, 2_147_483_648, 4_294_967_296, Number.MAX_SAFE_INTEGER];
    const dataset: RatingsDataset = {
      userIndex: Int32Array.from([0, 0, 0, 0]),
      itemIndex: Int32Array.from([0, 1, 2, 3]),
      rating: Float32Array.from([1, 2, 3, 4]),
      timestamp: Float64Array.from(timestamps),
      userIds: ['u'],
      itemIds: ['a', 'b', 'c', 'd'],
      ratingScale: [1, 5],
    };
    const text = timestamps.map((time, r) => `u\t${'abcd'[r]}\t${r + 1}\t${String(time)}\n`).join('');
    // act
    const fingerprint = fingerprintRatings(dataset);
    // assess
    expect(fingerprint).toBe(createHash('sha256').update(text).digest('hex'));
  });
});
