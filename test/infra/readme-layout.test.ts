/**
 * The README's Layout table matches the tree: every path it lists exists, and every top-level
 * directory of the repository is listed, except hidden ones and those `.gitignore` names
 * (generated: node_modules/, cdk.out/, .abrec-data/, test-artifacts/, ...).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

/** The code spans of the first column of the table under `## Layout`, e.g. `lib/constructs/`. */
function layoutPaths(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## Layout$/m)[1]?.split(/^## /m)[0];
  if (section === undefined) throw new Error('README.md has no "## Layout" section');
  const rows = section.split('\n').filter((line) => line.startsWith('| `'));
  return rows.flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]));
}

/** Whether a listed path exists; `dir/*.ts` means at least one such file in dir. */
function pathExists(listed: string): boolean {
  if (!listed.includes('*')) return existsSync(join(ROOT, listed));
  const dir = dirname(listed);
  const pattern = new RegExp(
    `^${listed
      .slice(dir.length + 1)
      .replace(/[.]/g, '\\.')
      .replace(/\*/g, '[^/]*')}$`,
  );
  return existsSync(join(ROOT, dir)) && readdirSync(join(ROOT, dir)).some((name) => pattern.test(name));
}

/** Top-level directory names `.gitignore` ignores (lines like `node_modules/` or `cdk.out/`). */
function ignoredTopLevelDirectories(): Set<string> {
  const lines = readFileSync(join(ROOT, '.gitignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim());
  return new Set(lines.filter((l) => /^\/?[^/*#!][^/*]*\/$/.test(l)).map((l) => l.replace(/^\//, '').replace(/\/$/, '')));
}

describe("README's Layout table", () => {
  const listed = layoutPaths();

  it('lists paths, each of which exists in the tree', () => {
    expect(listed.length).toBeGreaterThan(10);
    const missing = listed.filter((path) => !pathExists(path));

    expect(missing).toEqual([]);
  });

  it('lists every top-level directory that is neither hidden nor ignored as generated', () => {
    const ignored = ignoredTopLevelDirectories();
    const topLevel = readdirSync(ROOT, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.') && !ignored.has(entry.name))
      .map((entry) => entry.name);
    const listedTopLevel = new Set(listed.map((path) => path.split('/')[0]));

    expect(ignored).toContain('node_modules');
    expect(topLevel).toContain('lambdas');
    expect(topLevel.filter((name) => !listedTopLevel.has(name))).toEqual([]);
  });
});
