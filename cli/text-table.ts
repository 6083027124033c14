/**
 * The plain-text tables the commands print (analysis summaries, benchmark results): one
 * renderer, so every table pads, aligns and rules its columns the same way.
 */

/** How a table is laid out; the defaults suit a label column followed by numbers. */
export interface TextTableOptions {
  /** How many leading columns are left-aligned (labels); the rest are right-aligned (numbers). @default 1 */
  leftAligned?: number;
  /** A rule of dashes under the header row. @default true */
  rule?: boolean;
}

/**
 * The lines of a table whose first row is the header: each column as wide as its widest cell,
 * columns two spaces apart, no line ending in spaces.
 */
export function textTable(rows: readonly (readonly string[])[], { leftAligned = 1, rule = true }: TextTableOptions = {}): string[] {
  if (rows.length === 0) return [];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row: readonly string[]) =>
    row
      .map((cell, c) => (c < leftAligned ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
      .join('  ')
      .trimEnd();
  const lines = rows.map(line);
  if (rule) lines.splice(1, 0, line(widths.map((w) => '-'.repeat(w))));
  return lines;
}
