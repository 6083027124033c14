/**
 * The pinned aws-cdk CLI reads the cloud assembly aws-cdk-lib writes (their schema versions
 * must match), offline and without credentials: exactly what `npx cdk synth` does for a user.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const out = mkdtempSync(join(tmpdir(), 'abrec-cdk-out-'));

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('npx cdk synth', () => {
  it('synthesizes the stack offline with no AWS credentials and exits 0', () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_') && !key.startsWith('CDK_')));
    env.PATH = `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}`;

    const result = spawnSync(join(ROOT, 'node_modules', '.bin', 'cdk'), ['synth', '--quiet', '--no-notices', '--no-version-reporting', '--output', out], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      timeout: 240_000,
    });

    expect(result.status, result.stderr).toBe(0);
    expect(existsSync(join(out, 'AbrecStack.template.json'))).toBe(true);
    const template = JSON.parse(readFileSync(join(out, 'AbrecStack.template.json'), 'utf8')) as { Resources: Record<string, { Type: string }> };
    expect(Object.values(template.Resources).some((r) => r.Type === 'AWS::StepFunctions::StateMachine')).toBe(true);
  });
});
