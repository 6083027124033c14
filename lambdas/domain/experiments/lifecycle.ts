/**
 * The experiment lifecycle as pure transitions: each takes an experiment and returns the
 * next version (revision + 1) or throws a typed error. Storage writes the result with a
 * condition on the revision it read, so two concurrent transitions cannot both succeed.
 *
 *   draft ──start──▶ running ──stop──▶ stopped
 *                       │  └─schedule end─▶ ┤
 *                       └────promote──────┴──▶ completed
 *
 * `ramp` changes weights of a running experiment; it is the only way to do so. The schedule
 * (`end_time`, `max_duration_days`; schedule.ts) stops a running experiment through
 * {@link endExperimentOnSchedule}, which the analysis run applies.
 */
import { z } from 'zod';
import { allocateLayerRange, rangesOverlap } from './assignment.ts';
import type { LayerRange } from './assignment.ts';
import { CURRENT_HASH_VERSION } from './hash.ts';
import { ExperimentConflictError, ExperimentNotFoundError, ExperimentValidationError, fieldError } from './errors.ts';
import type { ArmVersions, CreateExperimentRequest, Experiment, ExperimentStatus, FinalReport, Layer, ModelHistoryEntry } from './model.ts';
import { DEFAULT_MAX_DURATION_DAYS } from './model.ts';
import { finalReportDay, scheduledEnd, scheduleEndReached, scheduleProblems } from './schedule.ts';
import { createExperimentFields, createExperimentRequestSchema, parseExperiment, parseOrThrow, storableNumber, WEIGHT_SUM_TOLERANCE } from './model.ts';

/** What the analysis says about a running experiment; promotion is guarded by it. */
export interface PromotionAnalysis {
  /** The primary metric's difference is significant at the experiment's confidence level. */
  significant: boolean;
  /** Sample ratio mismatch detected: the split itself is suspect. */
  srm_flagged: boolean;
  /**
   * What the split was checked against: absent for the configured weights (and their ramps), or
   * a bandit's allocation in force, logged at each assignment. A bandit's split moves with its
   * allocation, so only the latter can clear it for promotion without `force`.
   */
  srm_reference?: 'allocation-in-force';
  /** The best variant according to the analysis. */
  winner?: string;
}

/** Common options of every transition. */
export interface TransitionOptions {
  now: Date;
  /** The revision the caller based its request on; a mismatch is a 409. */
  expectedRevision?: number;
}

/** Returns the experiment or throws a 404 for `id`. */
export function requireExperiment(experiment: Experiment | undefined, id: string): Experiment {
  if (!experiment) throw new ExperimentNotFoundError(id);
  return experiment;
}

/** The 409 for creating an id that exists (storage raises it when its conditional put fails). */
export function duplicateExperimentError(id: string): ExperimentConflictError {
  return new ExperimentConflictError('duplicate-id', `experiment already exists: ${id}`);
}

/** Throws a 409 when the caller's revision is not the current one. */
export function assertRevision(experiment: Experiment, expectedRevision: number | undefined): void {
  if (expectedRevision !== undefined && expectedRevision !== experiment.revision) {
    throw new ExperimentConflictError(
      'revision-mismatch',
      `experiment ${experiment.id} is at revision ${experiment.revision}, not ${expectedRevision}: reload and retry`,
    );
  }
}

function assertStatus(experiment: Experiment, action: string, allowed: readonly ExperimentStatus[]): void {
  if (!allowed.includes(experiment.status)) {
    throw new ExperimentConflictError(
      'illegal-transition',
      `cannot ${action} experiment ${experiment.id}: status is ${experiment.status}, must be ${allowed.join(' or ')}`,
    );
  }
}

/** The next version of an experiment: revision + 1, updated_at = now, re-validated. */
function nextVersion(experiment: Experiment, changes: Partial<Experiment>, now: Date): Experiment {
  return parseExperiment({ ...experiment, ...changes, revision: experiment.revision + 1, updated_at: now.toISOString() });
}

/** Layer ranges still in use: completed experiments release theirs. */
function takenRanges(layerName: string, peers: readonly Experiment[]): (LayerRange & { id: string })[] {
  return peers
    .filter((p) => p.layer?.name === layerName && p.status !== 'completed')
    .map((p) => ({ id: p.id, bucket_start: p.layer!.bucket_start, bucket_end: p.layer!.bucket_end }));
}

