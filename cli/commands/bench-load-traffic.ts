/**
 * The traffic of `abrec bench load`, driven by autocannon over loopback, and the ledger of what
 * the service answered. Every request is entered in the ledger as it is built (setupRequest) and
 * settled when its answer arrives (onResponse); autocannon abandons the requests in flight when a
 * phase ends, and those stay unanswered in the ledger. Event batches that were not answered 2xx
 * (abandoned, 5xx, 429) are resent after the phase, with the same ids and content, until they are.
 *
 * Phases:
 * - recommend: GET /recommend, the users in turn (bundled users get personal lists, the rest the
 *   cold-start popularity list); each recorded impression slate is kept for the events.
 * - events: POST /events/batch of unique event ids, a mix of every type over random users;
 *   clicks and purchases of a user with a recorded slate name its request id and one of its items.
 * - mixed: each connection asks for a user's recommendations, then sends that user's events on
 *   the slate it got (a click, and sometimes a purchase, a rating or a watch time).
 */
import autocannon from 'autocannon';
import { impressionEventId } from '../../lambdas/domain/events/interleaving-credit.ts';
import type { EventType } from '../../lambdas/domain/events/event.ts';

export const PHASES = ['recommend', 'events', 'mixed'] as const;
export type PhaseName = (typeof PHASES)[number];

/** An event the generator sent, as the reconciliation needs it. */
export interface SentEvent {
  id: string;
  type: EventType;
  user: string;
}

/** A recorded impression slate, from a /recommend answer. */
interface Slate {
  requestId: string;
  items: { item_id: string; rank: number }[];
}

interface RecommendCall {
  user: string;
  status?: number;
  /** The impression id when the answer said impression_recorded: true. */
  impressionId?: string;
}

interface BatchCall {
  events: SentEvent[];
  /** The request body, kept until the batch is acknowledged (a resend must be byte for byte the same content). */
  body: string;
  status?: number;
  acknowledged: boolean;
  /** A final 4xx answer: the service refused the batch (nothing to resend). */
  refused: boolean;
}

/** Everything the service was asked and what it answered. */
export class LoadLedger {
  readonly recommends: RecommendCall[] = [];
  readonly batches: BatchCall[] = [];
  /** Each user's latest recorded slate. */
  readonly slates = new Map<string, Slate>();
  /** Item ids seen in answers, for events of users without a slate. */
  readonly items: string[] = [];
  private readonly seenItems = new Set<string>();

  noteSlate(user: string, slate: Slate): void {
    this.slates.set(user, slate);
    if (this.items.length >= 1000) return;
    for (const { item_id } of slate.items) {
      if (!this.seenItems.has(item_id)) {
        this.seenItems.add(item_id);
        this.items.push(item_id);
      }
    }
  }
}

/** The events phase's mix: shares of each type. */
const EVENT_MIX: readonly [EventType, number][] = [
  ['impression', 0.35],
  ['click', 0.25],
  ['purchase', 0.1],
  ['rating', 0.15],
  ['watch_time', 0.15],
];

function pickType(random: () => number): EventType {
  let u = random();
  for (const [type, share] of EVENT_MIX) {
    if (u < share) return type;
    u -= share;
  }
  return 'impression';
}

/** An event to send, and what the ledger keeps of it. */
export interface GeneratedEvent {
  sent: SentEvent;
  body: Record<string, unknown>;
}

export interface GeneratorOptions {
  experimentId: string;
  /** Prefix of every event id of the run (ids are `<prefix>-<n>`). */
  idPrefix: string;
  users: readonly string[];
  random: () => number;
  ledger: LoadLedger;
}

