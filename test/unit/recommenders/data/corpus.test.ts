import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { movieLensFileKind, parseMovieLensFile, type MovieLensFile } from '../../../../lambdas/domain/recommenders/data/catalog-files.ts';
import { loadMovieLensFile, loadRatingsFileWithReport, readFileChunks } from '../../../../lambdas/domain/recommenders/data/files.ts';
import { parseItems, parseRatingsWithReport } from '../../../../lambdas/domain/recommenders/data/formats.ts';

const CORPUS = join(import.meta.dirname, 'corpus');
const RELEASES = ['ml-100k', 'ml-1m', 'ml-10m', 'ml-25m', 'ml-latest-small'];
const corpusFiles = RELEASES.flatMap((release) => readdirSync(join(CORPUS, release)).map((name) => `${release}/${name}`)).sort();
const load = (file: string): MovieLensFile => loadMovieLensFile(join(CORPUS, file));
const bytesOf = (file: string): Uint8Array => new Uint8Array(readFileSync(join(CORPUS, file)));

/** Data lines of a corpus file (header and trailing blank lines excluded). */
function dataLines(file: string): number {
  const lines = Buffer.from(bytesOf(file))
    .toString('latin1')
    .split('\n')
    .filter((line) => line.replace(/\r$/, '') !== '');
  return file.endsWith('.csv') ? lines.length - 1 : lines.length;
}

/** Row count of whatever a parsed file holds. */
function rowsOf(parsed: MovieLensFile): number {
  switch (parsed.kind) {
    case 'ratings':
      return parsed.report.lines;
    case 'items':
      return parsed.items.length;
    case 'users':
      return parsed.users.length;
    case 'tags':
    case 'genome-tags':
      return parsed.tags.length;
    case 'links':
      return parsed.links.length;
    case 'genome-scores':
      return parsed.scores.relevance.length;
    case 'genres':
      return parsed.genres.length;
    case 'occupations':
      return parsed.occupations.length;
    case 'info':
      return 3;
  }
}

describe('the hand-written corpus of every MovieLens release file', () => {
  it.each(corpusFiles)('%s loads every line', (file) => {
    const parsed = load(file);
    expect([parsed.kind, rowsOf(parsed)]).toEqual([movieLensFileKind(file), dataLines(file)]);
  });

  it.each(corpusFiles)('%s loads the same with CRLF line ends and without the final newline', (file) => {
    const text = Buffer.from(bytesOf(file)).toString('latin1');
    const crlf = Uint8Array.from(Buffer.from(text.replace(/\r?\n/g, '\r\n').replace(/(\r\n)+$/, ''), 'latin1'));
    expect(parseMovieLensFile(crlf, { fileName: file })).toEqual(load(file));
  });

  it.each(corpusFiles)('%s loads the same when streamed in 7-byte chunks', (file) => {
    expect(parseMovieLensFile(readFileChunks(join(CORPUS, file), 7), { fileName: file })).toEqual(load(file));
  });
});

