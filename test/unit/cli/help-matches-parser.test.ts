/**
 * For every command: each option its parser accepts is in its help, and each option its help's
 * Options section names is accepted by its parser. The parser's options are read by recording
 * what the command passes to node:util parseArgs (every command parses before doing anything
 * else; the recording stops it there).
 */
import type { ParseArgsConfig } from 'node:util';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { recordingIO } from '../../helpers/cli-io.ts';
import { COMMANDS } from '../../../cli/registry.ts';

const recorded = vi.hoisted(() => ({ options: [] as NonNullable<ParseArgsConfig['options']>[] }));

vi.mock('node:util', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:util')>();
  return {
    ...actual,
    parseArgs: (config: ParseArgsConfig) => {
      recorded.options.push(config.options ?? {});
      throw new Error('stopped after parsing (help-matches-parser test)');
    },
  };
});

/** The long options named at the start of the lines of the help's Options section(s). */
function documentedOptions(help: string): string[] {
  const names = new Set<string>();
  let inOptions = false;
  for (const line of help.split('\n')) {
    if (/^\S.*:\s*$/.test(line)) inOptions = /options:\s*$/i.test(line);
    else if (inOptions && /^\s+-/.test(line)) {
      // "  --a X, --b | --c   description": every option before the description column.
      const head = line.trim().split(/\s{2,}/)[0];
      for (const match of head.matchAll(/--([a-z0-9][a-z0-9-]*)/g)) names.add(match[1]);
    }
  }
  return [...names].sort();
}

/** Runs the command just far enough to record its parseArgs options. */
async function parserOptions(
  argv: string[],
  load: () => Promise<{ run: (argv: string[], io: ReturnType<typeof recordingIO>) => Promise<number> }>,
): Promise<string[]> {
  recorded.options = [];
  const command = await load();
  await command.run(argv, recordingIO()).catch(() => undefined);
  return recorded.options.flatMap((options) => Object.keys(options)).sort();
}

describe('every command documents exactly the options its parser accepts, and an example', () => {
  beforeEach(() => {
    recorded.options = [];
  });

  it('reads the options of a help text', () => {
    const help = 'Usage: abrec x [--a N]\n\nOptions:\n  --alpha A, --beta   the first; see --gamma\n  --no-x | --yes      two\n\nExample: abrec x --alpha 1\n';

    expect(documentedOptions(help)).toEqual(['alpha', 'beta', 'no-x', 'yes']);
  });

  it.each(COMMANDS.map((entry) => [entry.path.join(' '), entry] as const))('%s', async (_name, entry) => {
    const command = await entry.load();
    // experiments parses after its action word; the others parse their whole argv.
    const argv = entry.path[0] === 'experiments' ? ['list'] : [];

    // --help is answered by the command line itself for every command, before its parser.
    const accepted = (await parserOptions(argv, entry.load)).filter((option) => option !== 'help');
    const documented = documentedOptions(command.help).filter((option) => option !== 'help');

    expect(accepted.length).toBeGreaterThan(0);
    expect(documented.length).toBeGreaterThan(0);
    expect(command.help).toMatch(/^Examples?:/m);
    for (const option of accepted) expect(command.help, `--${option} is accepted but not in the help`).toContain(`--${option}`);
    for (const option of documented) expect(accepted, `--${option} is in the help's Options but not accepted`).toContain(option);
    // Consistent flags: --format in the usage lines of every command that reads it, and --json
    // everywhere but serve (a long-running service that prints its log).
    if (accepted.includes('format')) expect(command.help.split(/\n\s*\n/)[0], 'usage lines name --format').toContain('--format');
    if (entry.path.join(' ') !== 'serve') expect(accepted).toContain('json');
  });
});
