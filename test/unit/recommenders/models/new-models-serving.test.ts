import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIO } from '../../../../cli/command.ts';
import { evaluateCommand } from '../../../../cli/commands/evaluate.ts';
import { decodeArtifact, encodeArtifact, parseManifest } from '../../../../lambdas/domain/recommenders/artifact.ts';
import { writeMovieLensFiles } from '../../../../lambdas/domain/recommenders/data/files.ts';
import { generateSyntheticMovieLens } from '../../../../lambdas/domain/recommenders/data/synthetic.ts';
import { scoreAllItems } from '../../../../lambdas/domain/recommenders/models/common.ts';
import { getModel, MODEL_NAMES } from '../../../../lambdas/domain/recommenders/models/registry.ts';
import { prepareForServing, recommendTopN } from '../../../../lambdas/domain/recommenders/top-n.ts';
import type { FactorModel } from '../../../../lambdas/domain/recommenders/types.ts';

const NEW_MODELS = [
  { name: 'ease', task: 'ranking', params: { lambda: 50 } },
  { name: 'ease-lowrank', task: 'ranking', params: { lambda: 50, rank: 12 } },
  { name: 'item-knn', task: 'ranking', params: { neighbours: 20 } },
  { name: 'svdpp', task: 'rating', params: { epochs: 5 } },
] as const;

const { dataset } = generateSyntheticMovieLens({ users: 60, items: 80, ratings: 2_000, seed: 3 });

/** The top 10 unseen items by the training-side scores, best first (ties to the lower index). */
function expectedTop10(model: FactorModel, user: number): string[] {
  const scores = scoreAllItems(model, user, new Float64Array(model.itemIds.length));
  const seen = new Set(model.seenItems.subarray(model.seenOffsets[user], model.seenOffsets[user + 1]));
  return Array.from(scores.keys())
    .filter((i) => !seen.has(i))
    .sort((a, b) => scores[b] - scores[a] || a - b)
    .slice(0, 10)
    .map((i) => model.itemIds[i]);
}

describe('the EASE, item-kNN and SVD++ models in the registry', () => {
  it.each(NEW_MODELS)('registers $name for the $task task with its defaults', ({ name, task }) => {
    // act
    const definition = getModel(name);
    // assess
    expect(MODEL_NAMES).toContain(name);
    expect(definition.task).toBe(task);
    expect(Object.keys(definition.defaults).length).toBeGreaterThan(0);
  });

  it.each(NEW_MODELS)('refuses an unknown hyperparameter of $name, naming it', ({ name }) => {
    // act / assess
    expect(() => getModel(name).train(dataset, { nonsense: 1 })).toThrow(/nonsense/);
  });

  it.each(NEW_MODELS)('round-trips $name through an artifact and /recommend serves its ranking', ({ name, params }) => {
    // prepare
    const model = getModel(name).train(dataset, params);
    const { manifest, files } = encodeArtifact(model, new Date('2026-01-01T00:00:00Z'));
    // act
    const decoded = decodeArtifact(parseManifest(JSON.stringify(manifest)), (path) => files.get(path));
    const serving = prepareForServing(decoded);
    const served = [0, 7, 31].map((user) => recommendTopN(serving, model.userIds[user], 10).items);
    // assess
    expect(decoded.algorithm).toBe(name);
    expect(Array.from(decoded.userFactors)).toEqual(Array.from(model.userFactors));
    expect(Array.from(decoded.itemFactors)).toEqual(Array.from(model.itemFactors));
    // Scores of float32 factors may tie where the float64 ones differ in the last bits; compare sets of the top 5.
    [0, 7, 31].forEach((user, j) => {
      expect(
        served[j]
          .map((item) => item.itemId)
          .slice(0, 5)
          .sort(),
      ).toEqual(expectedTop10(model, user).slice(0, 5).sort());
    });
  });
});

describe('abrec evaluate with the new models', () => {
  let dir: string;
  let data: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'abrec-new-models-'));
    const synthetic = generateSyntheticMovieLens({ users: 60, items: 80, ratings: 2_000, seed: 3 });
    [data] = writeMovieLensFiles(dir, synthetic.dataset, synthetic.items, 'ml-100k').map((file) => file.path);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['ease', 'ranking'],
    ['ease-lowrank', 'ranking'],
    ['item-knn', 'ranking'],
    ['svdpp', 'rating'],
  ])('evaluates %s on the %s task', async (model, task) => {
    // prepare
    const out: string[] = [];
    const io: CliIO = { stdout: (text) => out.push(text), stderr: () => undefined, readStdin: async () => '', env: {}, signal: new AbortController().signal };
    // act
    const options = task === 'rating' ? ['--folds', '2'] : model === 'ease-lowrank' ? ['--param', 'rank=8'] : [];
    const code = await evaluateCommand.run(['--data', data, '--task', task, '--model', model, '--json', ...options], io);
    // assess
    expect(code).toBe(0);
    const lines = out.join('').trimEnd().split('\n');
    expect(JSON.parse(lines[lines.length - 1])).toMatchObject({ task, model });
  });
});
