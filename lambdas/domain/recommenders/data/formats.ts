/**
 * Parsers for the MovieLens files exactly as GroupLens ships them. Pure: they take the file
 * content (bytes or an already decoded string) and a file name used only for messages and
 * format detection. A malformed line throws a {@link DataFormatError} naming the file and the
 * 1-based line; no line is ever skipped silently (only trailing blank lines are ignored).
 *
 * - ml-100k: `u.data`  user \t item \t rating \t timestamp           (ratings 1..5)
 *            `u.item`  id|title|release date|video release date|IMDb URL|19 genre flags, Latin-1
 * - ml-1m:   `ratings.dat` user::item::rating::timestamp               (ratings 1..5), Latin-1
 *            `movies.dat`  id::title::Genre|Genre
 * - ml-latest: `ratings.csv` header userId,movieId,rating,timestamp     (0.5..5 in half stars)
 *              `movies.csv`  header movieId,title,genres; RFC 4180 quoting; UTF-8
 *
 * Users and items get dense indices in first-seen order of the rating rows.
 */
import type { ItemMetadata, RatingsDataset } from '../types.ts';
import { RatingsBuilder } from './dataset.ts';

/** The MovieLens distributions whose file layouts are supported. */
export type MovieLensFormat = 'ml-100k' | 'ml-1m' | 'ml-latest';

export const MOVIELENS_FORMATS: readonly MovieLensFormat[] = ['ml-100k', 'ml-1m', 'ml-latest'];

/** The 19 genre flags of ML-100K `u.item`, in file order. ML-1M and ml-latest use the same names minus "unknown". */
export const ML_100K_GENRES = [
  'unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary',
  'Drama', 'Fantasy', 'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi',
  'Thriller', 'War', 'Western',
] as const;

/** The file names GroupLens uses for each format. */
export const MOVIELENS_FILE_NAMES: Record<MovieLensFormat, { ratings: string; items: string }> = {
  'ml-100k': { ratings: 'u.data', items: 'u.item' },
  'ml-1m': { ratings: 'ratings.dat', items: 'movies.dat' },
  'ml-latest': { ratings: 'ratings.csv', items: 'movies.csv' },
};

/** Rating scale of each format: ml-latest has half stars from 0.5. */
export const MOVIELENS_RATING_SCALE: Record<MovieLensFormat, [number, number]> = {
  'ml-100k': [1, 5],
  'ml-1m': [1, 5],
  'ml-latest': [0.5, 5],
};

const ML_LATEST_RATINGS_HEADER = 'userId,movieId,rating,timestamp';
const ML_LATEST_MOVIES_HEADER = 'movieId,title,genres';
/** ml-latest writes this instead of an empty genre list. */
export const ML_LATEST_NO_GENRES = '(no genres listed)';

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

/** Where the content came from and, optionally, which format to assume. */
export interface ParseOptions {
  /** Used in error messages and as a detection hint. Default `<input>`. */
  fileName?: string;
  /** Skips detection. */
  format?: MovieLensFormat;
}

// ---------------------------------------------------------------------------------------------
// Ratings

/**
 * Parses a ratings file (u.data, ratings.dat or ratings.csv). Bytes are decoded as Latin-1
 * for ml-100k / ml-1m and UTF-8 for ml-latest; a string is taken as already decoded.
 * Rejects duplicate (user, item) pairs, which would leak between train and test splits.
 */
