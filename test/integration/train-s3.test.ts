import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIO } from '../../cli/command.ts';
import { trainCommand } from '../../cli/commands/train.ts';
import { ARTIFACTS_BUCKET } from '../../lib/resources.ts';
import { writeMovieLensFiles } from '../../lambdas/domain/recommenders/data/files.ts';
import { generateSyntheticMovieLens } from '../../lambdas/domain/recommenders/data/synthetic.ts';
import { S3ModelArtifactStore } from '../../lambdas/storage/artifact-store.ts';
import { startLocalAws, type LocalAws } from '../helpers/local-aws.ts';

const SDK_ENVIRONMENT = ['AWS_ENDPOINT_URL_S3', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION', 'S3_FORCE_PATH_STYLE'] as const;

let aws: LocalAws;
let dir: string;
let data: string;
const saved = new Map<string, string | undefined>();

function processIo(): CliIO & { out: string[] } {
  const out: string[] = [];
  return {
    out,
    stdout: (text) => out.push(text),
    stderr: () => undefined,
    readStdin: async () => '',
    env: process.env,
    signal: new AbortController().signal,
  };
}

function lastJson(lines: string[]): { model_id: string; version: string; location: string } {
  const text = lines.join('').trimEnd().split('\n');
  return JSON.parse(text[text.length - 1]) as { model_id: string; version: string; location: string };
}

beforeAll(async () => {
  aws = await startLocalAws();
  dir = mkdtempSync(join(tmpdir(), 'abrec-train-s3-'));
  const synthetic = generateSyntheticMovieLens({ users: 50, items: 70, ratings: 1_500, seed: 11 });
  [data] = writeMovieLensFiles(dir, synthetic.dataset, synthetic.items, 'ml-100k').map((file) => file.path);
  // The command builds its client from the SDK's standard environment, as it would on a laptop.
  for (const name of SDK_ENVIRONMENT) saved.set(name, process.env[name]);
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_S3: aws.servers.s3Endpoint,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
    S3_FORCE_PATH_STYLE: 'true',
  });
});

afterAll(async () => {
  for (const [name, value] of saved) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  rmSync(dir, { recursive: true, force: true });
  await aws.stop();
});

describe('abrec train --out s3://BUCKET', () => {
  it('publishes an artifact that S3ModelArtifactStore loads back verified', async () => {
    // prepare
    const io = processIo();
    const bucket = ARTIFACTS_BUCKET.localName;
    // act
    const code = await trainCommand.run(
      ['--data', data, '--model', 'als', '--model-id', 'als-s3', '--param', 'factors=4', '--out', `s3://${bucket}`, '--json'],
      io,
    );
    // assess
    expect(code).toBe(0);
    const summary = lastJson(io.out);
    expect(summary.location).toBe(`s3://${bucket}/models/als-s3/${summary.version}/`);
    const model = await new S3ModelArtifactStore(aws.s3, bucket).loadModel('als-s3', summary.version);
    expect(model).toMatchObject({ modelId: 'als-s3', algorithm: 'als', factors: 4 });
    expect(model.userFactors.length).toBe(model.userIds.length * 4);
    expect(model.itemFactors.some((value) => value !== 0)).toBe(true);
  });

  it('accepts the models/ prefix and lists the version it published', async () => {
    // prepare
    const io = processIo();
    const bucket = ARTIFACTS_BUCKET.localName;
    // act
    await trainCommand.run(['--data', data, '--model', 'popularity', '--model-id', 'pop-s3', '--out', `s3://${bucket}/models/`, '--json'], io);
    // assess
    const summary = lastJson(io.out);
    expect(await new S3ModelArtifactStore(aws.s3, bucket).listVersions('pop-s3')).toEqual([summary.version]);
  });
});
