/**
 * The README's statements that restate a source of truth in the code say what that source says:
 * the HTTP API table's routes and their protection, the functions' bucket rights, the reserved
 * concurrency, the usage plan, the WAF's rate limit, the alarm thresholds, the schedules and the
 * tables (lib/resources.ts, lib/defaults.ts, which stack.test.ts and production.test.ts hold the
 * synthesized template to); the domain's limits; the stats engine's sample sizes; and the
 * simulated users' behaviour.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_ALARM_THRESHOLDS, DEFAULT_RATE_LIMIT_PER_IP, DEFAULT_RESERVED_CONCURRENCY } from '../../lib/defaults.ts';
import { API_THROTTLE, FUNCTIONS, ROUTES, SCHEDULES, TABLES, type FunctionDefinition, type FunctionName, type RouteAuth } from '../../lib/resources.ts';
import { COUNTER_SHARDS } from '../../lambdas/domain/events/counters.ts';
import {
  MAX_BATCH_SIZE,
  MAX_COUNTED_POSITION,
  MAX_EVENT_AGE_MS,
  MAX_EVENT_FUTURE_MS,
  MAX_ID_BYTES,
  MAX_PURCHASE_VALUE,
  MAX_WATCH_TIME_SECONDS,
  MIN_POSITIVE_EVENT_VALUE,
} from '../../lambdas/domain/events/event.ts';
import { MAX_ITEM_BYTES, MAX_PARTITION_KEY_BYTES } from '../../lambdas/domain/events/item-size.ts';
import { DEFAULT_CAPS } from '../../lambdas/domain/experiments/caps.ts';
import { sampleSizeForProportions, sequentialPower, sequentialSampleSize } from '../../lambdas/domain/stats/power.ts';
import { DEFAULT_MAX_DURATION_DAYS, MAX_DURATION_DAYS_LIMIT } from '../../lambdas/domain/experiments/model.ts';
import { MAX_DECLARED_SEGMENTS } from '../../lambdas/domain/experiments/user-segments.ts';
import { counterKey, userAggregateKey } from '../../lambdas/storage/counter-store.ts';
import { dailyQuotaKey } from '../../lambdas/storage/daily-quota.ts';
import { eventKey } from '../../lambdas/storage/event-key.ts';
import { EXPERIMENT_PK } from '../../lambdas/storage/experiment-repository.ts';
import { INTERACTION_LOG_SHARDS, interactionLogKey } from '../../lambdas/storage/interaction-log.ts';
import { DEFAULT_BEHAVIOUR } from '../../simulator/behaviour.ts';
import { RETURN_PROBABILITY } from '../../simulator/population.ts';
import { codeSpans, expandRoutes, readme, readmeSection, tableRows } from './support/readme.ts';

/** How the README's HTTP API table names each protection. */
const AUTH_WORDS: Record<string, RouteAuth> = {
  none: 'none',
  'API key': 'apiKey',
  'IAM in AWS, admin key locally': 'admin',
};

/** `1,000` → 1000. */
const numberOf = (text: string): number => Number(text.replace(/,/g, ''));

/** The item of the Deploying section's list that starts with `start`, its lines joined by single spaces unless `keepLines`. */
function deployItem(start: string, keepLines = false): string {
  const item = readmeSection('Deploying to AWS')
    .split(/\n(?=- )/)
    .find((paragraph) => paragraph.startsWith(`- ${start}`));
  if (item === undefined) throw new Error(`the Deploying section has no item starting "${start}"`);
  return keepLines ? item : item.replace(/\s+/g, ' ');
}

describe("README's HTTP API table", () => {
  const rows = tableRows(readmeSection('The HTTP API'));

  it('lists exactly the routes of ROUTES, each with its protection', () => {
    const listed = rows.flatMap(([routes, auth]) => codeSpans(routes).flatMap((span) => expandRoutes(span).map((route) => `${route} ${AUTH_WORDS[auth]}`)));

    expect(listed.sort()).toEqual(ROUTES.map((route) => `${route.method} ${route.path} ${route.auth}`).sort());
  });
});

