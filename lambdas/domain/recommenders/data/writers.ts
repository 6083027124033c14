/**
 * Writers for the MovieLens formats, byte-exact to what the parsers in ./formats.ts read:
 * u.data / u.item (Latin-1), ratings.dat / movies.dat (Latin-1), ratings.csv / movies.csv
 * (UTF-8, RFC 4180 quoting). Lines end in "\n", as in the GroupLens files. Pure: they return
 * bytes, and ./files.ts puts them on disk.
 */
import type { ItemMetadata, RatingsDataset } from '../types.ts';
import { ML_100K_GENRES, ML_LATEST_NO_GENRES, MOVIELENS_FILE_NAMES, type MovieLensFormat, encodeLatin1, formatCsvField } from './formats.ts';

/** The two files of a format: names as GroupLens uses them and their content. */
export interface MovieLensFiles {
  ratings: { name: string; bytes: Uint8Array };
  items: { name: string; bytes: Uint8Array };
}

/** Both files of `format` for a data set and its catalogue. */
export function formatMovieLensFiles(dataset: RatingsDataset, items: readonly ItemMetadata[], format: MovieLensFormat): MovieLensFiles {
  const names = MOVIELENS_FILE_NAMES[format];
  return {
    ratings: { name: names.ratings, bytes: formatRatings(dataset, format) },
    items: { name: names.items, bytes: formatItems(items, format) },
  };
}

/** The ratings file of `format`, rows in data set order. */
export function formatRatings(dataset: RatingsDataset, format: MovieLensFormat): Uint8Array {
  const lines: string[] = format === 'ml-latest' ? ['userId,movieId,rating,timestamp'] : [];
  const separator = format === 'ml-100k' ? '\t' : format === 'ml-1m' ? '::' : ',';
  for (let row = 0; row < dataset.rating.length; row++) {
    const user = checkedId(dataset.userIds[dataset.userIndex[row]], 'user id', row);
    const item = checkedId(dataset.itemIds[dataset.itemIndex[row]], 'item id', row);
    const rating = formatRatingValue(dataset.rating[row], format, row);
    const timestamp = dataset.timestamp[row];
    if (!Number.isInteger(timestamp) || timestamp < 0) throw new Error(`row ${row}: timestamp ${timestamp} is not a non-negative integer`);
    lines.push(`${user}${separator}${item}${separator}${rating}${separator}${timestamp}`);
  }
  const text = lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  return format === 'ml-latest' ? new TextEncoder().encode(text) : encodeLatin1(text, MOVIELENS_FILE_NAMES[format].ratings);
}

function checkedId(id: string, what: string, row: number): string {
  if (!/^[0-9]+$/.test(id)) throw new Error(`row ${row}: ${what} "${id}" is not a non-negative integer, as MovieLens files require`);
  return id;
}

function formatRatingValue(rating: number, format: MovieLensFormat, row: number): string {
  if (format === 'ml-latest') {
    if (!(rating >= 0.5 && rating <= 5 && Number.isInteger(rating * 2))) throw new Error(`row ${row}: rating ${rating} is not a half star from 0.5 to 5`);
    return rating.toFixed(1);
  }
  if (!(Number.isInteger(rating) && rating >= 1 && rating <= 5)) throw new Error(`row ${row}: rating ${rating} is not an integer from 1 to 5`);
  return String(rating);
}

/** The item file of `format`, items in the given order. */
export function formatItems(items: readonly ItemMetadata[], format: MovieLensFormat): Uint8Array {
  const name = MOVIELENS_FILE_NAMES[format].items;
  switch (format) {
    case 'ml-100k':
      return encodeLatin1(joinLines(items.map(uItemLine)), name);
    case 'ml-1m':
      return encodeLatin1(joinLines(items.map(moviesDatLine)), name);
    case 'ml-latest':
      return new TextEncoder().encode(joinLines(['movieId,title,genres', ...items.map(moviesCsvLine)]));
  }
}

function joinLines(lines: string[]): string {
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

function uItemLine(item: ItemMetadata): string {
  const id = checkedItemId(item);
  rejectIn(item, ['|', '\n', '\r']);
  const flags = ML_100K_GENRES.map((genre) => (item.genres.includes(genre) ? '1' : '0'));
  const unknown = item.genres.filter((genre) => !(ML_100K_GENRES as readonly string[]).includes(genre));
  if (unknown.length > 0) throw new Error(`item ${id}: genre "${unknown[0]}" is not one of the 19 ML-100K genres`);
  // ML-100K mostly dates films 01-Jan of their year; the URL is IMDb's title search.
  const releaseDate = item.year === undefined ? '' : `01-Jan-${item.year}`;
  const url = item.title === 'unknown' ? '' : `http://us.imdb.com/M/title-exact?${encodeURIComponent(item.title)}`;
  return [id, item.title, releaseDate, '', url, ...flags].join('|');
}

function moviesDatLine(item: ItemMetadata): string {
  const id = checkedItemId(item);
  rejectIn(item, ['::', '\n', '\r']);
  return `${id}::${item.title}::${item.genres.join('|')}`;
}

function moviesCsvLine(item: ItemMetadata): string {
  const id = checkedItemId(item);
  const genres = item.genres.length === 0 ? ML_LATEST_NO_GENRES : item.genres.join('|');
  return `${id},${formatCsvField(item.title)},${formatCsvField(genres)}`;
}

function checkedItemId(item: ItemMetadata): string {
  if (!/^[0-9]+$/.test(item.itemId)) throw new Error(`item id "${item.itemId}" is not a non-negative integer, as MovieLens files require`);
  return item.itemId;
}

function rejectIn(item: ItemMetadata, separators: string[]): void {
  for (const text of [item.title, ...item.genres]) {
    for (const separator of separators) {
      if (text.includes(separator)) throw new Error(`item ${item.itemId}: "${text}" contains the separator ${JSON.stringify(separator)}`);
    }
  }
}