/** Builds events with ids unique to the run. */
export function eventGenerator({ experimentId, idPrefix, users, random, ledger }: GeneratorOptions) {
  let next = 0;
  const pick = <T>(values: readonly T[]) => values[Math.floor(random() * values.length)];
  const anyItem = () => (ledger.items.length > 0 ? pick(ledger.items) : String(1 + Math.floor(random() * 100)));

  /** One event of `type` for `user`; clicks and purchases on a recorded slate name its request and item. */
  function event(type: EventType, user: string, slate: Slate | undefined, onItem?: { item_id: string; rank: number }) {
    const id = `${idPrefix}-${next++}`;
    const base = { event_id: id, event_type: type, user_id: user, experiment_id: experimentId };
    const slateItem = onItem ?? (slate ? pick(slate.items) : undefined);
    const item = slateItem ? { item_id: slateItem.item_id } : { item_id: anyItem() };
    const onSlate = slate && slateItem ? { request_id: slate.requestId, position: slateItem.rank } : {};
    let body: Record<string, unknown>;
    switch (type) {
      case 'impression':
        body = base;
        break;
      case 'click':
        body = { ...base, ...item, ...onSlate };
        break;
      case 'purchase':
        body = { ...base, ...item, ...onSlate, value: Math.round(random() * 10_000) / 100 };
        break;
      case 'rating':
        body = { ...base, ...item, value: 1 + Math.floor(random() * 5) };
        break;
      case 'watch_time':
        body = { ...base, ...item, value: 1 + Math.floor(random() * 7200) };
        break;
    }
    return { sent: { id, type, user }, body } satisfies GeneratedEvent;
  }

  return {
    /** A batch of the events phase: the mix, over random users. */
    eventsPhaseBatch(size: number) {
      return Array.from({ length: size }, () => {
        const user = pick(users);
        return event(pickType(random), user, ledger.slates.get(user));
      });
    },
    /** What a user does after a list: a click on it, sometimes a purchase of that item, a rating, a watch time. */
    sessionBatch(user: string, slate: Slate | undefined) {
      if (!slate || slate.items.length === 0) return [event('rating', user, undefined)];
      const clicked = pick(slate.items);
      const out = [event('click', user, slate, clicked)];
      if (random() < 0.25) out.push(event('purchase', user, slate, clicked));
      if (random() < 0.3) out.push(event('rating', user, slate, clicked));
      if (random() < 0.3) out.push(event('watch_time', user, slate, clicked));
      return out;
    },
  };
}

/** Figures of one phase, from autocannon's result and the ledger. */
export interface PhaseResult {
  phase: PhaseName;
  duration_s: number;
  connections: number;
  /** Requests answered. */
  requests: number;
  requests_per_s: number;
  /** Events acknowledged: batch events answered 2xx, and impressions recorded by /recommend. */
  events: number;
  events_per_s: number;
  latency_p50_ms: number;
  latency_p99_ms: number;
  latency_max_ms: number;
  non_2xx: number;
  status_codes: Record<string, number>;
  /** Connection errors, timeouts included. */
  errors: number;
  timeouts: number;
  /** Requests built but never answered: abandoned when the phase ended, or timed out. */
  unanswered: number;
  /** /recommend answers that were the cold-start popularity list (users the models do not know). */
  fallback_lists: number;
}

export interface PhaseOptions {
  phase: PhaseName;
  url: string;
  apiKey: string;
  experimentId: string;
  ledger: LoadLedger;
  generator: ReturnType<typeof eventGenerator>;
  /** The users /recommend asks for, in turn. */
  users: readonly string[];
  durationS: number;
  connections: number;
  /** Requests per second over all connections; undefined: as fast as the connections go. */
  rate?: number;
  batchSize: number;
  topN: number;
  signal?: AbortSignal;
  /** Called every second: seconds elapsed, requests answered so far and the non-2xx among them. */
  onTick?: (elapsedS: number, answered: number, non2xx: number) => void;
}

interface ConnectionContext {
  call?: RecommendCall;
  batch?: BatchCall;
  slate?: Slate;
  user?: string;
}

interface RecommendBody {
  request_id: string;
  impression_recorded?: boolean;
  fallback: string | null;
  items: { item_id: string; rank: number }[];
}

