/**
 * `abrec bench load` (npm run bench:load): the local runtime under sustained HTTP load, then an
 * audit of every event it acknowledged.
 *
 * autocannon drives GET /recommend, POST /events/batch and a mix of both over loopback, a fixed
 * time per phase, against the runtime's own `abrec serve` (started in a temporary data directory)
 * or one already running (--url). Each phase prints requests/s, p50/p99 latency, non-2xx answers
 * and errors. Then every acknowledged event is looked up in the store through the AWS SDK, and
 * the daily counters and user aggregates are read back: `lost` and `duplicated` are computed
 * from what the store holds (bench-load-reconcile.ts), and either being non-zero fails the run.
 */
import { randomBytes } from 'node:crypto';
import { userTotalsDelta, ZERO_TOTALS, addTotals, type UserTotals } from '../../lambdas/domain/events/counters.ts';
import { eventTypes, UNASSIGNED_VARIANT, type EventType } from '../../lambdas/domain/events/event.ts';
import { mulberry32 } from '../../lambdas/domain/recommenders/data/random.ts';
import { errorMessage } from '../../lambdas/domain/assert-error.ts';
import { readStoredKeys, resolveAdminTarget } from '../admin-client.ts';
import { numberOption, parseCommandArgs, UsageError, type CliCommand } from '../command.ts';
import { textTable } from '../text-table.ts';
import { progressBar, type ProgressBar } from '../progress.ts';
import { reconcile, reconcileUsers, type Reconciliation, type TypeEvidence, type UserEvidence } from './bench-load-reconcile.ts';
import { createLoadExperiment, startOwnRuntime, type LoadExperiment, type LoadTarget, type OwnRuntime } from './bench-load-runtime.ts';
import { readCounterTotals, readEventStates, readUserTotals, storeClient } from './bench-load-store.ts';
import {
  eventGenerator,
  LoadLedger,
  PHASES,
  resendUnacknowledged,
  runPhase,
  warmUp,
  type PhaseName,
  type PhaseResult,
  type ResendOutcome,
} from './bench-load-traffic.ts';

export const LOAD_DEFAULTS = { durationS: 20, connections: 10, users: 5000, batchSize: 25, topN: 10, seed: 42 } as const;

