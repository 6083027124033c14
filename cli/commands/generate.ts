/**
 * `abrec generate`: writes seeded synthetic MovieLens-like data in a GroupLens file layout
 * (u.data + u.item by default), for the demo, tests and benchmarks.
 */
import { numberOption, parseCommandArgs, UsageError, type CliCommand, type CliIO } from '../command.ts';
import { summarizeDataset } from '../../lambdas/domain/recommenders/data/dataset.ts';
import { writeMovieLensFiles } from '../../lambdas/domain/recommenders/data/files.ts';
import { MOVIELENS_FORMATS, type MovieLensFormat } from '../../lambdas/domain/recommenders/data/formats.ts';
import { ML_100K_SIZE, generateSyntheticMovieLens, type SyntheticConfig } from '../../lambdas/domain/recommenders/data/synthetic.ts';

/** Above this many ratings the command reports progress on stderr. */
const PROGRESS_THRESHOLD = 200_000;

const HELP = `Usage:
  abrec generate --out DIR [--users N] [--items M] [--ratings R] [--seed S]
                 [--format ml-100k|ml-1m|ml-latest] [--min-user-ratings K] [--json]

Writes seeded synthetic MovieLens-like ratings and items in a GroupLens file layout:
  ml-100k    u.data (tab-separated) and u.item (pipe-separated, Latin-1)   (default)
  ml-1m      ratings.dat and movies.dat ("::"-separated, Latin-1)
  ml-latest  ratings.csv and movies.csv (with header, UTF-8)
Long-tailed item popularity and user activity, genre-linked low-rank tastes, ML-100K's rating
histogram. The same options always give the same bytes.

Options:
  --out DIR               directory to write into (created if missing)
  --users N               users (default ${ML_100K_SIZE.users})
  --items M               items (default ${ML_100K_SIZE.items})
  --ratings R             ratings (default ${ML_100K_SIZE.ratings}); at least users x min-user-ratings
  --seed S                integer seed (default 1)
  --format F              file layout (default ml-100k)
  --min-user-ratings K    minimum ratings per user (default 20, as in ML-100K)
  --json                  print the summary as one JSON object on the last line

Example: abrec generate --out data/synthetic --users 500 --seed 1`;

/** What `abrec generate` reports. */
export interface GenerateSummary {
  format: MovieLensFormat;
  out: string;
  files: { path: string; bytes: number }[];
  seed: number;
  users: number;
  items: number;
  ratings: number;
  density: number;
  mean_rating: number;
  rating_shares: Record<string, number>;
  min_ratings_per_user: number;
  max_ratings_per_user: number;
  min_ratings_per_item: number;
  max_ratings_per_item: number;
  first_timestamp: number;
  last_timestamp: number;
}

