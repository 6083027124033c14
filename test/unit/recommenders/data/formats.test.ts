import { describe, expect, it } from 'vitest';
import { DataFormatError, detectFormat, parseItems, parseRatings, parseRatingsWithReport } from '../../../../lambdas/domain/recommenders/data/formats.ts';

const latin1 = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'latin1'));
const utf8 = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'utf8'));
const flags = (...on: number[]): string => Array.from({ length: 19 }, (_, g) => (on.includes(g) ? '1' : '0')).join('|');

describe('parseRatings, ml-100k u.data', () => {
  const uData = '196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t1\t878887116\n';

  it('indexes users and items densely in first-seen order', () => {
    const dataset = parseRatings(uData, { fileName: 'u.data' });
    expect({ users: dataset.userIds, items: dataset.itemIds, userIndex: Array.from(dataset.userIndex), itemIndex: Array.from(dataset.itemIndex) }).toEqual({
      users: ['196', '186'],
      items: ['242', '302'],
      userIndex: [0, 1, 0],
      itemIndex: [0, 1, 1],
    });
  });

  it('keeps ratings, timestamps and the 1..5 scale', () => {
    const dataset = parseRatings(latin1(uData), { fileName: 'u.data' });
    expect([Array.from(dataset.rating), Array.from(dataset.timestamp), dataset.ratingScale]).toEqual([
      [3, 3, 1],
      [881250949, 891717742, 878887116],
      [1, 5],
    ]);
  });

  it('accepts CRLF line ends and a missing final newline', () => {
    expect(parseRatings('1\t2\t3\t4\r\n5\t6\t5\t8', { fileName: 'u.data' }).rating.length).toBe(2);
  });

  it('ignores blank lines at the end of the file', () => {
    expect(parseRatings('1\t2\t3\t4\n\n\n', { fileName: 'u.data' }).rating.length).toBe(1);
  });

  it('names the file and line of a row with too few fields', () => {
    expect(() => parseRatings('1\t2\t3\t4\n1\t3\t5\n', { fileName: 'u.data' })).toThrow(
      'u.data line 2: expected 4 tab-separated fields (user id, item id, rating, timestamp), found 3',
    );
  });

  it('rejects a rating outside 1..5', () => {
    expect(() => parseRatings('1\t2\t6\t4\n', { fileName: 'u.data' })).toThrow('u.data line 1: rating "6" is not an integer between 1 and 5');
  });

  it('rejects a non-integer timestamp', () => {
    expect(() => parseRatings('1\t2\t3\t4.5\n', { fileName: 'u.data' })).toThrow(/u\.data line 1: timestamp "4\.5"/);
  });

  it('rejects an empty line inside the file instead of skipping it', () => {
    expect(() => parseRatings('1\t2\t3\t4\n\n1\t3\t3\t4\n', { fileName: 'u.data' })).toThrow('u.data line 2: empty line');
  });

  it("keeps the latest of a user's repeated ratings of an item and counts the merge", () => {
    const { dataset, report } = parseRatingsWithReport('1\t2\t3\t4\n1\t3\t3\t4\n1\t2\t5\t9\n', { fileName: 'u.data' });
    expect([Array.from(dataset.itemIndex), Array.from(dataset.rating), report.duplicatesMerged, report.lines]).toEqual([[1, 0], [3, 5], 1, 3]);
  });

  it('throws a DataFormatError carrying file and line', () => {
    const error = (() => {
      try {
        parseRatings('x\t2\t3\t4\n', { fileName: 'u.data' });
      } catch (caught) {
        return caught;
      }
    })() as DataFormatError;
    expect([error instanceof DataFormatError, error.fileName, error.line]).toEqual([true, 'u.data', 1]);
  });
});