function resolveLayer(request: CreateExperimentRequest, peers: readonly Experiment[]): Layer | undefined {
  const { layer } = request;
  if (!layer) return undefined;
  const taken = takenRanges(layer.name, peers).filter((p) => p.id !== request.id);
  if (layer.share !== undefined) {
    const range = allocateLayerRange({ share: layer.share, taken });
    if (!range) {
      throw new ExperimentConflictError('layer-overlap', `layer ${layer.name} has no free range for share ${layer.share}`);
    }
    return { name: layer.name, ...range };
  }
  const range = { bucket_start: layer.bucket_start!, bucket_end: layer.bucket_end! };
  const clash = taken.find((t) => rangesOverlap(t, range));
  if (clash) {
    throw new ExperimentConflictError(
      'layer-overlap',
      `layer ${layer.name} range [${range.bucket_start}, ${range.bucket_end}) overlaps experiment ${clash.id} [${clash.bucket_start}, ${clash.bucket_end})`,
    );
  }
  return { name: layer.name, ...range };
}

/**
 * Builds a new experiment (revision 0) from a `POST /experiments` body.
 * - 400 when the body is invalid or asks for a status other than draft or running;
 * - 409 when `existingIds` contains the id, or the layer range overlaps a peer's.
 * `layerPeers` are the experiments already in the requested layer (any others are ignored).
 */
export function createExperiment({
  request,
  now,
  existingIds = [],
  layerPeers = [],
}: {
  request: unknown;
  now: Date;
  existingIds?: readonly string[];
  layerPeers?: readonly Experiment[];
}): Experiment {
  const parsed = parseOrThrow(createExperimentRequestSchema, request);
  if (parsed.status !== 'draft' && parsed.status !== 'running') {
    throw fieldError('status', `must be "draft" or "running" when creating, got "${parsed.status}"`);
  }
  if (existingIds.includes(parsed.id)) throw duplicateExperimentError(parsed.id);
  const { layer: _requestedLayer, ...rest } = parsed;
  const problems = scheduleProblems({ experiment: parsed, sent: new Set(Object.keys(request as object)), now });
  if (problems.length > 0) throw new ExperimentValidationError(problems);
  assertFollowable(parsed);
  const layer = resolveLayer(parsed, layerPeers);
  const timestamp = now.toISOString();
  const startTime = parsed.status === 'running' ? (parsed.start_time ?? timestamp) : parsed.start_time;
  return parseExperiment({
    ...rest,
    ...(layer ? { layer } : {}),
    ...(parsed.status === 'running' && parsed.follow_latest ? { model_history: [initialHistoryEntry(parsed, startTime!)] } : {}),
    salt: parsed.salt ?? parsed.id,
    hash_version: CURRENT_HASH_VERSION,
    start_time: startTime,
    max_duration_days: parsed.max_duration_days ?? DEFAULT_MAX_DURATION_DAYS,
    revision: 0,
    created_at: timestamp,
    updated_at: timestamp,
  });
}

/** `now` as an end time, but never before the start, even if this host's clock lags the one that started it. */
function endTimeAt(experiment: Experiment, now: Date): string {
  return experiment.start_time && Date.parse(experiment.start_time) > now.getTime() ? experiment.start_time : now.toISOString();
}

/** draft → running. Sets start_time to now unless one was planned; 409 naming the field when its schedule has already ended. */
export function startExperiment(experiment: Experiment, { now, expectedRevision }: TransitionOptions): Experiment {
  assertRevision(experiment, expectedRevision);
  assertStatus(experiment, 'start', ['draft']);
  const started = { ...experiment, status: 'running' as const, start_time: experiment.start_time ?? now.toISOString() };
  const ended = scheduleEndReached(started, now.getTime());
  if (ended) {
    throw new ExperimentConflictError(
      'schedule-ended',
      `cannot start experiment ${experiment.id}: its schedule ended at ${ended.at} (${ended.field}); change ${ended.field} first`,
      ended.field,
    );
  }
  const history = experiment.follow_latest ? { model_history: [initialHistoryEntry(experiment, started.start_time)] } : {};
  return nextVersion(experiment, { status: 'running', start_time: started.start_time, ...history }, now);
}

/** running → stopped by an operator: users fall back to the control; end_time becomes now. */
export function stopExperiment(experiment: Experiment, { now, expectedRevision }: TransitionOptions): Experiment {
  assertRevision(experiment, expectedRevision);
  assertStatus(experiment, 'stop', ['running']);
  return nextVersion(experiment, { status: 'stopped', end_time: endTimeAt(experiment, now), stop_reason: 'manual' }, now);
}