describe("README's Deploying to AWS section", () => {
  it("gives each function's bucket rights exactly as FUNCTIONS grants them", () => {
    const rows = tableRows(deployItem('one Lambda per concern', true));
    const nameOf = (words: string): FunctionName => words.replace(/ (\w)/g, (_space, letter: string) => letter.toUpperCase()) as FunctionName;
    const documented = Object.fromEntries(
      rows.map(([words, reads, writes]) => {
        const read = codeSpans(reads);
        return [nameOf(words), { read, write: writes === 'the same' ? read : codeSpans(writes), listOnly: read.length === 0 && /HeadBucket/.test(reads) }];
      }),
    );
    const granted = Object.fromEntries(
      (Object.entries(FUNCTIONS) as [FunctionName, FunctionDefinition][])
        .filter(([name, definition]) => definition.bucket !== undefined || name in documented)
        .map(([name, { bucket }]) => [name, { read: [...(bucket?.read ?? [])], write: [...(bucket?.write ?? [])], listOnly: bucket?.listOnly === true }]),
    );

    expect(documented).toEqual(granted);
  });

  it('gives the reserved concurrency of DEFAULT_RESERVED_CONCURRENCY and its sum', () => {
    const item = deployItem('reserved concurrency');
    const figure = (words: string): number => numberOf(new RegExp(`${words} (\\d[\\d,]*)`).exec(item)?.[1] ?? 'NaN');
    const { recommend, events, experiments, health, analysis, ...retraining } = DEFAULT_RESERVED_CONCURRENCY;
    const total = Object.values(DEFAULT_RESERVED_CONCURRENCY).reduce((sum, value) => sum + value, 0);

    expect({ recommend: figure('recommend'), events: figure('events'), experiments: figure('experiments'), health: figure('health') }).toEqual({
      recommend,
      events,
      experiments,
      health,
    });
    expect(item).toContain('analysis and each retraining step 1');
    expect(new Set([analysis, ...Object.values(retraining)])).toEqual(new Set([1]));
    expect(numberOf(/; ([\d,]+) in all/.exec(item)?.[1] ?? 'NaN')).toBe(total);
  });

  it('gives the usage plan of API_THROTTLE and the WAF limit of DEFAULT_RATE_LIMIT_PER_IP', () => {
    const plan = /usage plan \(([\d,]+) req\/s, burst ([\d,]+), ([\d.]+) M\/day\)/.exec(deployItem('the REST API'));
    const waf = /limited to ([\d,]+) requests per 5 minutes/.exec(deployItem('a regional WAF'));

    expect(plan && [numberOf(plan[1]), numberOf(plan[2]), Number(plan[3]) * 1e6]).toEqual([
      API_THROTTLE.rateLimit,
      API_THROTTLE.burstLimit,
      API_THROTTLE.quotaPerDay,
    ]);
    expect(waf && numberOf(waf[1])).toBe(DEFAULT_RATE_LIMIT_PER_IP);
  });

  it('gives the alarm thresholds of DEFAULT_ALARM_THRESHOLDS', () => {
    const alarms = deployItem('a CloudWatch dashboard, and alarms');

    expect(alarms).toContain(`≥ ${DEFAULT_ALARM_THRESHOLDS.api5xxRatePercent} % in 2 of 3 five-minute periods (\`alarmThresholds.api5xxRatePercent\`)`);
    expect(alarms).toContain(
      `p99 ≥ ${DEFAULT_ALARM_THRESHOLDS.apiLatencyP99Ms.toLocaleString('en-US')} ms for 15 minutes (\`alarmThresholds.apiLatencyP99Ms\`)`,
    );
  });
});

