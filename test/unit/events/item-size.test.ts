import { describe, expect, it } from 'vitest';
import { MAX_ITEM_BYTES, itemBytes, itemProblem, numberBytes, writeUnits } from '../../../lambdas/domain/events/item-size.ts';

describe('itemBytes', () => {
  it('counts attribute names and UTF-8 string values', () => {
    expect(itemBytes({ pk: 'EVENT#é', sk: 'E' })).toBe(2 + 8 + 2 + 1);
  });

  it.each([
    [0, 1],
    [7, 2],
    [12, 2],
    [123, 3],
    [-5, 3],
    [0.25, 2],
    [1_000_000, 2],
  ])('sizes the number %d as %d bytes (1 + one per two significant digits, +1 when negative)', (n, bytes) => {
    expect(numberBytes(n)).toBe(bytes);
  });

  it('sizes a list of maps with 3 bytes per container and 1 per element', () => {
    // Prepare: one list holding one map {a: "x"}.
    const item = { l: [{ a: 'x' }] };

    // Act
    const size = itemBytes(item);

    // Assess: name 1 + list 3 + element 1 + (map 3 + element 1 + name 1 + value 1).
    expect(size).toBe(1 + 3 + 1 + (3 + 1 + 1 + 1));
  });

  it('ignores undefined attributes, as the document client drops them', () => {
    expect(itemBytes({ a: 'x', b: undefined })).toBe(2);
  });
});

describe('itemProblem', () => {
  it('accepts an ordinary event item', () => {
    expect(itemProblem({ pk: 'EVENT#e-1', sk: 'E', user_id: 'u1', counted: true })).toBeUndefined();
  });

  it('refuses an item of 400 KB or more, naming the size', () => {
    // Prepare
    const item = { pk: 'EVENT#big', sk: 'E', slate: [{ item_id: 'x'.repeat(MAX_ITEM_BYTES) }] };

    // Act
    const problem = itemProblem(item);

    // Assess
    expect(problem).toMatch(/over DynamoDB's 409600-byte item limit/);
  });

  it('refuses a partition key over 2,048 bytes, which dynalite would accept', () => {
    expect(itemProblem({ pk: `EVENT#${'k'.repeat(2043)}`, sk: 'E' })).toMatch(/partition key is 2049 bytes/);
  });
});

describe('writeUnits', () => {
  it.each([
    [1, 1],
    [1024, 1],
    [1025, 2],
    [5000, 5],
  ])('bills %d bytes as %d write units', (bytes, units) => {
    expect(writeUnits(bytes)).toBe(units);
  });
});
