import { describe, expect, it } from 'vitest';
import type { Experiment } from '../../../lambdas/domain/experiments/model.ts';
import { twoArmExperiment } from '../../../lambdas/services/synthetic-counters.ts';
import { ExperimentModeCache } from '../../../lambdas/services/interleaving-credit.ts';

const NOW = new Date('2026-11-23T10:00:00Z');
const abTest = (id: string): Experiment => twoArmExperiment(id, { now: NOW, mode: 'ab' });

/** A cache over the given experiments that records every read. */
function cacheOver(stored: Record<string, Experiment>, options: { ttlMs?: number; missingTtlMs?: number; maxEntries?: number } = {}) {
  const reads: string[] = [];
  const cache = new ExperimentModeCache(
    {
      get: async (id) => {
        reads.push(id);
        return stored[id];
      },
    },
    options.ttlMs,
    options.missingTtlMs,
    options.maxEntries,
  );
  return { cache, reads };
}

describe('ExperimentModeCache for events of experiments that do not exist', () => {
  it('answers undefined for an unknown id and reads it again only after the short missing TTL', async () => {
    // Prepare
    const { cache, reads } = cacheOver({}, { missingTtlMs: 5_000 });

    // Act
    const modes = [await cache.modeOf('ghost', 0), await cache.modeOf('ghost', 4_999), await cache.modeOf('ghost', 5_000)];

    // Assess
    expect(modes).toEqual([undefined, undefined, undefined]);
    expect(reads).toEqual(['ghost', 'ghost']);
  });

  it('accepts an experiment created after its id was remembered as missing, once the missing TTL has passed', async () => {
    // Prepare
    const stored: Record<string, Experiment> = {};
    const { cache } = cacheOver(stored, { missingTtlMs: 5_000 });
    await cache.modeOf('late', 0);
    stored.late = abTest('late');

    // Act / Assess
    expect(await cache.modeOf('late', 5_000)).toBe('ab');
  });

  it('reads each distinct id of a batch once, in one call', async () => {
    // Prepare
    const { cache, reads } = cacheOver({ a: abTest('a') });

    // Act
    const modes = await cache.modes(['a', 'ghost', 'a', 'ghost', 'a'], 0);

    // Assess
    expect([...modes]).toEqual([
      ['a', 'ab'],
      ['ghost', undefined],
    ]);
    expect(reads.sort()).toEqual(['a', 'ghost']);
  });

  it('holds at most maxEntries ids, evicting the entry stored longest ago first', async () => {
    // Prepare
    const { cache, reads } = cacheOver({}, { maxEntries: 100 });

    // Act: a flood of made-up ids.
    for (let i = 0; i < 1_000; i++) await cache.modeOf(`made-up-${i}`, 1);

    // Assess: the newest are still cached, the first ones were evicted and are read again.
    expect(cache.size).toBe(100);
    reads.length = 0;
    await cache.modeOf('made-up-999', 2);
    await cache.modeOf('made-up-0', 2);
    expect(reads).toEqual(['made-up-0']);
  });
});
