/**
 * The other files of the MovieLens releases, beside ratings and items (./formats.ts): users,
 * tags, links, the tag genome, and ML-100K's genre, occupation and info lists. Pure, with the
 * same rules as the ratings and item parsers: strict per line, a malformed line throws a
 * {@link DataFormatError} naming the file and line, CRLF and a missing final newline are fine.
 *
 * | release        | file                 | layout                                                   |
 * | ML-100K        | u.user               | user id|age|gender|occupation|zip code                   |
 * | ML-100K        | u.genre              | genre|index (a blank line at the end)                     |
 * | ML-100K        | u.occupation         | one occupation per line                                  |
 * | ML-100K        | u.info               | "943 users" / "1682 items" / "100000 ratings"             |
 * | ML-1M          | users.dat            | UserID::Gender::Age::Occupation::Zip-code                |
 * | ML-10M         | tags.dat             | UserID::MovieID::Tag::Timestamp                          |
 * | ML-20M/25M, ml-latest(-small) | tags.csv     | userId,movieId,tag,timestamp (tags quoted as needed) |
 * |                | links.csv            | movieId,imdbId,tmdbId (tmdbId may be empty)              |
 * |                | genome-tags.csv      | tagId,tag                                                |
 * |                | genome-scores.csv    | movieId,tagId,relevance (columnar: 15 M rows in ML-25M)  |
 */
import type { ItemMetadata, RatingsDataset } from '../types.ts';
import { type MovieLensFormat, parseItems, parseRatingsWithReport, type RatingsLoadReport } from './formats.ts';
import { DataFormatError, expectHeader, failAt, firstLineOf, forEachCsvRecord, forEachLine, type FileContent } from './text.ts';

type Fail = (problem: string) => never;

/** One user of u.user (ML-100K) or users.dat (ML-1M). */
export interface UserMetadata {
  userId: string;
  age: number;
  gender: 'M' | 'F';
  /** ML-100K: the occupation's name; ML-1M: its code 0..20 as a string. */
  occupation: string;
  zipCode: string;
}

/** One tag application (tags.dat, tags.csv). */
export interface TagApplication {
  userId: string;
  itemId: string;
  tag: string;
  timestamp: number;
}

/** One row of links.csv: the movie's ids on IMDb (zero-padded, as given) and TMDb (may be absent). */
export interface MovieLink {
  itemId: string;
  imdbId: string;
  tmdbId?: string;
}

/** genome-scores.csv in columns: relevance of tag `tagId[k]` to movie `movieId[k]`. */
export interface GenomeScores {
  movieId: Int32Array;
  tagId: Int32Array;
  relevance: Float32Array;
}

function nonNegativeInteger(text: string, what: string, fail: Fail): string {
  if (!/^[0-9]+$/.test(text)) fail(`${what} "${text}" is not a non-negative integer`);
  return text;
}

function fieldCount(fields: string[], expected: number, description: string, fail: Fail): void {
  if (fields.length !== expected) fail(`expected ${expected} ${description}, found ${fields.length}`);
}

function user(fields: string[], fail: Fail): UserMetadata {
  const [userId, age, gender, occupation, zipCode] = fields;
  nonNegativeInteger(userId, 'user id', fail);
  nonNegativeInteger(age, 'age', fail);
  if (gender !== 'M' && gender !== 'F') fail(`gender "${gender}" is not M or F`);
  if (occupation === '') fail('occupation is empty');
  return { userId, age: Number(age), gender, occupation, zipCode };
}

/** u.user (`|`) or users.dat (`::`); the separator is taken from the first line. */
export function parseUsers(content: FileContent, options: { fileName?: string } = {}): UserMetadata[] {
  const fileName = options.fileName ?? '<input>';
  const first = firstLineOf(content);
  const dat = first.line.includes('::');
  const users: UserMetadata[] = [];
  forEachLine(first.content, 'utf8-or-latin1', fileName, (line, lineNumber) => {
    const fail = failAt(fileName, lineNumber);
    const fields = line.split(dat ? '::' : '|');
    fieldCount(
      fields,
      5,
      dat ? '"::"-separated fields (UserID, Gender, Age, Occupation, Zip-code)' : '"|"-separated fields (user id, age, gender, occupation, zip code)',
      fail,
    );
    if (dat) nonNegativeInteger(fields[3], 'occupation code', fail);
    // users.dat puts gender before age; u.user age before gender.
    users.push(user(dat ? [fields[0], fields[2], fields[1], fields[3], fields[4]] : fields, fail));
  });
  return users;
}

/** ML-10M tags.dat. A tag containing "::" is kept whole (user, movie and timestamp are the outer fields). */
export function parseTagsDat(content: FileContent, options: { fileName?: string } = {}): TagApplication[] {
  const fileName = options.fileName ?? '<input>';
  const tags: TagApplication[] = [];
  forEachLine(content, 'utf8-or-latin1', fileName, (line, lineNumber) => {
    const fail = failAt(fileName, lineNumber);
    const fields = line.split('::');
    if (fields.length < 4) fail(`expected 4 "::"-separated fields (UserID, MovieID, Tag, Timestamp), found ${fields.length}`);
    tags.push(tag(fields[0], fields[1], fields.slice(2, -1).join('::'), fields[fields.length - 1], fail));
  });
  return tags;
}