export interface LoadBenchOptions {
  durationS: number;
  connections: number;
  /** Requests per second over all connections; undefined: as fast as the connections go. */
  rate?: number;
  users: number;
  batchSize: number;
  topN: number;
  phases: readonly PhaseName[];
  seed: number;
  /** A running service; undefined: start one in a temporary data directory. */
  target?: LoadTarget;
  keepData?: boolean;
  progress?: ProgressBar;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface LoadBenchResult {
  url: string;
  own_runtime: boolean;
  experiment_id: string;
  users: number;
  batch_size: number;
  rate: number | null;
  phases: PhaseResult[];
  resent: ResendOutcome;
  reconciliation: Reconciliation;
  /** Distinct events read back from the store (acknowledged and not). */
  events_read: number;
  lost: number;
  duplicated: number;
}

/** The books of a finished run, read from the store and reconciled. */
async function reconcileRun(
  target: LoadTarget,
  experiment: LoadExperiment,
  ledger: LoadLedger,
  progress: ProgressBar | undefined,
): Promise<{ reconciliation: Reconciliation; eventsRead: number }> {
  const db = storeClient(target.dynamoEndpoint);
  try {
    const acknowledged = new Map<string, { type: EventType; user: string }>();
    const unacknowledged = new Map<string, { type: EventType; user: string }>();
    for (const call of ledger.recommends) if (call.impressionId) acknowledged.set(call.impressionId, { type: 'impression', user: call.user });
    for (const batch of ledger.batches) {
      for (const event of batch.events) (batch.acknowledged ? acknowledged : unacknowledged).set(event.id, { type: event.type, user: event.user });
    }
    const ids = [...acknowledged.keys(), ...unacknowledged.keys()];
    const states = await readEventStates(db, ids, (done) => progress?.update(done, ids.length, `reading ${ids.length} event items`));
    progress?.finish(`bench load: read ${ids.length} event items (${states.size} found)`);

    const types = Object.fromEntries(
      eventTypes.map((type) => [type, { acknowledged: 0, acknowledgedStored: 0, unacknowledgedStored: 0, counted: 0 }]),
    ) as Record<EventType, TypeEvidence>;
    const expected = new Map<string, UserTotals>();
    const expect = (user: string, type: EventType) => expected.set(user, addTotals(expected.get(user) ?? ZERO_TOTALS, userTotalsDelta({ event_type: type })));
    const storedAsCounted = (id: string, type: EventType) => {
      const state = states.get(id);
      return state?.counted === true && state.type === type;
    };
    for (const [id, { type, user }] of acknowledged) {
      types[type].acknowledged++;
      if (storedAsCounted(id, type)) types[type].acknowledgedStored++;
      expect(user, type);
    }
    for (const [id, { type, user }] of unacknowledged) {
      if (!storedAsCounted(id, type)) continue;
      types[type].unacknowledgedStored++;
      expect(user, type);
    }

    const unanswered = new Map<string, number>();
    for (const call of ledger.recommends) if (call.status === undefined) unanswered.set(call.user, (unanswered.get(call.user) ?? 0) + 1);
    const userIds = [...new Set([...expected.keys(), ...unanswered.keys()])];
    // A request abandoned when a phase ended may still be finishing in the service: read the
    // counters before and after the user aggregates, until no write landed in between.
    const variants = [...experiment.variants, UNASSIGNED_VARIANT];
    let counted = await readCounterTotals(db, experiment.id, variants);
    let actual = await readUserTotals(db, experiment.id, userIds);
    for (let attempt = 1; ; attempt++) {
      const again = await readCounterTotals(db, experiment.id, variants);
      if (eventTypes.every((type) => again[type] === counted[type])) break;
      if (attempt >= 10) throw new Error('the counters kept changing while they were read: is other traffic reaching this experiment?');
      await new Promise((resolve) => setTimeout(resolve, 500));
      counted = again;
      actual = await readUserTotals(db, experiment.id, userIds);
    }
    const users = reconcileUsers(
      userIds.map(
        (userId): UserEvidence => ({
          userId,
          expected: expected.get(userId) ?? ZERO_TOTALS,
          unansweredRecommends: unanswered.get(userId) ?? 0,
          actual: actual.get(userId),
        }),
      ),
    );
    types.impression.unacknowledgedStored += users.unacknowledgedImpressions;
    for (const type of eventTypes) types[type].counted = counted[type];
    progress?.finish(`bench load: read the daily counters and ${userIds.length} user aggregates`);
    return { reconciliation: reconcile(types, users), eventsRead: states.size };
  } finally {
    db.destroy();
  }
}

/** Runs the phases against the target (or an own runtime), resends what was not acknowledged and reconciles. */
export async function runLoadBench(options: LoadBenchOptions): Promise<LoadBenchResult> {
  const log = options.log ?? (() => {});
  let own: OwnRuntime | undefined;
  if (!options.target) {
    log('starting abrec serve --no-simulate in a temporary data directory');
    own = await startOwnRuntime({ keepData: options.keepData });
    log(`runtime at ${own.url}, data in ${own.dataDir}${options.keepData ? ' (kept)' : ''}`);
  }
  const target = options.target ?? own!;
  try {
    const experiment = await createLoadExperiment(target.admin);
    log(`experiment ${experiment.id} created (running, 50/50)`);
    const ledger = new LoadLedger();
    const users = Array.from({ length: options.users }, (_, i) => String(i + 1));
    const generator = eventGenerator({
      experimentId: experiment.id,
      idPrefix: `load-${randomBytes(4).toString('hex')}`,
      users,
      // The same seed sends the same mix.
      random: mulberry32(options.seed),
      ledger,
    });
    await warmUp(ledger, { url: target.url, apiKey: target.apiKey, experimentId: experiment.id, users, topN: options.topN });
    log('warm-up: 20 recommendations answered (artifacts loaded)');
    const phases: PhaseResult[] = [];
    for (const phase of options.phases) {
      if (options.signal?.aborted) throw new Error('stopped by Ctrl-C');
      const result = await runPhase({
        phase,
        url: target.url,
        apiKey: target.apiKey,
        experimentId: experiment.id,
        ledger,
        generator,
        users,
        durationS: options.durationS,
        connections: options.connections,
        rate: options.rate,
        batchSize: options.batchSize,
        topN: options.topN,
        signal: options.signal,
        onTick: (elapsed, answered, non2xx) =>
          options.progress?.update(Math.min(elapsed, options.durationS), options.durationS, `${phase}: ${answered} answered, ${non2xx} non-2xx`),
      });
      phases.push(result);
      options.progress?.finish(
        `bench load: ${phase}: ${result.requests_per_s} req/s, ${result.events_per_s} events/s, p50 ${result.latency_p50_ms} ms, p99 ${result.latency_p99_ms} ms, ${result.non_2xx} non-2xx, ${result.errors} errors, ${result.unanswered} unanswered`,
      );
    }
    // Requests abandoned when the last phase ended may still be running in the service: give
    // them as long as the slowest answer took (at most autocannon's 10 s timeout) before resending.
    await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 1000 + Math.max(0, ...phases.map((p) => p.latency_max_ms)))));
    const resent = await resendUnacknowledged(ledger, { url: target.url, apiKey: target.apiKey });
    if (resent.resent > 0)
      log(`resent ${resent.resent} unacknowledged batches: ${resent.acknowledged} acknowledged, ${resent.refused} refused, ${resent.unresolved} unresolved`);
    if (options.signal?.aborted) throw new Error('stopped by Ctrl-C');
    const { reconciliation, eventsRead } = await reconcileRun(target, experiment, ledger, options.progress);
    return {
      url: target.url,
      own_runtime: own !== undefined,
      experiment_id: experiment.id,
      users: options.users,
      batch_size: options.batchSize,
      rate: options.rate ?? null,
      phases,
      resent,
      // A broken run could mismatch every user: the first 20 say enough.
      reconciliation: { ...reconciliation, users: { ...reconciliation.users, mismatches: reconciliation.users.mismatches.slice(0, 20) } },
      events_read: eventsRead,
      lost: reconciliation.lost,
      duplicated: reconciliation.duplicated,
    };
  } catch (error) {
    if (own) {
      const message = errorMessage(error);
      throw new Error(`${message}\n(runtime output, last lines:)\n${own.output().split('\n').slice(-20).join('\n')}`, { cause: error });
    }
    throw error;
  } finally {
    await own?.stop();
  }
}

