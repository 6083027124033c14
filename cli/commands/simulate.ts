import { S3Client } from '@aws-sdk/client-s3';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { localClientOptions } from '../../lambdas/common/client-options.ts';
import { getModel } from '../../lambdas/domain/recommenders/models/registry.ts';
import { errorMessage } from '../../lambdas/domain/assert-error.ts';
import { S3ModelArtifactStore } from '../../lambdas/storage/artifact-store.ts';
import { runSimulationSession, type SimulationSessionResult } from '../../simulator/session.ts';
import { readStoredKeys, resolveAdminTarget, type AdminTarget } from '../admin-client.ts';
import { numberOption, parseCommandArgs, UsageError, type CliCommand, type CliIO } from '../command.ts';
import { progressBar } from '../progress.ts';
import { parseOutDestination, s3ClientFromEnvironment } from './train.ts';

/** Defaults of `abrec simulate` (and of the workload `npm start` runs). */
export const SIMULATE_DEFAULTS = { days: 14, seed: 1, topN: 10, concurrency: 8 } as const;

/** The public API key: --api-key, $ABREC_API_KEY, or the local data directory's keys.json. */
export async function resolveApiKey(given: string | undefined, dataDir: string, env: NodeJS.ProcessEnv): Promise<string> {
  const key = given || env.ABREC_API_KEY || (await readStoredKeys(dataDir)).apiKey;
  if (key) return key;
  throw new UsageError('no API key: pass --api-key, set ABREC_API_KEY, or run next to the data directory of `abrec serve` (start it with `npm start`)');
}

/** Admin access when it can be had (the A/A set-up and the local clock need it); undefined otherwise. */
async function optionalAdmin(options: { url?: string; adminKey?: string; dataDir: string }, env: NodeJS.ProcessEnv): Promise<AdminTarget | undefined> {
  try {
    return await resolveAdminTarget(options, env);
  } catch (error) {
    if (error instanceof UsageError) return undefined;
    throw error;
  }
}

/**
 * Where --train publishes: the bucket of a deployed stack (--bucket, with the standard AWS
 * environment), else the local runtime's own bucket, found through `<data dir>/runtime.json`.
 */
async function artifactBucket(bucket: string | undefined, dataDir: string, env: NodeJS.ProcessEnv): Promise<{ client: S3Client; bucket: string }> {
  if (bucket !== undefined) {
    const destination = parseOutDestination(`s3://${bucket}`);
    if (destination.kind !== 's3') throw new UsageError(`--bucket ${bucket} is not a bucket name`);
    return { client: s3ClientFromEnvironment(env), bucket: destination.bucket };
  }
  const { RUNTIME_RECORD } = await import('../../local/runtime.ts');
  let record: { s3_endpoint: string; bucket: string; region: string };
  try {
    record = JSON.parse(await readFile(join(dataDir, RUNTIME_RECORD), 'utf8')) as typeof record;
  } catch {
    throw new UsageError(
      `--train publishes the models where the service reads them: run next to the data directory of a running \`abrec serve\` (no ${join(dataDir, RUNTIME_RECORD)}), or give --bucket for a deployed stack`,
    );
  }
  return {
    client: new S3Client(localClientOptions('s3', record.s3_endpoint, { region: record.region })),
    bucket: record.bucket,
  };
}

/** Day lines with a progress bar, and a line per daily report the local scheduler wrote. */
export function simulationProgress(io: CliIO, interactive: boolean) {
  const progress = progressBar(io.stderr, { interactive });
  return {
    onProgress: ({ day, days, usersDone, usersToday }: { day: number; days: number; usersDone: number; usersToday: number }) => {
      progress.update(usersDone, usersToday, `day ${day + 1}/${days}: ${usersDone}/${usersToday} returning users`);
      if (usersDone === usersToday) progress.finish(`simulate: day ${day + 1}/${days} done, ${usersToday} returning users`);
    },
    onScheduledRun: (run: { job: string; fired_at: string; ok: boolean; error?: string }) =>
      io.stderr(`simulate: scheduled ${run.job} fired at ${run.fired_at} ${run.ok ? 'ran' : `FAILED: ${run.error}`}\n`),
  };
}

