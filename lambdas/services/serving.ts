/**
 * The serving use case behind GET /recommend: assign the user's variant (sticky once exposed;
 * Thompson allocation for bandits), score the variant's pinned model (team-draft interleaving of
 * both models for interleaving experiments), fall back to popularity when an artifact cannot be
 * loaded, and record the impression slate. Storage and observability are injected, so the
 * handler is a thin adapter and the same code runs in Lambda, on the local runtime and in tests.
 */
import { retryWithBackoff } from '../common/backoff.ts';
import { DomainError, NotFoundError, UnavailableError, ValidationError } from '../domain/errors.ts';
import { interleavingTeams, resolveAssignment, type Assignment } from '../domain/experiments/assignment.ts';
import { banditExposureIncrements, loggedAllocation } from '../domain/events/bandit-counters.ts';
import { userCapsOf } from '../domain/experiments/caps.ts';
import { UNKNOWN_PROFILE, userProfileOf, type UserProfile } from '../domain/experiments/user-profile.ts';
import { clientSegmentProblem, segmentKey, userTypeOf } from '../domain/experiments/user-segments.ts';
import { covariateExposureIncrements } from '../domain/events/counters.ts';
import { controlOf, type Experiment } from '../domain/experiments/model.ts';
import type { ShownItemRepository } from '../storage/shown-items.ts';
import { scheduleEndReached } from '../domain/experiments/schedule.ts';
import { analysisDay, type AcceptedEvent } from '../domain/events/event.ts';
import {
  INTERLEAVED_RESPONSE_VARIANT,
  INTERLEAVING_COUNTER_VARIANT,
  impressionEventId,
  type InterleavingAttribution,
} from '../domain/events/interleaving-credit.ts';
import type { Team } from '../domain/experiments/interleaving.ts';
import { popularItems, recommendTopN, type FallbackReason, type Recommendations } from '../domain/recommenders/top-n.ts';
import type { CounterRepository, UserAggregateRepository } from '../storage/counter-store.ts';
import { provesNotApplied, type EventRepository } from '../storage/event-store.ts';
import type { ExperimentRepository, StoredAssignment as StoredAssignmentValue } from '../storage/experiment-repository.ts';
import type { ModelCache } from '../storage/model-cache.ts';
import { BanditAllocationCache, interleaveSlates } from './serving-modes.ts';
import type { Telemetry } from './telemetry.ts';

export interface RecommendationServiceDeps {
  experiments: ExperimentRepository;
  /** The exposure counts, the bandit's arm counters, and the covariate on each exposed user's aggregate. */
  counters: CounterRepository & Pick<UserAggregateRepository, 'recordCovariate'>;
  events: EventRepository;
  models: ModelCache;
  /** Record the impression slate of every request in the experiment (the RECORD_IMPRESSIONS switch). */
  recordImpressions: boolean;
  /** Marks the distinct items each variant showed (catalogue coverage); not measured without it. */
  shownItems?: ShownItemRepository;
  /** Where failures and fallbacks are logged and counted. */
  telemetry: Telemetry;
}

/** How many (experiment, variant, item) markers one container remembers as written; past it the memory starts over. */
const MAX_KNOWN_SHOWN = 200_000;

export interface RecommendRequest {
  experimentId: string;
  userId: string;
  topN: number;
  now: number;
  requestId: string;
  /** The client's segment of the user (`segment`), kept only at the first exposure; must be one the experiment declares. */
  segment?: string;
}

/** One item served: its rank and score and, in an interleaved list, the team and variant that placed it. */
export interface ServedItem {
  itemId: string;
  score: number;
  rank: number;
  team?: Team;
  variant?: string;
}

/** What one request served; the handler names it for the API. */
export interface Recommendation {
  userId: string;
  experimentId: string;
  /** The variant served, or the interleaved pseudo-variant. */
  variant: string;
  /** Null for an interleaved list (it mixes two). */
  modelVersion: string | null;
  requestId: string;
  items: ServedItem[];
  /** Why the popularity list was served instead of a personalised one; null when it was not. */
  fallback: FallbackReason | null;
  /** Both teams of an interleaved list, as the impression slate keeps them. */
  interleaving?: Record<Team, { variant: string; model_version: string }>;
  /** Whether the impression is part of the test. */
  inExperiment: boolean;
  impressionRecorded: boolean;
}