/** Runs one phase for `durationS` seconds; resolves with its figures. */
export function runPhase(options: PhaseOptions): Promise<PhaseResult> {
  const { phase, ledger, generator, users, experimentId, topN, batchSize } = options;
  const firstRecommend = ledger.recommends.length;
  const firstBatch = ledger.batches.length;
  let cursor = 0;
  let answered = 0;
  let non2xx = 0;
  let fallbackLists = 0;

  const nextUser = () => users[cursor++ % users.length];

  const recommendStep: autocannon.RequestStep<ConnectionContext> = {
    method: 'GET',
    setupRequest: (request, context) => {
      const user = nextUser();
      const call: RecommendCall = { user };
      ledger.recommends.push(call);
      context.call = call;
      context.user = user;
      context.slate = undefined;
      const query = new URLSearchParams({ user_id: user, top_n: String(topN), experiment_id: experimentId });
      return { ...request, method: 'GET', path: `/recommend?${query}`, body: undefined };
    },
    onResponse: (status, body, context) => {
      answered++;
      const call = context.call!;
      call.status = status;
      if (status < 200 || status > 299) {
        non2xx++;
        return;
      }
      const answer = JSON.parse(body) as RecommendBody;
      if (answer.fallback !== null) fallbackLists++;
      context.slate = recordRecommendation(ledger, call, answer);
    },
  };

  const batchStep = (build: (context: ConnectionContext) => GeneratedEvent[]): autocannon.RequestStep<ConnectionContext> => ({
    method: 'POST',
    setupRequest: (request, context) => {
      const built = build(context);
      const body = JSON.stringify({ events: built.map((e) => e.body) });
      const batch: BatchCall = { events: built.map((e) => e.sent), body, acknowledged: false, refused: false };
      ledger.batches.push(batch);
      context.batch = batch;
      return { ...request, method: 'POST', path: '/events/batch', headers: { ...request.headers, 'content-type': 'application/json' }, body };
    },
    onResponse: (status, _body, context) => {
      answered++;
      const batch = context.batch!;
      settleBatch(batch, status);
      if (!batch.acknowledged) non2xx++;
    },
  });

  const steps: Record<PhaseName, autocannon.RequestStep<ConnectionContext>[]> = {
    recommend: [recommendStep],
    events: [batchStep(() => generator.eventsPhaseBatch(batchSize))],
    // The session's events are on the slate this connection just got (none if that request failed).
    mixed: [recommendStep, batchStep((context) => generator.sessionBatch(context.user!, context.slate))],
  };
  const requests = steps[phase];

  return new Promise<PhaseResult>((resolve, reject) => {
    const started = performance.now();
    const instance = autocannon<ConnectionContext>(
      {
        url: options.url,
        connections: options.connections,
        duration: options.durationS,
        timeout: 10,
        ...(options.rate ? { overallRate: options.rate } : {}),
        headers: { 'x-api-key': options.apiKey },
        requests,
      },
      (error, result) => {
        options.signal?.removeEventListener('abort', stop);
        if (error) {
          reject(error);
          return;
        }
        const recommends = ledger.recommends.slice(firstRecommend);
        const batches = ledger.batches.slice(firstBatch);
        const events =
          recommends.filter((c) => c.impressionId !== undefined).length + batches.reduce((sum, b) => sum + (b.acknowledged ? b.events.length : 0), 0);
        const duration = result.duration;
        resolve({
          phase,
          duration_s: duration,
          connections: options.connections,
          requests: result.requests.total,
          requests_per_s: round1(result.requests.total / duration),
          events,
          events_per_s: round1(events / duration),
          latency_p50_ms: result.latency.p50,
          latency_p99_ms: result.latency.p99,
          latency_max_ms: result.latency.max,
          non_2xx: result.non2xx,
          status_codes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count])),
          errors: result.errors,
          timeouts: result.timeouts,
          unanswered: recommends.filter((c) => c.status === undefined).length + batches.filter((b) => b.status === undefined).length,
          fallback_lists: fallbackLists,
        });
      },
    );
    const stop = () => instance.stop();
    options.signal?.addEventListener('abort', stop, { once: true });
    instance.on('tick', () => options.onTick?.((performance.now() - started) / 1000, answered, non2xx));
  });
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/**
 * Asks for `requests` recommendations before the first phase, a few at a time, so the first
 * phase measures a warm service (both variants' artifacts loaded, caches filled) rather than
 * its start. The answers go to the ledger like any other: their impressions are events too.
 */
