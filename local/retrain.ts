/**
 * `abrec retrain` on the embedded default: dynalite and s3rver on the data directory (the
 * snapshot reads the interaction log and the experiments; LevelDB allows one process, so stop
 * `abrec serve` on the same directory first, or let its scheduler run the weekly rule), the
 * state machine synthesized from the stack, the retraining handlers, notifications to
 * `<data dir>/notifications/retraining.jsonl`.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { resolve } from 'node:path';
import type { FunctionName } from '../lib/resources.ts';
import { localClientOptions } from '../lambdas/common/client-options.ts';
import { openVirtualClock } from './clock.ts';
import { fileNotifier } from './notifications.ts';
import { provision } from './provision.ts';
import { DEFAULT_ARTIFACTS_DIR, loadHandler, localEnvironment } from './runtime.ts';
import { startLocalServers, type LocalServers } from './servers.ts';
import { runRetrainingLocally, synthesizeRetrainingDefinition, type RetrainingRun } from './state-machine.ts';

type Json = Parameters<typeof runRetrainingLocally>[0]['input'][string];

export interface LocalRetraining {
  /** Executes the state machine once (`retryIntervalMs` 0 in tests: retried steps do not sleep). */
  run: (input: Record<string, Json>, onEvent: (line: string) => void, options?: { retryIntervalMs?: number }) => Promise<RetrainingRun>;
  /** The data directory's virtual clock now (what `abrec serve` stamps on events). */
  now: () => Promise<Date>;
  servers: LocalServers;
  dataDir: string;
  stop: () => Promise<void>;
}

/**
 * Starts the servers on the data directory, provisions what the runtime provisions (tables,
 * bucket, default artifacts, data set, pointers, default experiment) and prepares the
 * synthesized definition. The handlers bind their SDK clients on first load, so one process
 * uses one session for all its runs.
 */
export async function startLocalRetraining({
  dataDir: given,
  interceptInvoke,
}: {
  dataDir: string;
  /** Stands between the state machine and each handler (fault tests: a throttled invoke). @default none */
  interceptInvoke?: (name: FunctionName, event: unknown, invoke: (event: unknown) => Promise<unknown>) => Promise<unknown>;
}): Promise<LocalRetraining> {
  const dataDir = resolve(given);
  const servers = await startLocalServers({ dataDir });
  try {
    Object.assign(process.env, localEnvironment(servers));
    const s3 = new S3Client(localClientOptions('s3', servers.s3Endpoint));
    const dynamo = new DynamoDBClient(localClientOptions('dynamodb', servers.dynamoEndpoint));
    const clock = await openVirtualClock(dataDir);
    await provision({ dynamo, s3, artifactsDir: DEFAULT_ARTIFACTS_DIR, now: new Date(clock.now()) });
    s3.destroy();
    dynamo.destroy();
    const definition = synthesizeRetrainingDefinition();
    const direct = async (name: FunctionName, event: unknown) => (await loadHandler(name))(event);
    const invoke = interceptInvoke ? (name: FunctionName, event: unknown) => interceptInvoke(name, event, (e) => direct(name, e)) : direct;
    const notify = fileNotifier(dataDir);
    return {
      run: (input, onEvent, options = {}) => runRetrainingLocally({ definition, input, invoke, notify, onEvent, ...options }),
      now: async () => new Date((await openVirtualClock(dataDir)).now()),
      servers,
      dataDir,
      stop: () => servers.stop(),
    };
  } catch (error) {
    await servers.stop();
    throw error;
  }
}

/** One run in a fresh session (the CLI); `now` defaults to the data directory's virtual clock. */
export async function runLocalRetraining({
  dataDir,
  input,
  onEvent,
}: {
  dataDir: string;
  input: Record<string, Json>;
  onEvent: (line: string) => void;
}): Promise<RetrainingRun> {
  onEvent('synthesizing the retraining state machine from the CDK stack');
  const session = await startLocalRetraining({ dataDir });
  try {
    const now = input.now ?? (await session.now()).toISOString();
    return await session.run({ ...input, now }, onEvent);
  } finally {
    await session.stop();
  }
}