export function parseRatings(content: string | Uint8Array, options: ParseOptions = {}): RatingsDataset {
  const fileName = options.fileName ?? '<input>';
  const format = options.format ?? detectFormat('ratings', firstLineOf(content), fileName);
  const builder = new RatingsBuilder();
  const lineOfRow: number[] = [];
  const parseLine = ratingsLineParser(format);
  let sawHeader = false;
  forEachLine(content, encodingOf(format), fileName, (line, lineNumber) => {
    if (format === 'ml-latest' && !sawHeader) {
      expectHeader(line, ML_LATEST_RATINGS_HEADER, fileName);
      sawHeader = true;
      return;
    }
    const fail = (problem: string): never => {
      throw new DataFormatError(fileName, lineNumber, problem);
    };
    const [user, item, rating, timestamp] = parseLine(line, fail);
    builder.add(user, item, rating, timestamp);
    lineOfRow.push(lineNumber);
  });
  if (format === 'ml-latest' && !sawHeader) {
    throw new DataFormatError(fileName, undefined, `empty file, expected header "${ML_LATEST_RATINGS_HEADER}"`);
  }
  const dataset = builder.build(MOVIELENS_RATING_SCALE[format]);
  rejectDuplicatePairs(dataset, lineOfRow, fileName);
  return dataset;
}

type RatingsLineParser = (line: string, fail: (problem: string) => never) => [string, string, number, number];

function ratingsLineParser(format: MovieLensFormat): RatingsLineParser {
  switch (format) {
    case 'ml-100k':
      return (line, fail) => ratingFields(line.split('\t'), 'tab-separated', format, fail);
    case 'ml-1m':
      return (line, fail) => ratingFields(line.split('::'), '"::"-separated', format, fail);
    case 'ml-latest':
      return (line, fail) => ratingFields(splitCsvLine(line, fail), 'comma-separated', format, fail);
  }
}

function ratingFields(
  fields: string[],
  separator: string,
  format: MovieLensFormat,
  fail: (problem: string) => never,
): [string, string, number, number] {
  if (fields.length !== 4) {
    fail(`expected 4 ${separator} fields (user id, item id, rating, timestamp), found ${fields.length}`);
  }
  return [
    parseId(fields[0], 'user id', fail),
    parseId(fields[1], 'item id', fail),
    parseRatingValue(fields[2], format, fail),
    parseTimestamp(fields[3], fail),
  ];
}

function parseId(text: string, what: string, fail: (problem: string) => never): string {
  if (!/^[0-9]+$/.test(text)) fail(`${what} "${text}" is not a non-negative integer`);
  return text;
}