/** How many experiments (known or not) one container keeps cached; the oldest is evicted first. */
export const MAX_CACHED_EXPERIMENTS = 1_000;

/** Attempts at releasing an exposure claim whose count failed (as the events' undo: about 4 s at worst). */
const EXPOSURE_RELEASE_ATTEMPTS = 8;

/** Whether an error came from an AWS SDK call (the SDK stamps `$metadata` on every error it returns, network errors included). */
function isStoreError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && '$metadata' in error;
}

/** Builds the serving use case over its storage. */
export function createRecommendationService({ experiments, counters, events, models, recordImpressions, shownItems, telemetry }: RecommendationServiceDeps) {
  // The (experiment, variant, item) coverage markers this container has written.
  const knownShown = new Set<string>();
  const banditAllocations = new BanditAllocationCache(counters);
  // A stored assignment never changes (sticky by design), so a warm container keeps the ones it
  // has read; the experiment definition is re-read at most once a second.
  const knownAssignments = new Map<string, StoredAssignmentValue>();
  // Entries in the order they were read (a Map keeps insertion order, and a refreshed entry is
  // re-inserted), so the oldest is always first: the cache is bounded, and entries past their TTL,
  // unknown ids included, are swept from the front instead of living as long as the container.
  const experimentCache = new Map<string, { at: number; experiment: Promise<Experiment | undefined> }>();
  const EXPERIMENT_TTL_MS = 1_000;
  const MAX_KNOWN_ASSIGNMENTS = 100_000;

  function experimentOf(id: string, now: number): Promise<Experiment | undefined> {
    const hit = experimentCache.get(id);
    if (hit && now - hit.at < EXPERIMENT_TTL_MS) return hit.experiment;
    experimentCache.delete(id);
    for (const [oldestId, oldest] of experimentCache) {
      if (experimentCache.size < MAX_CACHED_EXPERIMENTS && now - oldest.at < EXPERIMENT_TTL_MS) break;
      experimentCache.delete(oldestId);
    }
    const experiment = experiments.get(id);
    // A failed read is not cached; a later read of the same id may have replaced this entry already.
    experiment.catch(() => {
      if (experimentCache.get(id)?.experiment === experiment) experimentCache.delete(id);
    });
    experimentCache.set(id, { at: now, experiment });
    return experiment;
  }

  async function storedAssignment(experimentId: string, userId: string) {
    const key = `${experimentId}\u0000${userId}`;
    const known = knownAssignments.get(key);
    if (known) return known;
    const stored = await experiments.getAssignment(experimentId, userId);
    // One whose exposure is still to be counted is read again until it is.
    if (stored && !stored.exposurePending) {
      if (knownAssignments.size >= MAX_KNOWN_ASSIGNMENTS) knownAssignments.delete(knownAssignments.keys().next().value as string);
      knownAssignments.set(key, stored);
    }
    return stored;
  }

  /** Assigns, storing a fresh assignment with a conditional write so the first one sticks. */
  async function assign(
    experimentId: string,
    userId: string,
    now: number,
    segment?: string,
  ): Promise<{ assignment: Assignment; experiment: Experiment; record?: StoredAssignmentValue }> {
    // Independent reads, so one round trip instead of two on the hot path.
    const [experiment, stored] = await Promise.all([experimentOf(experimentId, now), storedAssignment(experimentId, userId)]);
    if (!experiment)
      throw new NotFoundError(`experiment_id: experiment "${experimentId}" does not exist`, [
        { field: 'experiment_id', message: `experiment "${experimentId}" does not exist` },
      ]);
    // Checked before anything is written, for every user (it is kept only at a first exposure).
    const segmentProblem = segment === undefined ? undefined : clientSegmentProblem(experiment.segments, segment);
    if (segmentProblem !== undefined) throw new ValidationError([{ field: 'segment', message: segmentProblem }]);
    let record = stored;
    // A bandit assigns new users by the current Thompson allocation (cached per container);
    // users already assigned stay sticky and need no counters read.
    const tested = experiment.status === 'running' && !scheduleEndReached(experiment, now);
    const banditAllocation = experiment.mode === 'bandit' && tested && !stored ? await banditAllocations.get(experiment, now) : undefined;
    // `now` is the request's time: past its scheduled end, a running experiment serves as stopped.
    let assignment = resolveAssignment({ experiment, userId, stored, banditAllocation, now });
    if (assignment.should_store) {
      // What the control model knows of the user before this first exposure: the CUPED covariate.
      const profile = await profileOf(experiment, userId);
      const fresh: StoredAssignmentValue = {
        experimentId,
        userId,
        variant: assignment.variant,
        bucket: assignment.bucket,
        propensity: assignment.propensity,
        assignedAt: new Date(now).toISOString(),
        covariate: profile.covariate,
        // The user's segment for good: their type by the control model, and the client's segment if sent.
        segment: segmentKey({ userType: userTypeOf(profile), ...(segment === undefined ? {} : { client: segment }) }),
      };
      // A bandit's assignment keeps the whole allocation it was drawn from: its exposure logs it.
      if (assignment.source === 'bandit' && banditAllocation !== undefined) fresh.allocation = loggedAllocation(banditAllocation);
      const kept = await experiments.putAssignmentIfAbsent(fresh);
      record = kept;
      if (kept === fresh) await countClaimedExposure(fresh);
      else {
        assignment = resolveAssignment({ experiment, userId, stored: kept, now });
        if (kept.exposurePending) await countPendingExposure(kept);
      }
    } else if (stored?.exposurePending) {
      await countPendingExposure(stored);
    }
    return { assignment, experiment, ...(record !== undefined && record.variant === assignment.variant ? { record } : {}) };
  }

  /**
   * The user's profile from the control model's artifact (user-profile.ts), the same for every
   * variant. An artifact that cannot be loaded gives the unknown profile (its serving falls back
   * and raises ArtifactFallback as well).
   */
  async function profileOf(experiment: Experiment, userId: string): Promise<UserProfile> {
    const control = controlOf(experiment);
    try {
      return userProfileOf(await models.get(control.model_id, control.model_version), userId);
    } catch (error) {
      telemetry.warn('Control artifact unavailable for the user profile', { model: control.model_id, version: control.model_version, error });
      return UNKNOWN_PROFILE;
    }
  }

  /** The exposure of an assignment whose earlier count failed: claimed again, then counted (unless another request did). */
  async function countPendingExposure(stored: StoredAssignmentValue): Promise<void> {
    if (await experiments.claimExposure(stored.experimentId, stored.userId)) await countClaimedExposure(stored);
  }

  /**
   * Counts a claimed exposure on the day of the assignment. If the ADD fails, the claim is
   * released (retried while the store provably applied nothing) and the request fails, so the
   * user's next request counts it: an exposure is counted once per stored assignment. A release
   * that fails leaves the exposure claimed but uncounted, which is logged and raises
   * CounterInconsistency, as the events' undo does.
   */
  async function countClaimedExposure(stored: StoredAssignmentValue): Promise<void> {
    const { experimentId, userId, variant } = stored;
    try {
      // The covariate goes on the user aggregate first (idempotent), so every later ADD returns it
      // with the totals (ALL_NEW) for the cross moments Σx·y; then Σx, Σx² join the exposure's ADD.
      if (stored.covariate) await counters.recordCovariate(experimentId, userId, stored.covariate);
      await counters.countExposure(
        experimentId,
        variant,
        Date.parse(stored.assignedAt),
        userId,
        { ...banditExposureIncrements(stored), ...covariateExposureIncrements(stored.covariate) },
        stored.segment,
      );
    } catch (error) {
      try {
        await retryWithBackoff(() => experiments.releaseExposure(experimentId, userId), provesNotApplied, {
          maxAttempts: EXPOSURE_RELEASE_ATTEMPTS,
          baseMs: 50,
          capMs: 1000,
        });
      } catch (releaseError) {
        telemetry.error('Counter undo incomplete: an exposure is claimed but not counted', {
          reason: 'unclaim-failed',
          experimentId,
          variant,
          userId,
          error: releaseError,
        });
        telemetry.metric('CounterInconsistency', 'Count', 1);
      }
      throw error;
    }
  }

  /**
   * Catalogue coverage: marks the items of a recorded slate this container has not marked yet for
   * the variant (after a warm-up, almost never a write). Best effort: a failed write is logged and
   * retried on a later request, never failing this one.
   */
  async function markShown(experimentId: string, variant: string, items: readonly { itemId: string }[], now: number, catalogueSize: number): Promise<void> {
    if (shownItems === undefined) return;
    const prefix = `${experimentId}\u0000${variant}\u0000`;
    const fresh = items.map((item) => item.itemId).filter((itemId) => !knownShown.has(prefix + itemId));
    const catalogueKey = `${prefix}\u0000catalogue:${catalogueSize}`;
    const catalogueKnown = knownShown.has(catalogueKey);
    if (fresh.length === 0 && catalogueKnown) return;
    try {
      await shownItems.markShown(experimentId, variant, fresh, analysisDay(now), catalogueKnown ? undefined : catalogueSize);
      if (knownShown.size + fresh.length + 1 > MAX_KNOWN_SHOWN) knownShown.clear();
      for (const itemId of fresh) knownShown.add(prefix + itemId);
      knownShown.add(catalogueKey);
    } catch (error) {
      telemetry.warn('Shown items could not be marked (catalogue coverage); retried on a later request', { experimentId, variant, error });
      telemetry.metric('ShownItemsWriteFailed', 'Count', 1);
    }
  }

  async function recommendWithFallback(assignment: Assignment, controlModel: { model_id: string; model_version: string }, userId: string, topN: number) {
    try {
      const serving = await models.get(assignment.model_id, assignment.model_version);
      return { recs: recommendTopN(serving, userId, topN), modelVersion: assignment.model_version, catalogueSize: serving.model.itemIds.length };
    } catch (error) {
      telemetry.error("Artifact unavailable, serving the control model's popularity list", {
        model: assignment.model_id,
        version: assignment.model_version,
        error,
      });
      telemetry.metric('ArtifactFallback', 'Count', 1);
      try {
        const serving = await models.get(controlModel.model_id, controlModel.model_version);
        return {
          recs: { items: popularItems(serving, topN), fallback: 'artifact-unavailable' } as Recommendations,
          modelVersion: controlModel.model_version,
          catalogueSize: serving.model.itemIds.length,
        };
      } catch {
        throw new UnavailableError('No model artifact could be loaded; retry later');
      }
    }
  }

  /** What one request serves, whatever the mode. */
  interface Served {
    variant: string;
    modelVersion: string | null;
    items: ServedItem[];
    fallback?: FallbackReason;
    /** Whether the impression is part of the test (false when an interleaved list could not be built). */
    inExperiment: boolean;
    /** Counter variant and attribution of the impression. */
    counterVariant: string;
    attribution?: InterleavingAttribution;
    interleaving?: Record<Team, { variant: string; model_version: string }>;
    /** Items in the artifact the list came from (catalogue coverage); absent for an interleaved list. */
    catalogueSize?: number;
  }

  async function serveAssigned(assignment: Assignment, experiment: Experiment, userId: string, topN: number): Promise<Served> {
    const { recs, modelVersion, catalogueSize } = await recommendWithFallback(assignment, controlOf(experiment), userId, topN);
    return {
      variant: assignment.variant,
      modelVersion,
      items: recs.items,
      fallback: recs.fallback,
      inExperiment: assignment.in_experiment,
      counterVariant: assignment.variant,
      catalogueSize,
    };
  }

  /**
   * Both teams' pinned models, team-draft interleaved for this request. The same artifact rules as
   * A/B serving apply: when either team cannot be loaded, the control's popularity list is served
   * outside the test (a list with one team missing would bias the preference).
   */
  async function serveInterleaved(assignment: Assignment, experiment: Experiment, userId: string, topN: number, requestId: string): Promise<Served> {
    const teams = interleavingTeams(experiment);
    const [a, b] = await Promise.allSettled([models.get(teams.a.model_id, teams.a.model_version), models.get(teams.b.model_id, teams.b.model_version)]);
    if (a.status === 'rejected' || b.status === 'rejected') {
      const failed = a.status === 'rejected' ? teams.a : teams.b;
      const { recs, modelVersion } = await recommendWithFallback(
        { ...assignment, model_id: failed.model_id, model_version: failed.model_version },
        teams.a,
        userId,
        topN,
      );
      // A retry inside recommendWithFallback may load the failed team after all: then its list is served, still outside the test.
      const variant = recs.fallback === 'artifact-unavailable' ? teams.a.name : failed.name;
      return { variant, modelVersion, items: recs.items, fallback: recs.fallback, inExperiment: false, counterVariant: INTERLEAVING_COUNTER_VARIANT };
    }
    const slate = interleaveSlates({ experiment, servingA: a.value, servingB: b.value, userId, requestId, topN });
    return {
      variant: INTERLEAVED_RESPONSE_VARIANT,
      modelVersion: null,
      items: slate.items,
      fallback: slate.fallback,
      inExperiment: true,
      counterVariant: INTERLEAVING_COUNTER_VARIANT,
      attribution: { kind: 'impression' },
      interleaving: {
        a: { variant: teams.a.name, model_version: teams.a.model_version },
        b: { variant: teams.b.name, model_version: teams.b.model_version },
      },
    };
  }

  /** Serves one request. */
  async function recommend(request: RecommendRequest): Promise<Recommendation> {
    const { experimentId, userId, topN, now, requestId } = request;
    let assigned: Awaited<ReturnType<typeof assign>>;
    try {
      assigned = await assign(experimentId, userId, now, request.segment);
    } catch (error) {
      // The store could not be read or written while assigning: nothing was served, so a retry is safe.
      if (error instanceof DomainError || !isStoreError(error)) throw error;
      telemetry.error('Assignment store unavailable', { experimentId, error });
      throw new UnavailableError('The experiment store is unavailable; retry later');
    }
    const { assignment, experiment, record } = assigned;
    const served =
      assignment.source === 'interleaving'
        ? await serveInterleaved(assignment, experiment, userId, topN, requestId)
        : await serveAssigned(assignment, experiment, userId, topN);
    telemetry.metric('Recommendations', 'Count', 1);
    if (served.fallback === 'unknown-user') telemetry.metric('ColdStartFallback', 'Count', 1);

    let impressionRecorded = false;
    if (recordImpressions && served.inExperiment) {
      const impression: AcceptedEvent = {
        event_id: impressionEventId(requestId),
        event_type: 'impression',
        user_id: userId,
        experiment_id: experimentId,
        request_id: requestId,
        received_at_ms: now,
        slate: served.items.map((item) => ({
          item_id: item.itemId,
          position: item.rank,
          score: item.score,
          ...(item.team === undefined ? {} : { team: item.team, variant: item.variant }),
        })),
        model_version: served.modelVersion ?? undefined,
        ...(served.interleaving ? { interleaving: served.interleaving } : {}),
        propensity: assignment.propensity,
        fallback: served.fallback ?? null,
      };
      // No size check per request: a slate is at most MAX_TOP_N items whose ids the artifact
      // loader bounds (MAX_ID_BYTES), so it stays far below DynamoDB's 400 KB item limit.
      try {
        // The request id was generated for this request, so the slate cannot be a duplicate: the
        // counting starts with the claim instead of after it (two round trips, not three).
        // The impression counts in the user's segment (a served interleaved list has none: its counter is the experiment's).
        const segmentOf = served.attribution === undefined ? record?.segment : undefined;
        await events.recordNew(impression, served.counterVariant, served.attribution, {
          caps: userCapsOf(experiment),
          ...(segmentOf === undefined ? {} : { segment: segmentOf }),
        });
        impressionRecorded = true;
      } catch (error) {
        telemetry.error('Impression could not be recorded', { requestId, error });
        telemetry.metric('ImpressionWriteFailed', 'Count', 1);
      }
      if (impressionRecorded && served.catalogueSize !== undefined)
        await markShown(experimentId, served.counterVariant, served.items, now, served.catalogueSize);
    }

    return {
      userId,
      experimentId,
      variant: served.variant,
      modelVersion: served.modelVersion,
      requestId,
      items: served.items,
      fallback: served.fallback ?? null,
      ...(served.interleaving ? { interleaving: served.interleaving } : {}),
      inExperiment: served.inExperiment,
      impressionRecorded,
    };
  }

  return { recommend };
}