/**
 * running → stopped by the schedule, once `now` has reached its end: end_time becomes the
 * scheduled end (serving stopped then, whenever the run notices), stop_reason says which rule
 * ended it, and `final_report` is opened with its alert 'pending'. Written conditionally on the
 * revision, so of two runs that fire together exactly one stops it and alerts. 409 when the
 * experiment is not running or its schedule has not ended.
 */
export function endExperimentOnSchedule(experiment: Experiment, { now }: { now: Date }): Experiment {
  assertStatus(experiment, 'end on schedule', ['running']);
  const end = scheduleEndReached(experiment, now.getTime());
  if (!end) {
    const planned = scheduledEnd(experiment);
    throw new ExperimentConflictError('illegal-transition', `experiment ${experiment.id} runs until ${planned?.at ?? 'stopped'}: its schedule has not ended`);
  }
  const endedAt = endTimeAt(experiment, new Date(end.atMs));
  return nextVersion(
    experiment,
    { status: 'stopped', end_time: endedAt, stop_reason: end.reason, final_report: { day: finalReportDay(Date.parse(endedAt)), alert: 'pending' } },
    now,
  );
}

/**
 * The final report's bookkeeping of an experiment the schedule stopped: the decision once the
 * report is written, the alert's state (see `finalReportSchema`). A new revision, as every change.
 */
export function recordFinalReport(experiment: Experiment, { now, changes }: { now: Date; changes: Partial<FinalReport> }): Experiment {
  if (!experiment.final_report)
    throw new ExperimentConflictError('illegal-transition', `experiment ${experiment.id} has no final report: its schedule did not stop it`);
  return nextVersion(experiment, { final_report: { ...experiment.final_report, ...changes } }, now);
}

/** Options of {@link promoteExperiment}. */
export interface PromoteOptions extends TransitionOptions {
  /** Variant to promote; defaults to `analysis.winner`. */
  winner?: string;
  analysis?: PromotionAnalysis;
  /** Promote even if the analysis is missing, not significant or flags SRM. */
  force?: boolean;
}

/**
 * running | stopped → completed: the winner gets weight 1, every other variant weight 0
 * and inactive. Refused with 409 unless the analysis is significant without SRM and agrees
 * on the winner, or `force` is set. A bandit is judged by its own analysis: the split against
 * the allocation in force and the inverse-propensity estimates (stats/bandit.ts), so one that
 * found a better arm is promoted without `force`.
 */
export function promoteExperiment(experiment: Experiment, options: PromoteOptions): Experiment {
  const { now, expectedRevision, analysis, force = false } = options;
  assertRevision(experiment, expectedRevision);
  assertStatus(experiment, 'promote', ['running', 'stopped']);

  const winner = options.winner ?? analysis?.winner;
  if (!winner) throw fieldError('winner', 'is required (the analysis names no winner)');
  if (!experiment.variants.some((v) => v.name === winner)) {
    throw fieldError('winner', `unknown variant '${winner}', expected one of ${experiment.variants.map((v) => v.name).join(', ')}`);
  }

  if (!force) {
    const refuse = (why: string) =>
      new ExperimentConflictError('promotion-refused', `cannot promote ${winner} in ${experiment.id}: ${why} (use force to override)`);
    if (!analysis) throw refuse('no analysis result');
    if (analysis.srm_flagged)
      throw refuse(`sample ratio mismatch is flagged${analysis.srm_reference === 'allocation-in-force' ? ' against the allocation in force' : ''}`);
    if (!analysis.significant) throw refuse('the result is not significant');
    if (analysis.winner !== undefined && analysis.winner !== winner) throw refuse(`the analysis favours ${analysis.winner}`);
  }

  return nextVersion(
    experiment,
    {
      status: 'completed',
      winner,
      end_time: experiment.status === 'stopped' && experiment.end_time ? experiment.end_time : endTimeAt(experiment, now),
      variants: experiment.variants.map((v) => (v.name === winner ? { ...v, weight: 1, active: true } : { ...v, weight: 0, active: false })),
    },
    now,
  );
}

/** Body of `POST /experiments/{id}/ramp`: new weights by variant name. */
export const rampRequestSchema = z.strictObject({
  weights: z.record(z.string(), storableNumber().min(0, 'must be >= 0').max(1, 'must be <= 1')),
  expected_revision: z.int('must be an integer').min(0, 'must be >= 0').optional(),
});
export type RampRequest = z.output<typeof rampRequestSchema>;

/**
 * Explicit weight change of a running experiment. Variants not named keep their weight;
 * the new weights must sum to 1. Users already assigned stay sticky; only new users see
 * the new split.
 */
