/**
 * The contract every `abrec` sub-command implements. Commands parse their own
 * arguments (node:util parseArgs) and never call process.exit themselves, so they
 * can be run in-process by tests.
 */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { errorMessage } from '../lambdas/domain/assert-error.ts';
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Reads all of standard input (for `--input -`). */
  readStdin: () => Promise<string>;
  env: NodeJS.ProcessEnv;
  /** Aborted on Ctrl-C; long-running commands (serve) stop when it fires. */
  signal: AbortSignal;
}

export interface CliCommand {
  /** Words that select the command, e.g. ['serve'] or ['bench', 'serve']. */
  path: string[];
  /** One line for the command list. */
  summary: string;
  /** Full help text printed for `abrec <command> --help`. */
  help: string;
  /** Runs the command; resolves to the process exit code. */
  run: (argv: string[], io: CliIO) => Promise<number>;
}

/** A usage error: the CLI prints the message and the command's help, then exits with 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A command as the registry lists it: selected and summarized without loading its module. */
export interface CommandEntry {
  path: readonly string[];
  summary: string;
  /** Imports the command's module; its CliCommand has the same path and summary. */
  load: () => Promise<CliCommand>;
}

/**
 * The option values of `argv` (node:util parseArgs, strict, no positionals), raising what it
 * refuses (an unknown option, a missing value, a positional) as a UsageError.
 */
export function parseCommandArgs<T extends ParseArgsOptionsConfig>(
  argv: string[],
  options: T,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: false }>>['values'] {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
}

/**
 * A number option: absent gives the fallback (and is a usage error when there is none: the option
 * is required); anything not a number, not whole when `check.integer`, or out of bounds is a usage
 * error naming the option.
 */
export function numberOption(raw: string | undefined, name: string, fallback?: number, check: { integer?: boolean; min?: number; max?: number } = {}): number {
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`${name} is required`);
    return fallback;
  }
  const value = Number(raw);
  const bounded = Number.isFinite(value) && (check.min === undefined || value >= check.min) && (check.max === undefined || value <= check.max);
  if (raw.trim() === '' || !bounded || (check.integer && !Number.isInteger(value))) {
    const range = [check.min !== undefined ? `>= ${check.min}` : '', check.max !== undefined ? `<= ${check.max}` : ''].filter(Boolean).join(' and ');
    throw new UsageError(`${name} must be ${check.integer ? 'an integer' : 'a number'}${range ? ` ${range}` : ''}, got '${raw}'`);
  }
  return value;
}
