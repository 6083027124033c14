/**
 * Parsers for the MovieLens ratings and item files exactly as GroupLens ships them. Pure: they
 * take the file content (a string, the bytes, or the bytes as a stream of chunks) and a file
 * name used only for messages and format detection. A malformed line throws a
 * {@link DataFormatError} naming the file and the 1-based line; no line is ever skipped
 * silently (only trailing blank lines are ignored). The other files of the releases (users,
 * tags, links, genome, genres, occupations) are read by ./catalog-files.ts.
 *
 * - ml-100k: `u.data`, `u1.base` .. `u5.test`, `ua/ub.base/test`: user \t item \t rating \t timestamp (1..5)
 *            `u.item`  id|title|release date|video release date|IMDb URL|19 genre flags
 * - ml-1m:   `ratings.dat` user::item::rating::timestamp; also ML-10M's, whose ratings are
 *            half stars (the scale is then [0.5, 5]); `movies.dat` id::title::Genre|Genre
 * - ml-latest (ML-20M, ML-25M, ml-latest, ml-latest-small):
 *            `ratings.csv` header userId,movieId,rating,timestamp (0.5..5 in half stars)
 *            `movies.csv`  header movieId,title,genres; RFC 4180 quoting; UTF-8
 *
 * Text is UTF-8 when valid, else Latin-1, line by line, for ml-100k and `::` files (ML-100K and
 * ML-1M titles are Latin-1); strict UTF-8 for the CSVs. A user rating the same item more than
 * once keeps the latest rating by timestamp (the later line on a tie); the merge is counted,
 * never an error. Users and items get dense indices in first-seen order of the rating rows.
 */
import type { ItemMetadata, RatingsDataset } from '../types.ts';
import { RatingsBuilder, subsetRatings } from './dataset.ts';
import { DataFormatError, expectHeader, failAt, firstLineOf, forEachCsvRecord, forEachLine, type FileContent } from './text.ts';

export { DataFormatError, decodeLatin1, encodeLatin1, formatCsvField, type FileContent } from './text.ts';

/** The MovieLens distributions whose file layouts are supported. */
export type MovieLensFormat = 'ml-100k' | 'ml-1m' | 'ml-latest';

export const MOVIELENS_FORMATS: readonly MovieLensFormat[] = ['ml-100k', 'ml-1m', 'ml-latest'];