describe('parseItems, ml-100k u.item', () => {
  const uItem =
    `1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|${flags(3, 4, 5)}\n` +
    `267|unknown||||${flags(0)}\n` +
    `1300|Caf\u00e9 au lait|01-Jan-1993||http://us.imdb.com/M/title-exact?Metisse|${flags(5)}\n`;

  it('turns the 19 genre flags into genre names in file order', () => {
    expect(parseItems(latin1(uItem), { fileName: 'u.item' })[0]).toEqual({
      itemId: '1',
      title: 'Toy Story (1995)',
      genres: ['Animation', "Children's", 'Comedy'],
      year: 1995,
    });
  });

  it('keeps an "unknown" item with empty dates and no year', () => {
    expect(parseItems(latin1(uItem), { fileName: 'u.item' })[1]).toEqual({ itemId: '267', title: 'unknown', genres: ['unknown'] });
  });

  it('decodes Latin-1 bytes and takes the year from the release date when the title has none', () => {
    expect(parseItems(latin1(uItem), { fileName: 'u.item' })[2]).toMatchObject({ title: 'Caf\u00e9 au lait', year: 1993 });
  });

  it('decodes as ISO-8859-1, not windows-1252 (0x92 stays U+0092)', () => {
    const bytes = latin1(`5|It\u0092s (1990)||||${flags(8)}\n`);
    expect(parseItems(bytes, { fileName: 'u.item' })[0].title).toBe('It\u0092s (1990)');
  });

  it('rejects a genre flag that is not 0 or 1', () => {
    const line = `1|A (1995)|01-Jan-1995||url|${flags(1).replace(/^0/, '2')}\n`;
    expect(() => parseItems(line, { fileName: 'u.item' })).toThrow('u.item line 1: genre flag 1 (unknown) is "2", expected 0 or 1');
  });

  it('rejects a line with a missing field', () => {
    expect(() => parseItems(`1|A (1995)|01-Jan-1995|url|${flags(1)}\n`, { fileName: 'u.item' })).toThrow(/u\.item line 1: expected 24 "\|"-separated fields/);
  });

  it('rejects a malformed release date', () => {
    expect(() => parseItems(`1|A|1995-01-01||url|${flags(1)}\n`, { fileName: 'u.item' })).toThrow(/u\.item line 1: release date "1995-01-01"/);
  });

  it('rejects a duplicate item id', () => {
    const line = `7|A (1995)|||url|${flags(1)}\n`;
    expect(() => parseItems(line + line, { fileName: 'u.item' })).toThrow('u.item line 2: duplicate item id 7 (first given on line 1)');
  });
});

describe('ml-1m ratings.dat and movies.dat', () => {
  it('parses "::"-separated ratings', () => {
    const dataset = parseRatings('1::1193::5::978300760\n1::661::3::978302109\n', { fileName: 'ratings.dat' });
    expect([dataset.userIds, dataset.itemIds, Array.from(dataset.rating)]).toEqual([['1'], ['1193', '661'], [5, 3]]);
  });

  it('parses movies with "|"-joined genres from Latin-1 bytes', () => {
    const items = parseItems(latin1("1::Toy Story (1995)::Animation|Children's|Comedy\n73::Mis\u00e9rables, Les (1995)::Drama|Musical\n"), {
      fileName: 'movies.dat',
    });
    expect(items).toEqual([
      { itemId: '1', title: 'Toy Story (1995)', genres: ['Animation', "Children's", 'Comedy'], year: 1995 },
      { itemId: '73', title: 'Mis\u00e9rables, Les (1995)', genres: ['Drama', 'Musical'], year: 1995 },
    ]);
  });

  it('names the line with a wrong number of fields', () => {
    expect(() => parseItems('1::Toy Story (1995)::Comedy\n2::Jumanji (1995)\n', { fileName: 'movies.dat' })).toThrow(
      'movies.dat line 2: expected 3 "::"-separated fields (id, title, genres), found 2',
    );
  });
});

