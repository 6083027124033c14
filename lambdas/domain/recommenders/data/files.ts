/**
 * Thin node:fs wrappers around the pure parsers and writers: read a MovieLens file from disk,
 * or write a data set in a MovieLens layout. Error messages carry the path as given.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ItemMetadata, RatingsDataset } from '../types.ts';
import { attachItems } from './dataset.ts';
import { type MovieLensFormat, parseItems, parseRatings } from './formats.ts';
import { formatMovieLensFiles } from './writers.ts';

/** Reads a ratings file (u.data, ratings.dat, ratings.csv); the format is detected unless given. */
export function loadRatingsFile(path: string, options: { format?: MovieLensFormat } = {}): RatingsDataset {
  return parseRatings(readFileSync(path), { fileName: path, format: options.format });
}

/** Reads an item file (u.item, movies.dat, movies.csv); the format is detected unless given. */
export function loadItemsFile(path: string, options: { format?: MovieLensFormat } = {}): ItemMetadata[] {
  return parseItems(readFileSync(path), { fileName: path, format: options.format });
}

/** Reads ratings and, when `itemsPath` is given, attaches the item metadata. */
export function loadMovieLens(options: {
  ratingsPath: string;
  itemsPath?: string;
  format?: MovieLensFormat;
  includeUnratedItems?: boolean;
}): RatingsDataset {
  const dataset = loadRatingsFile(options.ratingsPath, { format: options.format });
  if (!options.itemsPath) return dataset;
  const items = loadItemsFile(options.itemsPath, { format: options.format });
  return attachItems(dataset, items, { includeUnratedItems: options.includeUnratedItems });
}

/** A file written to disk. */
export interface WrittenFile {
  path: string;
  bytes: number;
}

/** Writes the ratings and item files of `format` into `directory` (created if missing). */
export function writeMovieLensFiles(
  directory: string,
  dataset: RatingsDataset,
  items: readonly ItemMetadata[],
  format: MovieLensFormat,
): WrittenFile[] {
  const files = formatMovieLensFiles(dataset, items, format);
  mkdirSync(directory, { recursive: true });
  return [files.ratings, files.items].map((file) => {
    const path = join(directory, file.name);
    writeFileSync(path, file.bytes);
    return { path, bytes: file.bytes.length };
  });
}
