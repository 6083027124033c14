/**
 * A small stand-in for API Gateway (REST, proxy integration) on localhost: matches the routes
 * of lib/resources.ts, enforces the same auth model (API key on public routes; the admin key
 * stands in for IAM on admin routes), builds API Gateway-shaped events and calls the very
 * same handler functions that run in Lambda.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import httpSecurityHeaders from '@middy/http-security-headers';
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { FUNCTIONS, ROUTES, type FunctionName, type RouteDefinition } from '../lib/resources.ts';
import { errorStack } from '../lambdas/domain/assert-error.ts';
import { serveDashboard } from './dashboard.ts';
import { closeServer, listenOnLoopback } from './http-server.ts';
import type { LocalRoutes } from './local-routes.ts';

export type LambdaHttpHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export interface GatewayOptions {
  handlers: Partial<Record<FunctionName, LambdaHttpHandler>>;
  apiKey: string;
  adminKey: string;
  port: number;
  /** API Gateway's payload limit is 10 MB; Lambda's is 6 MB. */
  maxBodyBytes?: number;
  log?: (line: string) => void;
  /** The clock stamped as `requestTimeEpoch` (the local runtime's virtual clock); default real time. */
  clock?: () => number;
  /** Local-only admin routes under /local/ (the virtual clock). */
  localRoutes?: LocalRoutes;
}

export interface RunningGateway {
  url: string;
  port: number;
  server: Server;
  close: () => Promise<void>;
}

interface CompiledRoute extends RouteDefinition {
  pattern: RegExp;
  params: string[];
}

const compiled: CompiledRoute[] = ROUTES.map((route) => {
  const params: string[] = [];
  const source = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    params.push(name);
    return '([^/]+)';
  });
  return { ...route, pattern: new RegExp(`^${source}/?$`), params };
});

/** The local-only admin routes are protected like the admin API. */
const LOCAL_ADMIN_ROUTE: RouteDefinition = { method: 'POST', path: '/local/clock', function: 'experiments', auth: 'admin' };

/** An answer of the gateway's own, in the handlers' error shape: like theirs, it names the field at fault. */
const errorBody = (code: string, message: string, field: string) => JSON.stringify({ error: { code, message, details: [{ field, message }] } });
/** A failure of the gateway or the function (5xx): nothing the caller sent is at fault. */
const failureBody = (code: string, message: string) => JSON.stringify({ error: { code, message } });

/** A 400 in the handlers' validation shape, naming each offending field. */
const validationBody = (details: { field: string; message: string }[]) =>
  JSON.stringify({ error: { code: 'validation_failed', message: `Invalid request: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`, details } });

/**
 * The security headers middy's http-security-headers adds to every handler response, taken from
 * the middleware itself (not copied), so the gateway's own answers carry exactly the same set.
 */
export const GATEWAY_SECURITY_HEADERS: Readonly<Record<string, string>> = (() => {
  const request = { response: { statusCode: 200, headers: {} as Record<string, string>, body: '' } };
  (httpSecurityHeaders().after as (request: unknown) => void)(request);
  return Object.freeze(Object.fromEntries(Object.entries(request.response.headers).map(([k, v]) => [k.toLowerCase(), String(v)])));
})();

/** Per-process key for hashing secrets before comparing them. */
const COMPARISON_KEY = randomBytes(32);

/**
 * Compares a presented secret with the expected one in time independent of both: each is reduced
 * to a 32-byte HMAC first, so neither the length nor the content of the key shows in the timing.
 */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHmac('sha256', COMPARISON_KEY).update(given, 'utf8').digest();
  const b = createHmac('sha256', COMPARISON_KEY).update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/**
 * Decodes the path parameters of a match strictly: a malformed escape or one that is not UTF-8
 * (`%E0%A4%A`, `%FF`) is refused, never replaced by U+FFFD, so two different ids cannot collapse
 * into one. API Gateway refuses such paths before the function is called.
 */
export function decodePathParameters(
  names: string[],
  raw: string[],
): { parameters: Record<string, string> } | { problems: { field: string; message: string }[] } {
  const parameters: Record<string, string> = {};
  const problems: { field: string; message: string }[] = [];
  names.forEach((name, i) => {
    try {
      parameters[name] = decodeURIComponent(raw[i]);
    } catch {
      problems.push({ field: name, message: 'malformed percent-escape or not UTF-8' });
    }
  });
  return problems.length ? { problems } : { parameters };
}

