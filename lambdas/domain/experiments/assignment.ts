/**
 * Deterministic assignment of a user to a variant. Pure: the same experiment, user and
 * stored assignment give the same answer in every process, locally and in Lambda.
 *
 * Order of decisions for a running experiment (the first that applies wins):
 * 0. past its scheduled end (end_time or max_duration_days, given the request's `now`): the
 *    control, as when stopped, even for users with a stored assignment;
 * 1. a stored (sticky) assignment to a variant that is still active;
 * 2. layer: a user whose layer bucket is outside the experiment's range gets the control;
 * 3. holdout: experiment bucket / 10000 < holdout_share gets the control;
 * 4. coverage and variant choice from the position of the bucket among the non-holdout
 *    buckets, growthbook style (`getBucketRanges`), or the bandit allocation, or interleaving.
 * Draft and stopped experiments serve the control; completed ones serve the winner.
 */
import type { BanditAllocation } from './bandit.ts';
import { chooseFromAllocation } from './bandit.ts';
import type { HashVersion } from './hash.ts';
import { BUCKET_COUNT, bucketFor, unitIntervalV1 } from './hash.ts';
import type { Experiment, Layer, Variant } from './model.ts';
import { controlOf, RESERVED_SALT_PREFIX } from './model.ts';
import { scheduleEndReached } from './schedule.ts';

/** A half-open range [start, end) of positions in [0, 1). */
export type VariantRange = readonly [number, number];

/**
 * Converts weights into position ranges, as growthbook does: variant i owns
 * [cumulative_i, cumulative_i + coverage * weight_i). Raising coverage only extends each
 * range, so users already covered keep their variant. Weights must already be validated
 * (they sum to 1).
 */
export function getBucketRanges({ weights, coverage = 1 }: { weights: readonly number[]; coverage?: number }): VariantRange[] {
  let cumulative = 0;
  return weights.map((weight) => {
    const start = cumulative;
    cumulative += weight;
    return [start, start + coverage * weight] as const;
  });
}

/** Index of the range containing `position`, or -1 when none does (not covered). */
export function chooseVariantIndex(position: number, ranges: readonly VariantRange[]): number {
  return ranges.findIndex(([start, end]) => position >= start && position < end);
}

/** Salt of a layer's hash; the reserved prefix keeps it apart from any experiment salt. */
export function layerSalt(layerName: string): string {
  return `${RESERVED_SALT_PREFIX}layer:${layerName}`;
}

/** Bucket of a user in a layer: one hash per layer, shared by all its experiments. */
export function layerBucket({ layerName, userId, version = 'v1' }: { layerName: string; userId: string; version?: HashVersion }): number {
  return bucketFor({ version, salt: layerSalt(layerName), userId });
}

/** Whether a user falls in a layer range. Disjoint ranges make experiments mutually exclusive. */
export function isInLayer({ layer, userId }: { layer: Layer; userId: string }): boolean {
  const bucket = layerBucket({ layerName: layer.name, userId });
  return bucket >= layer.bucket_start && bucket < layer.bucket_end;
}

/** Half-open bucket range of a layer. */
export interface LayerRange {
  bucket_start: number;
  bucket_end: number;
}

/** Whether two half-open ranges share a bucket. */
export function rangesOverlap(a: LayerRange, b: LayerRange): boolean {
  return a.bucket_start < b.bucket_end && b.bucket_start < a.bucket_end;
}

/**
 * The lowest free range of `round(share * 10000)` buckets in a layer whose ranges `taken`
 * are already used, or undefined when no gap is large enough.
 */
export function allocateLayerRange({ share, taken }: { share: number; taken: readonly LayerRange[] }): LayerRange | undefined {
  const size = Math.max(1, Math.round(share * BUCKET_COUNT));
  const sorted = [...taken].sort((a, b) => a.bucket_start - b.bucket_start);
  let cursor = 0;
  for (const range of sorted) {
    if (range.bucket_start - cursor >= size) break;
    cursor = Math.max(cursor, range.bucket_end);
  }
  return cursor + size <= BUCKET_COUNT ? { bucket_start: cursor, bucket_end: cursor + size } : undefined;
}

/** How an assignment was decided. */
export type AssignmentSource =
  /** Fresh A/B assignment from the hash and the weights. */
  | 'hash'
  /** Fresh bandit assignment drawn from the Thompson allocation. */
  | 'bandit'
  /** Interleaving: the user sees a team-draft mix of the two variants' lists. */
  | 'interleaving'
  /** A previously stored assignment, honoured even if weights were ramped since. */
  | 'sticky'
  /** The experiment is draft or stopped: control, not part of the test. */
  | 'control-fallback'
  /** Running past its scheduled end, not yet stopped by the analysis: control, as when stopped. */
  | 'schedule-ended'
  /** The experiment is completed: the promoted winner for everybody. */
  | 'winner'
  /** Held out: control, kept out of the analysis. */
  | 'holdout'
  /** Outside traffic coverage: control, not part of the test. */
  | 'not-covered'
  /** Outside the experiment's share of its layer: control, not part of the test. */
  | 'not-in-layer';

/** An assignment as storage keeps it for stickiness. */
export interface StoredAssignment {
  variant: string;
  bucket: number;
  /** Probability the variant had when the user was first assigned. */
  propensity: number;
}

/** The answer of {@link resolveAssignment}. */
export interface Assignment {
  experiment_id: string;
  /** Variant whose model serves this user (the control for interleaving). */
  variant: string;
  model_id: string;
  model_version: string;
  /** Experiment bucket, 0..9999. */
  bucket: number;
  /**
   * Probability of this variant for this user at assignment time: the weight for 'hash',
   * the Thompson allocation for 'bandit', the stored value for 'sticky', 1 otherwise.
   */
  propensity: number;
  source: AssignmentSource;
  /** Whether this exposure counts in the analysis. */
  in_experiment: boolean;
  /** Whether the caller should store it (conditional write) to make it sticky. */
  should_store: boolean;
}

