import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { toHttpError } from '../../lambdas/common/errors.ts';
import type { Telemetry } from '../../lambdas/services/telemetry.ts';
import type { RecommendationServiceDeps } from '../../lambdas/services/serving.ts';
import type { EventRepository } from '../../lambdas/storage/event-store.ts';
import type { ExperimentRepository } from '../../lambdas/storage/experiment-repository.ts';
import type { ModelCache } from '../../lambdas/storage/model-cache.ts';
import { stubHandlerEnv } from './support/env.ts';
import { NOW } from './support/models.ts';

type Serving = typeof import('../../lambdas/services/serving.ts');
let serving: Serving;

/** An experiment repository that knows no experiment and counts every read, by id. */
function countingEmptyRepository() {
  const reads = new Map<string, number>();
  const repository = {
    get: async (id: string) => {
      reads.set(id, (reads.get(id) ?? 0) + 1);
      return undefined;
    },
    getAssignment: async () => undefined,
  };
  return { reads, repository: repository as unknown as ExperimentRepository };
}

function serviceOver(experiments: ExperimentRepository) {
  return serving.createRecommendationService({
    experiments,
    counters: {} as RecommendationServiceDeps['counters'],
    events: {} as EventRepository,
    models: {} as ModelCache,
    recordImpressions: true,
    telemetry: silent,
  });
}

/** Unknown experiments log and count nothing. */
const silent: Telemetry = { error: () => {}, warn: () => {}, metric: () => {} };

/** Asks for `experimentId` at `now`, expecting the 404 an unknown experiment gets (the service's error as the handler answers it). */
async function askUnknown(service: ReturnType<typeof serviceOver>, experimentId: string, now: number) {
  const answered = service.recommend({ experimentId, userId: 'u1', topN: 3, now, requestId: 'r' }).catch((error: unknown) => {
    throw toHttpError(error);
  });
  await expect(answered).rejects.toMatchObject({ statusCode: 404 });
}

describe('the serving experiment cache', () => {
  beforeAll(async () => {
    stubHandlerEnv();
    serving = await import('../../lambdas/services/serving.ts');
  });
  afterAll(() => vi.unstubAllEnvs());

  it('keeps at most 1,000 experiments: after 5,000 distinct unknown ids, only the newest ones are still cached', async () => {
    // Prepare
    const { reads, repository } = countingEmptyRepository();
    const service = serviceOver(repository);
    const now = NOW.getTime();
    const ids = Array.from({ length: 5_000 }, (_, i) => `unknown-${i}`);
    for (const id of ids) await askUnknown(service, id, now);

    // Act: within the TTL, so only an evicted id is read again.
    const newest = ids.slice(-serving.MAX_CACHED_EXPERIMENTS);
    const older = ids.slice(0, -serving.MAX_CACHED_EXPERIMENTS);
    for (const id of [...newest, older[0], older.at(-1)!]) await askUnknown(service, id, now);

    // Assess
    expect(newest.filter((id) => reads.get(id) !== 1)).toEqual([]);
    expect([reads.get(older[0]), reads.get(older.at(-1)!)]).toEqual([2, 2]);
  });

  it('still answers a repeated id from the cache within the TTL, and reads it again after', async () => {
    // Prepare
    const { reads, repository } = countingEmptyRepository();
    const service = serviceOver(repository);
    const now = NOW.getTime();

    // Act
    await askUnknown(service, 'nope', now);
    await askUnknown(service, 'nope', now + 999);
    await askUnknown(service, 'nope', now + 1_000);

    // Assess
    expect(reads.get('nope')).toBe(2);
  });
});
