/**
 * A small client for the admin API, used by `abrec experiments` and `abrec analyze --experiment`:
 * they talk to a running service (local or deployed) rather than to its storage, so the same
 * validation and conditional writes apply.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../lambdas/domain/assert-error.ts';
import { UsageError } from './command.ts';

/**
 * Where the admin API is and how to authenticate: the admin key (local runtime) or IAM SigV4
 * (a deployed API Gateway, whose admin routes use AWS_IAM authorization).
 */
export type AdminTarget = { url: string; auth: 'admin-key'; adminKey: string } | { url: string; auth: 'iam'; region: string };

/** The region of an execute-api URL (https://ID.execute-api.REGION.amazonaws.com/STAGE). */
export function regionOfApiUrl(url: string): string | undefined {
  return new URL(url).hostname.match(/\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/)?.[1];
}

/** The keys `abrec serve` keeps in `<data dir>/keys.json`; none when the file cannot be read. */
export async function readStoredKeys(dataDir: string): Promise<{ apiKey?: string; adminKey?: string }> {
  try {
    return JSON.parse(await readFile(join(dataDir, 'keys.json'), 'utf8')) as { apiKey?: string; adminKey?: string };
  } catch {
    return {};
  }
}

/**
 * --url / ABREC_URL / the local default. A deployed API (execute-api URL) is called with SigV4
 * from the standard AWS credential chain; anything else with --admin-key / ABREC_ADMIN_KEY / the
 * local data directory's key.
 */
export async function resolveAdminTarget(options: { url?: string; adminKey?: string; dataDir?: string }, env: NodeJS.ProcessEnv): Promise<AdminTarget> {
  const url = (options.url ?? env.ABREC_URL ?? `http://127.0.0.1:${env.PORT ?? 3000}`).replace(/\/$/, '');
  const region = regionOfApiUrl(url);
  if (region && !options.adminKey) return { url, auth: 'iam', region };
  const adminKey = options.adminKey || env.ABREC_ADMIN_KEY || (await readStoredKeys(options.dataDir ?? env.ABREC_DATA_DIR ?? '.abrec-data')).adminKey;
  if (!adminKey) throw new UsageError('no admin key: pass --admin-key, set ABREC_ADMIN_KEY, or run next to the data directory of `abrec serve`');
  return { url, auth: 'admin-key', adminKey };
}

/** Signs a request for API Gateway (service execute-api) with SigV4. */
export async function signedHeaders(
  target: { url: string; region: string },
  method: string,
  path: string,
  body: string | undefined,
  headers: Record<string, string>,
): Promise<Record<string, string>> {
  const url = new URL(`${target.url}${path}`);
  const signer = new SignatureV4({ service: 'execute-api', region: target.region, credentials: defaultProvider(), sha256: Hash.bind(null, 'sha256') });
  const signed = await signer.sign({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: { ...headers, host: url.host },
    body,
  });
  // fetch sets Host itself (to the same value the signature covers).
  const { host: _host, ...rest } = signed.headers as Record<string, string>;
  return rest;
}

export interface AdminResponse {
  status: number;
  body: unknown;
}

export async function adminRequest(target: AdminTarget, method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown): Promise<AdminResponse> {
  let response: Response;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const baseHeaders: Record<string, string> = payload === undefined ? {} : { 'content-type': 'application/json' };
  const headers = target.auth === 'iam' ? await signedHeaders(target, method, path, payload, baseHeaders) : { ...baseHeaders, 'x-admin-key': target.adminKey };
  try {
    response = await fetch(`${target.url}${path}`, { method, headers, body: payload });
  } catch (error) {
    const reason = errorMessage(error);
    throw new Error(
      `cannot reach ${target.url} (${reason}); is the service running? Start the local one with \`abrec serve\` in another terminal, or pass --url of a running one`,
    );
  }
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed };
}
