/**
 * The README's commands exist with the flags it gives them: the `## Command line` table lists
 * exactly the commands of the registry, every flag of a row is accepted by that row's command,
 * and every `abrec ...`, `npm start -- ...` and `npm run SCRIPT -- ...` written anywhere in the
 * README (code spans and code blocks) names a command or script that exists, with flags its
 * parser accepts. A command's accepted flags are recorded from what it passes to node:util
 * parseArgs, as in help-matches-parser.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { COMMANDS } from '../../../cli/registry.ts';
import { recordingIO } from '../../helpers/cli-io.ts';

const recorded = vi.hoisted(() => ({ options: [] as NonNullable<ParseArgsConfig['options']>[] }));

vi.mock('node:util', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:util')>();
  return {
    ...actual,
    parseArgs: (config: ParseArgsConfig) => {
      recorded.options.push(config.options ?? {});
      throw new Error('stopped after parsing (readme-commands test)');
    },
  };
});

const ROOT = join(import.meta.dirname, '..', '..', '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const SCRIPTS = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

/** Flags the command line answers itself, before choosing a command (help-and-errors.test.ts). */
const GLOBAL_FLAGS = new Set(['help', 'version']);
/** Flags of other tools the README quotes: `cdk deploy --require-approval`, `aws apigateway get-api-key --api-key ... --include-value`. */
const OTHER_TOOLS_FLAGS = new Set(['require-approval', 'api-key', 'include-value']);

/** One place the README gives a command flags. */
interface Invocation {
  /** The command's words, e.g. `bench serve`. */
  readonly command: string;
  readonly flags: readonly string[];
  /** The README text it was read from. */
  readonly source: string;
}

const flagsIn = (text: string): string[] => [...text.matchAll(/--([a-z0-9][a-z0-9-]*)/g)].map((match) => match[1]);
const commandNames = new Set(COMMANDS.map((entry) => entry.path.join(' ')));

/** The registry command a sequence of words after `abrec` selects (the longest match), if any. */
function commandOf(words: string[]): string | undefined {
  for (const length of [2, 1]) {
    const name = words.slice(0, length).join(' ');
    if (words.length >= length && commandNames.has(name)) return name;
  }
  return undefined;
}

/** The rows of the table under `## Command line`, each as its cells. */
function commandTableRows(): string[][] {
  const section = README.split(/^## Command line$/m)[1]?.split(/^## /m)[0];
  if (section === undefined) throw new Error('README.md has no "## Command line" section');
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) =>
      line
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((cell) => cell.replace(/\\\|/g, '|').trim()),
    );
}

/** The command a table row documents: the words after `abrec` in its first code span. */
function rowCommand(row: string[]): string {
  const span = /`(?:npx )?abrec ([^`]*)`/.exec(row[0])?.[1] ?? '';
  const command = commandOf(span.split(/\s+/));
  if (command === undefined) throw new Error(`the Command line table names no registry command in: ${row[0]}`);
  return command;
}

/** Every code span and code-block line of the README (block lines joined over a trailing `\`). */
function codeTexts(): string[] {
  const blocks = [...README.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)].flatMap((match) => match[1].replace(/\\\n/g, ' ').split('\n'));
  const prose = README.replace(/^```[^\n]*\n[\s\S]*?^```/gm, '');
  const spans = [...prose.matchAll(/`([^`\n]+)`/g)].map((match) => match[1].replace(/\\\|/g, '|'));
  return [...blocks, ...spans];
}

