/**
 * The held-out split and the cleaning an offline protocol applies, shared by `abrec evaluate`
 * and `abrec tune` so both measure the same thing:
 *
 * - `random` (default): per user, that user's ratings shuffled with the seed, the first
 *   `round(trainRatio * n)` train (the 75/25 per-user protocol).
 * - `temporal`: per user, the ratings in time order, the first `round(trainRatio * n)` train
 *   and that user's LATEST ones test (a per-user cut, not one global date: every user with two
 *   or more ratings is evaluated, as in the random protocol).
 * - `leave-last-n`: each user's `n` latest ratings test (at least one stays in training).
 *
 * In each, users with a single rating only train. `minRatings` first drops users and items with
 * fewer than K ratings, repeated to a fixed point (dropping an item can take a user under K).
 */
import { filterMinRatings, leaveLastNSplit, perUserTemporalSplit, stratifiedRatioSplit, type Split } from './data/splits.ts';
import type { RatingsDataset } from './types.ts';

export type HoldoutKind = 'random' | 'temporal' | 'leave-last-n';

export const HOLDOUT_KINDS: readonly HoldoutKind[] = ['random', 'temporal', 'leave-last-n'];

export interface HoldoutOptions {
  kind: HoldoutKind;
  /** Share of each user's ratings that train (random, temporal). */
  trainRatio: number;
  /** Latest ratings per user that test (leave-last-n). */
  n: number;
  /** Shuffling seed (random). */
  seed: number;
}

/** The train/test rows of the protocol (see the module comment). */
export function holdoutSplit(dataset: RatingsDataset, options: HoldoutOptions): Split {
  switch (options.kind) {
    case 'random':
      return stratifiedRatioSplit(dataset, { ratio: options.trainRatio, seed: options.seed });
    case 'temporal':
      return perUserTemporalSplit(dataset, { ratio: options.trainRatio });
    case 'leave-last-n':
      return leaveLastNSplit(dataset, { n: options.n });
  }
}

/** One line describing the protocol, for output. */
export function describeHoldout(options: HoldoutOptions): string {
  switch (options.kind) {
    case 'random':
      return `random per-user ${options.trainRatio}/${+(1 - options.trainRatio).toFixed(6)} split (seed ${options.seed})`;
    case 'temporal':
      return `temporal per-user split, each user's latest ${+(1 - options.trainRatio).toFixed(6)} tested`;
    case 'leave-last-n':
      return `leave-last-${options.n} per user`;
  }
}

/** What `minRatings` cleaning removed. */
export interface CleaningReport {
  minRatings: number;
  droppedUsers: number;
  droppedItems: number;
  droppedRatings: number;
  passes: number;
}

/** Drops users and items with fewer than `minRatings` ratings, to a fixed point (1 keeps everything). */
export function cleanMinRatings(dataset: RatingsDataset, minRatings: number): { dataset: RatingsDataset; report: CleaningReport } {
  const result = filterMinRatings(dataset, { minUserRatings: minRatings, minItemRatings: minRatings });
  return {
    dataset: result.dataset,
    report: {
      minRatings,
      droppedUsers: result.removedUsers,
      droppedItems: result.removedItems,
      droppedRatings: dataset.rating.length - result.keptRows.length,
      passes: result.passes,
    },
  };
}

/** The report as printed: `min-ratings 5: dropped 12 users, 340 items, 1,020 ratings (3 passes)`. */
export function describeCleaning(report: CleaningReport): string {
  return (
    `min-ratings ${report.minRatings}: dropped ${report.droppedUsers} users, ${report.droppedItems} items, ` +
    `${report.droppedRatings} ratings (${report.passes} pass${report.passes === 1 ? '' : 'es'} to a fixed point)`
  );
}