/** The 19 genre flags of ML-100K `u.item`, in file order. ML-1M and ml-latest use the same names minus "unknown". */
export const ML_100K_GENRES = [
  'unknown',
  'Action',
  'Adventure',
  'Animation',
  "Children's",
  'Comedy',
  'Crime',
  'Documentary',
  'Drama',
  'Fantasy',
  'Film-Noir',
  'Horror',
  'Musical',
  'Mystery',
  'Romance',
  'Sci-Fi',
  'Thriller',
  'War',
  'Western',
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

/** Where the content came from and, optionally, which format to assume. */
export interface ParseOptions {
  /** Used in error messages and as a detection hint. Default `<input>`. */
  fileName?: string;
  /** Skips detection. */
  format?: MovieLensFormat;
}

// ---------------------------------------------------------------------------------------------
// Ratings

/** What a ratings load found besides the rows. */
export interface RatingsLoadReport {
  /** Lines holding a rating (header and trailing blank lines excluded). */
  lines: number;
  /** Ratings dropped because the same user rated the same item again later (the latest is kept). */
  duplicatesMerged: number;
  format: MovieLensFormat;
}

/**
 * Parses a ratings file (u.data and its splits, ratings.dat or ratings.csv) and says what it
 * merged. A string is taken as already decoded. See the module comment for the rules.
 */
export function parseRatingsWithReport(content: FileContent, options: ParseOptions = {}): { dataset: RatingsDataset; report: RatingsLoadReport } {
  const fileName = options.fileName ?? '<input>';
  const first = firstLineOf(content);
  const format = options.format ?? detectFormat('ratings', first.line, fileName);
  const builder = new RatingsBuilder();
  const parseLine = ratingsLineParser(format);
  let lines = 0;
  let halfStars = false;
  const onRecord = (fields: string[], lineNumber: number): void => {
    // The common case is checked inline (a few million lines per ML-25M file); anything unusual
    // goes through the full parser, which names the problem.
    let rating = fields.length === 4 ? wholeStars(fields[2], format !== 'ml-100k') : 0;
    if (rating === 0 || !isDigits(fields[0]) || !isDigits(fields[1]) || !isDigits(fields[3])) {
      rating = parseLine(fields, failAt(fileName, lineNumber))[2];
    }
    if (!Number.isInteger(rating)) halfStars = true;
    builder.add(fields[0], fields[1], rating, Number(fields[3]));
    lines++;
  };
  if (format === 'ml-latest') {
    let sawHeader = false;
    forEachCsvRecord(first.content, fileName, (fields, lineNumber) => {
      if (!sawHeader) {
        expectHeader(fields, ML_LATEST_RATINGS_HEADER, fileName);
        sawHeader = true;
        return;
      }
      onRecord(fields, lineNumber);
    });
    if (!sawHeader) throw new DataFormatError(fileName, undefined, `empty file, expected header "${ML_LATEST_RATINGS_HEADER}"`);
  } else {
    const separator = format === 'ml-100k' ? '\t' : '::';
    forEachLine(first.content, 'utf8-or-latin1', fileName, (line, lineNumber) => onRecord(line.split(separator), lineNumber));
  }
  // ML-10M's ratings.dat shares ML-1M's layout but has half stars.
  const scale: [number, number] = format === 'ml-1m' && halfStars ? [0.5, 5] : MOVIELENS_RATING_SCALE[format];
  const built = builder.build(scale);
  const keep = latestOfEachPair(built);
  const dataset = keep ? subsetRatings(built, keep) : built;
  return { dataset, report: { lines, duplicatesMerged: keep ? built.rating.length - keep.length : 0, format } };
}

/** Parses a ratings file; {@link parseRatingsWithReport} also says how many repeated ratings were merged. */
export function parseRatings(content: FileContent, options: ParseOptions = {}): RatingsDataset {
  return parseRatingsWithReport(content, options).dataset;
}

/**
 * The rows to keep when some user rated an item more than once: per (user, item) the row with
 * the latest timestamp, the later row on a tie; undefined when every pair is unique. Linear:
 * one pass per user over that user's rows with an item-indexed scratch array.
 */
function latestOfEachPair(dataset: RatingsDataset): Int32Array | undefined {
  const n = dataset.rating.length;
  const users = dataset.userIds.length;
  // Rows of each user, in row order (counting sort).
  const offsets = new Int32Array(users + 1);
  for (let row = 0; row < n; row++) offsets[dataset.userIndex[row] + 1]++;
  for (let u = 0; u < users; u++) offsets[u + 1] += offsets[u];
  const cursor = offsets.slice(0, users);
  const rowsByUser = new Int32Array(n);
  for (let row = 0; row < n; row++) rowsByUser[cursor[dataset.userIndex[row]]++] = row;
  const ownerOfItem = new Int32Array(dataset.itemIds.length).fill(-1);
  const keptRowOfItem = new Int32Array(dataset.itemIds.length);
  let dropped: Uint8Array | undefined;
  for (let u = 0; u < users; u++) {
    for (let k = offsets[u]; k < offsets[u + 1]; k++) {
      const row = rowsByUser[k];
      const item = dataset.itemIndex[row];
      if (ownerOfItem[item] !== u) {
        ownerOfItem[item] = u;
        keptRowOfItem[item] = row;
        continue;
      }
      dropped ??= new Uint8Array(n);
      const kept = keptRowOfItem[item];
      // Rows come in increasing order, so `row` is the later line: it wins unless older.
      if (dataset.timestamp[row] >= dataset.timestamp[kept]) {
        dropped[kept] = 1;
        keptRowOfItem[item] = row;
      } else {
        dropped[row] = 1;
      }
    }
  }
  if (!dropped) return undefined;
  let count = 0;
  for (let row = 0; row < n; row++) if (!dropped[row]) count++;
  const keep = new Int32Array(count);
  let at = 0;
  for (let row = 0; row < n; row++) if (!dropped[row]) keep[at++] = row;
  return keep;
}

/** True for a non-empty string of ASCII digits. */
function isDigits(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 48 || code > 57) return false;
  }
  return true;
}

/** The rating of the forms GroupLens writes ("4"; with decimals "4.0", "3.5"), else 0 (left to the full check). */
function wholeStars(text: string, decimals: boolean): number {
  const first = text.charCodeAt(0) - 48;
  if (text.length === 1) return first >= 1 && first <= 5 ? first : 0;
  if (decimals && text.length === 3 && text.charCodeAt(1) === 46 && first >= 0 && first <= 5) {
    const tenth = text.charCodeAt(2) - 48;
    if (tenth === 0 && first >= 1) return first;
    if (tenth === 5 && first <= 4) return first + 0.5;
  }
  return 0;
}

type RatingsLineParser = (fields: string[], fail: (problem: string) => never) => [string, string, number, number];