function parseOptions(argv: string[]): { config: SyntheticConfig; out: string; format: MovieLensFormat; json: boolean; help: boolean } {
  const values = parseCommandArgs(argv, {
    out: { type: 'string' },
    users: { type: 'string' },
    items: { type: 'string' },
    ratings: { type: 'string' },
    seed: { type: 'string' },
    format: { type: 'string' },
    'min-user-ratings': { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  });
  const format = (values.format ?? 'ml-100k') as MovieLensFormat;
  if (!MOVIELENS_FORMATS.includes(format)) throw new UsageError(`--format must be one of ${MOVIELENS_FORMATS.join(', ')}, got '${values.format}'`);
  if (!values.help && (values.out === undefined || values.out === '')) throw new UsageError('--out DIR is required');
  const config: SyntheticConfig = {
    users: numberOption(values.users, '--users', ML_100K_SIZE.users, { integer: true, min: 1 }),
    items: numberOption(values.items, '--items', ML_100K_SIZE.items, { integer: true, min: 1 }),
    ratings: numberOption(values.ratings, '--ratings', ML_100K_SIZE.ratings, { integer: true, min: 1 }),
    seed: numberOption(values.seed, '--seed', 1, { integer: true, min: Number.MIN_SAFE_INTEGER }),
    minUserRatings: numberOption(values['min-user-ratings'], '--min-user-ratings', 20, { integer: true, min: 1 }),
  };
  const minUser = config.minUserRatings ?? 20;
  if (minUser > config.items) throw new UsageError(`--min-user-ratings (${minUser}) exceeds --items (${config.items})`);
  if (config.ratings < config.users * minUser) {
    throw new UsageError(`--ratings (${config.ratings}) must be at least --users x --min-user-ratings = ${config.users * minUser}`);
  }
  if (config.ratings > config.users * config.items) {
    throw new UsageError(`--ratings (${config.ratings}) exceeds the ${config.users * config.items} possible user-item pairs`);
  }
  return { config, out: values.out ?? '', format, json: values.json ?? false, help: values.help ?? false };
}

/** Generates and writes the files; returns the summary. Exported for tests and scripts. */
export function generateFiles(config: SyntheticConfig, out: string, format: MovieLensFormat, io?: Pick<CliIO, 'stderr'>): GenerateSummary {
  const verbose = io !== undefined && config.ratings >= PROGRESS_THRESHOLD;
  let lastReported = -1;
  const onProgress = verbose
    ? (done: number): void => {
        const percent = Math.floor(done * 10) * 10;
        if (percent > lastReported) {
          lastReported = percent;
          io.stderr(`generating: ${percent}% of users\n`);
        }
      }
    : undefined;
  const { dataset, items } = generateSyntheticMovieLens(config, { onProgress });
  if (verbose) io.stderr(`writing ${format} files to ${out}\n`);
  const files = writeMovieLensFiles(out, dataset, items, format);
  const summary = summarizeDataset(dataset);
  return {
    format,
    out,
    files,
    seed: config.seed,
    users: summary.users,
    items: items.length,
    ratings: summary.ratings,
    density: summary.density,
    mean_rating: summary.meanRating,
    rating_shares: summary.ratingShares,
    min_ratings_per_user: summary.minRatingsPerUser,
    max_ratings_per_user: summary.maxRatingsPerUser,
    min_ratings_per_item: summary.minRatingsPerItem,
    max_ratings_per_item: summary.maxRatingsPerItem,
    first_timestamp: summary.firstTimestamp,
    last_timestamp: summary.lastTimestamp,
  };
}

function describe(summary: GenerateSummary): string {
  const shares = Object.entries(summary.rating_shares)
    .map(([stars, share]) => `${stars}: ${(share * 100).toFixed(1)}%`)
    .join(', ');
  return [
    `Wrote ${summary.format} data (seed ${summary.seed}) to ${summary.out}:`,
    ...summary.files.map((file) => `  ${file.path} (${file.bytes} bytes)`),
    `  ${summary.users} users, ${summary.items} items, ${summary.ratings} ratings (density ${(summary.density * 100).toFixed(2)}%)`,
    `  mean rating ${summary.mean_rating.toFixed(3)}; ${shares}`,
    `  ratings per user ${summary.min_ratings_per_user}..${summary.max_ratings_per_user}, per item ${summary.min_ratings_per_item}..${summary.max_ratings_per_item}`,
    `  timestamps ${new Date(summary.first_timestamp * 1000).toISOString().slice(0, 10)} .. ${new Date(summary.last_timestamp * 1000).toISOString().slice(0, 10)}`,
  ].join('\n');
}

export const generateCommand: CliCommand = {
  path: ['generate'],
  summary: 'Write seeded synthetic MovieLens-like data (u.data/u.item, ml-1m or ml-latest files)',
  help: HELP,
  async run(argv, io) {
    const options = parseOptions(argv);
    if (options.help) {
      io.stdout(`${HELP}\n`);
      return 0;
    }
    const summary = generateFiles(options.config, options.out, options.format, io);
    io.stdout(`${describe(summary)}\n`);
    if (options.json) io.stdout(`${JSON.stringify(summary)}\n`);
    return 0;
  },
};