/** Every `abrec ...`, `npm start -- ...` and `npm run SCRIPT -- ...` of the README's code, resolved to a command or a script. */
function codeInvocations(): { invocations: Invocation[]; unknownCommands: string[]; unknownScripts: string[] } {
  const invocations: Invocation[] = [];
  const unknownCommands: string[] = [];
  const unknownScripts: string[] = [];
  for (const text of codeTexts()) {
    for (const match of text.matchAll(/(?:^|[\s(])(?:npx )?abrec ([a-z][\w-]*(?: [a-z][\w-]*)?)([^;&]*)/g)) {
      const words = match[1].split(' ');
      if (words[0] === 'help') continue;
      const command = commandOf(words);
      if (command === undefined) {
        unknownCommands.push(text);
        continue;
      }
      invocations.push({ command, flags: flagsIn(`${match[1]} ${match[2]}`), source: text });
    }
    for (const match of text.matchAll(/npm (start|run ([\w:-]+))(?: -- ([^;&]*))?/g)) {
      const script = match[2] ?? 'start';
      if (SCRIPTS[script] === undefined) {
        unknownScripts.push(text);
        continue;
      }
      const abrec = /^node bin\/abrec\.mjs (.*)$/.exec(SCRIPTS[script]);
      if (match[3] === undefined) continue;
      const command = abrec ? commandOf(abrec[1].split(' ')) : undefined;
      if (command === undefined) unknownScripts.push(`${text} (flags after a script that runs no abrec command)`);
      else invocations.push({ command, flags: flagsIn(match[3]), source: text });
    }
  }
  return { invocations, unknownCommands, unknownScripts };
}

/** Whether `flag` is one of `accepted` (`--no-x` also through parseArgs' negation of `x`). */
const acceptsFlag = (accepted: Set<string>, flag: string): boolean => accepted.has(flag) || (flag.startsWith('no-') && accepted.has(flag.slice(3)));

const accepted = new Map<string, Set<string>>();

beforeAll(async () => {
  for (const entry of COMMANDS) {
    recorded.options = [];
    const command = await entry.load();
    // experiments parses after its action word; the others parse their whole argv.
    await command.run(entry.path[0] === 'experiments' ? ['list'] : [], recordingIO()).catch(() => undefined);
    accepted.set(entry.path.join(' '), new Set(recorded.options.flatMap((options) => Object.keys(options))));
  }
});

describe("README's commands", () => {
  it('lists in the Command line table exactly the commands of the registry', () => {
    const listed = new Set(commandTableRows().map(rowCommand));

    expect([...listed].sort()).toEqual([...commandNames].sort());
  });

  it.each(commandTableRows().map((row) => [row[0], row] as const))('table row %s: every flag of the row is accepted by its command', (_first, row) => {
    const command = rowCommand(row);
    const flags = flagsIn(row.join(' ')).filter((flag) => !GLOBAL_FLAGS.has(flag));

    expect(accepted.get(command)?.size).toBeGreaterThan(0);
    expect(flags.filter((flag) => !acceptsFlag(accepted.get(command) ?? new Set(), flag))).toEqual([]);
  });

  it('names in the experiments row exactly the actions of `abrec experiments`', async () => {
    const row = commandTableRows().find((cells) => rowCommand(cells) === 'experiments');
    const listed = /abrec experiments ([a-z|-]+)/.exec(row?.[0] ?? '')?.[1].split('|') ?? [];
    const help = (await COMMANDS.find((entry) => entry.path[0] === 'experiments')!.load()).help;
    const actionsSection = help.split(/^Actions:$/m)[1]?.split(/^\S/m)[0] ?? '';
    const actions = [...actionsSection.matchAll(/^ {2}(\w+)|\| (\w+) ID/gm)].map((match) => match[1] ?? match[2]);

    expect(listed.sort()).toEqual(actions.sort());
  });

  it('writes anywhere in its code only commands and npm scripts that exist, with flags they accept', () => {
    const { invocations, unknownCommands, unknownScripts } = codeInvocations();
    const refused = invocations
      .map((invocation) => ({
        ...invocation,
        flags: invocation.flags.filter((flag) => !GLOBAL_FLAGS.has(flag) && !acceptsFlag(accepted.get(invocation.command)!, flag)),
      }))
      .filter((invocation) => invocation.flags.length > 0);

    expect(invocations.length).toBeGreaterThan(30);
    expect(unknownCommands).toEqual([]);
    expect(unknownScripts).toEqual([]);
    expect(refused).toEqual([]);
  });

  it('uses no flag, anywhere, that no command accepts (other tools quoted by name excepted)', () => {
    const every = new Set([...accepted.values()].flatMap((flags) => [...flags]));
    const unknown = [...new Set(flagsIn(README))].filter((flag) => !GLOBAL_FLAGS.has(flag) && !OTHER_TOOLS_FLAGS.has(flag) && !acceptsFlag(every, flag));

    expect(unknown).toEqual([]);
  });
});
