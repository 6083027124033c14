/** Retraining step 3 (Step Functions task, after the Map): move the pointers of the accepted candidates, then the snapshot marker. */
import { ARTIFACTS_BUCKET } from '../lib/resources.ts';
import { s3Client } from './common/clients.ts';
import { requiredEnv } from './common/env.ts';
import { publishAccepted, type ModelRunResult, type PublishResult, type SnapshotResult } from './services/retraining.ts';
import { S3ModelArtifactStore } from './storage/artifact-store.ts';
import { S3ObjectStore } from './storage/object-store.ts';

const bucket = requiredEnv(ARTIFACTS_BUCKET.envVar);
const objects = new S3ObjectStore(s3Client(), bucket);
const artifacts = new S3ModelArtifactStore(s3Client(), bucket);

export const handler = async (input: {
  run_id: string;
  results: ModelRunResult[];
  snapshot: Pick<SnapshotResult, 'dataset_prefix' | 'until_ms'>;
}): Promise<PublishResult> => publishAccepted(input, { objects, artifacts, now: new Date() });
