import { describe, expect, it } from 'vitest';
import { loadRatingsFile } from '../../../lambdas/domain/recommenders/data/files.ts';
import { DirectoryModelArtifactStore } from '../../../lambdas/storage/artifact-store.ts';
import { DEFAULT_ARTIFACTS_DIR } from '../../../local/runtime.ts';
import { buildPopulation, RETURN_PROBABILITY } from '../../../simulator/population.ts';
import { DEFAULT_SIMULATION_DATA } from '../../../simulator/session.ts';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const dataset = loadRatingsFile(DEFAULT_SIMULATION_DATA);

describe('the simulated population of the bundled data', () => {
  it("hides about a quarter of every user's ratings as their taste and keeps the rest for training", () => {
    const population = buildPopulation(dataset);
    expect(population.users).toHaveLength(dataset.userIds.length);
    expect(population.heldOutRatings + population.training.rating.length).toBe(dataset.rating.length);
    expect(population.heldOutRatings / dataset.rating.length).toBeGreaterThan(0.24);
    expect(population.heldOutRatings / dataset.rating.length).toBeLessThan(0.26);
  });

  it('brings the more active users back more often, within the configured range', () => {
    const population = buildPopulation(dataset);
    const counts = new Map<string, number>();
    for (const u of dataset.userIndex) counts.set(dataset.userIds[u], (counts.get(dataset.userIds[u]) ?? 0) + 1);
    const byActivity = [...population.users].sort((a, b) => counts.get(a.userId)! - counts.get(b.userId)!);
    for (const user of population.users) {
      expect(user.returnProbability).toBeGreaterThan(RETURN_PROBABILITY.least);
      expect(user.returnProbability).toBeLessThan(RETURN_PROBABILITY.most);
    }
    expect(byActivity[0].returnProbability).toBeLessThan(0.15);
    expect(byActivity[byActivity.length - 1].returnProbability).toBeGreaterThan(0.65);
  });

  it('caps the users at --users, in file order', () => {
    expect(buildPopulation(dataset, { maxUsers: 25 }).users.map((u) => u.userId)).toEqual(
      buildPopulation(dataset)
        .users.slice(0, 25)
        .map((u) => u.userId),
    );
  });

  it("drives clicks with preferences no default model was trained on: no held-out item is among a user's training items", async () => {
    // Prepare
    const population = buildPopulation(dataset);
    const set = JSON.parse(await readFile(join(DEFAULT_ARTIFACTS_DIR, 'default-set.json'), 'utf8')) as {
      models: { model_id: string; model_version: string }[];
    };
    const store = new DirectoryModelArtifactStore(DEFAULT_ARTIFACTS_DIR);

    for (const ref of set.models) {
      // Act
      const model = await store.loadModel(ref.model_id, ref.model_version);
      const userIndex = new Map(model.userIds.map((id, i) => [id, i]));
      let overlap = 0;
      let seen = 0;
      for (const user of population.users) {
        const u = userIndex.get(user.userId)!;
        for (let k = model.seenOffsets[u]; k < model.seenOffsets[u + 1]; k++) {
          seen++;
          if (user.taste.has(model.itemIds[model.seenItems[k]])) overlap++;
        }
      }

      // Assess: the models saw exactly the training part, and none of the tastes
      expect(overlap, ref.model_id).toBe(0);
      expect(seen, ref.model_id).toBe(population.training.rating.length);
    }
  });
});
