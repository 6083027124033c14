/**
 * Content-based recommender: TF-IDF over genres and title words, cosine similarity between a
 * user's taste profile and each item. The profile is the mean of the (unit-length) TF-IDF
 * vectors of the items the user liked, so a score is a factor dot product:
 * itemFactors = unit TF-IDF vectors, userFactors = unit profile, and the score is the cosine.
 */
import type { FactorModel, ItemMetadata, RatingsDataset } from '../types.ts';
import { assembleModel, HyperparameterError, summariseTraining, type TrainOptions } from './common.ts';

export interface ContentParams {
  /** Keep at most this many terms (genres first, then the most frequent title words). */
  maxTerms: number;
  /** Ratings at or above this count as liked; users with none use all their items. */
  likeThreshold: number;
  /** Weight of genre terms relative to title words (genres carry most of the signal). */
  genreWeight: number;
  /** Title words seen in fewer items are dropped (they cannot link two items). */
  minDocumentFrequency: number;
}

export const CONTENT_DEFAULTS: ContentParams = { maxTerms: 256, likeThreshold: 4, genreWeight: 2, minDocumentFrequency: 2 };

const STOP_WORDS = new Set(['the', 'a', 'an', 'of', 'and', 'in', 'on', 'to', 'for', 'la', 'le', 'les', 'de', 'il', 'el', 'ii', 'iii']);

/** Terms of one item: `genre:<name>` for each genre, lower-case title words without the year. */
export function itemTerms(item: ItemMetadata): { genres: string[]; words: string[] } {
  const title = item.title.replace(/\(\d{4}\)\s*$/, '').toLowerCase();
  const words = (title.match(/[\p{L}\p{N}]+/gu) ?? []).filter((word) => word.length > 1 && !STOP_WORDS.has(word) && !/^\d+$/.test(word));
  return { genres: item.genres.map((genre) => `genre:${genre.toLowerCase()}`), words: [...new Set(words)] };
}

/** The vocabulary: all genres, then title words by document frequency, capped at maxTerms. */
export function buildVocabulary(items: (ItemMetadata | undefined)[], settings: ContentParams): string[] {
  const genreFrequency = new Map<string, number>();
  const wordFrequency = new Map<string, number>();
  for (const item of items) {
    if (!item) continue;
    const { genres, words } = itemTerms(item);
    for (const genre of new Set(genres)) genreFrequency.set(genre, (genreFrequency.get(genre) ?? 0) + 1);
    for (const word of words) wordFrequency.set(word, (wordFrequency.get(word) ?? 0) + 1);
  }
  const byFrequency = (a: [string, number], b: [string, number]): number => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  const genres = [...genreFrequency].sort(byFrequency).map(([term]) => term);
  const words = [...wordFrequency]
    .filter(([, count]) => count >= settings.minDocumentFrequency)
    .sort(byFrequency)
    .map(([term]) => term);
  return [...genres, ...words].slice(0, settings.maxTerms);
}

/** Unit-length TF-IDF vectors (items x terms), zero rows for items without metadata. */
export function tfidfMatrix(items: (ItemMetadata | undefined)[], itemCount: number, vocabulary: string[], settings: ContentParams): Float32Array {
  const d = vocabulary.length;
  const column = new Map(vocabulary.map((term, index) => [term, index]));
  const documentFrequency = new Float64Array(d);
  const termLists: number[][] = [];
  let documents = 0;
  for (let i = 0; i < itemCount; i++) {
    const item = items[i];
    const list: number[] = [];
    if (item) {
      documents++;
      const { genres, words } = itemTerms(item);
      for (const term of [...new Set(genres), ...words]) {
        const c = column.get(term);
        if (c !== undefined) list.push(c);
      }
      for (const c of list) documentFrequency[c]++;
    }
    termLists.push(list);
  }
  const matrix = new Float32Array(itemCount * d);
  for (let i = 0; i < itemCount; i++) {
    let norm = 0;
    for (const c of termLists[i]) {
      const weight = (vocabulary[c].startsWith('genre:') ? settings.genreWeight : 1) * Math.log((1 + documents) / (1 + documentFrequency[c]) + 1);
      matrix[i * d + c] = weight;
      norm += weight * weight;
    }
    if (norm > 0) {
      const scale = 1 / Math.sqrt(norm);
      for (const c of termLists[i]) matrix[i * d + c] *= scale;
    }
  }
  return matrix;
}

/** Trains the content model. Needs item metadata (an item file). */
export function trainContent(dataset: RatingsDataset, params: Partial<ContentParams> = {}, options: TrainOptions = {}): FactorModel {
  const settings: ContentParams = { ...CONTENT_DEFAULTS, ...params };
  if (!Number.isInteger(settings.maxTerms) || settings.maxTerms < 1)
    throw new HyperparameterError(`hyperparameter maxTerms must be a positive integer, got ${settings.maxTerms}`);
  const items = dataset.items;
  if (!items?.some((item) => item !== undefined)) {
    throw new Error('the content model needs item metadata (genres and titles): load an item file (--items)');
  }
  const summary = summariseTraining(dataset, options.source);
  const vocabulary = buildVocabulary(items, settings);
  const d = vocabulary.length;
  const itemCount = dataset.itemIds.length;
  const users = dataset.userIds.length;
  const itemFactors = tfidfMatrix(items, itemCount, vocabulary, settings);
  const profiles = new Float64Array(users * d);
  const liked = new Float64Array(users);
  const { userIndex, itemIndex, rating } = dataset;
  for (let pass = 0; pass < 2; pass++) {
    // Pass 0 adds liked items; pass 1 adds all items for users who liked none.
    for (let r = 0; r < rating.length; r++) {
      const u = userIndex[r];
      const isLiked = rating[r] >= settings.likeThreshold;
      if (pass === 0 ? !isLiked : liked[u] > 0) continue;
      if (pass === 0) liked[u]++;
      const ib = itemIndex[r] * d;
      const ub = u * d;
      for (let c = 0; c < d; c++) profiles[ub + c] += itemFactors[ib + c];
    }
  }
  const userFactors = new Float32Array(users * d);
  for (let u = 0; u < users; u++) {
    // The mean and the sum point the same way; unit length makes the score a cosine.
    let norm = 0;
    for (let c = 0; c < d; c++) norm += profiles[u * d + c] ** 2;
    if (norm === 0) continue;
    const scale = 1 / Math.sqrt(norm);
    for (let c = 0; c < d; c++) userFactors[u * d + c] = profiles[u * d + c] * scale;
  }
  options.onProgress?.({ algorithm: 'content', step: 1, totalSteps: 1 });
  return assembleModel(
    dataset,
    summary,
    {
      algorithm: 'content',
      factors: d,
      userFactors,
      itemFactors,
      userBias: new Float32Array(users),
      itemBias: new Float32Array(itemCount),
      globalBias: 0,
      hyperparameters: { ...settings, vocabulary: vocabulary.join('|') },
    },
    options,
  );
}
