/**
 * Thin node:fs wrappers around the pure parsers and writers: read a MovieLens file from disk,
 * or write a data set in a MovieLens layout. Error messages carry the path as given. Files are
 * read as a stream of 16 MB chunks, so neither a whole file's bytes nor its text is ever held
 * at once (ML-25M's ratings.csv is 678 MB, above V8's string limit of about 512 MB).
 */
import { closeSync, mkdirSync, openSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ItemMetadata, RatingsDataset } from '../types.ts';
import { type MovieLensFile, parseMovieLensFile } from './catalog-files.ts';
import { attachItems } from './dataset.ts';
import { type MovieLensFormat, parseItems, parseRatingsWithReport, type RatingsLoadReport } from './formats.ts';
import { formatMovieLensFiles } from './writers.ts';

const READ_CHUNK_BYTES = 1 << 24;

/** The bytes of a file as a stream of chunks (each a fresh buffer, read when asked for). */
export function* readFileChunks(path: string, chunkBytes = READ_CHUNK_BYTES): Generator<Uint8Array> {
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const buffer = new Uint8Array(chunkBytes);
      const read = readSync(fd, buffer, 0, chunkBytes, null);
      if (read === 0) return;
      yield read === chunkBytes ? buffer : buffer.subarray(0, read);
    }
  } finally {
    closeSync(fd);
  }
}

/** Reads a ratings file (u.data and its splits, ratings.dat, ratings.csv) and says what was merged. */
export function loadRatingsFileWithReport(path: string, options: { format?: MovieLensFormat } = {}): { dataset: RatingsDataset; report: RatingsLoadReport } {
  return parseRatingsWithReport(readFileChunks(path), { fileName: path, format: options.format });
}

/** Reads a ratings file (u.data, ratings.dat, ratings.csv); the format is detected unless given. */
export function loadRatingsFile(path: string, options: { format?: MovieLensFormat } = {}): RatingsDataset {
  return loadRatingsFileWithReport(path, options).dataset;
}

/** Reads an item file (u.item, movies.dat, movies.csv); the format is detected unless given. */
export function loadItemsFile(path: string, options: { format?: MovieLensFormat } = {}): ItemMetadata[] {
  return parseItems(readFileChunks(path), { fileName: path, format: options.format });
}

/** Reads any data file of a MovieLens release, chosen by its name (see ./catalog-files.ts). */
export function loadMovieLensFile(path: string, options: { format?: MovieLensFormat } = {}): MovieLensFile {
  return parseMovieLensFile(readFileChunks(path), { fileName: path, format: options.format });
}

/** Reads ratings and, when `itemsPath` is given, attaches the item metadata. */
export function loadMovieLens(options: { ratingsPath: string; itemsPath?: string; format?: MovieLensFormat; includeUnratedItems?: boolean }): RatingsDataset {
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
export function writeMovieLensFiles(directory: string, dataset: RatingsDataset, items: readonly ItemMetadata[], format: MovieLensFormat): WrittenFile[] {
  const files = formatMovieLensFiles(dataset, items, format);
  mkdirSync(directory, { recursive: true });
  return [files.ratings, files.items].map((file) => {
    const path = join(directory, file.name);
    writeFileSync(path, file.bytes);
    return { path, bytes: file.bytes.length };
  });
}
