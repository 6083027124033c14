/**
 * Admin API under /experiments (IAM in AWS, the admin key locally): create, list, get, patch,
 * start, stop, ramp, promote, results and the daily reports; and /models, the model catalogue.
 * Routes to the admin use cases in services/ (experiment-admin.ts, report-history.ts,
 * model-catalog.ts); domain errors become the API's JSON errors.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { ARTIFACTS_BUCKET } from '../lib/resources.ts';
import { s3Client } from './common/clients.ts';
import { requiredEnv } from './common/env.ts';
import { experimentHttpError, notFound } from './common/errors.ts';
import { httpMixedHandler, json, requestTime, type JsonEvent } from './common/http.ts';
import { counterRepositoryFromEnv, experimentRepositoryFromEnv, shownItemRepositoryFromEnv } from './common/stores.ts';
import { idSchema } from './domain/events/event.ts';
import { parseOrThrow } from './domain/errors.ts';
import { ExperimentError } from './domain/experiments/errors.ts';
import { createExperimentAdmin } from './services/experiment-admin.ts';
import { createModelCatalog } from './services/model-catalog.ts';
import { createReportHistory } from './services/report-history.ts';
import { S3ModelArtifactStore } from './storage/artifact-store.ts';
import { S3ObjectStore } from './storage/object-store.ts';
import { ObjectReportStore } from './storage/report-store.ts';

const bucket = requiredEnv(ARTIFACTS_BUCKET.envVar);
const experiments = experimentRepositoryFromEnv();
const artifacts = new S3ModelArtifactStore(s3Client(), bucket);
const objects = new S3ObjectStore(s3Client(), bucket);
const admin = createExperimentAdmin({ experiments, counters: counterRepositoryFromEnv(), artifacts, shownItems: shownItemRepositoryFromEnv() });
const reports = createReportHistory({ experiments, reports: new ObjectReportStore(objects) });
const models = createModelCatalog({ artifacts, objects });

/** A route's answer: a JSON body, or (a report page) HTML. */
type RouteResult = { status: number; body: unknown } | { status: number; html: string };

async function route(event: JsonEvent): Promise<RouteResult> {
  // Every route under /experiments/{id} keys a store by the id: refuse one no key can hold (or
  // that is not one well-formed, NFC-normalised id) before any store is asked, as the events do.
  const pathId = event.pathParameters?.id;
  const id = pathId === undefined ? undefined : parseOrThrow(idSchema, pathId, 'id');
  const day = event.pathParameters?.day;
  // Everything after /experiments/{id}: 'start', 'reports', 'reports/{day}', ...
  const action = event.resource.split('/').slice(3).join('/') || undefined;
  const now = new Date(requestTime(event));
  // A request without a body is an empty one; a JSON null (or any other non-object) is refused by the route's schema.
  const body = event.body === undefined ? {} : event.body;
  const key = event.resource.startsWith('/models')
    ? `${event.httpMethod} ${event.resource}`
    : `${event.httpMethod} ${id === undefined ? '' : '{id}'}${action === undefined ? '' : `/${action}`}`;
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
    case 'GET {id}/reports':
      return { status: 200, body: await reports.list(id!) };
    case 'GET {id}/reports/{day}': {
      const report = await reports.read(id!, day!, event.queryStringParameters?.format ?? 'json');
      return report.format === 'html' ? { status: 200, html: report.html } : { status: 200, body: report.json };
    }
    case 'GET /models':
      return { status: 200, body: await models.list() };
    default:
      throw notFound(`no route ${event.httpMethod} ${event.resource}`);
  }
}

function toResponse(result: RouteResult): APIGatewayProxyResult {
  if ('html' in result) return { statusCode: result.status, headers: { 'Content-Type': 'text/html; charset=utf-8' }, body: result.html };
  return json(result.status, result.body);
}

export const handler = httpMixedHandler(async (event) => {
  try {
    return toResponse(await route(event));
  } catch (error) {
    if (error instanceof ExperimentError) throw experimentHttpError(error);
    throw error;
  }
});