/** The query fields whose raw name or value holds a malformed or non-UTF-8 percent-escape. */
export function malformedQueryFields(search: string): { field: string; message: string }[] {
  const problems: { field: string; message: string }[] = [];
  const strict = (text: string) => decodeURIComponent(text.replace(/\+/g, ' '));
  for (const pair of search.replace(/^\?/, '').split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    let field: string;
    try {
      field = strict(rawName);
    } catch {
      problems.push({ field: 'query', message: 'malformed percent-escape or not UTF-8 in a parameter name' });
      continue;
    }
    try {
      if (eq >= 0) strict(pair.slice(eq + 1));
    } catch {
      problems.push({ field, message: 'malformed percent-escape or not UTF-8' });
    }
  }
  return problems;
}

/** The auth decision for one request: undefined when allowed, else status and body. */
export function authorize(
  route: RouteDefinition,
  headers: Record<string, string>,
  keys: { apiKey: string; adminKey: string },
): { status: number; body: string } | undefined {
  if (route.auth === 'none') return undefined;
  const apiKey = headers['x-api-key'];
  if (route.auth === 'apiKey') {
    if (!apiKey) return { status: 401, body: errorBody('unauthorized', 'Missing API key: send it in the x-api-key header', 'x-api-key') };
    if (!sameSecret(apiKey, keys.apiKey)) return { status: 403, body: errorBody('forbidden', 'Invalid API key', 'x-api-key') };
    return undefined;
  }
  const bearer = headers.authorization?.match(/^Bearer\s+(.+)$/i)?.[1];
  const adminKey = headers['x-admin-key'] ?? bearer;
  if (!adminKey) {
    if (apiKey) return { status: 403, body: errorBody('forbidden', 'The public API key cannot be used on admin routes', 'x-api-key') };
    return { status: 401, body: errorBody('unauthorized', 'Missing admin credentials: send the admin key in the x-admin-key header', 'x-admin-key') };
  }
  const keyField = headers['x-admin-key'] === undefined ? 'authorization' : 'x-admin-key';
  if (!sameSecret(adminKey, keys.adminKey)) return { status: 403, body: errorBody('forbidden', 'Invalid admin key', keyField) };
  return undefined;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > limit ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * The request target as a URL of this host, or undefined when it is not a plain absolute path.
 * API Gateway routes the path as sent: WHATWG URL parsing would read `//host/x` as another host's
 * `/x` and resolve dot segments, escaped ones (`%2e%2e`) included, so `/recommend/%2e%2e/experiments`
 * would reach the admin API; and a target such as `//[` would throw (a 500).
 */
export function requestUrl(target: string): URL | undefined {
  if (!target.startsWith('/')) return undefined;
  const path = target.split('?', 1)[0];
  if (path.split('/').some((segment) => /^(?:\.|%2e){1,2}$/i.test(segment))) return undefined;
  try {
    return new URL(`http://localhost${target}`);
  } catch {
    return undefined;
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Whether a body declared as JSON is not UTF-8 (RFC 8259): decoding it would put U+FFFD where the bytes were, so two ids could collapse into one. */
function notUtf8Json(contentType: string | undefined, body: Buffer): boolean {
  if (body.length === 0 || !/json/i.test(contentType ?? '')) return false;
  try {
    strictUtf8.decode(body);
    return false;
  } catch {
    return true;
  }
}

/** Every answer the gateway makes itself (never a handler's) carries the middy security headers. */
function send(res: ServerResponse, status: number, body: string, headers: Record<string, string | number | boolean> = {}) {
  res.writeHead(status, {
    ...GATEWAY_SECURITY_HEADERS,
    'content-type': 'application/json',
    ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)])),
  });
  res.end(body);
}

