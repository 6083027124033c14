/**
 * The main job as `npm start` runs it: `abrec serve` as a child process simulates a workload,
 * prints the per-variant summary (the same numbers `abrec analyze --experiment default --json`
 * gives for the same day), the dashboard's address and the saved report; a restart keeps the
 * data and does not simulate again; --no-simulate only serves.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main.ts';
import { SIMULATION_RECORD } from '../../simulator/main-job.ts';
import { formatSummary, type AnalyzeOutput } from '../../simulator/summary.ts';
import { recordingIO } from '../helpers/cli-io.ts';
import { serveProcess, stopProcess, type ServedProcess } from '../helpers/serve-process.ts';

let dataDir: string;
let served: ServedProcess | undefined;

const WORKLOAD = ['--users', '150', '--days', '3', '--seed', '4'];

async function analyzeJson(url: string): Promise<AnalyzeOutput> {
  const io = recordingIO({ env: { ABREC_DATA_DIR: dataDir } });
  expect(await runCli(['analyze', '--experiment', 'default', '--url', url, '--json'], io), io.stderrText()).toBe(0);
  return io.lastJson() as unknown as AnalyzeOutput;
}

/** Serves, runs the checks, and always stops the process (a second serve on the same data would find LevelDB locked). */
async function withServe(args: string[], startTimeoutMs: number, check: (served: ServedProcess) => Promise<void>): Promise<void> {
  served = await serveProcess(dataDir, { args, startTimeoutMs });
  try {
    await check(served);
  } finally {
    await stopProcess(served);
    served = undefined;
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'abrec-main-'));
});

afterAll(async () => {
  if (served) await stopProcess(served);
  await rm(dataDir, { recursive: true, force: true });
});

describe('npm start: the main job', () => {
  let firstSummary = '';

  it('simulates the workload, then prints the summary that abrec analyze gives for the same day, the dashboard and the report', async () => {
    await withServe(WORKLOAD, 110_000, async (served) => {
      // Act
      const output = served.output();
      const analysis = await analyzeJson(served.url);

      // Assess
      expect(output).toMatch(/Simulated \d+ users, \d+ requests, \d+ events over 3 days \(\d{4}-\d{2}-\d{2} \.\. \d{4}-\d{2}-\d{2} on the virtual clock\)/);
      firstSummary = formatSummary(analysis);
      expect(output).toContain(firstSummary);
      expect(analysis.variants?.map((v) => v.variant)).toEqual(['control', 'treatment']);
      // Catalogue coverage of what was shown, from the markers /recommend wrote in dynalite
      const { ranking } = analysis as unknown as {
        ranking: { coverage: { status: string; catalogue_size?: number }; variants: { variant: string; coverage: number | null }[] };
      };
      expect(ranking.coverage.status).toBe('ok');
      expect(ranking.coverage.catalogue_size).toBeGreaterThan(0);
      for (const variant of ranking.variants) expect(variant.coverage).toBeGreaterThan(0);
      for (const variant of ranking.variants) expect(variant.coverage).toBeLessThanOrEqual(1);
      expect(output).toMatch(/lift \[CI\]\s+p fixed\s+p always-valid\s+P\(beats control\)/);
      expect(output).toMatch(/sample ratio check: p = /);
      expect(output).toContain(`decision: ${analysis.decision}`);
      expect(output).toContain(`dashboard:  ${served.url}/`);
      const reportPath = output.match(/report:\s+(\S+\.html)/)?.[1];
      expect(reportPath).toBe(join(dataDir, 'reports', 'default', `${analysis.through}.html`));
      expect(await readFile(reportPath!, 'utf8')).toMatch(/^<!doctype html>/i);
      // The dashboard is served at the printed address.
      expect((await fetch(`${served.url}/`)).headers.get('content-type')).toMatch(/text\/html/);
    });
  });

  it('keeps the data across a restart and does not simulate again unless asked', async () => {
    // Prepare
    const recorded = await stat(join(dataDir, SIMULATION_RECORD));

    await withServe(WORKLOAD, 60_000, async (served) => {
      // Act
      const output = served.output();

      // Assess: the same summary from the same counters, and the record untouched
      expect(output).toContain('Recorded simulation:');
      expect(output).not.toContain('simulate: day 1/3 done');
      expect(output).toContain(firstSummary);
      expect((await stat(join(dataDir, SIMULATION_RECORD))).mtimeMs).toBe(recorded.mtimeMs);
    });
  });

  it('only serves with --no-simulate', async () => {
    await withServe(['--no-simulate'], 30_000, async (served) => {
      // Assess
      expect(served.output()).not.toContain('decision:');
      expect((await fetch(`${served.url}/health`)).status).toBe(200);
    });
  });
});
