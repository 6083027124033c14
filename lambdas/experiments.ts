/**
 * Admin API under /experiments (IAM in AWS, the admin key locally): create, list, get, start,
 * stop, ramp, promote and results. Every change is a pure transition from the domain written
 * with a condition on the revision it read, so concurrent changes cannot both win.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { z } from 'zod';
import { ARTIFACTS_BUCKET, TABLES } from '../lib/resources.ts';
import { dynamoClient, s3Client } from './common/clients.ts';
import { requiredEnv } from './common/env.ts';
import { HttpError, notFound, validationFailed } from './common/errors.ts';
import { httpGetHandler, json, parseOrThrow } from './common/http.ts';
import { ExperimentError, type ExperimentErrorCode } from './domain/experiments/errors.ts';

/** The API's error codes (snake_case, shared with every other route) for the domain's error kinds. */
const API_ERROR_CODES: Record<ExperimentErrorCode, string> = { validation: 'validation_failed', 'not-found': 'not_found', conflict: 'conflict' };
import {
  createExperiment,
  duplicateExperimentError,
  promoteExperiment,
  rampExperiment,
  requireExperiment,
  startExperiment,
  stopExperiment,
  updateExperiment,
} from './domain/experiments/lifecycle.ts';
import type { Experiment } from './domain/experiments/model.ts';
import { StatsInputError } from './domain/stats/errors.ts';
import { analyseExperiment, type ExperimentAnalysis } from './services/experiment-results.ts';
import { ArtifactNotFoundError, S3ModelArtifactStore } from './storage/artifact-store.ts';
import { DynamoCounterRepository } from './storage/event-repository.ts';
import { ConcurrentModificationError, DynamoExperimentRepository } from './storage/experiment-repository.ts';

const experiments = new DynamoExperimentRepository(dynamoClient(), requiredEnv(TABLES.experiments.envVar));
const counters = new DynamoCounterRepository(dynamoClient(), requiredEnv(TABLES.counters.envVar));
const artifacts = new S3ModelArtifactStore(s3Client(), requiredEnv(ARTIFACTS_BUCKET.envVar));

const transitionSchema = z.strictObject({ expected_revision: z.int('must be an integer').min(0, 'must be >= 0').optional() });
const promoteSchema = transitionSchema.extend({ winner: z.string().min(1, 'must not be empty').optional(), force: z.boolean({ error: 'must be true or false' }).optional() });

function parseBody(event: APIGatewayProxyEvent): unknown {
  if (!event.body) return {};
  const type = event.headers?.['content-type'] ?? event.headers?.['Content-Type'] ?? '';
  if (!/^application\/(.+\+)?json/i.test(type)) {
    throw new HttpError(400, 'unsupported_media_type', 'Content-Type must be application/json', [{ field: 'content-type', message: 'must be application/json' }]);
  }
  try {
    return JSON.parse(event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body);
  } catch {
    throw new HttpError(400, 'malformed_json', 'Request body is not valid JSON', [{ field: 'body', message: 'malformed JSON' }]);
  }
}

/** Every pinned model version must exist in the artifact store. */
async function assertModelsExist(experiment: Experiment): Promise<void> {
  const problems = (
    await Promise.all(
      experiment.variants.map(async (variant, i) => {
        try {
          await artifacts.getManifest(variant.model_id, variant.model_version);
          return undefined;
        } catch (error) {
          if (error instanceof ArtifactNotFoundError) {
            return { field: `variants[${i}].model_version`, message: `model ${variant.model_id} version ${variant.model_version} does not exist` };
          }
          return { field: `variants[${i}].model_version`, message: `artifact is invalid: ${(error as Error).message}` };
        }
      }),
    )
  ).filter((p) => p !== undefined);
  if (problems.length > 0) throw validationFailed(problems);
}

async function load(id: string): Promise<Experiment> {
  return requireExperiment(await experiments.get(id), id);
}

async function save(next: Experiment, expectedRevision: number): Promise<Experiment> {
  try {
    await experiments.update(next, expectedRevision);
  } catch (error) {
    if (error instanceof ConcurrentModificationError) throw new HttpError(409, 'conflict', error.message);
    throw error;
  }
  return next;
}

/** The analysis as of today (UTC): the same document the scheduled run writes as report.json. */
async function analysisOf(experiment: Experiment, now: Date): Promise<ExperimentAnalysis> {
  try {
    return await analyseExperiment(experiment, counters, { day: now.toISOString().slice(0, 10) });
  } catch (error) {
    // Counters no data can produce (e.g. more converters than exposed users): name the problem.
    if (error instanceof StatsInputError) throw new HttpError(422, 'inconsistent_counters', `The counters of ${experiment.id} cannot be analysed: ${error.message}`);
    throw error;
  }
}

async function route(event: APIGatewayProxyEvent): Promise<{ status: number; body: unknown }> {
  const id = event.pathParameters?.id;
  const action = event.resource.split('/')[3];
  const now = new Date();
  if (event.httpMethod === 'GET' && !id) return { status: 200, body: { experiments: await experiments.list() } };
  if (event.httpMethod === 'POST' && !id) {
    const experiment = createExperiment({ request: parseBody(event), now, layerPeers: await experiments.list() });
    await assertModelsExist(experiment);
    try {
      await experiments.create(experiment);
    } catch (error) {
      if (error instanceof ConcurrentModificationError) throw duplicateExperimentError(experiment.id);
      throw error;
    }
    return { status: 201, body: experiment };
  }
  if (!id) throw notFound(`no route ${event.httpMethod} ${event.resource}`);
  const current = await load(id);
  if (event.httpMethod === 'GET' && action === undefined) return { status: 200, body: current };
  if (event.httpMethod === 'PATCH' && action === undefined) {
    // Descriptive edits any time, anything while draft; weights of a started experiment only via /ramp (409).
    const next = updateExperiment(current, { request: parseBody(event), now });
    if (current.status === 'draft') await assertModelsExist(next);
    return { status: 200, body: await save(next, current.revision) };
  }
  if (event.httpMethod === 'GET' && action === 'results') return { status: 200, body: await analysisOf(current, now) };
  const body = parseBody(event);
  switch (action) {
    case 'start': {
      const { expected_revision } = parseOrThrow(transitionSchema, body);
      await assertModelsExist(current);
      return { status: 200, body: await save(startExperiment(current, { now, expectedRevision: expected_revision }), current.revision) };
    }
    case 'stop': {
      const { expected_revision } = parseOrThrow(transitionSchema, body);
      return { status: 200, body: await save(stopExperiment(current, { now, expectedRevision: expected_revision }), current.revision) };
    }
    case 'ramp':
      return { status: 200, body: await save(rampExperiment(current, { request: body, now }), current.revision) };
    case 'promote': {
      const request = parseOrThrow(promoteSchema, body);
      // A forced promotion overrides the analysis, so counters it cannot analyse must not block it.
      const analysis = await analysisOf(current, now).catch((error: unknown) => {
        if (request.force === true && error instanceof HttpError && error.code === 'inconsistent_counters') return undefined;
        throw error;
      });
      const next = promoteExperiment(current, { now, expectedRevision: request.expected_revision, winner: request.winner, force: request.force, analysis: analysis?.promotion });
      return { status: 200, body: await save(next, current.revision) };
    }
    default:
      throw notFound(`no route ${event.httpMethod} ${event.resource}`);
  }
}

export const handler = httpGetHandler(async (event) => {
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