describe('quirks of the real files', () => {
  it('a stream in small chunks is detected from its first line, not from only its first chunk', () => {
    const bytes = bytesOf('ml-25m/movies.csv');
    const chunks = Array.from({ length: Math.ceil(bytes.length / 3) }, (_, k) => bytes.subarray(3 * k, 3 * k + 3));
    expect(parseItems(chunks, { fileName: 'no-extension' })).toEqual(parseItems(bytes, { fileName: 'movies.csv' }));
  });

  it('ML-100K u.item: a release date with a one-digit day (4-Feb-1971) gives its year when the title has none', () => {
    const items = parseItems('1346|Carried Away|4-Feb-1971||http://x|0|0|0|0|0|0|0|0|1|0|0|0|0|0|1|0|0|0|0\n', { fileName: 'u.item' });
    expect(items[0]).toEqual({ itemId: '1346', title: 'Carried Away', genres: ['Drama', 'Romance'], year: 1971 });
  });

  it('ML-100K u.item: the "unknown" item 267 with empty dates and URL loads without a year', () => {
    const items = (load('ml-100k/u.item') as Extract<MovieLensFile, { kind: 'items' }>).items;
    expect(items.find((item) => item.itemId === '267')).toEqual({ itemId: '267', title: 'unknown', genres: ['unknown'] });
  });

  it('ML-100K u.item: Latin-1 bytes in titles decode to their letters', () => {
    const items = (load('ml-100k/u.item') as Extract<MovieLensFile, { kind: 'items' }>).items;
    expect(items.find((item) => item.itemId === '1633')?.title).toBe('\u00c1 k\u00f6ldum klaka (Cold Fever) (1994)');
  });

  it('ML-1M movies.dat: a Latin-1 title decodes, and the same title in UTF-8 (ML-10M style) decodes the same', () => {
    const latin1 = parseItems(Uint8Array.from(Buffer.from('73::Mis\u00e9rables, Les (1995)::Drama|Musical\n', 'latin1')), { fileName: 'movies.dat' });
    const utf8 = parseItems(Uint8Array.from(Buffer.from('73::Mis\u00e9rables, Les (1995)::Drama|Musical\n', 'utf8')), { fileName: 'movies.dat' });
    expect([latin1[0].title, utf8[0].title]).toEqual(['Mis\u00e9rables, Les (1995)', 'Mis\u00e9rables, Les (1995)']);
  });

  it('ML-10M ratings.dat: half stars load on the 0.5..5 scale', () => {
    const { dataset } = loadRatingsFileWithReport(join(CORPUS, 'ml-10m/ratings.dat'));
    expect([dataset.ratingScale, Array.from(dataset.rating).filter((r) => !Number.isInteger(r))]).toEqual([
      [0.5, 5],
      [4.5, 0.5, 3.5],
    ]);
  });

  it('ML-1M ratings.dat keeps the 1..5 scale', () => {
    expect(loadRatingsFileWithReport(join(CORPUS, 'ml-1m/ratings.dat')).dataset.ratingScale).toEqual([1, 5]);
  });

  it('ML-10M movies.dat: "(no genres listed)" is no genre', () => {
    const items = (load('ml-10m/movies.dat') as Extract<MovieLensFile, { kind: 'items' }>).items;
    expect(items.find((item) => item.itemId === '8606')).toEqual({ itemId: '8606', title: 'Pull My Daisy (1958)', genres: [], year: 1958 });
  });

  it('movies.csv: quoted titles with commas and doubled quotes, UTF-8 letters, no year', () => {
    const items = (load('ml-25m/movies.csv') as Extract<MovieLensFile, { kind: 'items' }>).items;
    const byId = new Map(items.map((item) => [item.itemId, item]));
    expect([byId.get('11')?.title, byId.get('31145')?.title, byId.get('73')?.title, byId.get('171495')]).toEqual([
      'American President, The (1995)',
      '"Great Performances" Cats (1998)',
      'Mis\u00e9rables, Les (1995)',
      { itemId: '171495', title: 'Cosmos', genres: [] },
    ]);
  });

  it('repeated (user, item) rows keep the latest rating by timestamp and are counted, not refused', () => {
    const { dataset, report } = loadRatingsFileWithReport(join(CORPUS, 'ml-25m/ratings.csv'));
    const user2item11 = Array.from(dataset.rating).filter(
      (_, row) => dataset.userIds[dataset.userIndex[row]] === '2' && dataset.itemIds[dataset.itemIndex[row]] === '11',
    );
    expect([report.lines, report.duplicatesMerged, dataset.rating.length, user2item11]).toEqual([7, 1, 6, [4.5]]);
  });

  it('repeated rows: an earlier timestamp on a later line loses; equal timestamps keep the later line', () => {
    const older = parseRatingsWithReport('1\t2\t5\t900\n1\t2\t1\t800\n', { fileName: 'u.data' });
    const tie = parseRatingsWithReport('1\t2\t5\t900\n1\t2\t1\t900\n1\t2\t3\t900\n', { fileName: 'u.data' });
    expect([Array.from(older.dataset.rating), older.report.duplicatesMerged, Array.from(tie.dataset.rating), tie.report.duplicatesMerged]).toEqual([
      [5],
      1,
      [3],
      2,
    ]);
  });

  it('tags: a tag with a comma or quotes (tags.csv) and a tag containing "::" (tags.dat) are kept whole', () => {
    const csv = (load('ml-25m/tags.csv') as Extract<MovieLensFile, { kind: 'tags' }>).tags.map((tag) => tag.tag);
    const dat = parseMovieLensFile('15::4973::a::b::1215184630\n', { fileName: 'tags.dat' }) as Extract<MovieLensFile, { kind: 'tags' }>;
    expect([csv.slice(3), dat.tags[0]]).toEqual([
      ["so bad it's good, really", '"the dude" abides'],
      { userId: '15', itemId: '4973', tag: 'a::b', timestamp: 1215184630 },
    ]);
  });

  it('links.csv: an empty tmdbId is absent and IMDb ids keep their zeros', () => {
    const links = (load('ml-25m/links.csv') as Extract<MovieLensFile, { kind: 'links' }>).links;
    expect([links[0], links[3]]).toEqual([
      { itemId: '1', imdbId: '0114709', tmdbId: '862' },
      { itemId: '791', imdbId: '0113610' },
    ]);
  });

  it('u.user and users.dat give the same fields (users.dat has gender before age)', () => {
    const u = (load('ml-100k/u.user') as Extract<MovieLensFile, { kind: 'users' }>).users;
    const dat = (load('ml-1m/users.dat') as Extract<MovieLensFile, { kind: 'users' }>).users;
    expect([u[3], dat[0], dat[3].zipCode]).toEqual([
      { userId: '812', age: 22, gender: 'M', occupation: 'student', zipCode: 'T8H1N' },
      { userId: '1', age: 1, gender: 'F', occupation: '10', zipCode: '48067' },
      '55117-1234',
    ]);
  });

  it('u.genre (with its trailing blank line), u.occupation and u.info', () => {
    const genres = load('ml-100k/u.genre') as Extract<MovieLensFile, { kind: 'genres' }>;
    const info = load('ml-100k/u.info') as Extract<MovieLensFile, { kind: 'info' }>;
    expect([genres.genres.length, genres.genres[18], info.info]).toEqual([19, 'Western', { users: 943, items: 1682, ratings: 100000 }]);
  });

  it('genome-scores.csv loads into typed columns', () => {
    const { scores } = load('ml-25m/genome-scores.csv') as Extract<MovieLensFile, { kind: 'genome-scores' }>;
    expect([Array.from(scores.tagId), scores.relevance[2]]).toEqual([[1, 2, 3, 4], Math.fround(0.0625)]);
  });

  it('a multi-line quoted field is one record, numbered by the line it starts on', () => {
    const parsed = parseMovieLensFile('userId,movieId,tag,timestamp\n3,260,"two\nlines",1439472355\n3,261,x,1439472356\n', { fileName: 'tags.csv' });
    expect((parsed as Extract<MovieLensFile, { kind: 'tags' }>).tags.map((tag) => tag.tag)).toEqual(['two\nlines', 'x']);
  });
});

interface MalformedCase {
  file: string;
  content: string;
  error: string;
}

const malformed = JSON.parse(readFileSync(join(CORPUS, 'malformed', 'cases.json'), 'utf8')) as MalformedCase[];

describe('truly malformed lines are errors naming the file and line', () => {
  it.each(malformed.map((c) => [c.error, c] as const))('%s', (_, { file, content, error }) => {
    expect(() => parseMovieLensFile(Uint8Array.from(Buffer.from(content, 'utf8')), { fileName: file })).toThrow(error);
  });

  it('a file name that is not a MovieLens data file is refused by name', () => {
    expect(() => parseMovieLensFile('x', { fileName: 'README.txt' })).toThrow(/README\.txt: not a MovieLens data file name/);
  });
});
