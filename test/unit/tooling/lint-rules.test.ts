/**
 * The layer boundaries are enforced by biome.jsonc, not remembered: this runs the project's Biome with the
 * project's configuration on probe files laid out like the tree (lambdas/domain, lambdas/services, a handler,
 * a test) and checks which imports and types it refuses, and that it lets the allowed ones through.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIOME = join(ROOT, 'node_modules', '.bin', 'biome');

interface Diagnostic {
  category: string;
  message: string;
  location: { path: string; start: { line: number } };
}

/** Each probe: a path in the tree's layout and its source, one import or declaration per line. */
const PROBES: Record<string, string> = {
  'lambdas/domain/probe.ts': [
    "import { S3Client } from '@aws-sdk/client-s3';",
    "import middy from '@middy/core';",
    "import { Logger } from '@aws-lambda-powertools/logger';",
    "import { HttpError } from '../common/errors.ts';",
    "import { DynamoCounterStore } from '../storage/counter-store.ts';",
    "import { recommend } from '../services/serving.ts';",
    "import { z } from 'zod';",
    "import { holm } from './stats/holm.ts';",
    'export const used = [S3Client, middy, Logger, HttpError, DynamoCounterStore, recommend, z, holm];',
  ].join('\n'),
  'lambdas/services/probe.ts': [
    "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';",
    "import { MetricUnit } from '@aws-lambda-powertools/metrics';",
    "import { HttpError } from '../common/errors.ts';",
    "import { json } from '../common/http.ts';",
    "import { DynamoCounterStore, type CounterStore } from '../storage/counter-store.ts';",
    "import { S3ObjectStore } from '../storage/object-store.ts';",
    "import { ValidationError } from '../domain/errors.ts';",
    "import { mapWithConcurrency } from '../common/concurrency.ts';",
    'export const used: unknown[] = [DynamoDBClient, MetricUnit, HttpError, json, DynamoCounterStore, S3ObjectStore, ValidationError, mapWithConcurrency];',
    'export type Port = CounterStore;',
  ].join('\n'),
  'lambdas/probe-handler.ts': [
    "import { HttpError } from './common/errors.ts';",
    "import { DynamoCounterStore } from './storage/counter-store.ts';",
    'export const used = [HttpError, DynamoCounterStore];',
  ].join('\n'),
  'test/probe.test.ts': ['export const loose: any = 1;', 'export const tight: unknown = 1;'].join('\n'),
};

let dir: string;
let diagnostics: Diagnostic[];

/** The restricted-import and no-any findings on one probe, as line numbers. */
function flaggedLines(path: string): number[] {
  return diagnostics
    .filter((d) => d.location.path === path && ['lint/style/noRestrictedImports', 'lint/suspicious/noExplicitAny'].includes(d.category))
    .map((d) => d.location.start.line)
    .sort((a, b) => a - b);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'abrec-lint-'));
  copyFileSync(join(ROOT, 'biome.jsonc'), join(dir, 'biome.jsonc'));
  for (const [path, source] of Object.entries(PROBES)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), `${source}\n`);
  }
  // Biome exits 1 when it finds errors: the report on stdout is what the test reads either way.
  const run = await promisify(execFile)(BIOME, ['lint', '--vcs-enabled=false', '--reporter=json', '--max-diagnostics=none', '.'], { cwd: dir }).catch(
    (error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }),
  );
  diagnostics = (JSON.parse(run.stdout) as { diagnostics: Diagnostic[] }).diagnostics;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('biome.jsonc: layer boundaries', () => {
  it('keeps lambdas/domain pure: no AWS SDK, middy, Powertools, edge, storage or service import; zod and the domain itself are fine', () => {
    expect(flaggedLines('lambdas/domain/probe.ts')).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('keeps lambdas/services off SDKs, Powertools, HTTP helpers and concrete Dynamo*/S3* classes; storage interfaces and domain errors are fine', () => {
    expect(flaggedLines('lambdas/services/probe.ts')).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('names the boundary in its message', () => {
    const messages = diagnostics.filter((d) => d.location.path === 'lambdas/services/probe.ts').map((d) => d.message);
    expect(messages).toContain('lambdas/services/ takes the storage interfaces, not a concrete Dynamo*/S3* class.');
    expect(messages).toContain('lambdas/services/ throws domain errors; only the handlers speak HTTP.');
  });

  it('lets the handlers wire concrete storage and HTTP errors', () => {
    expect(flaggedLines('lambdas/probe-handler.ts')).toEqual([]);
  });

  it('refuses any everywhere, tests included', () => {
    expect(flaggedLines('test/probe.test.ts')).toEqual([1]);
  });
});
