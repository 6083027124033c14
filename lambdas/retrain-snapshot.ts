/** Retraining step 1 (Step Functions task): the training snapshot, the models to train, the pointers as they were. */
import { ARTIFACTS_BUCKET, TABLES } from '../lib/resources.ts';
import { dynamoClient, s3Client } from './common/clients.ts';
import { requiredEnv } from './common/env.ts';
import { experimentRepositoryFromEnv } from './common/stores.ts';
import { snapshotTrainingData, type RetrainingRunInput, type SnapshotResult } from './services/retraining.ts';
import { DynamoInteractionLog } from './storage/interaction-log.ts';
import { S3ObjectStore } from './storage/object-store.ts';

const objects = new S3ObjectStore(s3Client(), requiredEnv(ARTIFACTS_BUCKET.envVar));
const interactions = new DynamoInteractionLog(dynamoClient(), requiredEnv(TABLES.events.envVar));
const experiments = experimentRepositoryFromEnv();

export const handler = async (input: RetrainingRunInput): Promise<SnapshotResult> =>
  snapshotTrainingData(input, { objects, interactions, experiments, now: new Date() });