export function rampExperiment(experiment: Experiment, { request, now }: { request: unknown; now: Date }): Experiment {
  const { weights, expected_revision } = parseOrThrow(rampRequestSchema, request);
  assertRevision(experiment, expected_revision);
  assertStatus(experiment, 'ramp', ['running']);

  for (const [name, weight] of Object.entries(weights)) {
    const variant = experiment.variants.find((v) => v.name === name);
    if (!variant) throw fieldError(`weights.${name}`, 'is not a variant of this experiment');
    if (!variant.active && weight > 0) throw fieldError(`weights.${name}`, 'must be 0: the variant is inactive');
  }
  // Own keys only: `in` would also find Object.prototype's, so a variant named `constructor` got a function for a weight.
  const variants = experiment.variants.map((v) => (Object.hasOwn(weights, v.name) ? { ...v, weight: weights[v.name] } : v));
  const total = variants.reduce((sum, v) => sum + v.weight, 0);
  if (Math.abs(total - 1) > WEIGHT_SUM_TOLERANCE) {
    throw fieldError('weights', `must sum to 1 (±${WEIGHT_SUM_TOLERANCE}) with the unchanged variants, got ${total}`);
  }
  const weightsOf = (list: Experiment['variants']) => Object.fromEntries(list.map((v) => [v.name, v.weight]));
  const history = experiment.weight_history ?? [{ effective_from: experiment.start_time ?? experiment.created_at, weights: weightsOf(experiment.variants) }];
  return nextVersion(experiment, { variants, weight_history: [...history, { effective_from: now.toISOString(), weights: weightsOf(variants) }] }, now);
}

/** Fields an operator may change while the experiment is live (they do not affect the split). */
const LIVE_EDITABLE = ['name', 'description', 'end_time', 'max_duration_days', 'guardrails', 'min_sample_size', 'follow_latest'] as const;
/** The schedule's fields: editable until the experiment stops (then end_time is when it ended). */
const SCHEDULE_FIELDS = ['end_time', 'max_duration_days'] as const;

/** Body of a general edit: every create field except the id and the status. */
export const updateExperimentRequestSchema = z.strictObject(createExperimentFields()).omit({ id: true, status: true }).partial();
export type UpdateExperimentRequest = z.output<typeof updateExperimentRequestSchema>;

/** Whether two variant lists differ in their split (names, weights, activation). */
function splitChanged(before: Experiment['variants'], after: Experiment['variants']): boolean {
  if (before.length !== after.length) return true;
  return before.some((v, i) => v.name !== after[i].name || v.weight !== after[i].weight || v.active !== after[i].active);
}

/** Whether two variant lists differ in anything at all. */
function variantsChanged(before: Experiment['variants'], after: Experiment['variants']): boolean {
  return JSON.stringify(before) !== JSON.stringify(after.map((v, i) => ({ ...before[i], ...v })));
}

/**
 * General edit (e.g. `PATCH /experiments/{id}`). A draft may change anything but its id and
 * status. Once started, only descriptive fields may change: a weight change is a 409 pointing
 * to `/ramp`, any other field a 409 as well.
 */
export function updateExperiment(experiment: Experiment, { request, now }: { request: unknown; now: Date }): Experiment {
  const parsed = parseOrThrow(updateExperimentRequestSchema, request);
  // zod fills defaults even in a partial schema; a patch holds only the fields sent.
  const sent = new Set(Object.keys(request as object));
  const patch = Object.fromEntries(Object.entries(parsed).filter(([key]) => sent.has(key))) as UpdateExperimentRequest;
  if (experiment.status !== 'draft') {
    if (patch.variants && splitChanged(experiment.variants, patch.variants)) {
      throw new ExperimentConflictError(
        'weight-change-outside-ramp',
        `experiment ${experiment.id} is ${experiment.status}: change weights with POST /experiments/${experiment.id}/ramp`,
      );
    }
    const locked = Object.keys(patch).filter(
      (key) => (key !== 'variants' || variantsChanged(experiment.variants, patch.variants!)) && !(LIVE_EDITABLE as readonly string[]).includes(key),
    );
    if (locked.length > 0) {
      throw new ExperimentConflictError(
        'illegal-transition',
        `experiment ${experiment.id} is ${experiment.status}: ${locked.join(', ')} can only change while draft`,
      );
    }
    const schedule = SCHEDULE_FIELDS.find((key) => key in patch);
    if (schedule && experiment.status !== 'running') {
      throw new ExperimentConflictError(
        'illegal-transition',
        `experiment ${experiment.id} is ${experiment.status}: ${schedule} can only change while draft or running`,
        schedule,
      );
    }
  }
  const { layer, variants, ...rest } = patch;
  if (layer) throw fieldError('layer', 'cannot be changed after creation');
  const changes: Partial<Experiment> = { ...rest };
  if (variants && experiment.status === 'draft') changes.variants = variants;
  const problems = scheduleProblems({ experiment: { ...experiment, ...changes }, sent, now });
  if (problems.length > 0) throw new ExperimentValidationError(problems);
  const edited = { ...experiment, ...changes };
  assertFollowable(edited);
  // A running experiment that starts following records the versions it serves now: its history starts complete.
  if (edited.follow_latest && experiment.status === 'running' && !experiment.model_history) {
    changes.model_history = [initialHistoryEntry(edited, now.toISOString())];
  }
  return nextVersion(experiment, changes, now);
}

