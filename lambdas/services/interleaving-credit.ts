/**
 * Event ingestion for interleaving experiments: which experiments of a batch interleave (their
 * mode, cached in the warm container) and the team each of their events is credited to, from the
 * impression slates its request ids name (one BatchGetItem per 100 request ids).
 */
import type { AcceptedEvent } from '../domain/events/event.ts';
import { attributeInterleavedEvent, type Attributed, type StoredImpression } from '../domain/events/interleaving-credit.ts';
import { userCapsOf, type UserCaps } from '../domain/experiments/caps.ts';
import type { Experiment } from '../domain/experiments/model.ts';
import type { ImpressionReader } from '../storage/impression-store.ts';

/** Reads one experiment (the experiments repository's `get`). */
export interface ExperimentReader {
  get(id: string): Promise<Experiment | undefined>;
}

/** What ingestion needs of an experiment: its mode, and the per-user caps its counters are written with. */
export interface ExperimentSettings {
  mode: Experiment['mode'];
  caps: UserCaps;
}

/** What the cache knows of an experiment id: its settings, or that no such experiment exists. */
type CachedMode = { at: number; settings: ExperimentSettings | 'missing' };

/**
 * Experiment modes per container, and which experiment ids exist, so ingestion can refuse events
 * for experiments that do not exist at one read per distinct id per batch at most.
 *
 * A mode can only change while the experiment is a draft, and a draft serves no interleaved list,
 * so a non-draft experiment's mode is kept for `ttlMs` (the TTL only bounds how long a deleted
 * experiment is still accepted); drafts are read every time. An id that does not exist is
 * remembered for `missingTtlMs` (short: an experiment created just now is accepted within
 * that), so a client posting events for an unknown id costs one read per id and period, not
 * one per event. At most `maxEntries` ids are kept, the one stored longest ago evicted first, so
 * a flood of made-up ids cannot grow the container's memory.
 */
export class ExperimentModeCache {
  private readonly cached = new Map<string, CachedMode>();

  constructor(
    private readonly experiments: ExperimentReader,
    private readonly ttlMs = 60_000,
    private readonly missingTtlMs = 5_000,
    private readonly maxEntries = 1_000,
  ) {}

  /** The ids currently held (for tests and metrics). */
  get size(): number {
    return this.cached.size;
  }

  /** The mode of an experiment, or undefined when it does not exist. */
  async modeOf(experimentId: string, now: number): Promise<Experiment['mode'] | undefined> {
    return (await this.settingsOf(experimentId, now))?.mode;
  }

  /**
   * The mode and caps of an experiment, or undefined when it does not exist. Caps, like the
   * mode, can only change while the experiment is a draft, which is read every time.
   */
  async settingsOf(experimentId: string, now: number): Promise<ExperimentSettings | undefined> {
    const hit = this.cached.get(experimentId);
    if (hit && now - hit.at < (hit.settings === 'missing' ? this.missingTtlMs : this.ttlMs)) return hit.settings === 'missing' ? undefined : hit.settings;
    const experiment = await this.experiments.get(experimentId);
    const settings = experiment === undefined ? undefined : { mode: experiment.mode, caps: userCapsOf(experiment) };
    if (settings === undefined) this.remember(experimentId, { at: now, settings: 'missing' });
    else if (experiment?.status !== 'draft') this.remember(experimentId, { at: now, settings });
    else this.cached.delete(experimentId);
    return settings;
  }

  /** The mode of each distinct id, undefined for an experiment that does not exist (one read per id not cached, in parallel). */
  async modes(experimentIds: Iterable<string>, now: number): Promise<Map<string, Experiment['mode'] | undefined>> {
    const settings = await this.settings(experimentIds, now);
    return new Map([...settings].map(([id, s]) => [id, s?.mode]));
  }

  /** The settings of each distinct id, undefined for an experiment that does not exist (one read per id not cached, in parallel). */
  async settings(experimentIds: Iterable<string>, now: number): Promise<Map<string, ExperimentSettings | undefined>> {
    const ids = [...new Set(experimentIds)];
    const settings = await Promise.all(ids.map((id) => this.settingsOf(id, now)));
    return new Map(ids.map((id, i) => [id, settings[i]]));
  }

  private remember(experimentId: string, entry: CachedMode): void {
    // Re-inserting moves the id to the end of the Map's order: the first key is the oldest entry.
    this.cached.delete(experimentId);
    this.cached.set(experimentId, entry);
    while (this.cached.size > this.maxEntries) this.cached.delete(this.cached.keys().next().value as string);
  }
}

/**
 * The counter variant and attribution of each event of an interleaving experiment, in order:
 * clicks and purchases with a request id are looked up in their impression slates.
 */
export async function attributeInterleavingEvents(events: readonly AcceptedEvent[], impressions: ImpressionReader): Promise<Attributed[]> {
  const requestIds = new Set(
    events.filter((e) => (e.event_type === 'click' || e.event_type === 'purchase') && e.request_id !== undefined).map((e) => e.request_id as string),
  );
  const slates = requestIds.size > 0 ? await impressions.byRequestIds(requestIds) : new Map<string, StoredImpression>();
  return events.map((event) => attributeInterleavedEvent(event, event.request_id === undefined ? undefined : slates.get(event.request_id)));
}
