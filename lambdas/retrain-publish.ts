/** Retraining step 3 (Step Functions task): publish the accepted candidate as latest. */
import { ARTIFACTS_BUCKET } from '../lib/resources.ts';
import { s3Client } from './common/clients.ts';
import { requiredEnv } from './common/env.ts';
import { publishCandidate, type Candidate, type LatestPointer, type RetrainingInput } from './services/retraining.ts';
import { S3ObjectStore } from './storage/object-store.ts';

const objects = new S3ObjectStore(s3Client(), requiredEnv(ARTIFACTS_BUCKET.envVar));

export const handler = async (input: RetrainingInput & { candidate: Candidate }): Promise<LatestPointer> => publishCandidate(input, { objects, now: new Date() });
