/**
 * The `abrec` command line: finds the command by its words, prints help for `--help`, runs it
 * and turns usage errors into exit code 2 with the command's help.
 */
import { UsageError, type CliCommand, type CliIO } from './command.ts';
import { COMMANDS } from './registry.ts';

function overview(commands: readonly CliCommand[]): string {
  const width = Math.max(...commands.map((c) => c.path.join(' ').length));
  return [
    'abrec: A/B testing for recommendation models',
    '',
    'Usage: abrec <command> [options]    (abrec <command> --help for details)',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`),
    '',
  ].join('\n');
}

/** Picks the command with the longest matching word path. */
export function findCommand(commands: readonly CliCommand[], argv: string[]): { command: CliCommand; rest: string[] } | undefined {
  const matches = commands
    .filter((c) => c.path.every((word, i) => argv[i] === word))
    .sort((a, b) => b.path.length - a.path.length);
  const command = matches[0];
  return command ? { command, rest: argv.slice(command.path.length) } : undefined;
}

export async function runCli(argv: string[], io: CliIO, commands: readonly CliCommand[] = COMMANDS): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout(overview(commands));
    return argv.length === 0 ? 2 : 0;
  }
  const found = findCommand(commands, argv);
  if (!found) {
    io.stderr(`abrec: unknown command "${argv.join(' ')}"\n\n${overview(commands)}`);
    return 2;
  }
  const { command, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(`${command.help}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    const e = error as Error & { code?: string };
    if (error instanceof UsageError || e.code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`abrec ${command.path.join(' ')}: ${e.message}\n\n${command.help}\n`);
      return 2;
    }
    io.stderr(`abrec ${command.path.join(' ')}: ${e.message}\n`);
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
