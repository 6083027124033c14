/**
 * The service `abrec bench load` drives: its own `abrec serve --no-simulate` in a temporary data
 * directory, started as a child process (so the load generator does not share an event loop with
 * the server it measures), or one already running (--url). Plus the dedicated experiment each run
 * creates, so its counters hold this run's traffic and nothing else.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminRequest, type AdminTarget } from '../admin-client.ts';
import { PROJECT_ROOT } from '../../local/runtime.ts';

/** Where the load goes and where the store is read back. */
export interface LoadTarget {
  url: string;
  apiKey: string;
  admin: AdminTarget;
  dynamoEndpoint: string;
}

/** A runtime this run started; `stop` ends it and removes its data unless kept. */
export interface OwnRuntime extends LoadTarget {
  dataDir: string;
  stop: () => Promise<void>;
  /** The runtime's recent output (for error messages). */
  output: () => string;
}

const OUTPUT_KEPT = 16_000;

/** Starts `abrec serve --no-simulate` on a free loopback port with fresh keys and a temporary data directory. */
export async function startOwnRuntime({
  keepData = false,
  startTimeoutMs = 60_000,
}: {
  keepData?: boolean;
  startTimeoutMs?: number;
} = {}): Promise<OwnRuntime> {
  const dataDir = await mkdtemp(join(tmpdir(), 'abrec-bench-load-'));
  const apiKey = `pk_${randomBytes(16).toString('hex')}`;
  const adminKey = `ak_${randomBytes(24).toString('hex')}`;
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'abrec.mjs'), 'serve', '--no-simulate', '--port', '0', '--data-dir', dataDir], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ABREC_API_KEY: apiKey, ABREC_ADMIN_KEY: adminKey },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let recent = '';
  const keep = (chunk: Buffer) => (recent = (recent + chunk.toString('utf8')).slice(-OUTPUT_KEPT));
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const stopped = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000).unref())]);
      if (!stopped) child.kill('SIGKILL');
    }
    if (!keepData) await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`abrec serve did not start in ${startTimeoutMs / 1000} s:\n${recent}`)), startTimeoutMs);
      child.stdout!.on('data', (chunk: Buffer) => {
        keep(chunk);
        stdout += chunk.toString('utf8');
        if (stdout.includes('Press Ctrl-C')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`abrec serve exited with ${code} before it was ready:\n${recent}`));
      });
    });
  } catch (error) {
    await stop();
    throw error;
  }
  const url = stdout.match(/running at (\S+)/)?.[1];
  const dynamoEndpoint = stdout.match(/DynamoDB:\s+(\S+)/)?.[1];
  if (!url || !dynamoEndpoint) {
    await stop();
    throw new Error(`could not read the URL and DynamoDB endpoint from abrec serve:\n${stdout}`);
  }
  return { url, apiKey, admin: { url, auth: 'admin-key', adminKey }, dynamoEndpoint, dataDir, stop, output: () => recent };
}

/** The experiment a run drives: its id and the variants its counters are kept under. */
export interface LoadExperiment {
  id: string;
  variants: string[];
}

interface ExperimentBody {
  id: string;
  variants: { name: string; model_id: string; model_version: string; is_control?: boolean }[];
}

/**
 * A fresh running A/B experiment for this run (`bench-load-<time>-<random>`), pinning the models
 * of the template experiment (the runtime's default one), 50/50 on click-through.
 */
export async function createLoadExperiment(admin: AdminTarget, templateId = 'default'): Promise<LoadExperiment> {
  const template = await adminRequest(admin, 'GET', `/experiments/${encodeURIComponent(templateId)}`);
  if (template.status !== 200) throw new Error(`reading the template experiment ${templateId} answered ${template.status}: ${JSON.stringify(template.body)}`);
  const variants = (template.body as ExperimentBody).variants;
  const control = variants.find((v) => v.is_control) ?? variants[0];
  const treatment = variants.find((v) => v !== control) ?? control;
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').toLowerCase();
  const id = `bench-load-${stamp}-${randomBytes(3).toString('hex')}`;
  const body = {
    id,
    name: 'Load benchmark',
    description: `Created by abrec bench load: ${control.model_id} against ${treatment.model_id}, traffic from the load generator only.`,
    status: 'running',
    mode: 'ab',
    variants: [
      { name: 'control', model_id: control.model_id, model_version: control.model_version, weight: 0.5, is_control: true },
      { name: 'treatment', model_id: treatment.model_id, model_version: treatment.model_version, weight: 0.5, is_control: false },
    ],
    target_metric: { kind: 'click_through' },
  };
  const created = await adminRequest(admin, 'POST', '/experiments', body);
  if (created.status !== 201) throw new Error(`creating the experiment ${id} answered ${created.status}: ${JSON.stringify(created.body)}`);
  return { id, variants: ['control', 'treatment'] };
}
