/**
 * `abrec retrain` on the embedded default: s3rver on the data directory (the retraining steps
 * only touch S3, so this can run beside `abrec serve`), the synthesized state machine and the
 * retraining handlers.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { resolve } from 'node:path';
import type { FunctionName } from '../lib/resources.ts';
import { ensureBucket, ensureDatasetAndPointers, uploadDefaultArtifacts } from './provision.ts';
import { DEFAULT_ARTIFACTS_DIR, LOCAL_CREDENTIALS, loadHandler, localEnvironment } from './runtime.ts';
import { startLocalServers } from './servers.ts';
import { runRetrainingLocally, synthesizeRetrainingDefinition, type RetrainingRun } from './state-machine.ts';

export interface LocalRetraining {
  /** Executes the state machine once. */
  run: (input: Record<string, string | number>, onEvent: (line: string) => void) => Promise<RetrainingRun>;
  stop: () => Promise<void>;
}

/**
 * Starts s3rver on the data directory, provisions the bucket and the bundled data, and
 * prepares the synthesized definition. The handlers bind their SDK clients on first load, so
 * one process uses one session for all its runs.
 */
export async function startLocalRetraining({ dataDir }: { dataDir: string }): Promise<LocalRetraining> {
  const servers = await startLocalServers({ dataDir: resolve(dataDir), dynamo: false });
  try {
    Object.assign(process.env, localEnvironment({ dynamoEndpoint: 'http://127.0.0.1:9', s3Endpoint: servers.s3Endpoint }));
    const s3 = new S3Client({ region: 'us-east-1', endpoint: servers.s3Endpoint, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
    await ensureBucket(s3);
    await uploadDefaultArtifacts(s3, DEFAULT_ARTIFACTS_DIR);
    await ensureDatasetAndPointers(s3, DEFAULT_ARTIFACTS_DIR);
    s3.destroy();
    const definition = synthesizeRetrainingDefinition();
    const invoke = async (name: FunctionName, event: unknown) => (await loadHandler(name))(event);
    return {
      run: (input, onEvent) => runRetrainingLocally({ definition, input, invoke, onEvent }),
      stop: () => servers.stop(),
    };
  } catch (error) {
    await servers.stop();
    throw error;
  }
}

/** One run in a fresh session (the CLI). */
export async function runLocalRetraining({
  dataDir,
  input,
  onEvent,
}: {
  dataDir: string;
  input: Record<string, string | number>;
  onEvent: (line: string) => void;
}): Promise<RetrainingRun> {
  onEvent('synthesizing the retraining state machine from the CDK stack');
  const session = await startLocalRetraining({ dataDir });
  try {
    return await session.run(input, onEvent);
  } finally {
    await session.stop();
  }
}
