/**
 * Interleaving end to end on dynalite and s3rver: the recommend and events handlers in process,
 * the default model artifacts uploaded by local/provision.ts, simulated users who click the
 * better model's items more often, and the analysis read from the counters the handlers wrote.
 *
 * The same simulated traffic (same users, same requests in the same order, same click model) is
 * also sent to an A/B experiment of the same two models, to show why interleaving exists: the
 * preference test names the better model where the A/B comparison cannot yet.
 *
 * Deterministic: request ids are a counter (node:crypto's randomUUID is replaced), and the users,
 * their activity and their clicks come from a seeded generator.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TABLES } from '../../lib/resources.ts';
import { readDefaultModelSet, uploadDefaultArtifacts } from '../../local/provision.ts';
import { localEnvironment } from '../../local/runtime.ts';
import { INTERLEAVING_COUNTER_VARIANT } from '../../lambdas/domain/events/interleaving-credit.ts';
import { createExperiment } from '../../lambdas/domain/experiments/lifecycle.ts';
import type { Experiment } from '../../lambdas/domain/experiments/model.ts';
import { mulberry32 } from '../../lambdas/domain/recommenders/data/random.ts';
import { prepareForServing, recommendTopN } from '../../lambdas/domain/recommenders/top-n.ts';
import { analyseExperiment } from '../../lambdas/services/experiment-results.ts';
import { DirectoryModelArtifactStore } from '../../lambdas/storage/artifact-store.ts';
import { DynamoCounterRepository } from '../../lambdas/storage/counter-store.ts';
import { DynamoExperimentRepository } from '../../lambdas/storage/experiment-repository.ts';
import { apiEvent, jsonPost, lambdaContext } from '../handlers/support/api-gateway.ts';
import { startLocalAws, type LocalAws } from '../helpers/local-aws.ts';

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  let next = 0;
  return { ...actual, randomUUID: () => `00000000-0000-4000-8000-${String(++next).padStart(12, '0')}` };
});

const ARTIFACTS_DIR = join(import.meta.dirname, '../../model-artifacts');
const REQUESTS = 600;
const TOP_N = 10;
/** Click probability of an item the user likes (in the better model's top 20) and of any other, before activity and position bias. */
const CLICK = { liked: 0.3, other: 0.15 };

interface RecommendBody {
  variant: string;
  request_id: string;
  items: { item_id: string; score: number; rank: number; team?: 'a' | 'b'; variant?: string }[];
  interleaving?: Record<'a' | 'b', { variant: string; model_version: string }>;
  impression_recorded: boolean;
}

type Handler = (event: never, context: never) => Promise<APIGatewayProxyResult>;
let aws: LocalAws;
let recommendHandler: Handler;
let eventsHandler: Handler;
let counters: DynamoCounterRepository;
let experiments: Record<'interleaving' | 'ab', Experiment>;
let likedBy: (userId: string) => Set<string>;
let users: string[];

const recommend = async (experimentId: string, userId: string): Promise<RecommendBody> => {
  const result = await recommendHandler(
    apiEvent({ path: '/recommend', query: { user_id: userId, top_n: String(TOP_N), experiment_id: experimentId } }) as never,
    lambdaContext('recommend') as never,
  );
  expect(result.statusCode).toBe(200);
  return JSON.parse(result.body) as RecommendBody;
};

const postBatch = async (events: Record<string, unknown>[]) => {
  const result = await eventsHandler(jsonPost('/events/batch', { events }, { resource: '/events/batch' }) as never, lambdaContext('events') as never);
  expect(result.statusCode).toBe(200);
  return JSON.parse(result.body) as { received: number; stored: number; duplicates: number };
};

const experimentRequest = (id: string, mode: 'ab' | 'interleaving', set: Awaited<ReturnType<typeof readDefaultModelSet>>) => ({
  id,
  name: `${mode} of content vs als`,
  status: 'running',
  mode,
  variants: [
    { name: 'control', ...set.control, weight: 0.5, is_control: true },
    { name: 'treatment', ...set.treatment, weight: 0.5 },
  ],
  target_metric: { kind: 'click_through' },
  min_sample_size: 200,
});

/**
 * Sends the same simulated traffic to one experiment: each request picks a user from a small
 * pool (so users come back, as real ones do), shows the list, and the user clicks each item with
 * probability activity × (liked ? 0.3 : 0.15) / √rank. Activity varies widely between users,
 * which is what makes an A/B comparison of click-through slow. Clicks are posted in batches.
 */
