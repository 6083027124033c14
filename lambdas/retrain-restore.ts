/** Retraining failure path (Step Functions task, in the Catch): put every pointer back as it was before the run. */
import { ARTIFACTS_BUCKET } from '../lib/resources.ts';
import { s3Client } from './common/clients.ts';
import { requiredEnv } from './common/env.ts';
import { restorePointers, type SnapshotResult } from './services/retraining.ts';
import { S3ObjectStore } from './storage/object-store.ts';

const objects = new S3ObjectStore(s3Client(), requiredEnv(ARTIFACTS_BUCKET.envVar));

/** The whole state of the failed run: `snapshot` is absent when the Snapshot step itself failed. */
export const handler = async (input: { snapshot?: Pick<SnapshotResult, 'pointers_before'> }): Promise<{ restored: string[]; left: string[] }> =>
  restorePointers(input, { objects });
