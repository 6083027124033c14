/**
 * The middy stack every HTTP function shares, middlewares first and the handler last:
 * X-Ray tracing (Powertools tracer, in Lambda only), header normalisation, CORS, security headers, JSON errors (4xx shown with the reason,
 * everything else a generic 500 that is logged), metrics flush and, for POST routes, JSON
 * body parsing that refuses a key sent twice in one object.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import httpCors from '@middy/http-cors';
import httpErrorHandler from '@middy/http-error-handler';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import httpSecurityHeaders from '@middy/http-security-headers';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { GENERIC_500_BODY, HttpError, duplicateJsonKey, malformedJson, requestTimedOut, toHttpError, unsupportedMediaType } from './errors.ts';
import { logger, metrics, tracer } from './observability.ts';
import { formatFieldPath } from '../domain/field-error.ts';

/** An API Gateway event whose body middy has parsed to JSON (unknown until validated). */
export type JsonEvent = Omit<APIGatewayProxyEvent, 'body'> & { body: unknown };

type Handler<E> = (event: E, context: Context) => Promise<APIGatewayProxyResult>;

/**
 * Turns the domain errors of the services, and the errors of other middlewares (middy's body
 * parser), into the product's JSON error shape, and logs unexpected errors before
 * http-error-handler hides them behind a 500.
 */
function jsonErrors(): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    onError: (request) => {
      const mapped = toHttpError(request.error);
      if (mapped instanceof HttpError) {
        request.error = mapped;
        return;
      }
      const error = request.error as (Error & { statusCode?: number; expose?: boolean }) | null;
      if (!error) return;
      if (error.statusCode === 415) {
        request.error = unsupportedMediaType();
      } else if (error.statusCode === 422) {
        request.error = malformedJson();
      } else {
        logger.error('Unhandled error', error);
      }
    },
  };
}

/** Counts every request, so each flush carries at least one metric. */
function countRequests(): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return { before: () => void metrics.addMetric('Requests', MetricUnit.Count, 1) };
}

/** How a handler's body is parsed: not at all, required JSON, or JSON when a body is sent. */
type BodyParsing = 'none' | 'required' | 'optional';

/**
 * The path of the first key that appears twice in one object of `text`, e.g.
 * `['events', 1, 'user_id']`, or undefined when every object's keys are distinct.
 * JSON.parse keeps the last of duplicate keys silently, so a body could say one thing to a
 * reader of the raw text (a log, a signature, a proxy) and another to the handler.
 *
 * `text` must be valid JSON (call it after JSON.parse has accepted the text): the scan then only
 * has to tell keys from values and skip strings. Keys are compared decoded, so `"a"` and
 * `"\u0061"` are one key, as JSON.parse sees them.
 */
export function firstDuplicateKey(text: string): (string | number)[] | undefined {
  type Frame = { kind: 'object'; keys: Set<string>; key?: string } | { kind: 'array'; index: number };
  const stack: Frame[] = [];
  // In valid JSON a string is a key exactly when it follows '{' or ',' inside an object.
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const top = stack.at(-1);
      if (expectKey && top?.kind === 'object') {
        // Only an escaped key needs decoding; the plain ones (all of them, in practice) are the raw text.
        const raw = text.slice(i + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
        if (top.keys.has(key)) return [...stack.slice(0, -1).map((f) => (f.kind === 'object' ? f.key! : f.index)), key];
        top.keys.add(key);
        top.key = key;
        expectKey = false;
      }
      i = end;
    } else if (c === '{') {
      stack.push({ kind: 'object', keys: new Set() });
      expectKey = true;
    } else if (c === '[') {
      stack.push({ kind: 'array', index: 0 });
    } else if (c === '}' || c === ']') {
      stack.pop();
      expectKey = false;
    } else if (c === ':') {
      expectKey = false;
    } else if (c === ',') {
      const top = stack.at(-1);
      if (top?.kind === 'object') expectKey = true;
      else if (top) top.index++;
    }
  }
  return undefined;
}