function tag(userId: string, itemId: string, text: string, timestamp: string, fail: Fail): TagApplication {
  nonNegativeInteger(userId, 'user id', fail);
  nonNegativeInteger(itemId, 'movie id', fail);
  nonNegativeInteger(timestamp, 'timestamp', fail);
  return { userId, itemId, tag: text, timestamp: Number(timestamp) };
}

/** Reads a CSV with a fixed header, handing each data record to `row`. */
function csvRows(content: FileContent, fileName: string, header: string, row: (fields: string[], fail: Fail) => void): void {
  const columns = header.split(',').length;
  let sawHeader = false;
  forEachCsvRecord(content, fileName, (fields, lineNumber) => {
    if (!sawHeader) {
      expectHeader(fields, header, fileName);
      sawHeader = true;
      return;
    }
    const fail = failAt(fileName, lineNumber);
    fieldCount(fields, columns, `comma-separated fields (${header})`, fail);
    row(fields, fail);
  });
  if (!sawHeader) throw new DataFormatError(fileName, undefined, `empty file, expected header "${header}"`);
}

/** tags.csv of ML-20M, ML-25M and ml-latest. */
export function parseTagsCsv(content: FileContent, options: { fileName?: string } = {}): TagApplication[] {
  const fileName = options.fileName ?? '<input>';
  const tags: TagApplication[] = [];
  csvRows(content, fileName, 'userId,movieId,tag,timestamp', (fields, fail) => tags.push(tag(fields[0], fields[1], fields[2], fields[3], fail)));
  return tags;
}

/** links.csv. */
export function parseLinks(content: FileContent, options: { fileName?: string } = {}): MovieLink[] {
  const fileName = options.fileName ?? '<input>';
  const links: MovieLink[] = [];
  csvRows(content, fileName, 'movieId,imdbId,tmdbId', ([itemId, imdbId, tmdbId], fail) => {
    nonNegativeInteger(itemId, 'movie id', fail);
    nonNegativeInteger(imdbId, 'imdb id', fail);
    if (tmdbId !== '') nonNegativeInteger(tmdbId, 'tmdb id', fail);
    links.push(tmdbId === '' ? { itemId, imdbId } : { itemId, imdbId, tmdbId });
  });
  return links;
}

/** genome-tags.csv. */
export function parseGenomeTags(content: FileContent, options: { fileName?: string } = {}): { tagId: string; tag: string }[] {
  const fileName = options.fileName ?? '<input>';
  const tags: { tagId: string; tag: string }[] = [];
  csvRows(content, fileName, 'tagId,tag', ([tagId, text], fail) => {
    nonNegativeInteger(tagId, 'tag id', fail);
    tags.push({ tagId, tag: text });
  });
  return tags;
}

/** genome-scores.csv, into typed columns (ML-25M has 15.6 million rows). */
export function parseGenomeScores(content: FileContent, options: { fileName?: string } = {}): GenomeScores {
  const fileName = options.fileName ?? '<input>';
  let movieId = new Int32Array(1024);
  let tagId = new Int32Array(1024);
  let relevance = new Float32Array(1024);
  let size = 0;
  csvRows(content, fileName, 'movieId,tagId,relevance', ([movie, tagText, value], fail) => {
    nonNegativeInteger(movie, 'movie id', fail);
    nonNegativeInteger(tagText, 'tag id', fail);
    const score = /^[0-9]*\.?[0-9]+(e-?[0-9]+)?$/i.test(value) ? Number(value) : NaN;
    if (!(score >= 0 && score <= 1)) fail(`relevance "${value}" is not a number between 0 and 1`);
    if (size === movieId.length) {
      movieId = grow(movieId, new Int32Array(size * 2));
      tagId = grow(tagId, new Int32Array(size * 2));
      relevance = grow(relevance, new Float32Array(size * 2));
    }
    movieId[size] = Number(movie);
    tagId[size] = Number(tagText);
    relevance[size] = score;
    size++;
  });
  return { movieId: movieId.slice(0, size), tagId: tagId.slice(0, size), relevance: relevance.slice(0, size) };
}

function grow<T extends Int32Array | Float32Array>(source: T, target: T): T {
  target.set(source);
  return target;
}

/** ML-100K u.genre: `name|index`, indices 0.. in order (the file ends with a blank line). */
export function parseGenreList(content: FileContent, options: { fileName?: string } = {}): string[] {
  const fileName = options.fileName ?? '<input>';
  const genres: string[] = [];
  forEachLine(content, 'utf8-or-latin1', fileName, (line, lineNumber) => {
    const fail = failAt(fileName, lineNumber);
    const fields = line.split('|');
    fieldCount(fields, 2, '"|"-separated fields (genre, index)', fail);
    if (fields[1] !== String(genres.length)) fail(`genre index "${fields[1]}" is not ${genres.length}, the next in order`);
    genres.push(fields[0]);
  });
  return genres;
}

