/**
 * Every repository path the README names in a code span exists: the tests it cites as evidence,
 * the source files it points to, the scripts and fixtures. A path counts as the repository's when
 * it starts with one of the repository's top-level directories; the few spans that start so but
 * name something else (an S3 key prefix, a file a command writes) are listed with their reason.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { codeSpans, readme, readmeSection, tableRows } from './support/readme.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** Spans that look like repository paths but are not meant to exist in the tree. */
const NOT_IN_THE_TREE: Record<string, string> = {
  'model-artifacts/tuned-defaults.json': 'written by abrec tune --write-defaults; absent until then',
  'training/code/': 'the S3 prefix the training scripts are deployed to',
  'training/code/*': 'the S3 prefix the training scripts are deployed to',
};

/** Top-level entries of the repository, hidden ones included (.ci, .github). */
const TOP_LEVEL = new Set(readdirSync(ROOT).filter((name) => name !== 'node_modules'));

/** Whether `path` exists; a `*` stands for any file name in its directory. */
function exists(path: string): boolean {
  if (!path.includes('*')) return existsSync(join(ROOT, path));
  const dir = dirname(path);
  const pattern = new RegExp(
    `^${path
      .slice(dir.length + 1)
      .replace(/[.]/g, '\\.')
      .replace(/\*/g, '.*')}$`,
  );
  return existsSync(join(ROOT, dir)) && readdirSync(join(ROOT, dir)).some((name) => pattern.test(name));
}

describe('paths the README names', () => {
  const paths = [
    ...new Set(
      codeSpans(readme())
        .flatMap((span) => span.split(/[\s,]+/))
        .map((word) => word.replace(/[):;.]+$/, ''))
        .filter((word) => TOP_LEVEL.has(word.split('/')[0]) && word.includes('/') && !word.includes('<')),
    ),
  ];

  it('are many, tests and sources among them', () => {
    expect(paths.length).toBeGreaterThan(50);
    expect(paths.some((path) => path.startsWith('test/'))).toBe(true);
    expect(paths.some((path) => path.startsWith('lambdas/'))).toBe(true);
  });

  it('each exist in the tree, but for the spans listed as naming something else', () => {
    expect(paths.filter((path) => !(path in NOT_IN_THE_TREE) && !exists(path))).toEqual([]);
    expect(Object.keys(NOT_IN_THE_TREE).filter((path) => !paths.includes(path))).toEqual([]);
  });
});

describe("the Layout table's row of lib/constructs/", () => {
  /** Classes of lib/constructs/ that are not constructs of the stack. */
  const NOT_A_CONCERN: Record<string, string> = {
    EmrServerlessStartJobRun: 'a Step Functions task state the DistributedTraining construct builds its step from',
  };

  it('names exactly the construct classes lib/constructs/ exports', () => {
    const row = tableRows(readmeSection('Layout')).find(([path]) => path.includes('`lib/constructs/`'));
    const named = codeSpans(row?.[1] ?? '').filter((span) => /^[A-Z]\w+$/.test(span));
    const dir = join(ROOT, 'lib', 'constructs');
    const exported = readdirSync(dir)
      .filter((name) => name.endsWith('.ts'))
      .flatMap((name) => [...readFileSync(join(dir, name), 'utf8').matchAll(/^export class (\w+)/gm)].map((match) => match[1]))
      .filter((name) => !(name in NOT_A_CONCERN));

    expect(named.sort()).toEqual(exported.sort());
  });
});