/**
 * middy's JSON parser (415 for another content type, 422 for text that is not JSON), then a
 * 400 naming any key sent twice in one object. With `optional`, requests without a body (GET
 * routes of a mixed function) are not parsed.
 */
function jsonBody({ optional }: { optional: boolean }): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  const parser = httpJsonBodyParser<APIGatewayProxyEvent>();
  return {
    before: async (request) => {
      const { body, isBase64Encoded } = request.event;
      if (optional && (body === null || body === undefined || body === '')) {
        // No body at all is undefined to the handler, so it can tell one from a JSON `null`.
        (request.event as JsonEvent).body = undefined;
        return;
      }
      await parser.before?.(request);
      if (typeof body !== 'string') return;
      const duplicate = firstDuplicateKey(isBase64Encoded ? Buffer.from(body, 'base64').toString() : body);
      if (duplicate) throw duplicateJsonKey(formatFieldPath(duplicate));
    },
  };
}

/**
 * How long before the function's own timeout the request is answered anyway: a 503 saying to
 * retry (middy's default would be a generic 500), with time left to send it. What the handler
 * had started keeps running until the container freezes: claims and conditional writes make the
 * retry safe, and a counter write cut off mid-way is the residual window the README describes.
 */
export const TIMEOUT_RESERVE_MS = 1_000;

/**
 * The stack around `handler`. It takes API Gateway events; a handler of parsed bodies (JsonEvent,
 * whose body is unknown) accepts every one of them, so both kinds fit it as they are.
 */
function withCommonMiddleware(handler: Handler<APIGatewayProxyEvent>, body: BodyParsing) {
  const stack = middy<APIGatewayProxyEvent, APIGatewayProxyResult>({
    timeoutEarlyInMillis: TIMEOUT_RESERVE_MS,
    timeoutEarlyResponse: () => {
      metrics.addMetric('RequestTimedOut', MetricUnit.Count, 1);
      throw requestTimedOut();
    },
  });
  // Outermost, so the traced segment covers every other middleware; responses are not
  // captured as metadata (they can hold user ids and slates). Absent where nothing is traced.
  const traced = tracer ? stack.use(captureLambdaHandler(tracer, { captureResponse: false })) : stack;
  const base = traced
    .use(httpHeaderNormalizer())
    .use(httpCors({ origin: '*', methods: 'GET,POST,PATCH,OPTIONS' }))
    .use(httpSecurityHeaders())
    .use(httpErrorHandler({ logger: false, fallbackMessage: GENERIC_500_BODY }))
    .use(jsonErrors())
    .use(logMetrics(metrics, { throwOnEmptyMetrics: false }))
    .use(countRequests());
  const withBody = body === 'none' ? base : base.use(jsonBody({ optional: body === 'optional' }));
  return withBody.handler(handler);
}

/** A GET-style handler: no body parsing. */
export function httpGetHandler(handler: Handler<APIGatewayProxyEvent>) {
  return withCommonMiddleware(handler, 'none');
}

/** A handler serving GET and POST routes: a body, when sent, is parsed JSON (errors as for POST); without one, `body` is undefined. */
export function httpMixedHandler(handler: Handler<JsonEvent>) {
  return withCommonMiddleware(handler, 'optional');
}

/** A POST handler: the body is parsed JSON (415/422 become 400 with the reason). */
export function httpJsonHandler(handler: Handler<JsonEvent>) {
  return withCommonMiddleware(handler, 'required');
}

/**
 * When the request reached the front door: API Gateway's `requestContext.requestTimeEpoch`,
 * stamped by its own clock (never the client's), so every handler dates what it stores by the
 * same clock as the gateway's access log. The local runtime's gateway stamps its virtual clock
 * here, which is how simulated days land on distinct days with no handler reading anything
 * else. Falls back to the function's clock for events that carry no stamp.
 */
export function requestTime(event: Pick<APIGatewayProxyEvent, 'requestContext'>): number {
  const stamped = event.requestContext?.requestTimeEpoch;
  return typeof stamped === 'number' && Number.isFinite(stamped) && stamped > 0 ? stamped : Date.now();
}

/** A JSON response. */
export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return { statusCode, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) };
}
