/**
 * Admin API under /experiments (IAM in AWS, the admin key locally): create, list, get, patch,
 * start, stop, ramp, promote and results. Routes to the admin use cases in
 * services/experiment-admin.ts; domain errors become the API's JSON errors.
 */
import { ARTIFACTS_BUCKET } from '../lib/resources.ts';
import { s3Client } from './common/clients.ts';
import { requiredEnv } from './common/env.ts';
import { HttpError, notFound } from './common/errors.ts';
import { httpMixedHandler, json, type JsonEvent } from './common/http.ts';
import { counterRepositoryFromEnv, experimentRepositoryFromEnv } from './common/stores.ts';
import { ExperimentError, type ExperimentErrorCode } from './domain/experiments/errors.ts';
import { createExperimentAdmin } from './services/experiment-admin.ts';
import { S3ModelArtifactStore } from './storage/artifact-store.ts';

const admin = createExperimentAdmin({
  experiments: experimentRepositoryFromEnv(),
  counters: counterRepositoryFromEnv(),
  artifacts: new S3ModelArtifactStore(s3Client(), requiredEnv(ARTIFACTS_BUCKET.envVar)),
});

/** The API's error codes (snake_case, shared with every other route) for the domain's error kinds. */
const API_ERROR_CODES: Record<ExperimentErrorCode, string> = { validation: 'validation_failed', 'not-found': 'not_found', conflict: 'conflict' };


async function route(event: JsonEvent): Promise<{ status: number; body: unknown }> {
  const id = event.pathParameters?.id;
  const action = event.resource.split('/')[3];
  const now = new Date();
  const body = event.body ?? {};
  const key = `${event.httpMethod} ${id === undefined ? '' : '{id}'}${action === undefined ? '' : `/${action}`}`;
  switch (key) {
    case 'GET ':
      return { status: 200, body: await admin.list() };
    case 'POST ':
      return { status: 201, body: await admin.create(body, now) };
    case 'GET {id}':
      return { status: 200, body: await admin.get(id!) };
    case 'PATCH {id}':
      return { status: 200, body: await admin.patch(id!, body, now) };
    case 'GET {id}/results':
      return { status: 200, body: await admin.results(id!, now) };
    case 'POST {id}/start':
      return { status: 200, body: await admin.start(id!, body, now) };
    case 'POST {id}/stop':
      return { status: 200, body: await admin.stop(id!, body, now) };
    case 'POST {id}/ramp':
      return { status: 200, body: await admin.ramp(id!, body, now) };
    case 'POST {id}/promote':
      return { status: 200, body: await admin.promote(id!, body, now) };
    default:
      throw notFound(`no route ${event.httpMethod} ${event.resource}`);
  }
}

export const handler = httpMixedHandler(async (event) => {
  try {
    const { status, body } = await route(event);
    return json(status, body);
  } catch (error) {
    if (error instanceof ExperimentError) {
      const details = 'fields' in error ? (error as unknown as { fields: { field: string; message: string }[] }).fields : undefined;
      throw new HttpError(error.status, API_ERROR_CODES[error.code], error.message, details);
    }
    throw error;
  }
});
