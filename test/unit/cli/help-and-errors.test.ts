import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { recordingIO } from '../../helpers/cli-io.ts';
import { levenshtein, runCli, suggestCommands } from '../../../cli/main.ts';
import { COMMANDS } from '../../../cli/registry.ts';

describe('abrec help, version and mistakes', () => {
  it.each(COMMANDS.map((c) => [c.path.join(' '), c.path] as const))('`abrec help %s` prints what `abrec %s --help` prints', async (_name, path) => {
    const viaHelp = recordingIO();
    const viaFlag = recordingIO();

    expect(await runCli(['help', ...path], viaHelp)).toBe(0);
    expect(await runCli([...path, '--help'], viaFlag)).toBe(0);

    expect(viaHelp.stdoutText()).toBe(viaFlag.stdoutText());
    expect(viaHelp.stdoutText()).toContain(`abrec ${path.join(' ')}`);
  });

  it('prints the version of package.json for --version', async () => {
    const io = recordingIO();
    const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

    expect(await runCli(['--version'], io)).toBe(0);
    expect(io.stdoutText()).toBe(`abrec ${version}\n`);
  });

  it('suggests the closest command for a typo, in one line and a hint', async () => {
    const io = recordingIO();

    expect(await runCli(['anlyze', '--experiment', 'x'], io)).toBe(2);

    expect(io.stderrText()).toBe(`abrec: unknown command "anlyze"; did you mean "analyze"?\nRun 'abrec --help' for the list of commands.\n`);
  });

  it('lists the sub-commands of a partial command and suggests nothing for gibberish', () => {
    expect(suggestCommands(COMMANDS, ['bench'])).toContain('bench train');
    expect(suggestCommands(COMMANDS, ['bench', 'trian'])).toEqual(['bench train']);
    expect(suggestCommands(COMMANDS, ['zzzzzzzz'])).toEqual([]);
  });

  it('measures edit distance', () => {
    expect(levenshtein('kitten', 'sitting')).toBe(3);
    expect(levenshtein('', 'abc')).toBe(3);
    expect(levenshtein('power', 'power')).toBe(0);
  });

  it('prints a usage error as the error, the usage line and a hint, not the whole help', async () => {
    const io = recordingIO();

    expect(await runCli(['power', '--baseline', '0.1', '--bogus'], io)).toBe(2);

    const lines = io.stderrText().trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toContain("abrec power: Unknown option '--bogus'");
    expect(lines[1]).toMatch(/^Usage: abrec power /);
    expect(lines[2]).toBe("Run 'abrec power --help' for usage.");
  });
});

describe('commands that need a running service', () => {
  it.each([['experiments'], ['simulate'], ['analyze']])('abrec %s says so in its help and how to start it', async (name) => {
    const io = recordingIO();

    expect(await runCli(['help', name], io)).toBe(0);

    expect(io.stdoutText()).toMatch(/running (service|`abrec serve`)/);
    expect(io.stdoutText()).toContain('abrec serve');
  });

  it('abrec experiments says how to start the service when it cannot connect', async () => {
    const io = recordingIO();

    // Port 9 (discard) has no listener on the test machine: the connection is refused.
    expect(await runCli(['experiments', 'list', '--url', 'http://127.0.0.1:9', '--admin-key', 'ak_test'], io)).toBe(1);

    expect(io.stderrText()).toMatch(
      /^abrec experiments: cannot reach http:\/\/127\.0\.0\.1:9 \(.+\); is the service running\? Start the local one with `abrec serve`/,
    );
  });
});