function lambdaContext(functionName: FunctionName, requestId: string): Context {
  const definition = FUNCTIONS[functionName];
  const deadline = Date.now() + definition.timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: definition.id,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${definition.id}`,
    memoryLimitInMB: String(definition.memorySize),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${definition.id}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** Builds the REST API proxy event API Gateway would send for this request. */
export function toProxyEvent(
  route: CompiledRoute | RouteDefinition,
  req: {
    method: string;
    url: URL;
    headers: Record<string, string>;
    body: Buffer;
    pathParameters: Record<string, string> | null;
    requestId: string;
    receivedAt?: number;
  },
): APIGatewayProxyEvent {
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [key, value] of req.url.searchParams) {
    query[key] = value;
    (multiQuery[key] ??= []).push(value);
  }
  const hasQuery = Object.keys(query).length > 0;
  const isText = req.body.length === 0 || /json|text|xml|form/i.test(req.headers['content-type'] ?? '');
  return {
    resource: route.path,
    path: req.url.pathname,
    httpMethod: req.method,
    headers: req.headers,
    multiValueHeaders: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: req.pathParameters,
    stageVariables: null,
    body: req.body.length === 0 ? null : isText ? req.body.toString('utf8') : req.body.toString('base64'),
    isBase64Encoded: !isText,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: undefined,
      protocol: 'HTTP/1.1',
      httpMethod: req.method,
      identity: { sourceIp: '127.0.0.1', userAgent: req.headers['user-agent'] ?? null } as APIGatewayProxyEvent['requestContext']['identity'],
      path: `/local${req.url.pathname}`,
      stage: 'local',
      requestId: req.requestId,
      requestTimeEpoch: req.receivedAt ?? Date.now(),
      resourceId: 'local',
      resourcePath: route.path,
    },
  };
}

async function handle(options: GatewayOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const requestId = randomUUID();
  const url = requestUrl(req.url ?? '/');
  if (!url) return send(res, 400, validationBody([{ field: 'path', message: 'must be an absolute path without dot segments' }]));
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(',') : (v ?? '')]));
  const method = (req.method ?? 'GET').toUpperCase();
  if (await serveDashboard(method, url.pathname, res)) return;
  if (options.localRoutes && url.pathname.startsWith('/local/')) {
    const denied = authorize(LOCAL_ADMIN_ROUTE, headers, options);
    if (denied) return send(res, denied.status, denied.body);
    const body = await readBody(req, 64 * 1024);
    if (body === 'too-large') return send(res, 413, errorBody('payload_too_large', 'Request body exceeds 64 KB', 'body'));
    const answer = await options.localRoutes({ method, pathname: url.pathname, body });
    if (answer) return send(res, answer.status, JSON.stringify(answer.body), { 'cache-control': 'no-store' });
  }
  const candidates = compiled.filter((r) => r.pattern.test(url.pathname));
  if (candidates.length === 0) return send(res, 404, errorBody('not_found', `No route for ${url.pathname}`, 'path'));
  if (method === 'OPTIONS') {
    return send(res, 204, '', {
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'GET,POST,PATCH,OPTIONS',
      'access-control-allow-headers': 'Content-Type,X-Api-Key,X-Admin-Key,Authorization',
      'access-control-max-age': 3600,
    });
  }
  const route = candidates.find((r) => r.method === method);
  if (!route)
    return send(
      res,
      405,
      errorBody('method_not_allowed', `${method} is not allowed on ${url.pathname}; use ${candidates.map((r) => r.method).join(' or ')}`, 'method'),
    );
  const denied = authorize(route, headers, options);
  if (denied) return send(res, denied.status, denied.body);
  const body = await readBody(req, options.maxBodyBytes ?? 6 * 1024 * 1024);
  if (body === 'too-large') return send(res, 413, errorBody('payload_too_large', 'Request body exceeds 6 MB', 'body'));
  if (notUtf8Json(headers['content-type'], body)) {
    return send(res, 400, errorBody('malformed_json', 'Request body is not UTF-8', 'body'));
  }
  const match = route.pattern.exec(url.pathname)!;
  const decoded = decodePathParameters(route.params, match.slice(1));
  if ('problems' in decoded) return send(res, 400, validationBody(decoded.problems));
  const malformedQuery = malformedQueryFields(url.search);
  if (malformedQuery.length) return send(res, 400, validationBody(malformedQuery));
  const pathParameters = route.params.length ? decoded.parameters : null;
  const handler = options.handlers[route.function];
  if (!handler) return send(res, 502, failureBody('bad_gateway', `No handler loaded for ${route.function}`));
  const event = toProxyEvent(route, { method, url, headers, body, pathParameters, requestId, receivedAt: options.clock?.() });
  const context = lambdaContext(route.function, requestId);
  const timeoutMs = FUNCTIONS[route.function].timeoutSeconds * 1000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await Promise.race([
      handler(event, context),
      new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      }),
    ]);
    if (result === 'timeout') return send(res, 504, failureBody('gateway_timeout', 'The function timed out'));
    const responseHeaders = { ...(result.headers ?? {}), 'x-amzn-requestid': requestId };
    res.writeHead(result.statusCode, Object.fromEntries(Object.entries(responseHeaders).map(([k, v]) => [k, String(v)])));
    res.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
  } catch (error) {
    options.log?.(`handler ${route.function} failed: ${errorStack(error)}`);
    send(res, 502, failureBody('bad_gateway', 'Internal server error'));
  } finally {
    clearTimeout(timer);
  }
}

/** Starts the gateway on 127.0.0.1. */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const server = createServer((req, res) => {
    handle(options, req, res).catch((error) => {
      options.log?.(`gateway error: ${errorStack(error)}`);
      if (!res.headersSent) send(res, 500, failureBody('internal_error', 'Internal server error'));
    });
  });
  const port = await listenOnLoopback(server, options.port);
  // Once it serves, a server error (say EMFILE on accept) is logged and the gateway keeps serving.
  server.on('error', (error) => options.log?.(`gateway error: ${errorStack(error)}`));
  return { url: `http://127.0.0.1:${port}`, port, server, close: () => closeServer(server) };
}
