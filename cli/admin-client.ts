/**
 * A small client for the admin API, used by `abrec experiments` and `abrec analyze --experiment`:
 * they talk to a running service (local or deployed) rather than to its storage, so the same
 * validation and conditional writes apply.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from './command.ts';

export interface AdminTarget {
  url: string;
  adminKey: string;
}

/** --url / ABREC_URL / the local default; --admin-key / ABREC_ADMIN_KEY / the local data directory's keys. */
export async function resolveAdminTarget(options: { url?: string; adminKey?: string; dataDir?: string }, env: NodeJS.ProcessEnv): Promise<AdminTarget> {
  const url = (options.url ?? env.ABREC_URL ?? `http://127.0.0.1:${env.PORT ?? 3000}`).replace(/\/$/, '');
  let adminKey = options.adminKey ?? env.ABREC_ADMIN_KEY;
  if (!adminKey) {
    const dataDir = options.dataDir ?? env.ABREC_DATA_DIR ?? '.abrec-data';
    try {
      adminKey = (JSON.parse(await readFile(join(dataDir, 'keys.json'), 'utf8')) as { adminKey?: string }).adminKey;
    } catch {
      // reported below
    }
  }
  if (!adminKey) throw new UsageError('no admin key: pass --admin-key, set ABREC_ADMIN_KEY, or run next to the data directory of `abrec serve`');
  return { url, adminKey };
}

export interface AdminResponse {
  status: number;
  body: unknown;
}

export async function adminRequest(target: AdminTarget, method: 'GET' | 'POST', path: string, body?: unknown): Promise<AdminResponse> {
  let response: Response;
  try {
    response = await fetch(`${target.url}${path}`, {
      method,
      headers: { 'x-admin-key': target.adminKey, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new Error(`cannot reach ${target.url} (is \`abrec serve\` running?): ${(error as Error).message}`);
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