export function formatSimulation(result: SimulationSessionResult): string {
  const lines = [
    `${result.users} users, ${result.requests} requests, ${result.events} events over ${result.days} days` +
      (result.first_day ? ` (${result.first_day} .. ${result.last_day} on the local clock)` : ''),
    `experiment ${result.experiment_id}${result.aa ? ' (A/A)' : ''}${result.planted_lift ? `, planted lift ${result.planted_lift} on ${result.lifted_variants.join(', ')}` : ''}`,
    '',
    `${'variant'.padEnd(14)}${'users'.padStart(8)}${'impressions'.padStart(13)}${'clicks'.padStart(9)}${'observed CTR'.padStart(14)}`,
  ];
  for (const [name, tally] of Object.entries(result.by_variant)) {
    lines.push(
      `${name.padEnd(14)}${String(tally.users).padStart(8)}${String(tally.impressions).padStart(13)}${String(tally.clicks).padStart(9)}${(tally.ctr === null ? '-' : tally.ctr.toFixed(4)).padStart(14)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export const simulateCommand: CliCommand = {
  path: ['simulate'],
  summary: 'Drive an experiment with simulated users through the HTTP API, day by day',
  help: `Usage: abrec simulate [--users N] [--days D] [--seed S] [--experiment ID] [--aa]
                      [--planted-lift X] [--data FILE] [--url URL] [--json]

Simulated users from a MovieLens-format ratings file come back day after day, ask
GET /recommend, examine the slate with a position bias, click items they like (their
hidden held-out ratings), and sometimes purchase, rate or watch; the events go to
POST /events/batch in batches of at most 1,000 with stable event ids (a resend is counted
once). On the local runtime each simulated day lands on its own day of the virtual clock and
the scheduled daily analysis writes that day's report before the next day starts.

Options:
  --users N          at most N users of the data set (default: all)
  --days D           simulated days (default: ${SIMULATE_DEFAULTS.days})
  --seed S           random seed (default: ${SIMULATE_DEFAULTS.seed})
  --experiment ID    experiment to drive (default: default, or default-aa-S with --aa)
  --aa               an A/A test: both arms serve the default experiment's control model
                     (created as a running experiment unless it exists; one per seed, so
                     each seed splits the users its own way)
  --planted-lift X   multiply the treatment's click probability by 1+X (a known truth)
  --data FILE        ratings file: u.data, ratings.dat or ratings.csv (default: the bundled
                     synthetic set the default models were trained on, 75 % part)
  --train A,B        train algorithms A (control) and B (treatment) on the data's 75 % part,
                     publish them and drive an experiment pinning them (e.g. content,als;
                     content needs the item file GroupLens ships beside the ratings)
  --bucket NAME      with --train against a deployed stack: its artifacts bucket (standard
                     AWS credentials); locally the runtime's bucket is found by itself
  --top-n N          slate size (default: ${SIMULATE_DEFAULTS.topN})
  --concurrency N    requests in flight (default: ${SIMULATE_DEFAULTS.concurrency})
  --url URL          service base URL (default: $ABREC_URL or http://127.0.0.1:$PORT|3000)
  --api-key KEY      public API key (default: $ABREC_API_KEY or the data directory's)
  --admin-key KEY    admin key (default: $ABREC_ADMIN_KEY or the data directory's)
  --data-dir DIR     local data directory holding keys.json (default: .abrec-data)
  --json             print the result as JSON (users, requests, events, CTR per variant)

Needs a running service: start the local one with \`npm start\` (or \`abrec serve\`).

Examples:
  npx abrec simulate --aa --planted-lift 0.1 --users 400 --days 7 --seed 3
  npx abrec simulate --data ml-1m/ratings.dat --train content,als --users 2000`,
  run: async (argv, io) => {
    const values = parseCommandArgs(argv, {
      users: { type: 'string' },
      days: { type: 'string' },
      seed: { type: 'string' },
      experiment: { type: 'string' },
      aa: { type: 'boolean' },
      'planted-lift': { type: 'string' },
      data: { type: 'string' },
      train: { type: 'string' },
      bucket: { type: 'string' },
      'top-n': { type: 'string' },
      concurrency: { type: 'string' },
      url: { type: 'string' },
      'api-key': { type: 'string' },
      'admin-key': { type: 'string' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean' },
    });
    const count = (flag: 'users' | 'days' | 'top-n' | 'concurrency', fallback: number) =>
      numberOption(values[flag], `--${flag}`, fallback, { integer: true, min: 1 });
    const plantedLift = numberOption(values['planted-lift'], '--planted-lift', 0, { min: 0, max: 10 });
    const seed = numberOption(values.seed, '--seed', SIMULATE_DEFAULTS.seed, { integer: true });
    // Every flag is checked before any key is looked for or any server asked.
    const workload = {
      users: values.users === undefined ? undefined : count('users', 0),
      days: count('days', SIMULATE_DEFAULTS.days),
      topN: count('top-n', SIMULATE_DEFAULTS.topN),
      concurrency: count('concurrency', SIMULATE_DEFAULTS.concurrency),
    };
    const algorithms = values.train?.split(',').map((name) => name.trim());
    if (algorithms !== undefined && (algorithms.length !== 2 || algorithms.some((name) => name === '')))
      throw new UsageError(`--train takes two algorithms, control then treatment (e.g. content,als), got "${values.train}"`);
    for (const name of algorithms ?? []) {
      try {
        getModel(name);
      } catch (error) {
        throw new UsageError(`--train: ${errorMessage(error)}`);
      }
    }
    if (algorithms !== undefined && values.aa) throw new UsageError('--aa and --train contradict each other: an A/A test serves one model in both arms');
    const dataDir = values['data-dir'] ?? io.env.ABREC_DATA_DIR ?? '.abrec-data';
    const url = (values.url ?? io.env.ABREC_URL ?? `http://127.0.0.1:${io.env.PORT ?? 3000}`).replace(/\/$/, '');
    const apiKey = await resolveApiKey(values['api-key'], dataDir, io.env);
    const admin = await optionalAdmin({ url, adminKey: values['admin-key'], dataDir }, io.env);
    const progress = simulationProgress(io, Boolean(process.stderr.isTTY) && !values.json);
    const bucket = algorithms ? await artifactBucket(values.bucket, dataDir, io.env) : undefined;
    try {
      const result = await runSimulationSession({
        url,
        apiKey,
        admin,
        dataFile: values.data,
        ...workload,
        seed,
        experimentId: values.experiment,
        aa: values.aa ?? false,
        train:
          algorithms && bucket ? { algorithms: [algorithms[0], algorithms[1]], artifacts: new S3ModelArtifactStore(bucket.client, bucket.bucket) } : undefined,
        plantedLift,
        ...progress,
        log: (line) => io.stderr(`simulate: ${line}\n`),
      });
      io.stdout(values.json ? `${JSON.stringify(result)}\n` : formatSimulation(result));
      return 0;
    } finally {
      bucket?.client.destroy();
    }
  },
};