describe('README on schedules and tables', () => {
  it('gives the times of SCHEDULES wherever it names them', () => {
    const text = readme().replace(/\s+/g, ' ');

    // cron(0 3 * * ? *) is 03:00 UTC daily; cron(0 4 ? * SUN *) Sundays at 04:00 UTC.
    expect(SCHEDULES).toEqual({ analysis: 'cron(0 3 * * ? *)', retraining: 'cron(0 4 ? * SUN *)' });
    expect(text).toContain('the daily analysis at 03:00 UTC, the weekly retraining on Sundays at 04:00');
    expect(text).toContain('The daily rule (03:00 UTC)');
    expect(text).toContain('started by EventBridge on Sundays at 04:00 UTC');
    expect(text.match(/\b0[0-9]:00 UTC\b/g)?.filter((time) => time !== '03:00 UTC' && time !== '04:00 UTC' && time !== '06:00 UTC')).toEqual([]);
  });

  it('keys the DynamoDB table of access patterns by the tables of TABLES', () => {
    const section = readmeSection('DynamoDB key design and access patterns');
    const tables = new Set(tableRows(section).map(([table]) => table));

    expect(section).toContain(`${['Zero', 'One', 'Two', 'Three', 'Four'][Object.keys(TABLES).length]} on-demand tables with string keys \`pk\` / \`sk\``);
    expect([...tables].sort()).toEqual(Object.keys(TABLES).sort());
    for (const table of Object.values(TABLES))
      expect([table.partitionKey, table.sortKey]).toEqual([
        { name: 'pk', type: 'S' },
        { name: 'sk', type: 'S' },
      ]);
  });
});

