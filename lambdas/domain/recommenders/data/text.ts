/**
 * Text layer of the MovieLens parsers: decoding and line iteration over a string, a byte
 * array or a stream of byte chunks (so a file of any size is read without ever becoming one
 * JavaScript string: V8 caps a string at about 512 MB and ML-25M's ratings.csv is 678 MB),
 * plus a strict RFC 4180 CSV reader that works line by line.
 *
 * Encodings, by format:
 * - `utf8`: strict UTF-8 (the ml-latest CSVs); invalid bytes are an error naming the line.
 * - `utf8-or-latin1`: each line is UTF-8 when it is valid UTF-8, else ISO-8859-1 (every byte
 *   its code point). GroupLens wrote ML-100K and ML-1M titles in Latin-1 (e.g. byte 0xE9 for
 *   "é") while later `::` releases are UTF-8; a Latin-1 line containing non-ASCII letters is
 *   practically never valid UTF-8, so the rule reads both correctly.
 */

/** What a parser reads: decoded text, the file's bytes, or the bytes in chunks (a stream). */
export type FileContent = string | Uint8Array | Iterable<Uint8Array>;

export type TextEncoding = 'utf8' | 'utf8-or-latin1';

/** A malformed input file: the message names the file, the line and what is wrong. */
export class DataFormatError extends Error {
  override readonly name = 'DataFormatError';
  constructor(
    readonly fileName: string,
    readonly line: number | undefined,
    readonly problem: string,
  ) {
    super(line === undefined ? `${fileName}: ${problem}` : `${fileName} line ${line}: ${problem}`);
  }
}

/** A `fail` callback that throws a {@link DataFormatError} at a line. */
export function failAt(fileName: string, lineNumber: number): (problem: string) => never {
  return (problem) => {
    throw new DataFormatError(fileName, lineNumber, problem);
  };
}

/**
 * Decodes ISO-8859-1 bytes: each byte is the code point. (TextDecoder('latin1') would decode
 * windows-1252 instead, which maps 0x80–0x9F differently.)
 */
export function decodeLatin1(bytes: Uint8Array): string {
  const parts: string[] = [];
  const step = 8192; // stays under the engine's argument-count limit
  for (let at = 0; at < bytes.length; at += step) {
    parts.push(String.fromCharCode.apply(null, bytes.subarray(at, at + step) as unknown as number[]));
  }
  return parts.join('');
}

/** Encodes text as ISO-8859-1; throws naming `what` when a character has no Latin-1 byte. */
export function encodeLatin1(text: string, what = 'text'): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) throw new Error(`${what}: character "${text[i]}" (U+${code.toString(16).toUpperCase().padStart(4, '0')}) cannot be written in Latin-1`);
    bytes[i] = code;
  }
  return bytes;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function tryUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

const CHUNK_BYTES = 1 << 24;