function parseRatingValue(text: string, format: MovieLensFormat, fail: (problem: string) => never): number {
  if (format === 'ml-latest') {
    const value = /^[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : NaN;
    if (!(value >= 0.5 && value <= 5 && Number.isInteger(value * 2))) {
      fail(`rating "${text}" is not a half-star value between 0.5 and 5`);
    }
    return value;
  }
  if (!/^[1-5]$/.test(text)) fail(`rating "${text}" is not an integer between 1 and 5`);
  return Number(text);
}

function parseTimestamp(text: string, fail: (problem: string) => never): number {
  if (!/^[0-9]+$/.test(text)) fail(`timestamp "${text}" is not a non-negative integer of Unix seconds`);
  return Number(text);
}

function rejectDuplicatePairs(dataset: RatingsDataset, lineOfRow: number[], fileName: string): void {
  const items = dataset.itemIds.length;
  const n = dataset.rating.length;
  // Sort row numbers by the (user, item) key; equal neighbours are duplicates.
  const keys = new Float64Array(n);
  for (let row = 0; row < n; row++) keys[row] = dataset.userIndex[row] * items + dataset.itemIndex[row];
  const order = new Int32Array(n);
  for (let row = 0; row < n; row++) order[row] = row;
  order.sort((a, b) => keys[a] - keys[b] || a - b);
  for (let k = 1; k < n; k++) {
    if (keys[order[k]] === keys[order[k - 1]]) {
      const first = order[k - 1];
      const second = order[k];
      throw new DataFormatError(
        fileName,
        lineOfRow[second],
        `duplicate rating of item ${dataset.itemIds[dataset.itemIndex[second]]} by user ` +
          `${dataset.userIds[dataset.userIndex[second]]} (first given on line ${lineOfRow[first]})`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Items

/**
 * Parses an item file (u.item, movies.dat or movies.csv) into metadata in file order.
 * `year` comes from a trailing "(1995)" in the title, else from the ML-100K release date.
 * Rejects duplicate item ids.
 */
export function parseItems(content: string | Uint8Array, options: ParseOptions = {}): ItemMetadata[] {
  const fileName = options.fileName ?? '<input>';
  const format = options.format ?? detectFormat('items', firstLineOf(content), fileName);
  const items: ItemMetadata[] = [];
  const lineOfId = new Map<string, number>();
  const add = (item: ItemMetadata, lineNumber: number): void => {
    const previous = lineOfId.get(item.itemId);
    if (previous !== undefined) {
      throw new DataFormatError(fileName, lineNumber, `duplicate item id ${item.itemId} (first given on line ${previous})`);
    }
    lineOfId.set(item.itemId, lineNumber);
    items.push(item);
  };
  switch (format) {
    case 'ml-100k':
      forEachLine(content, 'latin1', fileName, (line, lineNumber) => add(parseUItemLine(line, failAt(fileName, lineNumber)), lineNumber));
      break;
    case 'ml-1m':
      forEachLine(content, 'latin1', fileName, (line, lineNumber) => add(parseMoviesDatLine(line, failAt(fileName, lineNumber)), lineNumber));
      break;
    case 'ml-latest': {
      const text = typeof content === 'string' ? content : decodeUtf8(content);
      let sawHeader = false;
      forEachCsvRecord(stripBom(text), fileName, (fields, lineNumber) => {
        if (!sawHeader) {
          expectHeader(fields.join(','), ML_LATEST_MOVIES_HEADER, fileName);
          sawHeader = true;
          return;
        }
        add(moviesCsvItem(fields, failAt(fileName, lineNumber)), lineNumber);
      });
      if (!sawHeader) throw new DataFormatError(fileName, undefined, `empty file, expected header "${ML_LATEST_MOVIES_HEADER}"`);
      break;
    }
  }
  return items;
}

function failAt(fileName: string, lineNumber: number): (problem: string) => never {
  return (problem) => {
    throw new DataFormatError(fileName, lineNumber, problem);
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function parseUItemLine(line: string, fail: (problem: string) => never): ItemMetadata {
  const fields = line.split('|');
  const expected = 5 + ML_100K_GENRES.length;
  if (fields.length !== expected) {
    fail(`expected ${expected} "|"-separated fields (id, title, release date, video release date, IMDb URL, 19 genre flags), found ${fields.length}`);
  }
  const itemId = parseId(fields[0], 'item id', fail);
  const releaseDate = fields[2];
  const dateMatch = /^(\d{2})-([A-Z][a-z]{2})-(\d{4})$/.exec(releaseDate);
  if (releaseDate !== '' && (!dateMatch || !MONTHS.includes(dateMatch[2]))) {
    fail(`release date "${releaseDate}" is not empty and not of the form 01-Jan-1995`);
  }
  const genres: string[] = [];
  for (let g = 0; g < ML_100K_GENRES.length; g++) {
    const flag = fields[5 + g];
    if (flag !== '0' && flag !== '1') fail(`genre flag ${g + 1} (${ML_100K_GENRES[g]}) is "${flag}", expected 0 or 1`);
    if (flag === '1') genres.push(ML_100K_GENRES[g]);
  }
  const title = fields[1];
  const year = yearOfTitle(title) ?? (dateMatch ? Number(dateMatch[3]) : undefined);
  return withYear({ itemId, title, genres }, year);
}

function parseMoviesDatLine(line: string, fail: (problem: string) => never): ItemMetadata {
  const fields = line.split('::');
  if (fields.length !== 3) fail(`expected 3 "::"-separated fields (id, title, genres), found ${fields.length}`);
  const itemId = parseId(fields[0], 'item id', fail);
  return withYear({ itemId, title: fields[1], genres: splitGenres(fields[2], fail) }, yearOfTitle(fields[1]));
}

function moviesCsvItem(fields: string[], fail: (problem: string) => never): ItemMetadata {
  if (fields.length !== 3) fail(`expected 3 comma-separated fields (movieId, title, genres), found ${fields.length}`);
  const itemId = parseId(fields[0], 'movie id', fail);
  const genres = fields[2] === ML_LATEST_NO_GENRES ? [] : splitGenres(fields[2], fail);
  return withYear({ itemId, title: fields[1], genres }, yearOfTitle(fields[1]));
}

function splitGenres(text: string, fail: (problem: string) => never): string[] {
  if (text === '') return [];
  const genres = text.split('|');
  if (genres.some((genre) => genre.trim() === '')) fail(`genre list "${text}" has an empty genre`);
  return genres;
}

function yearOfTitle(title: string): number | undefined {
  const match = /\((\d{4})(?:[-–]\d{0,4})?\)\s*$/.exec(title);
  return match ? Number(match[1]) : undefined;
}

function withYear(item: ItemMetadata, year: number | undefined): ItemMetadata {
  return year === undefined ? item : { ...item, year };
}

// ---------------------------------------------------------------------------------------------
// Format detection

/**
 * Detects the format from the first line (the separator or the ml-latest header), falling
 * back to the file name (u.data / *.dat / *.csv). Throws when neither tells.
 */
export function detectFormat(kind: 'ratings' | 'items', firstLine: string, fileName = '<input>'): MovieLensFormat {
  const line = firstLine.replace(/^\uFEFF/, '');
  if (line.includes('::')) return 'ml-1m';
  if (kind === 'ratings') {
    if (line.startsWith('userId,')) return 'ml-latest';
    if (line.includes('\t')) return 'ml-100k';
  } else {
    if (line.startsWith('movieId,')) return 'ml-latest';
    if (line.includes('|')) return 'ml-100k';
  }
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  if (/\.csv$/i.test(base)) return 'ml-latest';
  if (/\.dat$/i.test(base)) return 'ml-1m';
  if (/^u\.(data|item)$|\.(base|test|data|item)$/i.test(base)) return 'ml-100k';
  throw new DataFormatError(
    fileName,
    1,
    `cannot detect the MovieLens format from the first line "${line.slice(0, 60)}"; pass format ml-100k, ml-1m or ml-latest`,
  );
}

function firstLineOf(content: string | Uint8Array): string {
  if (typeof content === 'string') {
    const end = content.indexOf('\n');
    return (end < 0 ? content : content.slice(0, end)).replace(/\r$/, '');
  }
  let end = content.indexOf(10);
  if (end < 0) end = content.length;
  // The separators and headers are ASCII, so Latin-1 decoding is enough to detect.
  return decodeLatin1(content.subarray(0, Math.min(end, 4096))).replace(/\r$/, '');
}

function expectHeader(line: string, header: string, fileName: string): void {
  if (line.replace(/^\uFEFF/, '') !== header) {
    throw new DataFormatError(fileName, 1, `expected header "${header}", found "${line.slice(0, 80)}"`);
  }
}

// ---------------------------------------------------------------------------------------------
// Text decoding and line iteration

type Encoding = 'latin1' | 'utf8';

function encodingOf(format: MovieLensFormat): Encoding {
  return format === 'ml-latest' ? 'utf8' : 'latin1';
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

const utf8Decoder = new TextDecoder('utf-8');

function decodeUtf8(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Decoded chunks of at most ~16 MB that end on a line boundary, so huge files never become one string. */
function* textChunks(content: string | Uint8Array, encoding: Encoding): Generator<string> {
  if (typeof content === 'string') {
    yield stripBom(content);
    return;
  }
  const chunkBytes = 1 << 24;
  let start = 0;
  while (start < content.length) {
    let end = Math.min(start + chunkBytes, content.length);
    if (end < content.length) {
      const newline = content.lastIndexOf(10, end - 1);
      if (newline >= start) end = newline + 1;
      else {
        const next = content.indexOf(10, end);
        end = next < 0 ? content.length : next + 1;
      }
    }
    const bytes = content.subarray(start, end);
    const text = encoding === 'latin1' ? decodeLatin1(bytes) : decodeUtf8(bytes);
    yield start === 0 ? stripBom(text) : text;
    start = end;
  }
}

/**
 * Calls `visit` for every non-empty line with its 1-based number; strips "\r" of CRLF files.
 * Blank lines are allowed only at the end of the file. Invalid UTF-8 (decoded as U+FFFD) is an error.
 */
function forEachLine(
  content: string | Uint8Array,
  encoding: Encoding,
  fileName: string,
  visit: (line: string, lineNumber: number) => void,
): void {
  let lineNumber = 0;
  let firstBlankLine = 0;
  const checkUtf8 = encoding === 'utf8' && typeof content !== 'string';
  for (const chunk of textChunks(content, encoding)) {
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
      if (checkUtf8 && line.includes('\uFFFD')) throw new DataFormatError(fileName, lineNumber, 'invalid UTF-8 bytes');
      visit(line, lineNumber);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// RFC 4180 CSV

/** Splits one CSV line (no embedded newlines); quoted fields may contain commas and doubled quotes. */
function splitCsvLine(line: string, fail: (problem: string) => never): string[] {
  if (!line.includes('"')) return line.split(',');
  const records: string[][] = [];
  const failWithin = (problem: string, _line: number): never => fail(problem);
  parseCsv(line, failWithin, (fields) => records.push(fields));
  if (records.length !== 1) fail('a quoted field spans several lines');
  return records[0];
}

/** Calls `visit` for every CSV record of `text` with the 1-based line it starts on. Blank lines only at the end. */
function forEachCsvRecord(text: string, fileName: string, visit: (fields: string[], lineNumber: number) => void): void {
  let firstBlankLine = 0;
  parseCsv(
    text,
    (problem, line) => {
      throw new DataFormatError(fileName, line, problem);
    },
    (fields, lineNumber) => {
      if (fields.length === 1 && fields[0] === '') {
        if (firstBlankLine === 0) firstBlankLine = lineNumber;
        return;
      }
      if (firstBlankLine !== 0) throw new DataFormatError(fileName, firstBlankLine, 'empty line');
      visit(fields, lineNumber);
    },
  );
}

/**
 * A strict RFC 4180 reader: a field is either unquoted (no quotes inside) or wholly quoted
 * with `""` for a quote; CRLF or LF ends a record; a final record needs no line break.
 */
function parseCsv(
  text: string,
  fail: (problem: string, line: number) => never,
  emit: (fields: string[], lineNumber: number) => void,
): void {
  let line = 1;
  let at = 0;
  const n = text.length;
  while (at < n) {
    const recordLine = line;
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (text[at] === '"') {
        const quoteLine = line;
        at++;
        for (;;) {
          const quote = text.indexOf('"', at);
          if (quote < 0) fail('unterminated quoted field', quoteLine);
          const piece = text.slice(at, quote);
          for (let i = 0; i < piece.length; i++) if (piece.charCodeAt(i) === 10) line++;
          field += piece;
          if (text[quote + 1] === '"') {
            field += '"';
            at = quote + 2;
            continue;
          }
          at = quote + 1;
          break;
        }
        const next = text[at];
        if (at < n && next !== ',' && next !== '\n' && !(next === '\r' && (at + 1 === n || text[at + 1] === '\n'))) {
          fail(`unexpected character "${next}" after a closing quote`, line);
        }
      } else {
        let end = at;
        while (end < n && text[end] !== ',' && text[end] !== '\n') end++;
        field = text.slice(at, end);
        if (field.endsWith('\r') && (end === n || text[end] === '\n')) field = field.slice(0, -1);
        if (field.includes('"')) fail(`field "${field}" contains a quote but is not quoted`, line);
        at = end;
      }
      fields.push(field);
      if (text[at] === ',') {
        at++;
        continue;
      }
      if (text[at] === '\r') at++;
      if (text[at] === '\n') {
        at++;
        line++;
      }
      break;
    }
    emit(fields, recordLine);
  }
}

/** Quotes a CSV field when it needs it (comma, quote, CR or LF), doubling inner quotes. */
export function formatCsvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
