/**
 * `abrec serve` as a child process, exactly as `npm start` runs it: started on a free port with
 * a data directory, its printed URL and keys parsed, stopped with Ctrl-C (SIGINT).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const NODE = join(ROOT, 'node_modules', '.bin', 'node');

export interface ServedProcess {
  child: ChildProcessWithoutNullStreams;
  url: string;
  apiKey: string;
  adminKey: string;
  output: () => string;
}

export interface ServeOptions {
  /** Default: serving only (`--no-simulate`), so a test starts in seconds. */
  args?: string[];
  startTimeoutMs?: number;
  /** Extra environment; by default ABREC_API_KEY and ABREC_ADMIN_KEY are empty (keys generated or stored, and printed). */
  env?: Record<string, string>;
}

/** Starts `abrec serve`; keys supplied through `env` are returned as given (serve does not print them). */
export async function serveProcess(
  dataDir: string,
  { args = ['--no-simulate'], startTimeoutMs = 30_000, env = {} }: ServeOptions = {},
): Promise<ServedProcess> {
  const childEnv = { ...process.env, ABREC_API_KEY: '', ABREC_ADMIN_KEY: '', ...env };
  const child = spawn(NODE, [join(ROOT, 'bin', 'abrec.mjs'), 'serve', '--port', '0', '--data-dir', dataDir, ...args], {
    cwd: ROOT,
    env: childEnv,
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in ${startTimeoutMs / 1000} s:\n${stdout}\n${stderr}`)), startTimeoutMs);
    child.stdout.on('data', (d) => {
      stdout += d;
      if (stdout.includes('Press Ctrl-C')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}:\n${stdout}\n${stderr}`)));
  });
  const field = (label: string) => stdout.match(new RegExp(`${label}:\\s+(\\S+)`))![1];
  return {
    child,
    url: stdout.match(/running at (\S+)/)![1],
    apiKey: childEnv.ABREC_API_KEY || field('API key'),
    adminKey: childEnv.ABREC_ADMIN_KEY || field('admin key'),
    output: () => stdout + stderr,
  };
}

/** Sends Ctrl-C and resolves with the exit code. */
export function stopProcess(served: ServedProcess): Promise<number | null> {
  if (served.child.exitCode !== null) return Promise.resolve(served.child.exitCode);
  return new Promise((resolve) => {
    served.child.on('exit', (code) => resolve(code));
    served.child.kill('SIGINT');
  });
}