async function simulate(experimentId: string): Promise<{ impressions: number; clicks: number; bodies: RecommendBody[] }> {
  const random = mulberry32(20261123);
  const activity = new Map<string, number>();
  const bodies: RecommendBody[] = [];
  let pending: Record<string, unknown>[] = [];
  let clicks = 0;
  for (let request = 0; request < REQUESTS; request++) {
    const userId = users[Math.floor(random() * users.length)];
    if (!activity.has(userId)) {
      const draw = random();
      activity.set(userId, draw < 0.6 ? 0.05 : draw < 0.9 ? 0.4 : 1.5);
    }
    const body = await recommend(experimentId, userId);
    bodies.push(body);
    const liked = likedBy(userId);
    for (const item of body.items) {
      const p = ((activity.get(userId) as number) * (liked.has(item.item_id) ? CLICK.liked : CLICK.other)) / Math.sqrt(item.rank);
      if (random() < p) {
        clicks++;
        pending.push({
          event_id: `${experimentId}-${body.request_id}-${item.item_id}`,
          event_type: 'click',
          user_id: userId,
          experiment_id: experimentId,
          item_id: item.item_id,
          request_id: body.request_id,
          position: item.rank,
        });
      }
    }
    if (pending.length >= 50) {
      await postBatch(pending);
      pending = [];
    }
  }
  if (pending.length > 0) await postBatch(pending);
  return { impressions: bodies.length, clicks, bodies };
}

beforeAll(async () => {
  aws = await startLocalAws();
  Object.assign(process.env, localEnvironment(aws.servers), { POWERTOOLS_LOG_LEVEL: 'SILENT' });
  await uploadDefaultArtifacts(aws.s3, ARTIFACTS_DIR);
  const set = await readDefaultModelSet(ARTIFACTS_DIR);
  const repository = new DynamoExperimentRepository(aws.doc, TABLES.experiments.localName);
  const now = new Date();
  experiments = {
    interleaving: createExperiment({ now, request: experimentRequest('il-sim', 'interleaving', set) }),
    ab: createExperiment({ now, request: experimentRequest('ab-sim', 'ab', set) }),
  };
  for (const experiment of Object.values(experiments)) await repository.create(experiment);
  counters = new DynamoCounterRepository(aws.doc, TABLES.counters.localName);

  // The simulated users' taste: the better model's (als) top 20 for them.
  const better = prepareForServing(await new DirectoryModelArtifactStore(ARTIFACTS_DIR).loadModel(set.treatment.model_id, set.treatment.model_version));
  const cache = new Map<string, Set<string>>();
  likedBy = (userId) => {
    if (!cache.has(userId)) cache.set(userId, new Set(recommendTopN(better, userId, 20).items.map((item) => item.itemId)));
    return cache.get(userId) as Set<string>;
  };
  users = (better.model.userIds as readonly string[]).slice(0, 60);

  ({ handler: recommendHandler } = (await import('../../lambdas/recommend.ts')) as unknown as { handler: Handler });
  ({ handler: eventsHandler } = (await import('../../lambdas/events.ts')) as unknown as { handler: Handler });
});

afterAll(async () => aws?.stop());