describe("README's key design is the storage's", () => {
  const section = readmeSection('DynamoDB key design and access patterns');
  /** The (pk, sk) code spans of the key table's row for `item`. */
  const keysOf = (item: string): [string, string] => {
    const row = tableRows(section).find((cells) => cells[1] === item || cells[1].startsWith(`${item},`) || cells[1].startsWith(`${item} (`));
    if (!row) throw new Error(`the key design table has no row for "${item}"`);
    return [codeSpans(row[2])[0], codeSpans(row[3])[0]];
  };
  /** A shard number written as the README writes it. */
  const shardPlaceholder = (key: string): string => key.replace(/#S\d{2}/, '#S<nn>');

  it('builds the keys of experiments, events, counters, user aggregates and daily limits as the table writes them', () => {
    const daily = counterKey('<experiment>', '<variant>', '<yyyy-mm-dd>', 3, '<segment>');
    const aggregate = userAggregateKey('<experiment>', '<user>');
    const quota = dailyQuotaKey('<e>', '<u>', '<day>');

    expect(keysOf('experiment')).toEqual([EXPERIMENT_PK, '<experiment id>']);
    expect(keysOf('event / impression slate')).toEqual([eventKey('<event id>').pk, eventKey('<event id>').sk]);
    expect(keysOf('daily variant aggregate')).toEqual([daily.pk, shardPlaceholder(daily.sk)]);
    expect(keysOf('interleaving aggregate')).toEqual([
      counterKey('<experiment>', '~interleaving', '<yyyy-mm-dd>').pk,
      shardPlaceholder(counterKey('<experiment>', '~interleaving', '<yyyy-mm-dd>').sk),
    ]);
    expect(keysOf('user aggregate')).toEqual([aggregate.pk, aggregate.sk]);
    expect(readme().replace(/\s+/g, ' ')).toContain(`(\`${quota.pk}\` / \`${quota.sk}\`, counters table`);
  });

  it('keys the interaction log by day and shard, and by the receive time and the first event id', () => {
    const key = interactionLogKey(Date.parse('2026-12-01T10:00:00Z'), 'e-1');
    const [pk, sk] = keysOf('interaction log');

    expect(key.pk).toMatch(/^ILOG#2026-12-01#S\d{2}$/);
    expect(shardPlaceholder(key.pk.replace('2026-12-01', '<yyyy-mm-dd>'))).toBe(pk);
    expect(key.sk).toBe(`${String(Date.parse('2026-12-01T10:00:00Z')).padStart(13, '0')}#e-1`);
    expect(sk).toBe('<received ms, 13 digits>#<first event id>');
    expect(section).toContain(`interaction log (feedback for retraining), in ${INTERACTION_LOG_SHARDS} shards per day`);
  });
});

describe("README's limits are the domain's constants", () => {
  const text = readme().replace(/\s+/g, ' ');
  const thousands = (value: number): string => value.toLocaleString('en-US');

  it('gives the batch size, the id and item sizes and the clock skews of lambdas/domain/events', () => {
    expect(text).toContain(`\`{events: [...]}\`, up to ${thousands(MAX_BATCH_SIZE)}, validated whole`);
    expect(text).toContain(`in batches of at most ${thousands(MAX_BATCH_SIZE)}`);
    expect(text).toContain(`every id is at most ${MAX_ID_BYTES} UTF-8 bytes`);
    expect(text).toContain(`refused at ${MAX_ITEM_BYTES / 1024} KB`);
    expect(text).toContain(`DynamoDB's ${thousands(MAX_PARTITION_KEY_BYTES)}-byte partition-key limit`);
    expect(text).toContain(`more than ${MAX_EVENT_FUTURE_MS / 60_000} minutes ahead or ${MAX_EVENT_AGE_MS / 86_400_000} days behind`);
  });

  it('gives the value bounds of lambdas/domain/events/event.ts', () => {
    expect(text).toContain(
      `every \`value\` is 0..${thousands(MAX_PURCHASE_VALUE)} (purchases), watch time 0..${thousands(MAX_WATCH_TIME_SECONDS)} s, ratings 1..5`,
    );
    expect(text).toContain(`A value above 0 is at least ${MIN_POSITIVE_EVENT_VALUE.toFixed(6)}`);
  });

  it('gives the counted positions, the counter shards, the segments, the caps and the duration limits', () => {
    expect(text).toContain(`k and p from 1 to ${MAX_COUNTED_POSITION}, \`MAX_TOP_N\`, so at most ${2 * MAX_COUNTED_POSITION} such attributes`);
    expect(text).toContain(`a day is written as ${COUNTER_SHARDS} shard items, \`DAY#<day>#S00\` … \`S${COUNTER_SHARDS - 1}\``);
    expect(text.match(/in (\d+) shards/g)?.every((phrase) => phrase === `in ${COUNTER_SHARDS} shards`)).toBe(true);
    expect(text).toContain(`up to ${MAX_DECLARED_SEGMENTS} client segment values`);
    expect(text).toContain(`\`${JSON.stringify(DEFAULT_CAPS).replace(/,/g, ', ').replace(/:/g, ': ')}\` by default`);
    expect(text).toContain(`an integer 1..${MAX_DURATION_DAYS_LIMIT}, counted from \`start_time\`; ${DEFAULT_MAX_DURATION_DAYS} when created without one`);
  });
});

describe("README's sample-size figures are the stats engine's", () => {
  it('gives the sequential plan, the fixed-horizon size and the power of 14 daily looks at the latter, for 9 % +10 %', () => {
    const design = { baselineRate: 0.09, relativeMde: 0.1, alpha: 0.05, power: 0.8 };
    const planned = sequentialSampleSize(design).usersPerVariant;
    const fixed = sampleSizeForProportions(design).usersPerVariant;
    const treated = design.baselineRate * (1 + design.relativeMde);
    const powerAtFixed = sequentialPower({
      differenceVariancePerUser: design.baselineRate * (1 - design.baselineRate) + treated * (1 - treated),
      absoluteMde: design.baselineRate * design.relativeMde,
      alpha: design.alpha,
      usersPerVariant: fixed,
      looks: 14,
    });
    const text = readmeSection('Analysis').replace(/\s+/g, ' ');

    expect(text).toContain(
      `${planned.toLocaleString('en-US')} per variant for 9% +10%, α 0.05, power 0.8, against the fixed-horizon ${fixed.toLocaleString('en-US')} (\`fixedHorizonPerVariant\`), at which only ${Math.round(powerAtFixed * 100)}% of such effects would ship over 14 daily looks`,
    );
  });
});

describe("README's simulated users behave as the simulator's parameters say", () => {
  it('gives the return probabilities, the examination, the attractiveness and the novelty factor of DEFAULT_BEHAVIOUR', () => {
    const text = readmeSection('The main job: a whole experiment on one machine').replace(/\s+/g, ' ');
    const percent = (share: number): string => `${Math.round(share * 100)} %`;

    expect(text).toContain(`(${percent(RETURN_PROBABILITY.least)} of days for the least active, ${percent(RETURN_PROBABILITY.most)} for the most)`);
    expect(DEFAULT_BEHAVIOUR.examinationDecay).toBe(1);
    expect(text).toContain('examine rank r with probability 1/r');
    expect(text).toContain(`scaled to at most ${DEFAULT_BEHAVIOUR.maxAttractiveness}, and ${DEFAULT_BEHAVIOUR.baseAttractiveness} for items they never rated`);
    expect(DEFAULT_BEHAVIOUR.repeatFactor).toBe(0.5);
    expect(text).toContain('items shown on an earlier visit are half as attractive');
  });
});
