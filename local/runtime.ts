/**
 * The embedded default: the whole product on one machine. Starts dynalite and s3rver, creates
 * what the stack defines, points the AWS SDK at them through its standard endpoint variables,
 * loads the same handler modules Lambda runs and serves them over HTTP.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ARTIFACTS_BUCKET, ENV, FUNCTIONS, SCHEDULES, TABLES, type FunctionName } from '../lib/resources.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localClientOptions } from '../lambdas/common/client-options.ts';
import { openVirtualClock, type VirtualClock } from './clock.ts';
import { startGateway, type LambdaHttpHandler, type RunningGateway } from './gateway.ts';
import { localRoutes } from './local-routes.ts';
import { provision } from './provision.ts';
import { createLocalScheduler, type LocalScheduler, type ScheduledJob } from './scheduler.ts';
import { startLocalServers, type LocalServers } from './servers.ts';

export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DEFAULT_ARTIFACTS_DIR = join(PROJECT_ROOT, 'model-artifacts');

/** `<data dir>/runtime.json`: where the running local runtime serves, rewritten at every start. */
export const RUNTIME_RECORD = 'runtime.json';
export interface RuntimeRecord {
  url: string;
  s3_endpoint: string;
  bucket: string;
  region: string;
}

export interface LocalRuntimeOptions {
  dataDir: string;
  /** 0 picks a free port. */
  port: number;
  apiKey?: string;
  adminKey?: string;
  artifactsDir?: string;
  log?: (line: string) => void;
  /** How often real time is checked for due scheduled runs (default 30 s; 0 turns the timer off). */
  scheduleCheckMs?: number;
}

export interface LocalRuntime {
  url: string;
  apiKey: string;
  adminKey: string;
  /** Whether each key was generated (and so must be printed) rather than given. */
  generatedKeys: { apiKey: boolean; adminKey: boolean };
  dataDir: string;
  servers: LocalServers;
  gateway: RunningGateway;
  /** Invokes a non-HTTP function (analysis, retraining steps) with a raw event. */
  invoke: (name: FunctionName, event: unknown) => Promise<unknown>;
  /** The virtual clock the gateway stamps on requests and the scheduler fires on. */
  clock: VirtualClock;
  /** The daily analysis and weekly retraining rules of the stack, on the virtual clock. */
  scheduler: LocalScheduler;
  stop: () => Promise<void>;
}

interface StoredKeys {
  apiKey: string;
  adminKey: string;
}

/** Keys come from the options (env), else from a previous run, else are generated and kept. */
async function resolveKeys(dataDir: string, given: { apiKey?: string; adminKey?: string }) {
  const path = join(dataDir, 'keys.json');
  let stored: Partial<StoredKeys> = {};
  try {
    stored = JSON.parse(await readFile(path, 'utf8')) as StoredKeys;
  } catch {
    // first start
  }
  const generated = { apiKey: !given.apiKey && !stored.apiKey, adminKey: !given.adminKey && !stored.adminKey };
  const keys: StoredKeys = {
    apiKey: given.apiKey ?? stored.apiKey ?? `pk_${randomBytes(16).toString('hex')}`,
    adminKey: given.adminKey ?? stored.adminKey ?? `ak_${randomBytes(24).toString('hex')}`,
  };
  await writeFile(path, `${JSON.stringify({ apiKey: stored.apiKey ?? keys.apiKey, adminKey: stored.adminKey ?? keys.adminKey }, null, 1)}\n`, { mode: 0o600 });
  // writeFile's mode applies only when it creates the file: a keys file left by an older run keeps its own.
  await chmod(path, 0o600);
  return { keys, generated };
}

/** The environment the CDK would give the functions, pointed at the local servers. */
export function localEnvironment(servers: Pick<LocalServers, 'dynamoEndpoint' | 's3Endpoint'>): Record<string, string> {
  const env: Record<string, string> = {
    AWS_REGION: LOCAL_REGION,
    // s3rver only accepts its own well-known credentials; dynalite accepts any.
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: servers.dynamoEndpoint,
    AWS_ENDPOINT_URL_S3: servers.s3Endpoint,
    AWS_ENDPOINT_URL_SNS: 'http://127.0.0.1:9', // no SNS locally; alerts are logged
    [ENV.s3ForcePathStyle]: 'true',
    [ENV.recordImpressions]: 'true',
    [ARTIFACTS_BUCKET.envVar]: ARTIFACTS_BUCKET.localName,
    POWERTOOLS_SERVICE_NAME: 'abrec',
    POWERTOOLS_METRICS_NAMESPACE: 'Abrec',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
  };
  for (const table of Object.values(TABLES)) env[table.envVar] = table.localName;
  return env;
}

type AnyHandler = (event: unknown, context?: unknown) => Promise<unknown>;

/** Loads one function's handler module, as Lambda would (Node caches the module after the first load). */
export async function loadHandler(name: FunctionName): Promise<AnyHandler> {
  const module = (await import(resolve(PROJECT_ROOT, FUNCTIONS[name].entry))) as { handler: AnyHandler };
  return module.handler;
}

