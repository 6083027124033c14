/** The one text-table renderer: columns padded to their widest cell, labels left, numbers right, a rule under the header. */
import { describe, expect, it } from 'vitest';
import { textTable } from '../../../cli/text-table.ts';

const ROWS = [
  ['variant', 'users', 'p'],
  ['control', '1200', ''],
  ['treatment-b', '98', '0.0312'],
];

describe('textTable', () => {
  it('left-aligns the first column, right-aligns the others and rules the header', () => {
    // Act / Assess
    expect(textTable(ROWS)).toEqual([
      'variant      users       p', //
      '-----------  -----  ------',
      'control       1200',
      'treatment-b     98  0.0312',
    ]);
  });

  it('left-aligns as many leading columns as asked, and ends no line in spaces', () => {
    // Act / Assess
    expect(textTable(ROWS, { leftAligned: 3 })).toEqual([
      'variant      users  p', //
      '-----------  -----  ------',
      'control      1200',
      'treatment-b  98     0.0312',
    ]);
  });

  it('right-aligns every column and leaves the rule out when asked', () => {
    // Act / Assess
    expect(textTable(ROWS, { leftAligned: 0, rule: false })).toEqual([
      '    variant  users       p', //
      '    control   1200',
      'treatment-b     98  0.0312',
    ]);
  });

  it('is no lines for no rows', () => {
    // Act / Assess
    expect(textTable([])).toEqual([]);
  });
});