/** ML-100K u.occupation: one name per line. */
export function parseOccupationList(content: FileContent, options: { fileName?: string } = {}): string[] {
  const names: string[] = [];
  forEachLine(content, 'utf8-or-latin1', options.fileName ?? '<input>', (line) => names.push(line));
  return names;
}

/** ML-100K u.info: the three counts. */
export function parseInfo(content: FileContent, options: { fileName?: string } = {}): { users: number; items: number; ratings: number } {
  const fileName = options.fileName ?? '<input>';
  const counts: Record<string, number> = {};
  forEachLine(content, 'utf8-or-latin1', fileName, (line, lineNumber) => {
    const match = /^(\d+) (users|items|ratings)$/.exec(line);
    if (!match) throw new DataFormatError(fileName, lineNumber, `expected "<count> users|items|ratings", found "${line.slice(0, 60)}"`);
    counts[match[2]] = Number(match[1]);
  });
  for (const key of ['users', 'items', 'ratings']) if (counts[key] === undefined) throw new DataFormatError(fileName, undefined, `no "${key}" count`);
  return { users: counts.users, items: counts.items, ratings: counts.ratings };
}

// ---------------------------------------------------------------------------------------------
// Any file of a release

/** What a MovieLens file holds, by its GroupLens name. */
export type MovieLensFileKind = 'ratings' | 'items' | 'users' | 'tags' | 'links' | 'genome-tags' | 'genome-scores' | 'genres' | 'occupations' | 'info';

/**
 * The kind of a MovieLens file from its base name (u.data, u1.base, ua.test, ratings.dat,
 * movies.csv, genome-scores.csv ...); undefined for files that are not data (README, scripts).
 */
export function movieLensFileKind(fileName: string): MovieLensFileKind | undefined {
  const base = (fileName.split(/[\\/]/).pop() ?? fileName).toLowerCase();
  if (/^u\.data$|^u[1-5a-b]\.(base|test)$|^ratings\.(dat|csv)$/.test(base)) return 'ratings';
  if (/^u\.item$|^movies\.(dat|csv)$/.test(base)) return 'items';
  if (/^u\.user$|^users\.dat$/.test(base)) return 'users';
  if (/^tags\.(dat|csv)$/.test(base)) return 'tags';
  if (base === 'links.csv') return 'links';
  if (base === 'genome-tags.csv') return 'genome-tags';
  if (base === 'genome-scores.csv') return 'genome-scores';
  if (base === 'u.genre') return 'genres';
  if (base === 'u.occupation') return 'occupations';
  if (base === 'u.info') return 'info';
  return undefined;
}

/** A parsed MovieLens file, tagged with its kind. */
export type MovieLensFile =
  | { kind: 'ratings'; dataset: RatingsDataset; report: RatingsLoadReport }
  | { kind: 'items'; items: ItemMetadata[] }
  | { kind: 'users'; users: UserMetadata[] }
  | { kind: 'tags'; tags: TagApplication[] }
  | { kind: 'links'; links: MovieLink[] }
  | { kind: 'genome-tags'; tags: { tagId: string; tag: string }[] }
  | { kind: 'genome-scores'; scores: GenomeScores }
  | { kind: 'genres'; genres: string[] }
  | { kind: 'occupations'; occupations: string[] }
  | { kind: 'info'; info: { users: number; items: number; ratings: number } };

/** Parses any data file of a MovieLens release, chosen by its name; throws naming the file when the name is not one. */
export function parseMovieLensFile(content: FileContent, options: { fileName: string; format?: MovieLensFormat }): MovieLensFile {
  const { fileName } = options;
  const kind = movieLensFileKind(fileName);
  switch (kind) {
    case 'ratings':
      return { kind, ...parseRatingsWithReport(content, options) };
    case 'items':
      return { kind, items: parseItems(content, options) };
    case 'users':
      return { kind, users: parseUsers(content, options) };
    case 'tags':
      return { kind, tags: /\.csv$/i.test(fileName) ? parseTagsCsv(content, options) : parseTagsDat(content, options) };
    case 'links':
      return { kind, links: parseLinks(content, options) };
    case 'genome-tags':
      return { kind, tags: parseGenomeTags(content, options) };
    case 'genome-scores':
      return { kind, scores: parseGenomeScores(content, options) };
    case 'genres':
      return { kind, genres: parseGenreList(content, options) };
    case 'occupations':
      return { kind, occupations: parseOccupationList(content, options) };
    case 'info':
      return { kind, info: parseInfo(content, options) };
    case undefined:
      throw new DataFormatError(
        fileName,
        undefined,
        'not a MovieLens data file name (u.data, u.item, u.user, ratings.dat, movies.csv, tags.csv, links.csv, genome-scores.csv ...)',
      );
  }
}