/** Loads every function's handler module. */
async function loadHandlers(): Promise<Record<FunctionName, AnyHandler>> {
  const entries = await Promise.all((Object.keys(FUNCTIONS) as FunctionName[]).map(async (name) => [name, await loadHandler(name)] as const));
  return Object.fromEntries(entries) as Record<FunctionName, AnyHandler>;
}

/** What EventBridge sends when a scheduled rule fires. */
export function scheduledEvent(firedAt: Date): Record<string, unknown> {
  return { source: 'aws.events', 'detail-type': 'Scheduled Event', time: firedAt.toISOString(), detail: {} };
}

/**
 * The stack's two rules as local jobs: the daily analysis handler with EventBridge's event, and
 * the retraining state machine synthesized from the stack (loaded on its first firing: it needs
 * aws-cdk-lib, which the serving path never does).
 */
function scheduledJobs(invoke: (name: FunctionName, event: unknown) => Promise<unknown>, log: (line: string) => void, dataDir: string): ScheduledJob[] {
  let definition: Record<string, unknown> | undefined;
  return [
    { name: 'analysis', schedule: SCHEDULES.analysis, run: (firedAt) => invoke('analysis', scheduledEvent(firedAt)) },
    {
      name: 'retraining',
      schedule: SCHEDULES.retraining,
      run: async (firedAt) => {
        const [{ synthesizeRetrainingDefinition, runRetrainingLocally }, { DEFAULT_RETRAINING_INPUT }, { fileNotifier }] = await Promise.all([
          import('./state-machine.ts'),
          import('../lib/retraining-input.ts'),
          import('./notifications.ts'),
        ]);
        definition ??= synthesizeRetrainingDefinition();
        // As the EventBridge rule: run_id from the event, now = the rule time (the end of the log window).
        const run = await runRetrainingLocally({
          definition,
          input: {
            ...DEFAULT_RETRAINING_INPUT,
            models: DEFAULT_RETRAINING_INPUT.models.map((m) => ({ ...m })),
            run_id: `scheduled-${firedAt.toISOString()}`,
            now: firedAt.toISOString(),
          },
          invoke,
          notify: fileNotifier(dataDir),
          onEvent: (line) => log(`retraining: ${line}`),
        });
        return { status: run.status, path: run.path, output: run.output };
      },
    },
  ];
}

export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const log = options.log ?? (() => {});
  const dataDir = resolve(options.dataDir);
  // The directory holds the keys and every event: private to its owner, also when it already existed.
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await chmod(dataDir, 0o700);
  const servers = await startLocalServers({ dataDir });
  try {
    const env = localEnvironment(servers);
    Object.assign(process.env, env);
    const dynamo = new DynamoDBClient(localClientOptions('dynamodb', servers.dynamoEndpoint));
    const s3 = new S3Client(localClientOptions('s3', servers.s3Endpoint));
    const clock = await openVirtualClock(dataDir);
    await provision({ dynamo, s3, artifactsDir: options.artifactsDir ?? DEFAULT_ARTIFACTS_DIR, now: new Date(clock.now()), log });
    dynamo.destroy();
    s3.destroy();

    const { keys, generated } = await resolveKeys(dataDir, { apiKey: options.apiKey, adminKey: options.adminKey });
    const handlers = await loadHandlers();
    const invoke = (name: FunctionName, event: unknown) => handlers[name](event, {});
    const jobs = scheduledJobs(invoke, log, dataDir);
    const scheduler = createLocalScheduler({ clock, jobs, log });
    const gateway = await startGateway({
      handlers: handlers as Record<FunctionName, LambdaHttpHandler>,
      apiKey: keys.apiKey,
      adminKey: keys.adminKey,
      port: options.port,
      log,
      clock: clock.now,
      localRoutes: localRoutes({ clock, scheduler, jobs, dataDir }),
    });
    if ((options.scheduleCheckMs ?? 30_000) > 0) scheduler.start(options.scheduleCheckMs ?? 30_000);
    // Where local tools (abrec simulate --train) publish artifacts: this run's S3 endpoint.
    await writeFile(
      join(dataDir, RUNTIME_RECORD),
      `${JSON.stringify({ url: gateway.url, s3_endpoint: servers.s3Endpoint, bucket: ARTIFACTS_BUCKET.localName, region: env.AWS_REGION } satisfies RuntimeRecord, null, 1)}\n`,
      { mode: 0o600 },
    );
    return {
      url: gateway.url,
      apiKey: keys.apiKey,
      adminKey: keys.adminKey,
      generatedKeys: generated,
      dataDir,
      servers,
      gateway,
      invoke,
      clock,
      scheduler,
      stop: async () => {
        await gateway.close();
        await scheduler.stop();
        await servers.stop();
      },
    };
  } catch (error) {
    await servers.stop();
    throw error;
  }
}