function table(header: string[], rows: (string | number)[][]): string[] {
  return textTable([header, ...rows.map((row) => row.map(String))]);
}

/** The printed report. */
export function formatLoadBench(result: LoadBenchResult, connections: number, durationS: number): string {
  const r = result.reconciliation;
  const statuses = (codes: Record<string, number>) =>
    Object.entries(codes)
      .filter(([code]) => !code.startsWith('2'))
      .map(([code, n]) => `${code}:${n}`)
      .join(' ') || '-';
  return [
    `Load on ${result.url} (${result.own_runtime ? 'own runtime, temporary data directory' : 'running service'}), experiment ${result.experiment_id}: ${connections} connections, ${durationS} s per phase${result.rate ? `, ${result.rate} requests/s` : ', as fast as the connections go'}, ${result.users} users, ${result.batch_size} events per batch in the events phase`,
    '',
    ...table(
      ['phase', 'requests', 'req/s', 'events/s', 'p50 ms', 'p99 ms', 'max ms', 'non-2xx', 'errors', 'timeouts', 'unanswered', 'non-2xx codes'],
      result.phases.map((p) => [
        p.phase,
        p.requests,
        p.requests_per_s,
        p.events_per_s,
        p.latency_p50_ms,
        p.latency_p99_ms,
        p.latency_max_ms,
        p.non_2xx,
        p.errors,
        p.timeouts,
        p.unanswered,
        statuses(p.status_codes),
      ]),
    ),
    `cold-start lists (users the models do not know): ${result.phases.map((p) => `${p.phase} ${p.fallback_lists}`).join(', ')}`,
    `resent after the phases: ${result.resent.resent} batches, ${result.resent.acknowledged} then acknowledged; refused ${result.resent.refused}${result.resent.refused ? ` (${statuses(result.resent.refused_statuses)})` : ''}, unresolved ${result.resent.unresolved}`,
    '',
    `Reconciliation: ${result.events_read} event items read back by key, the daily counters (every variant, day and shard) and ${r.users.users} user aggregates`,
    ...table(
      ['type', 'acknowledged', 'stored+counted', 'unacked stored', 'counter', 'not stored', 'not counted', 'duplicated'],
      eventTypes.map((type) => {
        const t = r.types[type];
        return [type, t.acknowledged, t.acknowledgedStored, t.unacknowledgedStored, t.counted, t.notStored, t.notCounted, t.duplicated];
      }),
    ),
    `user aggregates: ${r.users.users} users, ${r.users.mismatched} mismatched (lost ${r.users.lost}, duplicated ${r.users.duplicated}); impressions of abandoned /recommend requests recorded: ${r.users.unacknowledgedImpressions}`,
    ...r.users.mismatches
      .slice(0, 5)
      .map((m) => `  user ${m.userId}: ${m.metric} expected ${m.expected}${m.allowance ? ` (+${m.allowance} unanswered)` : ''}, stored ${m.actual}`),
    '',
    `lost ${result.lost}`,
    `duplicated ${result.duplicated}`,
    '',
  ].join('\n');
}

