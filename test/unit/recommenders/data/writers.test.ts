import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { attachItems } from '../../../../lambdas/domain/recommenders/data/dataset.ts';
import { loadItemsFile, loadMovieLens, loadRatingsFile, writeMovieLensFiles } from '../../../../lambdas/domain/recommenders/data/files.ts';
import { MOVIELENS_FORMATS, parseItems, parseRatings } from '../../../../lambdas/domain/recommenders/data/formats.ts';
import { generateSyntheticMovieLens } from '../../../../lambdas/domain/recommenders/data/synthetic.ts';
import { formatItems, formatMovieLensFiles, formatRatings } from '../../../../lambdas/domain/recommenders/data/writers.ts';

const { dataset, items } = generateSyntheticMovieLens({ users: 60, items: 150, ratings: 2400, seed: 11 });
const directory = mkdtempSync(join(tmpdir(), 'abrec-writers-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('writers round-trip through the loaders', () => {
  it.each(MOVIELENS_FORMATS)('%s ratings and items read back to the same data set', (format) => {
    const files = formatMovieLensFiles(dataset, items, format);
    const ratings = parseRatings(files.ratings.bytes, { fileName: files.ratings.name });
    const loaded = attachItems(ratings, parseItems(files.items.bytes, { fileName: files.items.name }));
    const scale: [number, number] = format === 'ml-latest' ? [0.5, 5] : [1, 5];
    expect(loaded).toEqual({ ...dataset, ratingScale: scale });
  });

  it.each(MOVIELENS_FORMATS)('%s items read back to the whole catalogue', (format) => {
    const files = formatMovieLensFiles(dataset, items, format);
    expect(parseItems(files.items.bytes, { fileName: files.items.name })).toEqual(items);
  });
});

describe('exact file layouts', () => {
  const item = { itemId: '3', title: 'Café, The (1995)', genres: ['Action', 'Western'], year: 1995 };

  it('writes a u.item line with 19 flags and the title in Latin-1', () => {
    const bytes = formatItems([item], 'ml-100k');
    expect(Buffer.from(bytes).toString('latin1')).toBe(
      '3|Café, The (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Caf%C3%A9%2C%20The%20(1995)|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|1\n',
    );
  });

  it('encodes é as the single Latin-1 byte 0xE9', () => {
    expect(Array.from(formatItems([item], 'ml-1m')).includes(0xe9)).toBe(true);
  });

  it('quotes an ml-latest title with a comma or quote, doubling the quote', () => {
    const text = new TextDecoder().decode(formatItems([{ ...item, title: 'Say "Hi", Café (1990)' }], 'ml-latest'));
    expect(text).toBe('movieId,title,genres\n3,"Say ""Hi"", Café (1990)",Action|Western\n');
  });

  it('writes ml-latest ratings with a header and one decimal', () => {
    const text = new TextDecoder().decode(formatRatings(dataset, 'ml-latest'));
    expect(text.split('\n')[0]).toBe('userId,movieId,rating,timestamp');
    expect(text.split('\n')[1]).toMatch(/^\d+,\d+,[1-5]\.0,\d+$/);
  });

  it('rejects a title Latin-1 cannot encode', () => {
    expect(() => formatItems([{ ...item, title: 'Smile ☺ (1990)' }], 'ml-100k')).toThrow(/u\.item: character "☺" \(U\+263A\) cannot be written in Latin-1/);
  });

  it('rejects a genre outside the 19 ML-100K genres for u.item', () => {
    expect(() => formatItems([{ ...item, genres: ['IMAX'] }], 'ml-100k')).toThrow('item 3: genre "IMAX" is not one of the 19 ML-100K genres');
  });

  it('rejects a half-star rating in an integer format', () => {
    const halfStar = { ...dataset, rating: Float32Array.from(dataset.rating, (r, row) => (row === 0 ? 3.5 : r)) };
    expect(() => formatRatings(halfStar, 'ml-100k')).toThrow('row 0: rating 3.5 is not an integer from 1 to 5');
  });
});

describe('node:fs wrappers', () => {
  it('write the GroupLens file names and load them back', () => {
    const out = join(directory, 'ml-100k');
    const written = writeMovieLensFiles(out, dataset, items, 'ml-100k');
    const loaded = loadMovieLens({ ratingsPath: written[0].path, itemsPath: written[1].path });
    expect([written.map((file) => file.path), loaded]).toEqual([[join(out, 'u.data'), join(out, 'u.item')], dataset]);
  });

  it('name the path and line of a malformed line', () => {
    const path = join(directory, 'bad.data');
    writeFileSync(path, '1\t2\t3\t4\n1\t2\n');
    expect(() => loadRatingsFile(path, { format: 'ml-100k' })).toThrow(`${path} line 2: expected 4 tab-separated fields`);
  });

  it('load an item file with a forced format', () => {
    const path = join(directory, 'movies.txt');
    writeFileSync(path, '1::Toy Story (1995)::Comedy\n');
    expect(loadItemsFile(path, { format: 'ml-1m' })).toEqual([{ itemId: '1', title: 'Toy Story (1995)', genres: ['Comedy'], year: 1995 }]);
  });

  it('write byte-identical files for the same seed', () => {
    const again = generateSyntheticMovieLens({ users: 60, items: 150, ratings: 2400, seed: 11 });
    const first = writeMovieLensFiles(join(directory, 'a'), dataset, items, 'ml-1m');
    const second = writeMovieLensFiles(join(directory, 'b'), again.dataset, again.items, 'ml-1m');
    expect(first.map((file) => readFileSync(file.path))).toEqual(second.map((file) => readFileSync(file.path)));
  });
});
