/** An in-memory CliIO for running `abrec` commands in-process. */
import type { CliIO } from '../../cli/command.ts';

export interface RecordingIO extends CliIO {
  out: string[];
  err: string[];
  /** Everything written to stdout / stderr so far. */
  stdoutText: () => string;
  stderrText: () => string;
  /** The last stdout line parsed as JSON (the `--json` contract). */
  lastJson: () => Record<string, unknown>;
}

export function recordingIO({ env = {}, stdin = '' }: { env?: NodeJS.ProcessEnv; stdin?: string } = {}): RecordingIO {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: (text) => void out.push(text),
    stderr: (text) => void err.push(text),
    readStdin: async () => stdin,
    env,
    signal: new AbortController().signal,
    stdoutText: () => out.join(''),
    stderrText: () => err.join(''),
    lastJson: () => {
      const lines = out.join('').trimEnd().split('\n');
      return JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
    },
  };
}
