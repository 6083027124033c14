/** Retraining step 2b (Step Functions task, in the Map): the candidate and the published version on the same held-out split. */
import { ARTIFACTS_BUCKET } from '../lib/resources.ts';
import { s3Client } from './common/clients.ts';
import { requiredEnv } from './common/env.ts';
import { evaluateCandidate, type Candidate, type EvaluationResult, type ModelRunInput } from './services/retraining.ts';
import { S3ModelArtifactStore } from './storage/artifact-store.ts';
import { S3ObjectStore } from './storage/object-store.ts';

const bucket = requiredEnv(ARTIFACTS_BUCKET.envVar);
const objects = new S3ObjectStore(s3Client(), bucket);
const artifacts = new S3ModelArtifactStore(s3Client(), bucket);

export const handler = async (input: ModelRunInput & { candidate: Candidate }): Promise<EvaluationResult> => evaluateCandidate(input, { objects, artifacts });
