/**
 * The real-protocol servers behind the local runtime: dynalite (DynamoDB, LevelDB on disk)
 * and s3rver (S3, files on disk), both bound to loopback and persisting under a data directory.
 */
import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { closeServer, listenOnLoopback } from './http-server.ts';

const require = createRequire(import.meta.url);

export interface LocalServers {
  dynamoEndpoint: string;
  s3Endpoint: string;
  stop: () => Promise<void>;
  /** Stops and restarts dynalite alone (fault tests: the store goes down and comes back). */
  stopDynamo: () => Promise<void>;
  startDynamo: () => Promise<void>;
}

export interface LocalServerOptions {
  dataDir: string;
  /** 0 picks a free port. */
  dynamoPort?: number;
  /** Start dynalite too. @default true (false for work that needs S3 only). */
  dynamo?: boolean;
  s3Port?: number;
}

/** The data directory's DynamoDB files are held by another process (LevelDB takes one). */
export class DataDirectoryInUseError extends Error {
  override readonly name = 'DataDirectoryInUseError';
  constructor(readonly dataDir: string) {
    super(
      `the data directory ${dataDir} is in use by another abrec process (a running \`abrec serve\`?): its DynamoDB files take one process. ` +
        'Stop that process first, use another --data-dir, or let the running runtime do the work (it runs the analysis and the weekly retraining on its own schedule; POST /local/clock moves its clock).',
    );
  }
}

/** Whether LevelDB's lock on `dynamoDir` is free: opens and closes the database once. */
async function dynamoDirLockFree(dynamoDir: string): Promise<boolean> {
  const { Level } = createRequire(require.resolve('dynalite'))('level') as {
    Level: new (path: string) => { open: () => Promise<void>; close: () => Promise<void> };
  };
  const probe = new Level(dynamoDir);
  try {
    await probe.open();
    await probe.close();
    return true;
  } catch (error) {
    if ((error as { cause?: { code?: string } }).cause?.code !== 'LEVEL_LOCKED') throw error;
    return false;
  }
}

/**
 * Fails fast with {@link DataDirectoryInUseError} when another process holds the LevelDB files:
 * dynalite would start anyway and crash on the first request with "Database is not open".
 */
async function assertDynamoDirFree(dataDir: string, dynamoDir: string): Promise<void> {
  for (let attempt = 1; !(await dynamoDirLockFree(dynamoDir)); attempt++) {
    if (attempt >= 10) throw new DataDirectoryInUseError(dataDir);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Waits until the dynalite this process just closed has released LevelDB's lock: the database
 * closes after the server, once its background compaction is done, which on a loaded machine can
 * take seconds. Past `timeoutMs` the lock is someone else's problem and startDynamo says so.
 */
async function waitForDynamoDirRelease(dynamoDir: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await dynamoDirLockFree(dynamoDir)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

/** Starts dynalite and s3rver on loopback, data under `dataDir/dynamodb` and `dataDir/s3`. */
export async function startLocalServers(options: LocalServerOptions): Promise<LocalServers> {
  const dynamoDir = join(options.dataDir, 'dynamodb');
  const s3Dir = join(options.dataDir, 's3');
  await mkdir(dynamoDir, { recursive: true });
  await mkdir(s3Dir, { recursive: true });

  const dynalite = require('dynalite') as (opts: Record<string, unknown>) => Server;
  let dynamoServer: Server | undefined;
  let dynamoPort = options.dynamoPort ?? 0;
  const startDynamo = async () => {
    await assertDynamoDirFree(options.dataDir, dynamoDir);
    // Table changes are instant locally; CloudFormation does the waiting in AWS.
    dynamoServer = dynalite({ path: dynamoDir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    dynamoPort = await listenOnLoopback(dynamoServer, dynamoPort);
  };
  const stopDynamo = async () => {
    const server = dynamoServer;
    dynamoServer = undefined;
    await closeServer(server);
    // LevelDB releases its lock asynchronously after the server closes.
    if (server) await waitForDynamoDirRelease(dynamoDir);
  };
  if (options.dynamo !== false) await startDynamo();

  const S3rver = require('s3rver') as new (opts: Record<string, unknown>) => { run: () => Promise<AddressInfo>; close: () => Promise<void> };
  const s3rver = new S3rver({ port: options.s3Port ?? 0, address: '127.0.0.1', directory: s3Dir, silent: true });
  const s3Address = await s3rver.run();

  return {
    dynamoEndpoint: `http://127.0.0.1:${dynamoPort}`,
    s3Endpoint: `http://127.0.0.1:${s3Address.port}`,
    stopDynamo,
    startDynamo,
    stop: async () => {
      await stopDynamo();
      await s3rver.close();
    },
  };
}
