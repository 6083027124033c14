/**
 * Event ingestion for interleaving experiments: which experiments of a batch interleave (their
 * mode, cached in the warm container) and the team each of their events is credited to, from the
 * impression slates its request ids name (one BatchGetItem per 100 request ids).
 */
import type { AcceptedEvent } from '../domain/events/event.ts';
import { attributeInterleavedEvent, type Attributed, type StoredImpression } from '../domain/events/interleaving-credit.ts';
import type { Experiment } from '../domain/experiments/model.ts';

/** Reads one experiment (the experiments repository's `get`). */
export interface ExperimentReader {
  get(id: string): Promise<Experiment | undefined>;
}

/** Reads impression slates by request id (DynamoImpressionStore). */
export interface ImpressionReader {
  byRequestIds(requestIds: Iterable<string>): Promise<Map<string, StoredImpression>>;
}

/**
 * Experiment modes per container. A mode can only change while the experiment is a draft, and a
 * draft serves no interleaved list, so a non-draft experiment's mode is kept for `ttlMs` (the
 * TTL only bounds memory for deleted experiments); drafts and unknown ids are read every time.
 */
export class ExperimentModeCache {
  private readonly cached = new Map<string, { at: number; mode: Experiment['mode'] }>();

  constructor(
    private readonly experiments: ExperimentReader,
    private readonly ttlMs = 60_000,
  ) {}

  /** The mode of an experiment, or undefined when it does not exist. */
  async modeOf(experimentId: string, now: number): Promise<Experiment['mode'] | undefined> {
    const hit = this.cached.get(experimentId);
    if (hit && now - hit.at < this.ttlMs) return hit.mode;
    const experiment = await this.experiments.get(experimentId);
    if (experiment === undefined) return undefined;
    if (experiment.status !== 'draft') this.cached.set(experimentId, { at: now, mode: experiment.mode });
    return experiment.mode;
  }

  /** The ids among `experimentIds` whose experiments interleave (one read per id not cached). */
  async interleaving(experimentIds: Iterable<string>, now: number): Promise<Set<string>> {
    const ids = [...new Set(experimentIds)];
    const modes = await Promise.all(ids.map((id) => this.modeOf(id, now)));
    return new Set(ids.filter((_, i) => modes[i] === 'interleaving'));
  }
}

/**
 * The counter variant and attribution of each event of an interleaving experiment, in order:
 * clicks and purchases with a request id are looked up in their impression slates.
 */
export async function attributeInterleavingEvents(events: readonly AcceptedEvent[], impressions: ImpressionReader): Promise<Attributed[]> {
  const requestIds = new Set(events.filter((e) => (e.event_type === 'click' || e.event_type === 'purchase') && e.request_id !== undefined).map((e) => e.request_id as string));
  const slates = requestIds.size > 0 ? await impressions.byRequestIds(requestIds) : new Map<string, StoredImpression>();
  return events.map((event) => attributeInterleavedEvent(event, event.request_id === undefined ? undefined : slates.get(event.request_id)));
}