function ratingsLineParser(format: MovieLensFormat): RatingsLineParser {
  const separator = format === 'ml-100k' ? 'tab-separated' : format === 'ml-1m' ? '"::"-separated' : 'comma-separated';
  return (fields, fail) => ratingFields(fields, separator, format, fail);
}

function ratingFields(fields: string[], separator: string, format: MovieLensFormat, fail: (problem: string) => never): [string, string, number, number] {
  if (fields.length !== 4) {
    fail(`expected 4 ${separator} fields (user id, item id, rating, timestamp), found ${fields.length}`);
  }
  return [parseId(fields[0], 'user id', fail), parseId(fields[1], 'item id', fail), parseRatingValue(fields[2], format, fail), parseTimestamp(fields[3], fail)];
}

function parseId(text: string, what: string, fail: (problem: string) => never): string {
  if (!/^[0-9]+$/.test(text)) fail(`${what} "${text}" is not a non-negative integer`);
  return text;
}

function parseRatingValue(text: string, format: MovieLensFormat, fail: (problem: string) => never): number {
  if (format === 'ml-latest' || (format === 'ml-1m' && text.includes('.'))) {
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

// ---------------------------------------------------------------------------------------------
// Items

/**
 * Parses an item file (u.item, movies.dat or movies.csv) into metadata in file order.
 * `year` comes from a trailing "(1995)" in the title, else from the ML-100K release date.
 * Rejects duplicate item ids.
 */
export function parseItems(content: FileContent, options: ParseOptions = {}): ItemMetadata[] {
  const fileName = options.fileName ?? '<input>';
  const first = firstLineOf(content);
  const format = options.format ?? detectFormat('items', first.line, fileName);
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
      forEachLine(first.content, 'utf8-or-latin1', fileName, (line, lineNumber) => add(parseUItemLine(line, failAt(fileName, lineNumber)), lineNumber));
      break;
    case 'ml-1m':
      forEachLine(first.content, 'utf8-or-latin1', fileName, (line, lineNumber) => add(parseMoviesDatLine(line, failAt(fileName, lineNumber)), lineNumber));
      break;
    case 'ml-latest': {
      let sawHeader = false;
      forEachCsvRecord(first.content, fileName, (fields, lineNumber) => {
        if (!sawHeader) {
          expectHeader(fields, ML_LATEST_MOVIES_HEADER, fileName);
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

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** An ML-100K release date: day of one or two digits (GroupLens wrote `4-Feb-1971`), month name, year. */
function parseReleaseDate(text: string): { day: number; month: number; year: number } | undefined {
  const match = /^(\d{1,2})-([A-Z][a-z]{2})-(\d{4})$/.exec(text);
  if (!match) return undefined;
  const day = Number(match[1]);
  const month = MONTHS.indexOf(match[2]) + 1;
  return month > 0 && day >= 1 && day <= 31 ? { day, month, year: Number(match[3]) } : undefined;
}

function parseUItemLine(line: string, fail: (problem: string) => never): ItemMetadata {
  const fields = line.split('|');
  const expected = 5 + ML_100K_GENRES.length;
  if (fields.length !== expected) {
    fail(`expected ${expected} "|"-separated fields (id, title, release date, video release date, IMDb URL, 19 genre flags), found ${fields.length}`);
  }
  const itemId = parseId(fields[0], 'item id', fail);
  const releaseDate = fields[2];
  const dateMatch = parseReleaseDate(releaseDate);
  if (releaseDate !== '' && !dateMatch) fail(`release date "${releaseDate}" is not empty and not of the form 01-Jan-1995 or 4-Feb-1971`);
  const genres: string[] = [];
  for (let g = 0; g < ML_100K_GENRES.length; g++) {
    const flag = fields[5 + g];
    if (flag !== '0' && flag !== '1') fail(`genre flag ${g + 1} (${ML_100K_GENRES[g]}) is "${flag}", expected 0 or 1`);
    if (flag === '1') genres.push(ML_100K_GENRES[g]);
  }
  const title = fields[1];
  const year = yearOfTitle(title) ?? dateMatch?.year;
  return withYear({ itemId, title, genres }, year);
}

function parseMoviesDatLine(line: string, fail: (problem: string) => never): ItemMetadata {
  const fields = line.split('::');
  if (fields.length !== 3) fail(`expected 3 "::"-separated fields (id, title, genres), found ${fields.length}`);
  const itemId = parseId(fields[0], 'item id', fail);
  // ML-10M writes "(no genres listed)" as ml-latest does.
  const genres = fields[2] === ML_LATEST_NO_GENRES ? [] : splitGenres(fields[2], fail);
  return withYear({ itemId, title: fields[1], genres }, yearOfTitle(fields[1]));
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