describe('ml-latest ratings.csv and movies.csv', () => {
  it('parses half-star ratings after the header with the 0.5..5 scale', () => {
    const dataset = parseRatings('userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,3.5,964981247\n', { fileName: 'ratings.csv' });
    expect([Array.from(dataset.rating), dataset.ratingScale]).toEqual([
      [4, 3.5],
      [0.5, 5],
    ]);
  });

  it('rejects a rating that is not a half star', () => {
    expect(() => parseRatings('userId,movieId,rating,timestamp\n1,1,4.2,964982703\n', { fileName: 'ratings.csv' })).toThrow(
      'ratings.csv line 2: rating "4.2" is not a half-star value between 0.5 and 5',
    );
  });

  it('requires the header when the format is forced', () => {
    expect(() => parseRatings('1,1,4.0,964982703\n', { fileName: 'r.csv', format: 'ml-latest' })).toThrow(
      'r.csv line 1: expected header "userId,movieId,rating,timestamp", found "1,1,4.0,964982703"',
    );
  });

  const moviesCsv =
    'movieId,title,genres\r\n' +
    '11,"American President, The (1995)",Comedy|Drama|Romance\r\n' +
    '1909,"The ""X"" Files (1998)",Action|Crime\r\n' +
    '5000,Am\u00e9lie (2001),(no genres listed)\r\n' +
    '6000,Clerks (1994–1995),Comedy\r\n';

  it('reads quoted titles with commas', () => {
    expect(parseItems(utf8(moviesCsv), { fileName: 'movies.csv' })[0]).toEqual({
      itemId: '11',
      title: 'American President, The (1995)',
      genres: ['Comedy', 'Drama', 'Romance'],
      year: 1995,
    });
  });

  it('reads doubled quotes inside quoted titles', () => {
    expect(parseItems(utf8(moviesCsv), { fileName: 'movies.csv' })[1].title).toBe('The "X" Files (1998)');
  });

  it('decodes UTF-8 and maps "(no genres listed)" to no genres', () => {
    expect(parseItems(utf8(moviesCsv), { fileName: 'movies.csv' })[2]).toEqual({ itemId: '5000', title: 'Am\u00e9lie (2001)', genres: [], year: 2001 });
  });

  it('takes the first year of a year range', () => {
    expect(parseItems(utf8(moviesCsv), { fileName: 'movies.csv' })[3].year).toBe(1994);
  });

  it('counts the lines of a multi-line quoted title when naming a later error', () => {
    const text = 'movieId,title,genres\n1,"Two\nLines (1990)",Drama\n2,Bad "quote (1991),Drama\n';
    expect(() => parseItems(text, { fileName: 'movies.csv' })).toThrow('movies.csv line 4: field "Bad "quote (1991)" contains a quote but is not quoted');
  });

  it('accepts a final CRLF-style record that ends in a lone carriage return', () => {
    expect(parseItems('movieId,title,genres\r\n1,"A, B (1990)",Drama\r', { fileName: 'movies.csv' })[0].genres).toEqual(['Drama']);
  });

  it('names the line where an unterminated quote starts', () => {
    expect(() => parseItems('movieId,title,genres\n1,"Open (1990),Drama\n', { fileName: 'movies.csv' })).toThrow(
      'movies.csv line 2: unterminated quoted field',
    );
  });

  it('rejects text after a closing quote', () => {
    expect(() => parseItems('movieId,title,genres\n1,"A"b,Drama\n', { fileName: 'movies.csv' })).toThrow(
      'movies.csv line 2: unexpected character "b" after a closing quote',
    );
  });

  it('rejects invalid UTF-8 with the line number', () => {
    const bytes = new Uint8Array([...utf8('userId,movieId,rating,timestamp\n'), ...utf8('1,2,'), 0xff, ...utf8(',5\n')]);
    expect(() => parseRatings(bytes, { fileName: 'ratings.csv' })).toThrow('ratings.csv line 2: invalid UTF-8 bytes');
  });
});

describe('detectFormat', () => {
  it.each([
    ['ratings', '196\t242\t3\t881250949', 'x', 'ml-100k'],
    ['ratings', '1::1193::5::978300760', 'x', 'ml-1m'],
    ['ratings', 'userId,movieId,rating,timestamp', 'x', 'ml-latest'],
    ['items', '1|Toy Story (1995)|01-Jan-1995||url|0', 'x', 'ml-100k'],
    ['items', '1::Toy Story (1995)::Comedy', 'x', 'ml-1m'],
    ['items', 'movieId,title,genres', 'x', 'ml-latest'],
    ['ratings', '1 2 3 4', 'data/ratings.csv', 'ml-latest'],
    ['ratings', '1 2 3 4', 'ml-1m/ratings.dat', 'ml-1m'],
    ['ratings', '1 2 3 4', 'ml-100k/u1.base', 'ml-100k'],
  ] as const)('reads a %s file starting "%s" (named %s) as %s', (kind, line, name, format) => {
    expect(detectFormat(kind, line, name)).toBe(format);
  });

  it('asks for a format when neither content nor name tells', () => {
    expect(() => detectFormat('ratings', '1 2 3 4', 'ratings.txt')).toThrow(/ratings\.txt line 1: cannot detect the MovieLens format/);
  });
});