export async function warmUp(
  ledger: LoadLedger,
  {
    url,
    apiKey,
    experimentId,
    users,
    topN,
    requests = 20,
  }: { url: string; apiKey: string; experimentId: string; users: readonly string[]; topN: number; requests?: number },
): Promise<void> {
  const calls = Array.from({ length: requests }, (_, i): RecommendCall => ({ user: users[i % users.length] }));
  ledger.recommends.push(...calls);
  await Promise.all(
    [0, 1, 2, 3].map(async (lane) => {
      for (let i = lane; i < calls.length; i += 4) {
        const call = calls[i];
        const query = new URLSearchParams({ user_id: call.user, top_n: String(topN), experiment_id: experimentId });
        try {
          const response = await fetch(`${url}/recommend?${query}`, { headers: { 'x-api-key': apiKey } });
          const text = await response.text();
          call.status = response.status;
          if (response.status === 200) recordRecommendation(ledger, call, JSON.parse(text) as RecommendBody);
        } catch {
          // left unanswered: it may still have recorded an impression, which the reconciliation allows for
        }
      }
    }),
  );
  const failed = calls.filter((c) => c.status !== 200);
  if (failed.length > 0)
    throw new Error(
      `the warm-up's /recommend requests failed (${failed.length} of ${requests}; first status ${failed[0].status ?? 'none'}): is the service healthy?`,
    );
}

/** Notes a 200 answer of /recommend: its impression (when recorded) and its slate. */
function recordRecommendation(ledger: LoadLedger, call: RecommendCall, answer: RecommendBody): Slate | undefined {
  if (!answer.impression_recorded) return undefined;
  call.impressionId = impressionEventId(answer.request_id);
  const slate = { requestId: answer.request_id, items: answer.items.map(({ item_id, rank }) => ({ item_id, rank })) };
  ledger.noteSlate(call.user, slate);
  return slate;
}

/** Records an answer: 2xx acknowledges, a 4xx other than 408/429 refuses for good, anything else leaves the batch to resend. */
function settleBatch(batch: BatchCall, status: number): void {
  batch.status = status;
  if (status >= 200 && status <= 299) {
    batch.acknowledged = true;
    batch.body = '';
  } else if (status >= 400 && status <= 499 && status !== 408 && status !== 429) {
    batch.refused = true;
  }
}

/** What resending the unacknowledged batches did. */
export interface ResendOutcome {
  /** Batches resent (abandoned, or answered 5xx/408/429). */
  resent: number;
  /** Of those, acknowledged on a resend. */
  acknowledged: number;
  /** Batches still unacknowledged: refused (4xx), or failing after every attempt. */
  refused: number;
  unresolved: number;
  /** Status codes of the refused batches. */
  refused_statuses: Record<string, number>;
}

/**
 * Resends every batch that is neither acknowledged nor refused, with its original body, until it
 * is answered 2xx (or `attempts` are spent). The service stores each event id once, so a batch
 * that was stored before its answer was lost is answered as duplicates.
 */
export async function resendUnacknowledged(
  ledger: LoadLedger,
  { url, apiKey, attempts = 8 }: { url: string; apiKey: string; attempts?: number },
): Promise<ResendOutcome> {
  const outcome: ResendOutcome = { resent: 0, acknowledged: 0, refused: 0, unresolved: 0, refused_statuses: {} };
  for (const batch of ledger.batches) {
    if (batch.acknowledged) continue;
    if (!batch.refused) {
      outcome.resent++;
      for (let attempt = 0; attempt < attempts && !batch.acknowledged && !batch.refused; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 100 * 2 ** attempt)));
        try {
          const response = await fetch(`${url}/events/batch`, {
            method: 'POST',
            headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
            body: batch.body,
          });
          await response.arrayBuffer();
          settleBatch(batch, response.status);
        } catch {
          // unreachable for now: the next attempt tries again
        }
      }
      if (batch.acknowledged) outcome.acknowledged++;
    }
    if (batch.refused) {
      outcome.refused++;
      outcome.refused_statuses[String(batch.status)] = (outcome.refused_statuses[String(batch.status)] ?? 0) + 1;
    } else if (!batch.acknowledged) outcome.unresolved++;
  }
  return outcome;
}
