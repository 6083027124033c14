import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BatchWriteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Experiment } from '../../lambdas/domain/experiments/model.ts';
import type { EncodedArtifact } from '../../lambdas/domain/recommenders/artifact.ts';
import { apiEvent, bodyOf, fieldsOf, lambdaContext } from './support/api-gateway.ts';
import { FakeBucket, FakeTables } from './support/aws.ts';
import { TABLE, stubHandlerEnv } from './support/env.ts';
import './support/matchers.ts';
import { ITEM_IDS, KNOWN_USERS, NOW, corruptArtifact, experimentPinning, tinyArtifact, tinyModel } from './support/models.ts';
import { prepareForServing } from '../../lambdas/domain/recommenders/top-n.ts';
import { interleaveSlates } from '../../lambdas/services/serving-modes.ts';
import { counterShard } from '../../lambdas/domain/events/counters.ts';
import { impressionEventId } from '../../lambdas/domain/events/interleaving-credit.ts';
import { counterKey } from '../../lambdas/storage/counter-store.ts';

interface RecommendBody {
  user_id: string;
  experiment_id: string;
  variant: string;
  model_version: string | null;
  request_id: string;
  items: { item_id: string; score: number; rank: number; team?: 'a' | 'b'; variant?: string }[];
  fallback: string | null;
  interleaving?: Record<'a' | 'b', { variant: string; model_version: string }>;
  in_experiment: boolean;
  impression_recorded: boolean;
}

const ddb = mockClient(DynamoDBDocumentClient);
const s3 = mockClient(S3Client);
const control = tinyArtifact({ modelId: 'popularity-test' });
const treatment = tinyArtifact({ modelId: 'factors-test', shift: 3 });
const experiment = experimentPinning(control, treatment);
const today = NOW.toISOString().slice(0, 10);

let handler: typeof import('../../lambdas/recommend.ts').handler;
let tables: FakeTables;
let bucket: FakeBucket;

const recommend = (query: Record<string, string>) => handler(apiEvent({ path: '/recommend', query }), lambdaContext());
const variantOf = (name: string) => experiment.variants.find((v) => v.name === name)!;
const writes = () => [...ddb.commandCalls(PutCommand), ...ddb.commandCalls(UpdateCommand)];
const dailyUpdates = () => ddb.commandCalls(UpdateCommand).filter((c) => String(c.args[0].input.Key?.pk).includes('#VAR#'));
/** What an ADD update adds, attribute name → amount. */
const addedOf = (call: ReturnType<typeof dailyUpdates>[number]) => {
  const { ExpressionAttributeNames: names = {}, ExpressionAttributeValues: values = {} } = call.args[0].input;
  return Object.fromEntries(Object.entries(names).map(([alias, name]) => [name, values[alias.replace('#m', ':v')]]));
};

/** Puts the artifacts in the bucket and the experiments in the table (each test has a fresh handler module, so an empty model cache). */
function serve({ artifacts = [control, treatment], experiments = [experiment] }: { artifacts?: EncodedArtifact[]; experiments?: Experiment[] } = {}) {
  for (const artifact of artifacts) bucket.putArtifact(artifact);
  for (const e of experiments) tables.seedExperiment(e);
}

