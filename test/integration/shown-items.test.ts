/**
 * Catalogue coverage of what was shown, on dynalite: the markers /recommend writes per
 * (experiment, variant, item), counted by one Query per variant as of an analysis day, and the
 * catalogue size each variant served from (raised, never lowered).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLES } from '../../lib/resources.ts';
import { DynamoShownItemRepository } from '../../lambdas/storage/shown-items.ts';
import { startLocalAws, type LocalAws } from '../helpers/local-aws.ts';

let aws: LocalAws;
let shown: DynamoShownItemRepository;

beforeAll(async () => {
  aws = await startLocalAws();
  shown = new DynamoShownItemRepository(aws.doc, TABLES.counters.localName);
});
afterAll(async () => aws.stop());

const items = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `item-${from + i}`);

describe('DynamoShownItemRepository on dynalite', () => {
  it('counts each item once however often it is marked, in batches past 25 items', async () => {
    // Prepare
    await shown.markShown('cov', 'control', items(0, 40), '2026-03-01', 100);

    // Act: the same items again, some new ones, and repeats inside one call
    await shown.markShown('cov', 'control', [...items(30, 60), 'item-59', 'item-59'], '2026-03-01', 100);

    // Assess
    expect(await shown.shown('cov', 'control')).toEqual({ distinctItems: 60, catalogueSize: 100 });
  });

  it('counts only the items first shown by the analysis day', async () => {
    // Prepare
    await shown.markShown('cov-days', 'treatment', items(0, 10), '2026-03-01', 50);
    await shown.markShown('cov-days', 'treatment', items(10, 15), '2026-03-02', 50);

    // Act
    const [first, second, all] = await Promise.all([
      shown.shown('cov-days', 'treatment', '2026-03-01'),
      shown.shown('cov-days', 'treatment', '2026-03-02'),
      shown.shown('cov-days', 'treatment'),
    ]);

    // Assess
    expect([first.distinctItems, second.distinctItems, all.distinctItems]).toEqual([10, 15, 15]);
  });

  it('keeps the largest catalogue a variant served from, and keeps variants and experiments apart', async () => {
    // Prepare
    await shown.markShown('cov-cat', 'control', ['a'], '2026-03-01', 80);
    await shown.markShown('cov-cat', 'control', ['b'], '2026-03-01', 120);

    // Act: a smaller artifact later (a fallback, or a retrained model with fewer items)
    await shown.markShown('cov-cat', 'control', ['c'], '2026-03-01', 60);

    // Assess
    expect(await shown.shown('cov-cat', 'control')).toEqual({ distinctItems: 3, catalogueSize: 120 });
    expect(await shown.shown('cov-cat', 'treatment')).toEqual({ distinctItems: 0, catalogueSize: 0 });
    expect(await shown.shown('other', 'control')).toEqual({ distinctItems: 0, catalogueSize: 0 });
  });
});