/** The content as byte chunks (a byte array is cut into 16 MB views, nothing is copied). */
function* byteChunks(content: Uint8Array | Iterable<Uint8Array>): Generator<Uint8Array> {
  if (content instanceof Uint8Array) {
    for (let at = 0; at < content.length; at += CHUNK_BYTES) yield content.subarray(at, Math.min(content.length, at + CHUNK_BYTES));
    if (content.length === 0) yield content;
    return;
  }
  yield* content;
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

/**
 * Blocks of whole lines as bytes: each yielded block ends just after a "\n" (or at the end of
 * the input), so decoding a block never splits a character or a line.
 */
function* lineBlocks(content: Uint8Array | Iterable<Uint8Array>): Generator<Uint8Array> {
  let carry: Uint8Array = new Uint8Array(0);
  for (const chunk of byteChunks(content)) {
    const lastNewline = chunk.lastIndexOf(10);
    if (lastNewline < 0) {
      carry = concatBytes(carry, chunk);
      continue;
    }
    yield concatBytes(carry, chunk.subarray(0, lastNewline + 1));
    carry = chunk.slice(lastNewline + 1);
  }
  if (carry.length > 0) yield carry;
}

/** Decodes one block of whole lines; on invalid UTF-8 decodes line by line to apply the rule or name the line. */
function decodeBlock(block: Uint8Array, encoding: TextEncoding, fileName: string, firstLineNumber: number): string {
  const whole = tryUtf8(block);
  if (whole !== undefined) return whole;
  const lines: string[] = [];
  let start = 0;
  let lineNumber = firstLineNumber;
  while (start < block.length) {
    let end = block.indexOf(10, start);
    if (end < 0) end = block.length;
    const bytes = block.subarray(start, end);
    const text = tryUtf8(bytes);
    if (text === undefined && encoding === 'utf8') throw new DataFormatError(fileName, lineNumber, 'invalid UTF-8 bytes');
    lines.push(text ?? decodeLatin1(bytes));
    start = end + 1;
    lineNumber++;
  }
  return lines.join('\n') + (block[block.length - 1] === 10 ? '\n' : '');
}

/** Decoded text in pieces that each end on a line boundary, with the line number each starts on. */
function* textBlocks(content: FileContent, encoding: TextEncoding, fileName: string): Generator<string> {
  if (typeof content === 'string') {
    yield content;
    return;
  }
  let lineNumber = 1;
  for (const block of lineBlocks(content)) {
    yield decodeBlock(block, encoding, fileName, lineNumber);
    for (let at = block.indexOf(10); at >= 0; at = block.indexOf(10, at + 1)) lineNumber++;
  }
}

/**
 * Calls `visit` for every non-empty line with its 1-based number. Strips a UTF-8 byte-order
 * mark and the "\r" of CRLF line ends; a final line needs no line break. Blank lines are
 * allowed only at the end of the file (GroupLens' u.genre ends with one).
 */
export function forEachLine(content: FileContent, encoding: TextEncoding, fileName: string, visit: (line: string, lineNumber: number) => void): void {
  let lineNumber = 0;
  let firstBlankLine = 0;
  let first = true;
  for (let chunk of textBlocks(content, encoding, fileName)) {
    if (first && chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    first = false;
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf('\n', start);
      const end = newline < 0 ? chunk.length : newline;
      let line = chunk.slice(start, end);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      lineNumber++;
      start = end + 1;
      if (line.length === 0) {
        if (firstBlankLine === 0) firstBlankLine = lineNumber;
        continue;
      }
      if (firstBlankLine !== 0) throw new DataFormatError(fileName, firstBlankLine, 'empty line');
      visit(line, lineNumber);
    }
  }
}

/** The first line of the content (up to 4 KB), for format detection; ASCII is all detection needs. */
export function firstLineOf(content: FileContent): { line: string; content: FileContent } {
  if (typeof content === 'string') {
    const end = content.indexOf('\n');
    return { line: (end < 0 ? content : content.slice(0, end)).replace(/\r$/, '').replace(/^\uFEFF/, ''), content };
  }
  let head: Uint8Array;
  let rest: FileContent = content;
  if (content instanceof Uint8Array) {
    head = content;
  } else {
    // Peek at the stream's first chunks (up to a line break or 4 KB) and hand back a stream that still starts with them.
    const iterator = content[Symbol.iterator]();
    const peeked: Uint8Array[] = [];
    let size = 0;
    for (let item = iterator.next(); !item.done; item = iterator.next()) {
      peeked.push(item.value);
      size += item.value.length;
      if (item.value.includes(10) || size >= 4096) break;
    }
    head = peeked.length === 1 ? peeked[0] : peeked.reduce(concatBytes, new Uint8Array(0));
    rest = (function* replay(): Generator<Uint8Array> {
      yield* peeked;
      for (let item = iterator.next(); !item.done; item = iterator.next()) yield item.value;
    })();
  }
  let end = head.indexOf(10);
  if (end < 0) end = head.length;
  const line = decodeLatin1(head.subarray(0, Math.min(end, 4096)))
    .replace(/\r$/, '')
    .replace(/^\u00EF\u00BB\u00BF/, '');
  return { line, content: rest };
}

// ---------------------------------------------------------------------------------------------
// RFC 4180 CSV

/**
 * Calls `visit` for every CSV record with the 1-based line it starts on. Works line by line:
 * a line with an open quoted field is joined with the next one (a quoted field may span lines).
 */
export function forEachCsvRecord(content: FileContent, fileName: string, visit: (fields: string[], lineNumber: number) => void): void {
  let pending = '';
  let pendingLine = 0;
  forEachLine(content, 'utf8', fileName, (line, lineNumber) => {
    if (pending === '') {
      pendingLine = lineNumber;
      if (!line.includes('"')) {
        visit(line.split(','), lineNumber);
        return;
      }
    }
    const record = pending === '' ? line : `${pending}\n${line}`;
    let fields: string[];
    try {
      fields = splitCsvRecord(record, fileName, pendingLine);
    } catch (error) {
      // An open quoted field continues on the next line.
      if (error instanceof UnterminatedQuote && lineNumber - pendingLine < MAX_RECORD_LINES) {
        pending = record;
        return;
      }
      throw error;
    }
    pending = '';
    visit(fields, pendingLine);
  });
  if (pending !== '') throw new DataFormatError(fileName, pendingLine, 'unterminated quoted field');
}

/** A quoted field spanning more lines than this is taken as an unterminated quote (no re-parsing a whole file). */
const MAX_RECORD_LINES = 100;

/** A quoted field still open at the end of the text given (a record that may go on). */
class UnterminatedQuote extends DataFormatError {}

/**
 * Splits one CSV record (which may contain line breaks inside quoted fields): a field is either
 * unquoted (no quote inside) or wholly quoted with `""` for a quote.
 */
export function splitCsvRecord(record: string, fileName: string, lineNumber: number): string[] {
  if (!record.includes('"')) return record.split(',');
  const fields: string[] = [];
  let at = 0;
  let line = lineNumber;
  const n = record.length;
  for (;;) {
    let field = '';
    if (record[at] === '"') {
      const quoteLine = line;
      at++;
      for (;;) {
        const quote = record.indexOf('"', at);
        if (quote < 0) throw new UnterminatedQuote(fileName, quoteLine, 'unterminated quoted field');
        const piece = record.slice(at, quote);
        for (let i = 0; i < piece.length; i++) if (piece.charCodeAt(i) === 10) line++;
        field += piece;
        if (record[quote + 1] === '"') {
          field += '"';
          at = quote + 2;
          continue;
        }
        at = quote + 1;
        break;
      }
      if (at < n && record[at] !== ',') throw new DataFormatError(fileName, line, `unexpected character "${record[at]}" after a closing quote`);
    } else {
      let end = record.indexOf(',', at);
      if (end < 0) end = n;
      field = record.slice(at, end);
      if (field.includes('"')) throw new DataFormatError(fileName, line, `field "${field}" contains a quote but is not quoted`);
      at = end;
    }
    fields.push(field);
    if (at < n && record[at] === ',') {
      at++;
      continue;
    }
    return fields;
  }
}

/** Quotes a CSV field when it needs it (comma, quote, CR or LF), doubling inner quotes. */
export function formatCsvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Checks a CSV header line against the expected column names. */
export function expectHeader(fields: string[], header: string, fileName: string): void {
  const found = fields.join(',');
  if (found !== header) throw new DataFormatError(fileName, 1, `expected header "${header}", found "${found.slice(0, 80)}"`);
}
