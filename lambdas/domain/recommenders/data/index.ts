/**
 * MovieLens data for the recommender domain: parsers and writers for the GroupLens formats,
 * cleaning and splits, a seeded synthetic generator and the PRNG everything shares.
 * Pure (no I/O): the node:fs wrappers live in ./files.ts.
 */
export {
  RatingsBuilder,
  attachItems,
  ratingCount,
  ratingsByItem,
  ratingsByUser,
  subsetRatings,
  summarizeDataset,
  type AttachItemsOptions,
  type Csr,
  type DatasetSummary,
} from './dataset.ts';
export {
  DataFormatError,
  ML_100K_GENRES,
  ML_LATEST_NO_GENRES,
  MOVIELENS_FILE_NAMES,
  MOVIELENS_FORMATS,
  MOVIELENS_RATING_SCALE,
  decodeLatin1,
  detectFormat,
  encodeLatin1,
  formatCsvField,
  parseItems,
  parseRatings,
  parseRatingsWithReport,
  type FileContent,
  type MovieLensFormat,
  type ParseOptions,
  type RatingsLoadReport,
} from './formats.ts';
export {
  movieLensFileKind,
  parseGenomeScores,
  parseGenomeTags,
  parseGenreList,
  parseInfo,
  parseLinks,
  parseMovieLensFile,
  parseOccupationList,
  parseTagsCsv,
  parseTagsDat,
  parseUsers,
  type GenomeScores,
  type MovieLensFile,
  type MovieLensFileKind,
  type MovieLink,
  type TagApplication,
  type UserMetadata,
} from './catalog-files.ts';
export { deriveSeed, fillGaussian, mulberry32, normalStream, randomInt, randomPermutation, sfc32, shuffleInPlace, standardNormal, type Random } from './random.ts';
export {
  filterMinRatings,
  kFoldSplits,
  leaveLastNSplit,
  perUserTemporalSplit,
  splitDataset,
  stratifiedRatioSplit,
  temporalSplit,
  type CleaningResult,
  type MinRatingsOptions,
  type Split,
} from './splits.ts';
export {
  DEFAULT_SYNTHETIC_TUNING,
  ML_100K_RATING_SHARES,
  ML_100K_SIZE,
  ML_1M_SIZE,
  defaultSyntheticConfig,
  generateSyntheticMovieLens,
  type ProgressCallback,
  type SyntheticConfig,
  type SyntheticMovieLens,
  type SyntheticTuning,
} from './synthetic.ts';
export { formatItems, formatMovieLensFiles, formatRatings, type MovieLensFiles } from './writers.ts';
