/** Retraining step 2a (Step Functions task, in the Map): train a candidate on the snapshot and write its artifact. */
import { ARTIFACTS_BUCKET } from '../lib/resources.ts';
import { s3Client } from './common/clients.ts';
import { requiredEnv } from './common/env.ts';
import { trainCandidate, type Candidate, type ModelRunInput } from './services/retraining.ts';
import { S3ModelArtifactStore } from './storage/artifact-store.ts';
import { S3ObjectStore } from './storage/object-store.ts';

const bucket = requiredEnv(ARTIFACTS_BUCKET.envVar);
const objects = new S3ObjectStore(s3Client(), bucket);
const artifacts = new S3ModelArtifactStore(s3Client(), bucket);

export const handler = async (input: ModelRunInput): Promise<Candidate> => trainCandidate(input, { objects, artifacts, now: new Date() });