/** Inputs of {@link resolveAssignment}. */
export interface ResolveAssignmentInput {
  experiment: Experiment;
  userId: string;
  /** The user's stored assignment for this experiment, if any. */
  stored?: StoredAssignment;
  /**
   * Current Thompson allocation (from `thompsonAllocation` on a counter snapshot) for
   * bandit mode; without one the configured weights are used.
   */
  banditAllocation?: BanditAllocation;
  /**
   * When the request arrived (epoch ms, the trigger's clock): a running experiment past its
   * scheduled end serves the control. Without it the schedule is not checked.
   */
  now?: number;
}

/** Salt of the bandit's arm draw, independent of the bucket that decided coverage. */
export function banditSalt(experimentSalt: string): string {
  return `${RESERVED_SALT_PREFIX}bandit:${experimentSalt}`;
}

/** The experiment bucket of a user, 0..9999. */
export function experimentBucket({ experiment, userId }: { experiment: Pick<Experiment, 'salt' | 'hash_version'>; userId: string }): number {
  return bucketFor({ version: experiment.hash_version, salt: experiment.salt, userId });
}

/** The variant the user keeps while the experiment does not run a test on them. */
function fixed(experiment: Experiment, variant: Variant, bucket: number, source: AssignmentSource): Assignment {
  // Never stored: only hash and bandit assignments are (see tested).
  return { ...tested(experiment, variant, bucket, 1, source), in_experiment: false };
}

function tested(experiment: Experiment, variant: Variant, bucket: number, propensity: number, source: AssignmentSource): Assignment {
  return {
    experiment_id: experiment.id,
    variant: variant.name,
    model_id: variant.model_id,
    model_version: variant.model_version,
    bucket,
    propensity,
    source,
    in_experiment: true,
    should_store: source === 'hash' || source === 'bandit',
  };
}

/** The promoted variant of a completed experiment. */
export function winnerOf(experiment: Experiment): Variant {
  const named = experiment.variants.find((v) => v.name === experiment.winner);
  return named ?? experiment.variants.find((v) => v.active && v.weight === 1) ?? controlOf(experiment);
}

/** The two teams of an interleaving experiment: the control is team 'a'. */
export function interleavingTeams(experiment: Experiment): { a: Variant; b: Variant } {
  const a = controlOf(experiment);
  const b = experiment.variants.find((v) => v.active && !v.is_control);
  if (!b) throw new Error(`interleaving experiment ${experiment.id} has no active treatment`);
  return { a, b };
}

/**
 * Decides which variant serves `userId`. Prefers a stored assignment (sticky) while the
 * experiment runs, otherwise computes one; see the module comment for the order of rules.
 */
export function resolveAssignment({ experiment, userId, stored, banditAllocation, now }: ResolveAssignmentInput): Assignment {
  const bucket = experimentBucket({ experiment, userId });
  const control = controlOf(experiment);

  switch (experiment.status) {
    case 'draft':
    case 'stopped':
      return fixed(experiment, control, bucket, 'control-fallback');
    case 'completed':
      return fixed(experiment, winnerOf(experiment), bucket, 'winner');
    case 'running':
      if (now !== undefined && scheduleEndReached(experiment, now)) return fixed(experiment, control, bucket, 'schedule-ended');
      break;
    default: {
      const unknown: never = experiment.status;
      throw new Error(`unknown experiment status: ${String(unknown)}`);
    }
  }

  const sticky = stored && experiment.variants.find((v) => v.name === stored.variant && v.active);
  if (stored && sticky) return tested(experiment, sticky, stored.bucket, stored.propensity, 'sticky');

  if (experiment.layer && !isInLayer({ layer: experiment.layer, userId })) {
    return fixed(experiment, control, bucket, 'not-in-layer');
  }

  const unit = bucket / BUCKET_COUNT;
  if (unit < experiment.holdout_share) return fixed(experiment, control, bucket, 'holdout');
  // Position among the non-holdout buckets, so weights and coverage apply to them alone.
  const position = (unit - experiment.holdout_share) / (1 - experiment.holdout_share);

  switch (experiment.mode) {
    case 'ab': {
      const ranges = getBucketRanges({ weights: experiment.variants.map((v) => v.weight), coverage: experiment.traffic_coverage });
      const index = chooseVariantIndex(position, ranges);
      if (index < 0) return fixed(experiment, control, bucket, 'not-covered');
      const variant = experiment.variants[index];
      return tested(experiment, variant, bucket, variant.weight, 'hash');
    }
    case 'bandit': {
      if (position >= experiment.traffic_coverage) return fixed(experiment, control, bucket, 'not-covered');
      const allocation = banditAllocation ?? Object.fromEntries(experiment.variants.filter((v) => v.active).map((v) => [v.name, v.weight]));
      const draw = unitIntervalV1(banditSalt(experiment.salt), userId);
      const { arm, propensity } = chooseFromAllocation({ allocation, draw });
      const variant = experiment.variants.find((v) => v.name === arm && v.active);
      if (!variant) throw new Error(`bandit allocation names unknown or inactive arm '${arm}' in ${experiment.id}`);
      return tested(experiment, variant, bucket, propensity, 'bandit');
    }
    case 'interleaving': {
      if (position >= experiment.traffic_coverage) return fixed(experiment, control, bucket, 'not-covered');
      return { ...tested(experiment, control, bucket, 1, 'interleaving'), should_store: false };
    }
    default: {
      const unknown: never = experiment.mode;
      throw new Error(`unknown experiment mode: ${String(unknown)}`);
    }
  }
}
