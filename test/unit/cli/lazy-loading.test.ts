import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../cli/registry.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/loaded-packages.mjs', import.meta.url));

/** Runs `abrec ...args` in a fresh Node process and lists the npm packages it loaded. */
function packagesLoadedBy(args: string[], env: NodeJS.ProcessEnv = {}): { code: number; packages: string[] } {
  const out = execFileSync(process.execPath, [FIXTURE, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1) ?? '') as { code: number; packages: string[] };
}

describe('abrec loads a command only when it is used', () => {
  it('sees aws-cdk-lib when a module that imports it is loaded (the check works)', () => {
    const loaded = packagesLoadedBy(['--help'], { PRELOAD: 'lib/constructs/retraining-workflow.ts' });

    expect(loaded.packages).toContain('aws-cdk-lib');
  });

  it.each([[['--help']], [['power', '--help']], [['power', '--baseline', '0.1', '--mde', '0.05']], [['retrain', '--help']], [['help', 'retrain']]])(
    'abrec %j does not load aws-cdk-lib or the AWS SDK',
    (args) => {
      const loaded = packagesLoadedBy(args);

      expect(loaded.code).toBe(0);
      expect(loaded.packages).not.toContain('aws-cdk-lib');
      expect(loaded.packages.filter((name) => name.startsWith('@aws-sdk/'))).toEqual([]);
    },
    30_000,
  );

  it.each(COMMANDS.map((entry) => [entry.path.join(' '), entry] as const))('the registry entry of %s matches its module', async (_name, entry) => {
    const command = await entry.load();

    expect(command.path).toEqual(entry.path);
    expect(command.summary).toBe(entry.summary);
  });
});