describe('GET /recommend', () => {
  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: NOW });
    stubHandlerEnv();
    ddb.reset();
    s3.reset();
    tables = new FakeTables(ddb);
    bucket = new FakeBucket(s3);
    vi.resetModules();
    ({ handler } = await import('../../lambdas/recommend.ts'));
  });
  afterEach(() => vi.useRealTimers());
  afterAll(() => vi.unstubAllEnvs());

  describe('for a user the model knows', () => {
    it('returns top_n items ranked 1..N with the variant and model version of the experiment', async () => {
      // Prepare
      serve();

      // Act
      const result = await recommend({ user_id: 'u1', top_n: '4' });

      // Assess
      expect(result.statusCode).toBe(200);
      const body = bodyOf<RecommendBody>(result);
      expect(body).toMatchObject({ user_id: 'u1', experiment_id: 'default', fallback: null });
      expect(body.model_version).toBe(variantOf(body.variant).model_version);
      expect(body.items.map((i) => i.rank)).toEqual([1, 2, 3, 4]);
      for (const item of body.items) {
        expect(item).toEqual({ item_id: expect.any(String), score: expect.any(Number), rank: expect.any(Number) });
        expect(ITEM_IDS).toContain(item.item_id);
      }
      const scores = body.items.map((i) => i.score);
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
    });

    it('never recommends items the user saw in training', async () => {
      // Prepare
      serve();

      // Act
      const body = bodyOf<RecommendBody>(await recommend({ user_id: 'u1', top_n: '100' }));

      // Assess
      const ids = body.items.map((i) => i.item_id);
      expect(ids).toHaveLength(ITEM_IDS.length - KNOWN_USERS.u1.length);
      for (const seen of KNOWN_USERS.u1) expect(ids).not.toContain(seen);
    });

    it('records the impression slate under EVENT#imp-<request_id>', async () => {
      // Prepare
      serve();

      // Act
      const body = bodyOf<RecommendBody>(await recommend({ user_id: 'u2', top_n: '3' }));

      // Assess
      expect(ddb).toHaveReceivedCommandWith(PutCommand, {
        TableName: TABLE.events,
        ConditionExpression: 'attribute_not_exists(pk)',
        Item: expect.objectContaining({
          pk: `EVENT#imp-${body.request_id}`,
          event_type: 'impression',
          variant: body.variant,
          model_version: body.model_version,
          slate: body.items.map((i) => ({ item_id: i.item_id, position: i.rank, score: i.score })),
        }),
      });
      // The impression's group writes the shard its event id hashes to.
      // u2 is known to the control model: a new user's impression counts in the segment `known`.
      // (The exposure's update may share the shard, one time in 16: the impression's is the one adding impressions.)
      const daily = dailyUpdates().find(
        (c) =>
          c.args[0].input.Key?.sk === counterKey('default', body.variant, today, counterShard(impressionEventId(body.request_id)), 'known').sk &&
          'impressions' in addedOf(c),
      );
      expect(addedOf(daily!)).toMatchObject({ impressions: 1, user_impressions_sq_sum: 1, capped_impressions: 1, capped_impressions_sq_sum: 1 });
    });

    it('adds the impression to the user aggregate and the change of Σm² to the daily counter', async () => {
      // Prepare
      serve();
      tables.seedAssignment('default', 'u2', 'treatment');
      ddb
        .on(UpdateCommand, { TableName: TABLE.counters, Key: { pk: 'EXP#default#USER#u2', sk: 'AGG' } })
        .resolves({ Attributes: { clicks: 1, impressions: 3, purchases: 0 } });

      // Act
      const body = bodyOf<RecommendBody>(await recommend({ user_id: 'u2', top_n: '3' }));

      // Assess
      expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
        TableName: TABLE.counters,
        Key: { pk: 'EXP#default#USER#u2', sk: 'AGG' },
        ExpressionAttributeNames: { '#m0': 'impressions' },
        ExpressionAttributeValues: { ':v0': 1 },
        ReturnValues: 'ALL_NEW',
      });
      const daily = dailyUpdates().find(
        (c) =>
          c.args[0].input.Key?.pk === 'EXP#default#VAR#treatment' &&
          c.args[0].input.Key?.sk === counterKey('default', 'treatment', today, counterShard(impressionEventId(body.request_id))).sk,
      );
      expect(addedOf(daily!)).toMatchObject({
        impressions: 1,
        user_impressions_sq_sum: 9 - 4,
        user_clicks_impressions_sum: 3 - 2,
        capped_impressions_sq_sum: 9 - 4,
        capped_clicks_impressions_sum: 3 - 2,
      });
    });
  });

  it('counts an impression served from the popularity fallback as a fallback impression of its variant', async () => {
    // Prepare
    serve();
    tables.seedAssignment('default', 'newcomer-7', 'control');

    // Act
    const body = bodyOf<RecommendBody>(await recommend({ user_id: 'newcomer-7', top_n: '3' }));

    // Assess
    expect(body.fallback).toBe('unknown-user');
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE.counters,
      Key: counterKey('default', 'control', today, counterShard(impressionEventId(body.request_id))),
      ExpressionAttributeNames: expect.objectContaining({ '#m0': 'impressions', '#m1': 'fallback_impressions' }),
    });
  });

  it('still answers 200 when the impression cannot be stored, and says so', async () => {
    // Prepare
    serve();
    tables.seedAssignment('default', 'u1', 'treatment');
    ddb.on(PutCommand, { TableName: TABLE.events }).rejects(new Error('ProvisionedThroughputExceededException'));

    // Act
    const result = await recommend({ user_id: 'u1', top_n: '3' });

    // Assess
    expect(result.statusCode).toBe(200);
    expect(bodyOf<{ impression_recorded: boolean }>(result).impression_recorded).toBe(false);
  });

  describe('catalogue coverage markers', () => {
    const shownPuts = () =>
      ddb
        .commandCalls(BatchWriteCommand)
        .flatMap((c) =>
          (c.args[0].input.RequestItems?.[TABLE.counters] ?? []).map((request) => request.PutRequest?.Item as { pk: string; sk: string; first_shown: string }),
        );
    const catalogueUpdates = () => ddb.commandCalls(UpdateCommand).filter((c) => c.args[0].input.Key?.sk === 'CATALOGUE');

    it('marks each item of a recorded slate once per variant, with its day, and the catalogue it came from', async () => {
      // Prepare
      serve();
      tables.seedAssignment('default', 'u1', 'treatment');
      tables.seedAssignment('default', 'u2', 'treatment');
      ddb.on(BatchWriteCommand).resolves({});

      // Act: two users of one variant, lists that overlap
      const first = bodyOf<RecommendBody>(await recommend({ user_id: 'u1', top_n: '4' }));
      const second = bodyOf<RecommendBody>(await recommend({ user_id: 'u2', top_n: '4' }));
      await recommend({ user_id: 'u1', top_n: '4' });

      // Assess: every item shown is marked exactly once, under the variant, dated today
      const shown = new Set([...first.items, ...second.items].map((item) => item.item_id));
      const puts = shownPuts();
      expect(puts.map((put) => put.sk).sort()).toEqual([...shown].map((id) => `ITEM#${id}`).sort());
      expect(new Set(puts.map((put) => put.pk))).toEqual(new Set(['EXP#default#SHOWN#treatment']));
      expect(puts.every((put) => put.first_shown === today)).toBe(true);
      expect(catalogueUpdates()).toHaveLength(1);
      expect(catalogueUpdates()[0].args[0].input).toMatchObject({
        Key: { pk: 'EXP#default#SHOWN#treatment', sk: 'CATALOGUE' },
        ExpressionAttributeValues: { ':size': ITEM_IDS.length },
      });
    });

    it('answers 200 when the markers cannot be written, and writes them on a later request', async () => {
      // Prepare
      serve();
      tables.seedAssignment('default', 'u1', 'control');
      ddb.on(BatchWriteCommand).rejectsOnce(new Error('ProvisionedThroughputExceededException')).resolves({});

      // Act
      const failed = await recommend({ user_id: 'u1', top_n: '3' });
      const later = await recommend({ user_id: 'u1', top_n: '3' });

      // Assess
      expect(failed.statusCode).toBe(200);
      expect(bodyOf<RecommendBody>(failed).impression_recorded).toBe(true);
      expect(later.statusCode).toBe(200);
      const marked = bodyOf<RecommendBody>(later).items.map((item) => `ITEM#${item.item_id}`);
      const calls = ddb.commandCalls(BatchWriteCommand);
      expect(calls).toHaveLength(2);
      expect((calls[1].args[0].input.RequestItems?.[TABLE.counters] ?? []).map((r) => r.PutRequest?.Item?.sk).sort()).toEqual(marked.sort());
    });
  });

  describe('impression writes', () => {
    const userAggregate = { TableName: TABLE.counters, Key: { pk: 'EXP#default#USER#u1', sk: 'AGG' } };
    const userUpdates = () => ddb.commandCalls(UpdateCommand).filter((c) => c.args[0].input.Key?.pk === 'EXP#default#USER#u1');

    it("sends the user-aggregate ADD while the slate's claim is still in flight (two round trips, not three)", async () => {
      // Prepare: the claim answers only when released.
      serve();
      tables.seedAssignment('default', 'u1', 'treatment');
      let releaseClaim!: () => void;
      const claimAnswered = new Promise<void>((resolve) => (releaseClaim = resolve));
      ddb.on(PutCommand, { TableName: TABLE.events }).callsFake(async () => {
        await claimAnswered;
        return {};
      });

      // Act
      const pending = recommend({ user_id: 'u1', top_n: '3' });
      await vi.waitFor(() => expect(userUpdates()).toHaveLength(1));
      const dailyBeforeClaim = dailyUpdates().length;
      releaseClaim();
      const body = bodyOf<RecommendBody>(await pending);

      // Assess: the aggregate went out before the claim answered, the daily counter after it.
      expect(dailyBeforeClaim).toBe(0);
      expect(body.impression_recorded).toBe(true);
      expect(dailyUpdates()).toHaveLength(1);
    });

    it('takes the user-aggregate ADD back when the claim fails, and counts nothing', async () => {
      // Prepare
      serve();
      tables.seedAssignment('default', 'u1', 'treatment');
      ddb.on(PutCommand, { TableName: TABLE.events }).rejects(new Error('ProvisionedThroughputExceededException'));
      ddb
        .on(UpdateCommand, userAggregate)
        .resolvesOnce({ Attributes: { clicks: 0, impressions: 1, purchases: 0 } })
        .resolvesOnce({ Attributes: { clicks: 0, impressions: 0, purchases: 0 } });

      // Act
      const body = bodyOf<RecommendBody>(await recommend({ user_id: 'u1', top_n: '3' }));

      // Assess: +1 then −1 impression on the aggregate; no daily counter write, no correction needed.
      expect(body.impression_recorded).toBe(false);
      expect(userUpdates().map(addedOf)).toEqual([{ impressions: 1 }, { impressions: -1 }]);
      expect(dailyUpdates()).toHaveLength(0);
    });

    it('un-claims the stored slate when the user aggregate cannot be updated', async () => {
      // Prepare
      serve();
      tables.seedAssignment('default', 'u1', 'treatment');
      ddb.on(UpdateCommand, userAggregate).rejects(new Error('ProvisionedThroughputExceededException'));

      // Act
      const body = bodyOf<RecommendBody>(await recommend({ user_id: 'u1', top_n: '3' }));

      // Assess
      expect(body.impression_recorded).toBe(false);
      expect(dailyUpdates()).toHaveLength(0);
      expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
        TableName: TABLE.events,
        Key: { pk: `EVENT#${impressionEventId(body.request_id)}`, sk: 'E' },
        UpdateExpression: 'SET counted = :false',
      });
    });
  });

  it('gives a user unknown to the model the popularity list, flagged unknown-user', async () => {
    // Prepare
    serve();

    // Act
    const result = await recommend({ user_id: 'newcomer-42', top_n: '3' });

    // Assess
    expect(result.statusCode).toBe(200);
    const body = bodyOf<RecommendBody>(result);
    expect(body.fallback).toBe('unknown-user');
    expect(body.items.map((i) => i.item_id)).toEqual(['i1', 'i2', 'i3']);
    expect(body.items.map((i) => i.rank)).toEqual([1, 2, 3]);
  });

  describe('segments', () => {
    const segmented = { ...experiment, segments: ['mobile', 'web'] } as Experiment;
    const exposureOf = (userId: string) =>
      ddb
        .commandCalls(UpdateCommand)
        .filter(
          (c) =>
            String(c.args[0].input.Key?.pk).includes('#VAR#') &&
            Object.values(c.args[0].input.ExpressionAttributeNames ?? {}).includes('exposed_users') &&
            c.args[0].input.Key?.sk?.startsWith(`DAY#${today}#S${String(counterShard(userId)).padStart(2, '0')}`),
        );

    it("fixes the user's segment at the first exposure: their type by the control model and the client's segment, on the assignment and every counter key", async () => {
      // Prepare
      serve({ experiments: [segmented] });

      // Act
      const body = bodyOf<RecommendBody>(await recommend({ user_id: 'u1', top_n: '2', segment: 'mobile' }));

      // Assess
      expect(ddb).toHaveReceivedCommandWith(PutCommand, {
        TableName: TABLE.experiments,
        Item: expect.objectContaining({ pk: 'ASSIGN#default#u1', assignment: expect.objectContaining({ segment: 'known:mobile' }) }),
      });
      expect(exposureOf('u1').map((c) => c.args[0].input.Key)).toEqual([counterKey('default', body.variant, today, counterShard('u1'), 'known:mobile')]);
      expect(dailyUpdates().map((c) => c.args[0].input.Key?.sk)).toContain(
        counterKey('default', body.variant, today, counterShard(impressionEventId(body.request_id)), 'known:mobile').sk,
      );
    });

    it('keeps the segment of the first exposure: a later request naming another counts in the first one', async () => {
      // Prepare
      serve({ experiments: [segmented] });
      tables.seedAssignment('default', 'u2', 'treatment', 0.5, { segment: 'known:web', covariate: 1 });

      // Act
      const body = bodyOf<RecommendBody>(await recommend({ user_id: 'u2', top_n: '2', segment: 'mobile' }));

      // Assess
      expect(body.variant).toBe('treatment');
      expect(ddb.commandCalls(PutCommand).filter((c) => c.args[0].input.TableName === TABLE.experiments)).toHaveLength(0);
      expect(dailyUpdates().map((c) => c.args[0].input.Key?.sk)).toEqual([
        counterKey('default', 'treatment', today, counterShard(impressionEventId(body.request_id)), 'known:web').sk,
      ]);
    });

    it.each([
      ['an experiment that declares none', experiment, 'mobile', 'this experiment declares no segments'],
      ['a value the experiment does not declare', segmented, 'tv', 'must be one of mobile, web'],
      ['a malformed value', segmented, 'Mobile!', 'must be 1 to 32 characters of a-z, 0-9, - and _'],
    ])('answers 400 naming segment for %s, writing nothing', async (_, subject, segment, message) => {
      // Prepare
      serve({ experiments: [subject] });

      // Act
      const result = await recommend({ user_id: 'u1', top_n: '2', segment });

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toEqual(['segment']);
      expect(JSON.stringify(bodyOf(result))).toContain(message);
      expect(writes()).toHaveLength(0);
    });
  });

  describe('assignment', () => {
    it('stores a fresh assignment with a conditional put and counts the exposure', async () => {
      // Prepare
      serve();

      // Act
      const body = bodyOf<RecommendBody>(await recommend({ user_id: 'u3', top_n: '2' }));

      // Assess
      expect(ddb).toHaveReceivedCommandWith(PutCommand, {
        TableName: TABLE.experiments,
        ConditionExpression: 'attribute_not_exists(pk)',
        Item: expect.objectContaining({ pk: 'ASSIGN#default#u3', sk: 'A', assignment: expect.objectContaining({ variant: body.variant }) }),
      });
      expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
        TableName: TABLE.counters,
        // An exposure goes to the shard of its user, in the user's segment (u3 is known to the control model).
        Key: counterKey('default', body.variant, today, counterShard('u3'), 'known'),
        ExpressionAttributeNames: { '#m0': 'exposed_users' },
        ExpressionAttributeValues: { ':v0': 1 },
      });
    });

    it("records the user's pre-exposure covariate from the control's artifact: on the assignment, on the user aggregate, and in the exposure's Σx, Σx²", async () => {
      // Prepare: u1 has 2 items in the control model's training data.
      serve();

      // Act
      const body = bodyOf<RecommendBody>(await recommend({ user_id: 'u1', top_n: '2' }));

      // Assess
      expect(ddb).toHaveReceivedCommandWith(PutCommand, {
        TableName: TABLE.experiments,
        Item: expect.objectContaining({ pk: 'ASSIGN#default#u1', assignment: expect.objectContaining({ covariate: KNOWN_USERS.u1.length }) }),
      });
      const updates = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
      const covariate = updates.findIndex(
        (u) => u.Key?.pk === 'EXP#default#USER#u1' && u.UpdateExpression === 'SET #covariate = if_not_exists(#covariate, :covariate)',
      );
      const exposure = updates.findIndex(
        (u) =>
          u.Key?.sk === counterKey('default', body.variant, today, counterShard('u1'), 'known').sk &&
          Object.values(u.ExpressionAttributeNames ?? {}).includes('exposed_users'),
      );
      expect(updates[covariate].ExpressionAttributeValues).toEqual({ ':covariate': 2 });
      // The covariate is on the aggregate before the exposure is counted, so every later ADD returns it.
      expect(covariate).toBeLessThan(exposure);
      expect(addedOf(ddb.commandCalls(UpdateCommand)[exposure])).toEqual({ exposed_users: 1, covariate_sum: 2, covariate_sq_sum: 4 });
    });

    it('stores, counts and answers the NFD form of a user id under its NFC form', async () => {
      // Prepare
      serve();
      const nfc = 'Am\u00e9lie';

      // Act
      const body = bodyOf<RecommendBody>(await recommend({ user_id: 'Ame\u0301lie', top_n: '2' }));

      // Assess
      expect(body.user_id).toBe(nfc);
      expect(ddb).toHaveReceivedCommandWith(PutCommand, { TableName: TABLE.experiments, Item: expect.objectContaining({ pk: `ASSIGN#default#${nfc}` }) });
      // The model does not know Amélie: her segment is cold-start.
      expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
        TableName: TABLE.counters,
        Key: counterKey('default', body.variant, today, counterShard(nfc), 'cold-start'),
      });
      expect(ddb).toHaveReceivedCommandWith(PutCommand, { TableName: TABLE.events, Item: expect.objectContaining({ user_id: nfc }) });
    });

    it('keeps an existing assignment without writing it again or counting a new exposure', async () => {
      // Prepare
      serve();
      tables.seedAssignment('default', 'u3', 'treatment');

      // Act
      const body = bodyOf<RecommendBody>(await recommend({ user_id: 'u3', top_n: '2' }));

      // Assess
      expect(body.variant).toBe('treatment');
      expect(body.model_version).toBe(treatment.manifest.version);
      expect(ddb.commandCalls(PutCommand).filter((c) => c.args[0].input.TableName === TABLE.experiments)).toHaveLength(0);
      expect(ddb).not.toHaveReceivedCommandWith(UpdateCommand, { ExpressionAttributeNames: { '#m0': 'exposed_users' } });
    });
  });

  describe('bad input', () => {
    it.each([
      ['user_id is missing', { top_n: '5' }, 'user_id'],
      ['top_n is 0', { user_id: 'u1', top_n: '0' }, 'top_n'],
      ['top_n is 101', { user_id: 'u1', top_n: '101' }, 'top_n'],
      ['top_n is not a number', { user_id: 'u1', top_n: 'abc' }, 'top_n'],
      ['top_n is not an integer', { user_id: 'u1', top_n: '2.5' }, 'top_n'],
      ['top_n is hexadecimal (0x10)', { user_id: 'u1', top_n: '0x10' }, 'top_n'],
      ['top_n is in exponent form (1e1)', { user_id: 'u1', top_n: '1e1' }, 'top_n'],
      ['top_n has a sign (+5)', { user_id: 'u1', top_n: '+5' }, 'top_n'],
      ['top_n has surrounding whitespace', { user_id: 'u1', top_n: ' 5 ' }, 'top_n'],
      ['top_n is empty', { user_id: 'u1', top_n: '' }, 'top_n'],
      ['user_id is empty', { user_id: '' }, 'user_id'],
      ['user_id is over 256 bytes of UTF-8 (129 two-byte characters)', { user_id: 'é'.repeat(129) }, 'user_id'],
      ['user_id has a lone surrogate', { user_id: 'u\ud800' }, 'user_id'],
      ['user_id has a C1 control character (NEL, U+0085)', { user_id: 'u\u00851' }, 'user_id'],
      ['experiment_id has a C1 control character', { user_id: 'u1', experiment_id: 'default\u0085' }, 'experiment_id'],
    ])('answers 400 naming the field when %s, and writes nothing', async (_case, query, field) => {
      // Prepare
      serve();

      // Act
      const result = await recommend(query);

      // Assess
      expect(result.statusCode).toBe(400);
      expect(fieldsOf(result)).toContain(field);
      expect(writes()).toHaveLength(0);
    });
  });

  it('answers 404 naming experiment_id for an experiment that does not exist', async () => {
    // Prepare
    serve();

    // Act
    const result = await recommend({ user_id: 'u1', experiment_id: 'no-such-experiment' });

    // Assess
    expect(result.statusCode).toBe(404);
    expect(bodyOf<{ error: { message: string } }>(result).error.message).toContain('experiment_id');
    expect(writes()).toHaveLength(0);
  });

  describe('when an artifact cannot be loaded', () => {
    it('serves the control model popularity list flagged artifact-unavailable when the variant artifact is corrupt', async () => {
      // Prepare
      serve({ artifacts: [control, corruptArtifact(treatment)] });
      tables.seedAssignment('default', 'u1', 'treatment');

      // Act
      const result = await recommend({ user_id: 'u1', top_n: '3' });

      // Assess
      expect(result.statusCode).toBe(200);
      const body = bodyOf<RecommendBody>(result);
      expect(body.fallback).toBe('artifact-unavailable');
      expect(body.model_version).toBe(control.manifest.version);
      expect(body.items.map((i) => i.item_id)).toEqual(['i1', 'i2', 'i3']);
    });

    it('serves the fallback when the variant artifact is missing altogether', async () => {
      // Prepare
      serve({ artifacts: [control] });
      tables.seedAssignment('default', 'u1', 'treatment');

      // Act
      const result = await recommend({ user_id: 'u1', top_n: '3' });

      // Assess
      expect(result.statusCode).toBe(200);
      expect(bodyOf<RecommendBody>(result).fallback).toBe('artifact-unavailable');
    });

    it('answers 503, not 500, when the control artifact is corrupt as well', async () => {
      // Prepare
      serve({ artifacts: [corruptArtifact(control), corruptArtifact(treatment, 'seen_items.i32')] });
      tables.seedAssignment('default', 'u1', 'treatment');

      // Act
      const result = await recommend({ user_id: 'u1', top_n: '3' });

      // Assess
      expect(result.statusCode).toBe(503);
      expect(bodyOf<{ error: { code: string } }>(result).error.code).toBe('service_unavailable');
    });
  });

  it("reads a known user's sticky assignment once, and the experiment at most once a second", async () => {
    // Prepare
    serve();
    tables.seedAssignment('default', 'u1', 'treatment');
    await recommend({ user_id: 'u1', top_n: '2' });
    const readsAfterFirst = ddb.commandCalls(GetCommand).length;

    // Act: again within the second, then after it
    await recommend({ user_id: 'u1', top_n: '2' });
    const readsWithinSecond = ddb.commandCalls(GetCommand).length - readsAfterFirst;
    vi.setSystemTime(new Date(NOW.getTime() + 1500));
    await recommend({ user_id: 'u1', top_n: '2' });
    const getKeys = ddb
      .commandCalls(GetCommand)
      .slice(readsAfterFirst)
      .map((c) => String(c.args[0].input.Key?.pk));

    // Assess
    expect(readsWithinSecond).toBe(0);
    expect(getKeys).toEqual(['EXPERIMENT']);
  });

  it('loads an artifact version once: a second request reads nothing from S3', async () => {
    // Prepare
    serve();
    tables.seedAssignment('default', 'u1', 'treatment');
    await recommend({ user_id: 'u1', top_n: '3' });
    expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Key: `models/factors-test/${treatment.manifest.version}/item_factors.f32` });
    s3.resetHistory();

    // Act
    const result = await recommend({ user_id: 'u1', top_n: '3' });

    // Assess
    expect(result.statusCode).toBe(200);
    expect(s3).not.toHaveReceivedCommand(GetObjectCommand);
  });
  describe('in bandit mode', () => {
    const bandit = { ...experiment, mode: 'bandit' } as Experiment;

    it('assigns new users by the Thompson allocation from the counters and records that propensity', async () => {
      // Prepare: treatment converts users to clickers far better than control
      serve({ experiments: [bandit] });
      tables.seedCounter('default', 'control', today, { exposed_users: 4000, clickers: 200 });
      tables.seedCounter('default', 'treatment', today, { exposed_users: 4000, clickers: 600 });

      // Act
      const variants: string[] = [];
      for (let i = 0; i < 40; i++) variants.push(bodyOf<RecommendBody>(await recommend({ user_id: `new-${i}`, top_n: '2' })).variant);

      // Assess
      expect(variants.filter((v) => v === 'treatment').length).toBeGreaterThanOrEqual(30);
      const stored = ddb
        .commandCalls(PutCommand)
        .map((call) => call.args[0].input.Item as { pk: string; assignment?: { variant: string; propensity: number } })
        .filter((item) => item.pk.startsWith('ASSIGN#'))
        .map((item) => item.assignment!);
      expect(stored).toHaveLength(40);
      const treatmentShare = stored.find((a) => a.variant === 'treatment')!.propensity;
      expect(treatmentShare).toBeGreaterThan(0.9);
      expect(treatmentShare).toBeLessThanOrEqual(0.95 + 1e-9);
    });
  });

  describe('in interleaving mode', () => {
    const interleaving = { ...experiment, mode: 'interleaving' } as Experiment;

    it('serves one list mixing both teams without duplicates, each item tagged with its team and variant', async () => {
      // Prepare
      serve({ experiments: [interleaving] });

      // Act
      const body = bodyOf<RecommendBody>(await recommend({ user_id: 'u1', top_n: '4' }));

      // Assess
      expect(body).toMatchObject({
        variant: 'interleaved',
        model_version: null,
        interleaving: {
          a: { variant: 'control', model_version: control.manifest.version },
          b: { variant: 'treatment', model_version: treatment.manifest.version },
        },
        in_experiment: true,
      });
      expect(body.items.map((i) => i.rank)).toEqual([1, 2, 3, 4]);
      expect(new Set(body.items.map((i) => i.item_id)).size).toBe(4);
      expect(new Set(body.items.map((i) => i.team))).toEqual(new Set(['a', 'b']));
      for (const item of body.items) expect(item.variant).toBe(item.team === 'a' ? 'control' : 'treatment');
    });

    it('gives the list that the user and request id reproduce', async () => {
      // Prepare
      serve({ experiments: [interleaving] });
      const servingA = prepareForServing(tinyModel({ modelId: 'popularity-test' }));
      const servingB = prepareForServing(tinyModel({ modelId: 'factors-test', shift: 3 }));

      // Act
      const body = bodyOf<RecommendBody>(await recommend({ user_id: 'u1', top_n: '4' }));

      // Assess
      const again = interleaveSlates({ experiment: interleaving, servingA, servingB, userId: 'u1', requestId: body.request_id, topN: 4 });
      expect(body.items.map((i) => [i.item_id, i.team])).toEqual(again.items.map((i) => [i.itemId, i.team]));
    });

    it("records the slate with each item's team and variant and counts it on the interleaving counter, with no assignment or user aggregate", async () => {
      // Prepare
      serve({ experiments: [interleaving] });

      // Act
      const body = bodyOf<RecommendBody>(await recommend({ user_id: 'u1', top_n: '4' }));

      // Assess
      expect(body.impression_recorded).toBe(true);
      expect(ddb).toHaveReceivedCommandWith(PutCommand, {
        TableName: TABLE.events,
        Item: expect.objectContaining({
          pk: `EVENT#imp-${body.request_id}`,
          variant: '~interleaving',
          slate: body.items.map((i) => ({ item_id: i.item_id, position: i.rank, score: i.score, team: i.team, variant: i.variant })),
        }),
      });
      const daily = dailyUpdates().find(
        (c) => c.args[0].input.Key?.sk === counterKey('default', '~interleaving', today, counterShard(impressionEventId(body.request_id))).sk,
      );
      expect(daily?.args[0].input.Key?.pk).toBe('EXP#default#VAR#~interleaving');
      expect(addedOf(daily!)).toEqual({ impressions: 1, [`slate_len_${body.items.length}`]: 1, interleaved_impressions: 1 });
      expect(ddb.commandCalls(PutCommand).filter((c) => c.args[0].input.TableName === TABLE.experiments)).toHaveLength(0);
      expect(ddb.commandCalls(UpdateCommand).filter((c) => String(c.args[0].input.Key?.pk).includes('#USER#'))).toHaveLength(0);
    });

    it("serves the control's popularity list outside the test, recording nothing, when a team's artifact is missing", async () => {
      // Prepare
      serve({ artifacts: [control], experiments: [interleaving] });

      // Act
      const body = bodyOf<RecommendBody>(await recommend({ user_id: 'u1', top_n: '3' }));

      // Assess
      expect(body).toMatchObject({ variant: 'control', fallback: 'artifact-unavailable', in_experiment: false, impression_recorded: false });
      expect(body.items.map((i) => i.item_id)).toEqual(['i1', 'i2', 'i3']);
      expect(writes()).toHaveLength(0);
    });
  });
});