/** The model id and version each arm serves, by variant name. */
export function armVersionsOf(experiment: Pick<Experiment, 'variants'>): ArmVersions {
  return Object.fromEntries(experiment.variants.map((v) => [v.name, { model_id: v.model_id, model_version: v.model_version }]));
}

function initialHistoryEntry(experiment: Pick<Experiment, 'variants'>, at: string): ModelHistoryEntry {
  return { at, versions: armVersionsOf(experiment) };
}

/**
 * 400 naming `follow_latest` when a following experiment has two arms on the same model: both
 * would switch to the one latest version, and the test would silently become an A/A.
 */
function assertFollowable(experiment: Pick<Experiment, 'variants' | 'follow_latest'>): void {
  if (!experiment.follow_latest) return;
  const seen = new Map<string, string>();
  for (const variant of experiment.variants) {
    const other = seen.get(variant.model_id);
    if (other !== undefined) {
      throw fieldError(
        'follow_latest',
        `cannot be true: variants ${other} and ${variant.name} both serve model ${variant.model_id}, so following its latest version would serve both the same version`,
      );
    }
    seen.set(variant.model_id, variant.name);
  }
}

/** Why a retraining run leaves a following experiment as it is. */
export type ModelSwitchSkip = 'not-running' | 'pinned' | 'partial-publish' | 'already-current';

/** What a retraining run does to one experiment: switch every arm together, or skip, with the reason. */
export type ModelSwitchPlan = { action: 'switch'; versions: ArmVersions } | { action: 'skip'; skip: ModelSwitchSkip; reason: string };

/**
 * The switch a retraining run that published `published` (model id → new version) makes to an
 * experiment. Only a running experiment that follows latest switches, and only when the models of
 * all of its arms were published in the run: arms never switch apart, so a comparison is always
 * between versions trained on the same data.
 */
export function planModelSwitch(experiment: Experiment, published: Readonly<Record<string, string>>): ModelSwitchPlan {
  if (experiment.status !== 'running') return { action: 'skip', skip: 'not-running', reason: `status is ${experiment.status}` };
  if (!experiment.follow_latest) return { action: 'skip', skip: 'pinned', reason: 'pinned: follow_latest is not set' };
  const missing = experiment.variants.filter((v) => !Object.hasOwn(published, v.model_id));
  if (missing.length > 0) {
    const models = [...new Set(missing.map((v) => v.model_id))].sort();
    return {
      action: 'skip',
      skip: 'partial-publish',
      reason: `arms switch together: no new version of ${models.join(', ')} (variants ${missing.map((v) => v.name).join(', ')}) was published in this run`,
    };
  }
  const versions: ArmVersions = Object.fromEntries(experiment.variants.map((v) => [v.name, { model_id: v.model_id, model_version: published[v.model_id] }]));
  if (experiment.variants.every((v) => v.model_version === published[v.model_id])) {
    return { action: 'skip', skip: 'already-current', reason: 'every arm already serves the published version' };
  }
  return { action: 'switch', versions };
}

/**
 * Moves every arm of an experiment to `versions` at once and appends the switch to its model
 * history (starting the history with the versions it replaces when it has none). A new revision.
 */
export function switchModelVersions(experiment: Experiment, { versions, runId, now }: { versions: ArmVersions; runId: string; now: Date }): Experiment {
  const history = experiment.model_history ?? [initialHistoryEntry(experiment, experiment.start_time ?? experiment.created_at)];
  const variants = experiment.variants.map((v) => (Object.hasOwn(versions, v.name) ? { ...v, model_version: versions[v.name].model_version } : v));
  return nextVersion(
    experiment,
    { variants, model_history: [...history, { at: now.toISOString(), run_id: runId, versions: armVersionsOf({ variants }) }] },
    now,
  );
}
