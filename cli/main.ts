/**
 * The `abrec` command line: finds the command by its words, loads only that command's module,
 * prints help for `--help` (or `abrec help CMD`), runs it and turns usage errors into exit code 2
 * with one line and a hint.
 */
import { readFileSync } from 'node:fs';
import { toError } from '../lambdas/domain/assert-error.ts';
import { UsageError, type CliCommand, type CliIO, type CommandEntry } from './command.ts';
import { COMMANDS } from './registry.ts';

/** What selecting and listing a command needs: its words and summary. */
type Listed = Pick<CommandEntry, 'path' | 'summary'>;

function overview(commands: readonly Listed[]): string {
  const width = Math.max(...commands.map((c) => c.path.join(' ').length));
  return [
    'abrec: A/B testing for recommendation models',
    '',
    'Usage: abrec <command> [options]    (abrec <command> --help or abrec help <command> for details)',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    '  --help, -h     this list',
    '  --version, -V  the abrec version',
    '',
    'Example: abrec serve    (then abrec experiments list in another terminal)',
    '',
  ].join('\n');
}

/** Picks the command with the longest matching word path. */
export function findCommand<C extends Pick<CommandEntry, 'path'>>(commands: readonly C[], argv: string[]): { command: C; rest: string[] } | undefined {
  const matches = commands.filter((c) => c.path.every((word, i) => argv[i] === word)).sort((a, b) => b.path.length - a.path.length);
  const command = matches[0];
  return command ? { command, rest: argv.slice(command.path.length) } : undefined;
}

/** Edit distance (insertions, deletions, substitutions) between two strings. */
export function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length];
}

/**
 * The command paths a mistyped command most likely meant: those that extend the typed words
 * (`bench` → every `bench ...`), else the closest path by edit distance over as many words,
 * if it is within a third of its length (at least 2 edits).
 */
export function suggestCommands(commands: readonly Pick<CommandEntry, 'path'>[], words: readonly string[]): string[] {
  const extending = commands.filter((c) => words.length > 0 && words.every((word, i) => c.path[i] === word));
  if (extending.length > 0) return extending.map((c) => c.path.join(' '));
  const scored = commands
    .map((c) => {
      const path = c.path.join(' ');
      return { path, distance: levenshtein(words.slice(0, c.path.length).join(' '), path) };
    })
    .filter(({ path, distance }) => distance <= Math.max(2, Math.floor(path.length / 3)))
    .sort((a, b) => a.distance - b.distance);
  return scored.length > 0 ? scored.filter((s) => s.distance === scored[0].distance).map((s) => s.path) : [];
}

/** The version in package.json. */
export function abrecVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** The first line of a command's help (its `Usage:` line), for usage errors. */
function usageLine(command: CliCommand): string {
  const lines = command.help.split('\n');
  const at = lines.findIndex((line) => line.startsWith('Usage:'));
  if (at === -1) return `Usage: abrec ${command.path.join(' ')} [options]`;
  // "Usage:" alone on its line is followed by the indented usage.
  return lines[at].trim() === 'Usage:' && lines[at + 1] ? `Usage: ${lines[at + 1].trim()}` : lines[at];
}

function unknownCommand(commands: readonly CommandEntry[], argv: string[], io: CliIO): number {
  const words = argv.slice(0, argv.findIndex((a) => a.startsWith('-')) === -1 ? argv.length : argv.findIndex((a) => a.startsWith('-')));
  const suggestions = suggestCommands(commands, words);
  const guess =
    suggestions.length === 0 ? '' : suggestions.length === 1 ? `; did you mean "${suggestions[0]}"?` : `; did you mean one of: ${suggestions.join(', ')}?`;
  io.stderr(`abrec: unknown command "${words.join(' ') || argv[0]}"${guess}\nRun 'abrec --help' for the list of commands.\n`);
  return 2;
}

export async function runCli(argv: string[], io: CliIO, commands: readonly CommandEntry[] = COMMANDS): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-V') {
    io.stdout(`abrec ${abrecVersion()}\n`);
    return 0;
  }
  const helpFor = argv[0] === 'help' && argv.length > 1 ? argv.slice(1) : undefined;
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || (argv[0] === 'help' && !helpFor)) {
    io.stdout(overview(commands));
    return argv.length === 0 ? 2 : 0;
  }
  const found = findCommand(commands, helpFor ?? argv);
  if (!found) return unknownCommand(commands, helpFor ?? argv, io);
  const command = await found.command.load();
  const { rest } = found;
  if (helpFor || rest.includes('--help') || rest.includes('-h')) {
    io.stdout(`${command.help}\n`);
    return 0;
  }
  const name = `abrec ${command.path.join(' ')}`;
  try {
    return await command.run(rest, io);
  } catch (error) {
    const e: Error & { code?: string } = toError(error);
    if (error instanceof UsageError || e.code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`${name}: ${e.message}\n${usageLine(command)}\nRun '${name} --help' for usage.\n`);
      return 2;
    }
    io.stderr(`${name}: ${e.message}\n`);
    return 1;
  }
}

/** Process entry: wires real stdio, stdin and Ctrl-C. */
export async function main(): Promise<void> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const io: CliIO = {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    env: process.env,
    signal: controller.signal,
  };
  const code = await runCli(process.argv.slice(2), io);
  process.exitCode = code;
  // Servers and SDK sockets are closed by the commands; exit promptly even if a keep-alive lingers.
  setTimeout(() => process.exit(code), 200).unref();
}
