/**
 * The main job of `npm start`: on a running local runtime, simulate the default workload
 * through the HTTP API (once: a restart reuses it unless asked), let the scheduler write each
 * simulated day's report, then read the experiment's results through the admin API and save
 * the last day's HTML report beside the data.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { adminRequest, type AdminTarget } from '../cli/admin-client.ts';
import type { ExperimentAnalysis } from '../lambdas/services/experiment-results.ts';
import type { LocalClockState } from './http-target.ts';
import type { SimulationProgress } from './run.ts';
import { runSimulationSession, type SimulationSessionResult } from './session.ts';

/** Where a finished simulation is recorded in the data directory. */
export const SIMULATION_RECORD = 'simulation.json';

export interface MainJobOptions {
  url: string;
  apiKey: string;
  adminKey: string;
  dataDir: string;
  experimentId: string;
  /** 'auto': simulate unless the data directory records a finished simulation. */
  simulate: 'auto' | 'always' | 'never';
  users?: number;
  days: number;
  seed: number;
  onProgress?: (progress: SimulationProgress) => void;
  onScheduledRun?: (run: NonNullable<LocalClockState['runs']>[number]) => void;
  log?: (line: string) => void;
}

export interface MainJobResult {
  /** The simulation this run made, or the recorded one it reused; null when none ever ran. */
  simulation: SimulationSessionResult | null;
  simulatedNow: boolean;
  analysis: ExperimentAnalysis;
  /** The saved HTML report of the last simulated day, when there is one. */
  reportPath: string | null;
}

async function readRecord(dataDir: string): Promise<SimulationSessionResult | null> {
  try {
    return JSON.parse(await readFile(join(dataDir, SIMULATION_RECORD), 'utf8')) as SimulationSessionResult;
  } catch {
    return null;
  }
}

export async function runMainJob(options: MainJobOptions): Promise<MainJobResult> {
  const admin: AdminTarget = { url: options.url, auth: 'admin-key', adminKey: options.adminKey };
  const recorded = await readRecord(options.dataDir);
  const simulateNow = options.simulate === 'always' || (options.simulate === 'auto' && recorded === null);
  let simulation = recorded;
  if (simulateNow) {
    simulation = await runSimulationSession({
      url: options.url,
      apiKey: options.apiKey,
      admin,
      experimentId: options.experimentId,
      users: options.users,
      days: options.days,
      seed: options.seed,
      onProgress: options.onProgress,
      onScheduledRun: options.onScheduledRun,
      log: options.log,
    });
    await writeFile(join(options.dataDir, SIMULATION_RECORD), `${JSON.stringify(simulation, null, 1)}\n`, { mode: 0o600 });
  } else if (recorded) {
    options.log?.(
      `reusing the simulation recorded in ${join(options.dataDir, SIMULATION_RECORD)} (${recorded.first_day} .. ${recorded.last_day}); --resimulate runs another`,
    );
  }
  const results = await adminRequest(admin, 'GET', `/experiments/${encodeURIComponent(options.experimentId)}/results`);
  if (results.status !== 200) throw new Error(`GET /experiments/${options.experimentId}/results answered ${results.status}: ${JSON.stringify(results.body)}`);
  const analysis = results.body as ExperimentAnalysis;
  let reportPath: string | null = null;
  const day = simulation?.last_day ?? analysis.through;
  if (day) {
    const html = await adminRequest(admin, 'GET', `/experiments/${encodeURIComponent(options.experimentId)}/reports/${day}?format=html`);
    if (html.status === 200 && typeof html.body === 'string') {
      const dir = join(options.dataDir, 'reports', options.experimentId);
      await mkdir(dir, { recursive: true });
      reportPath = join(dir, `${day}.html`);
      await writeFile(reportPath, html.body);
    }
  }
  return { simulation, simulatedNow: simulateNow, analysis, reportPath };
}
