/**
 * The retraining state machine synthesized from the CDK stack, executed by
 * aws-local-stepfunctions against s3rver with the real retraining handlers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalRetraining, type LocalRetraining } from '../../local/retrain.ts';
import { synthesizeRetrainingDefinition } from '../../local/state-machine.ts';

let dataDir: string;
let session: LocalRetraining;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'abrec-retrain-'));
  session = await startLocalRetraining({ dataDir });
});
afterAll(async () => {
  await session.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the weekly retraining workflow, run locally', () => {
  it('is the state machine of the stack: Train, Evaluate, Gate, then Publish or Rejected', () => {
    const definition = synthesizeRetrainingDefinition() as { StartAt: string; States: Record<string, { Type: string; Next?: string }> };

    expect(definition.StartAt).toBe('Train');
    expect(definition.States.Train.Next).toBe('Evaluate');
    expect(definition.States.Evaluate.Next).toBe('Gate');
    expect(definition.States.Gate.Type).toBe('Choice');
  });

  it('publishes a candidate that is as good as the published version', async () => {
    const lines: string[] = [];

    const run = await session.run({ model_id: 'als', algorithm: 'als', dataset_prefix: 'datasets/ratings/', max_regression: 0.02 }, (l) => lines.push(l));

    expect(run.status).toBe('SUCCEEDED');
    expect(run.path).toEqual(['Train', 'Evaluate', 'Gate', 'Publish', 'Published']);
    expect(run.output).toMatchObject({ evaluation: { accepted: true }, published: { model_id: 'als' } });
    expect(lines.some((l) => l.includes('entered Train'))).toBe(true);
  });

  it('rejects a candidate that regresses, publishing nothing', async () => {
    const run = await session.run({ model_id: 'als', algorithm: 'popularity', dataset_prefix: 'datasets/ratings/', max_regression: 0 }, () => {});

    expect(run.status).toBe('SUCCEEDED');
    expect(run.path).toEqual(['Train', 'Evaluate', 'Gate', 'Rejected']);
    expect(run.output).toMatchObject({ evaluation: { accepted: false } });
  });

  it('fails the execution when the dataset is missing', async () => {
    const run = await session.run({ model_id: 'als', algorithm: 'als', dataset_prefix: 'datasets/none/', max_regression: 0.02 }, () => {});

    expect(run.status).toBe('FAILED');
    expect(run.path).toEqual(['Train', 'StepFailed']);
  });
});
