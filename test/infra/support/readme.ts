/**
 * Readers of README.md for the tests that hold its claims to the code: a section's text, a
 * table's rows, and the compact route notation the README writes.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The README's whole text. */
export function readme(): string {
  return readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
}

/** The text under the heading `title` (any level), up to the next heading of the same or a higher level. */
export function readmeSection(title: string): string {
  const text = readme();
  const heading = new RegExp(`^(#+) ${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm').exec(text);
  if (!heading) throw new Error(`README.md has no "${title}" heading`);
  const rest = text.slice(heading.index + heading[0].length);
  const next = new RegExp(`^#{1,${heading[1].length}} `, 'm').exec(rest);
  return next ? rest.slice(0, next.index) : rest;
}

/** The body rows of the markdown tables in `text` (header and separator rows left out), as trimmed cells with `\|` unescaped. */
export function tableRows(text: string): string[][] {
  const lines = text.split('\n').map((line) => line.trim());
  return lines
    .filter((line, index) => line.startsWith('| ') && !line.startsWith('| ---') && !lines[index + 1]?.startsWith('| ---'))
    .map((line) =>
      line
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((cell) => cell.replace(/\\\|/g, '|').trim()),
    );
}

/** The contents of the code spans of `text`, outside its fenced code blocks. */
export function codeSpans(text: string): string[] {
  const prose = text.replace(/^```[^\n]*\n[\s\S]*?^```/gm, '');
  return [...prose.matchAll(/`([^`\n]+)`/g)].map((match) => match[1]);
}

/**
 * Routes written compactly, as `METHOD /path` each: `GET/POST /experiments` is two methods,
 * `/experiments/{id}/start|stop` two last segments, and a query (`?...`) or an optional part
 * (`[...]`) is not part of the route.
 */
export function expandRoutes(compact: string): string[] {
  const [methods, rawPath] = compact.trim().split(/\s+/);
  const path = rawPath.replace(/[[?].*$/, '');
  const slash = path.lastIndexOf('/');
  return methods.split('/').flatMap((method) =>
    path
      .slice(slash + 1)
      .split('|')
      .map((last) => `${method} ${path.slice(0, slash + 1)}${last}`),
  );
}