/** `--phases recommend,events`: known names, each once, in the order given. */
export function parsePhases(text: string): PhaseName[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const name of names) if (!(PHASES as readonly string[]).includes(name)) throw new UsageError(`--phases takes ${PHASES.join(', ')}; got "${name}"`);
  if (names.length === 0 || new Set(names).size !== names.length) throw new UsageError(`--phases must name each phase at most once, got "${text}"`);
  return names as PhaseName[];
}

export const benchLoadCommand: CliCommand = {
  path: ['bench', 'load'],
  summary: 'Load test over loopback (autocannon): req/s and latency per phase, then every acknowledged event reconciled with the store',
  help: `Usage: abrec bench load [--duration S] [--connections N] [--rate R] [--users N]
                        [--batch-size N] [--phases LIST] [--seed S] [--json]
                        [--url URL --dynamo-endpoint URL [--api-key K] [--admin-key K]]

Starts abrec serve (no simulation) in a temporary data directory, creates a dedicated running
experiment (bench-load-<time>-<random>, the default experiment's models, 50/50) and drives it
over loopback with autocannon, each phase for a fixed time:

  recommend  GET /recommend for the users 1..N in turn (the bundled users get personal lists,
             the others the cold-start list)
  events     POST /events/batch: unique event ids, every event type, random users; clicks and
             purchases of users with a recorded slate name its request id and one of its items
  mixed      per connection: a user's recommendations, then that user's events on that slate

Prints requests/s, p50/p99/max latency, non-2xx answers and errors per phase. Batches not
answered 2xx (abandoned when a phase ended, 5xx, 429) are resent with the same ids and content.
Then it reconciles: every acknowledged event is read back by key (BatchGetItem) through the AWS
SDK, the daily counters are summed over every variant, day and shard with the service's
DynamoCounterRepository, and every user aggregate is compared with the user's events. Prints
"lost N" (acknowledged events not stored, or not counted) and "duplicated N" (counts beyond the
distinct events stored) and exits 1 if either is not 0.

Options:
  --duration S         seconds per phase (default ${LOAD_DEFAULTS.durationS})
  --connections N      concurrent connections (default ${LOAD_DEFAULTS.connections})
  --rate R             requests per second over all connections (default: as fast as the
                       connections go)
  --users N            distinct users (default ${LOAD_DEFAULTS.users})
  --batch-size N       events per batch in the events phase (default ${LOAD_DEFAULTS.batchSize})
  --phases LIST        comma-separated (default ${PHASES.join(',')})
  --top-n N            items per recommendation (default ${LOAD_DEFAULTS.topN})
  --seed S             seed of the event mix (default ${LOAD_DEFAULTS.seed})
  --keep-data          keep the own runtime's data directory (its path is logged)
  --url URL            drive a running local runtime instead of starting one (its
                       bench-load experiment stays: abrec experiments stop ID)
  --dynamo-endpoint U  its DynamoDB endpoint (abrec serve prints it), needed with --url
  --api-key K          its API key (default: $ABREC_API_KEY or the data directory's key)
  --admin-key K        its admin key (default: $ABREC_ADMIN_KEY or the data directory's key)
  --data-dir DIR       its data directory, for the keys (default: .abrec-data)
  --json               also print one JSON object as the last line
  -h, --help           show this help

Example:
  npm run bench:load -- --duration 10 --connections 20`,
  run: async (argv, io) => {
    const values = parseCommandArgs(argv, {
      duration: { type: 'string' },
      connections: { type: 'string' },
      rate: { type: 'string' },
      users: { type: 'string' },
      'batch-size': { type: 'string' },
      phases: { type: 'string' },
      'top-n': { type: 'string' },
      seed: { type: 'string' },
      'keep-data': { type: 'boolean' },
      url: { type: 'string' },
      'dynamo-endpoint': { type: 'string' },
      'api-key': { type: 'string' },
      'admin-key': { type: 'string' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean' },
    });
    const durationS = numberOption(values.duration, '--duration', LOAD_DEFAULTS.durationS, { integer: true, min: 1, max: 3600 });
    const connections = numberOption(values.connections, '--connections', LOAD_DEFAULTS.connections, { integer: true, min: 1, max: 1000 });
    const rate = values.rate === undefined ? undefined : numberOption(values.rate, '--rate', 0, { integer: true, min: 1 });
    const users = numberOption(values.users, '--users', LOAD_DEFAULTS.users, { integer: true, min: 1 });
    const batchSize = numberOption(values['batch-size'], '--batch-size', LOAD_DEFAULTS.batchSize, { integer: true, min: 1, max: 1000 });
    const topN = numberOption(values['top-n'], '--top-n', LOAD_DEFAULTS.topN, { integer: true, min: 1, max: 100 });
    const seed = numberOption(values.seed, '--seed', LOAD_DEFAULTS.seed, { integer: true });
    const phases = parsePhases(values.phases ?? PHASES.join(','));

    let target: LoadTarget | undefined;
    if (values.url !== undefined) {
      const dynamoEndpoint = values['dynamo-endpoint'];
      if (!dynamoEndpoint)
        throw new UsageError("--url needs --dynamo-endpoint: the reconciliation reads the service's DynamoDB (abrec serve prints its endpoint)");
      const url = values.url.replace(/\/$/, '');
      const dataDir = values['data-dir'] ?? io.env.ABREC_DATA_DIR ?? '.abrec-data';
      const apiKey = values['api-key'] || io.env.ABREC_API_KEY || (await readStoredKeys(dataDir)).apiKey;
      if (!apiKey) throw new UsageError('no API key: pass --api-key, set ABREC_API_KEY, or give the data directory of `abrec serve` (--data-dir)');
      const admin = await resolveAdminTarget({ url, adminKey: values['admin-key'], dataDir }, io.env);
      target = { url, apiKey, admin, dynamoEndpoint };
    } else if (values['dynamo-endpoint'] !== undefined) {
      throw new UsageError('--dynamo-endpoint goes with --url (without --url the bench starts its own runtime)');
    }

    const progress = progressBar(io.stderr, { interactive: Boolean(process.stderr.isTTY) && !values.json });
    const result = await runLoadBench({
      durationS,
      connections,
      rate,
      users,
      batchSize,
      topN,
      phases,
      seed,
      target,
      keepData: values['keep-data'],
      progress,
      log: (line) => io.stderr(`bench load: ${line}\n`),
      signal: io.signal,
    });
    io.stdout(formatLoadBench(result, connections, durationS));
    if (values.json) io.stdout(`${JSON.stringify(result)}\n`);
    return result.lost === 0 && result.duplicated === 0 ? 0 : 1;
  },
};