describe('interleaving end to end on dynalite', () => {
  it('serves interleaved lists of both teams, credits clicks to the team that placed the item, and the preference test finds the better model where A/B cannot yet', async () => {
    // Act
    const interleaved = await simulate(experiments.interleaving.id);
    const ab = await simulate(experiments.ab.id);
    const day = new Date().toISOString().slice(0, 10);
    const preference = await analyseExperiment(experiments.interleaving, counters, { day });
    const abAnalysis = await analyseExperiment(experiments.ab, counters, { day });

    // Assess: every interleaved list mixes both teams without duplicates and is recorded
    for (const body of interleaved.bodies) {
      expect(body.variant).toBe('interleaved');
      expect(body.impression_recorded).toBe(true);
      expect(new Set(body.items.map((item) => item.item_id)).size).toBe(body.items.length);
      expect(new Set(body.items.map((item) => item.team))).toEqual(new Set(['a', 'b']));
    }
    const test = preference.preference!;
    const comparison = abAnalysis.report!.comparisons[0];
    const abPValue = comparison.status === 'ok' ? comparison.pValue : 1;
    console.log(
      `interleaving: ${test.impressions} impressions, ${interleaved.clicks} clicks, wins a/b/ties ${test.wins_a}/${test.wins_b}/${test.ties}, sign test p = ${test.p_value.toPrecision(3)}, decision ${preference.decision}\n` +
        `A/B, same traffic: ${ab.impressions} impressions, ${ab.clicks} clicks, click-through p = ${String(abPValue)} (fixed horizon; always-valid ${comparison.status === 'ok' ? comparison.alwaysValidPValue.toPrecision(3) : 'n/a'}), decision ${abAnalysis.decision}`,
    );
    expect(test.impressions).toBe(REQUESTS);
    expect(test.team_a.clicks + test.team_b.clicks).toBe(interleaved.clicks);
    expect(test.uncredited_clicks).toBe(0);
    expect(test.wins_b).toBeGreaterThan(test.wins_a);
    expect(test.p_value).toBeLessThan(0.05);
    expect(preference).toMatchObject({ decision: 'ship', winner: 'treatment', promotion: { significant: true, winner: 'treatment' } });
    expect(comparison.status).toBe('ok');
    expect(abPValue).toBeGreaterThan(0.05);
    expect(abAnalysis.decision).toBe('keep-running');
  });

  it('keeps on each impression the distinct clicked items per team, and a click sent again counts once', async () => {
    // Prepare: a fresh interleaved list for one user
    const userId = users[0];
    const before = await counters.dailyCounters(experiments.interleaving.id, INTERLEAVING_COUNTER_VARIANT);
    const body = await recommend(experiments.interleaving.id, userId);
    const itemA = body.items.find((item) => item.team === 'a')!;
    const itemB = body.items.find((item) => item.team === 'b')!;
    const click = (itemId: string, eventId: string) => ({
      event_id: eventId,
      event_type: 'click',
      user_id: userId,
      experiment_id: experiments.interleaving.id,
      item_id: itemId,
      request_id: body.request_id,
    });

    // Act: one click on team a's item, two on team b's item (different event ids), one resent
    await postBatch([click(itemA.item_id, 'pref-1'), click(itemB.item_id, 'pref-2')]);
    await postBatch([click(itemB.item_id, 'pref-3'), click(itemB.item_id, 'pref-2')]);

    // Assess
    const impression = await aws.doc.send(new GetCommand({ TableName: TABLES.events.localName, Key: { pk: `EVENT#imp-${body.request_id}`, sk: 'E' } }));
    expect(impression.Item).toMatchObject({ team_a_clicks: 1, team_b_clicks: 1, credited_items: new Set([itemA.item_id, itemB.item_id]) });
    const after = await counters.dailyCounters(experiments.interleaving.id, INTERLEAVING_COUNTER_VARIANT);
    const sum = (days: typeof after, field: string) => days.reduce((total, d) => total + (Number(d[field]) || 0), 0);
    expect(sum(after, 'interleaved_impressions') - sum(before, 'interleaved_impressions')).toBe(1);
    // a tie after both clicks: whatever the order, the wins are back where they were
    expect(sum(after, 'interleaving_wins_a') - sum(before, 'interleaving_wins_a')).toBe(0);
    expect(sum(after, 'interleaving_wins_b') - sum(before, 'interleaving_wins_b')).toBe(0);
  });

  it('stores a click without request_id credited to nobody, and refuses one on an item its slate did not show', async () => {
    // Prepare
    const userId = users[1];
    const body = await recommend(experiments.interleaving.id, userId);
    const shown = new Set(body.items.map((item) => item.item_id));
    const notShown = [...likedBy(userId)].find((itemId) => !shown.has(itemId)) ?? 'no-such-item';
    const day = new Date().toISOString().slice(0, 10);
    const before = (await analyseExperiment(experiments.interleaving, counters, { day })).preference!;

    // Act
    const stored = await postBatch([
      { event_id: 'nobody-1', event_type: 'click', user_id: userId, experiment_id: experiments.interleaving.id, item_id: body.items[0].item_id },
    ]);
    const refused = await eventsHandler(
      jsonPost(
        '/events/batch',
        {
          events: [
            {
              event_id: 'nobody-2',
              event_type: 'click',
              user_id: userId,
              experiment_id: experiments.interleaving.id,
              item_id: notShown,
              request_id: body.request_id,
            },
          ],
        },
        { resource: '/events/batch' },
      ) as never,
      lambdaContext('events') as never,
    );

    // Assess
    expect(stored).toMatchObject({ stored: 1, duplicates: 0 });
    expect(refused.statusCode).toBe(422);
    const after = (await analyseExperiment(experiments.interleaving, counters, { day })).preference!;
    expect(after.uncredited_clicks - before.uncredited_clicks).toBe(1);
    expect([after.team_a.clicks, after.team_b.clicks, after.wins_a, after.wins_b]).toEqual([
      before.team_a.clicks,
      before.team_b.clicks,
      before.wins_a,
      before.wins_b,
    ]);
    const item = await aws.doc.send(new GetCommand({ TableName: TABLES.events.localName, Key: { pk: 'EVENT#nobody-2', sk: 'E' } }));
    expect(item.Item).toBeUndefined();
  });
});
