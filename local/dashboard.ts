/**
 * The operator dashboard of the local runtime: a fixed set of static files from
 * local/dashboard/ served at `/` and `/dashboard/*` by the gateway. Everything else the page
 * shows comes from the admin API with the admin key the operator pasted (kept in the tab's
 * sessionStorage, sent as `x-admin-key`). Only the listed files can be served: request paths
 * are looked up in a table, never joined to a directory, so there is no path to traverse.
 */
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

const DASHBOARD_DIR = fileURLToPath(new URL('./dashboard/', import.meta.url));

/** Request path → file in local/dashboard/ and its media type. */
const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

/**
 * Scripts only from this origin and never inline. Styles may be inline because a report page
 * (inline <style> and SVG style attributes) is shown in a sandboxed srcdoc iframe, which
 * inherits this policy; the iframe runs no script (no allow-scripts).
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers of every dashboard answer, found or not. */
export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cache-control': 'no-store',
};

/** Whether a request path belongs to the dashboard (and so never reaches the API routes). */
export function isDashboardPath(pathname: string): boolean {
  return pathname === '/' || pathname === '/dashboard' || pathname.startsWith('/dashboard/');
}

/** A dashboard answer: status, headers and body. */
export interface DashboardResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

const cache = new Map<string, Buffer>();

async function load(file: string): Promise<Buffer> {
  let bytes = cache.get(file);
  if (!bytes) {
    bytes = await readFile(`${DASHBOARD_DIR}${file}`);
    cache.set(file, bytes);
  }
  return bytes;
}

/** The answer for a dashboard path, or undefined for any other path (the API's). */
export async function dashboardResponse(method: string, pathname: string): Promise<DashboardResponse | undefined> {
  if (!isDashboardPath(pathname)) return undefined;
  const entry = FILES[pathname === '/dashboard' ? '/dashboard/' : pathname];
  const json = { ...DASHBOARD_HEADERS, 'content-type': 'application/json' };
  if (!entry) return { status: 404, headers: json, body: JSON.stringify({ error: { code: 'not_found', message: `No dashboard file ${pathname}` } }) };
  if (method !== 'GET' && method !== 'HEAD') {
    return {
      status: 405,
      headers: { ...json, allow: 'GET, HEAD' },
      body: JSON.stringify({ error: { code: 'method_not_allowed', message: `${method} is not allowed on ${pathname}; use GET` } }),
    };
  }
  const bytes = await load(entry.file);
  return {
    status: 200,
    headers: { ...DASHBOARD_HEADERS, 'content-type': entry.type, 'content-length': String(bytes.byteLength) },
    body: method === 'HEAD' ? '' : bytes,
  };
}

/** Answers a dashboard request on `res`; false (nothing written) for any other path. */
export async function serveDashboard(method: string, pathname: string, res: ServerResponse): Promise<boolean> {
  const answer = await dashboardResponse(method, pathname);
  if (!answer) return false;
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
  return true;
}
