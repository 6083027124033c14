import { describe, expect, it } from 'vitest';
import { recordingIO } from '../../helpers/cli-io.ts';
import { findCommand, runCli } from '../../../cli/main.ts';
import { COMMANDS } from '../../../cli/registry.ts';

const fakeIo = () => recordingIO();

describe('the abrec command line', () => {
  it('lists every command in the overview', async () => {
    const io = fakeIo();

    expect(await runCli(['--help'], io)).toBe(0);
    for (const command of COMMANDS) expect(io.stdoutText()).toContain(command.path.join(' '));
  });

  it.each(COMMANDS.map((c) => [c.path.join(' '), c] as const))('prints help for `abrec %s --help` without running it', async (_name, command) => {
    const io = fakeIo();

    expect(await runCli([...command.path, '--help'], io)).toBe(0);
    expect(io.stdoutText()).toMatch(/Usage:\s+abrec/);
    expect(io.stdoutText()).toContain(`abrec ${command.path.join(' ')}`);
  });

  it('exits 2 for an unknown command and names it', async () => {
    const io = fakeIo();

    expect(await runCli(['frobnicate'], io)).toBe(2);
    expect(io.stderrText()).toContain('unknown command "frobnicate"');
  });

  it('exits 2 with the help for an unknown option', async () => {
    const io = fakeIo();

    expect(await runCli(['serve', '--prot', '1'], io)).toBe(2);
    expect(io.stderrText()).toContain("Unknown option '--prot'");
    expect(io.stderrText()).toContain('Usage: abrec serve');
  });

  it('exits 2 for an invalid port before starting anything', async () => {
    const io = fakeIo();

    expect(await runCli(['serve', '--port', '70000'], io)).toBe(2);
    expect(io.stderrText()).toContain('--port must be an integer from 0 to 65535');
  });

  it('prefers the longest matching command path', () => {
    const bench = COMMANDS.find((c) => c.path.join(' ') === 'bench train');
    if (!bench) return;

    expect(findCommand(COMMANDS, ['bench', 'train', '--quick'])?.command).toBe(bench);
  });
});
