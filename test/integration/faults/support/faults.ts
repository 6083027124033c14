/**
 * Fault injection for the fault tests: middlewares put in front of the real servers (dynalite,
 * s3rver) on the SDK clients the handlers use, and small fixtures shared by the fault tests.
 *
 * Two places in the SDK's middleware stack are used, on purpose:
 * - `initialize` (before marshalling and before the SDK's own retries): the plain input and
 *   output of a call, to hold calls, stop a server or rewrite a batch call's answer;
 * - `deserialize`, after the deserializer (inside the SDK's retry loop): a fake HTTP answer
 *   that the SDK parses into its own exception and retries like a real one.
 */
import { Readable } from 'node:stream';
import type { EventInput } from '../../../../lambdas/domain/events/event.ts';
import type { FactorModel } from '../../../../lambdas/domain/recommenders/types.ts';
import type { LocalAws } from '../../../helpers/local-aws.ts';

/** A DynamoDB call's plain input (the document client's, before marshalling). */
export interface DynamoInput {
  TableName?: string;
  Key?: { pk?: string; sk?: string };
  Item?: { pk?: string; sk?: string };
  ReturnValues?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
  RequestItems?: Record<string, { Keys?: { pk: string; sk: string }[] } & Record<string, unknown>>;
  KeyConditionExpression?: string;
}

type Next = (args: unknown) => Promise<unknown>;
type Context = { commandName?: string };
/** A middleware as `middlewareStack.add` takes it. */
export type FaultMiddleware = (next: Next, context: Context) => (args: unknown) => Promise<unknown>;

/** The partition key a DynamoDB call touches first (single-item calls). */
export const pkOf = (input: DynamoInput): string => input.Key?.pk ?? input.Item?.pk ?? '';

/** Whether any number in the update's values is negative (an undo). */
export const isNegative = (input: DynamoInput): boolean =>
  Object.values(input.ExpressionAttributeValues ?? {}).some((value) => typeof value === 'number' && value < 0);

/**
 * Stops dynalite just before the n-th call of a given step (as `classify` names it), one outage
 * after the other, and starts it again `downMs` later. New calls are held until the calls in
 * flight have their answers, so none is lost in flight (applied with its answer lost: the
 * residual window the README documents); the held calls then meet a stopped dynalite and fail
 * with connection refused, which proves they were not applied.
 */
export class DynamoOutage {
  private inFlight = 0;
  private gate: Promise<void> | undefined;
  private plan: { step: string; nth: number; seen: number }[] = [];
  private down = false;
  private restarted: Promise<void> = Promise.resolve();
  /** Steps of the calls that failed, in order. */
  readonly failedSteps: string[] = [];
  /** Steps of every call, in order. */
  readonly calls: string[] = [];
  outages = 0;

  constructor(
    private readonly servers: LocalAws['servers'],
    private readonly classify: (commandName: string | undefined, input: DynamoInput) => string,
    private readonly downMs = 50,
  ) {}

  arm(plan: { step: string; nth: number }[]): void {
    this.plan = plan.map((p) => ({ ...p, seen: 0 }));
  }

  get pending(): number {
    return this.plan.length;
  }

  middleware: FaultMiddleware = (next, context) => async (args) => {
    while (this.gate) await this.gate;
    const step = this.classify(context.commandName, (args as { input: DynamoInput }).input);
    this.calls.push(step);
    const due = this.down ? undefined : this.plan[0];
    if (due && due.step === step && ++due.seen === due.nth) {
      this.plan.shift();
      this.gate = this.stop();
      await this.gate;
    }
    this.inFlight++;
    try {
      return await next(args);
    } catch (error) {
      this.failedSteps.push(step);
      throw error;
    } finally {
      this.inFlight--;
    }
  };

  private async stop(): Promise<void> {
    while (this.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 1));
    await this.servers.stopDynamo();
    this.down = true;
    this.outages++;
    this.gate = undefined;
    this.restarted = new Promise<void>((resolve) => setTimeout(resolve, this.downMs))
      .then(() => this.servers.startDynamo())
      .then(() => {
        this.down = false;
      });
    // A restart that fails fails the test at its next whenUp(), not silently as a store that never comes back.
    this.restarted.catch(() => {});
  }

  /** Resolves once dynalite is up again after the last outage (at once when it never went down); rejects if it could not restart. */
  async whenUp(): Promise<void> {
    while (this.gate) await this.gate;
    await this.restarted;
  }
}

/** An HTTP answer as the SDK's deserializers read it (they check its shape, not its class). */
export interface FakeHttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: Readable;
}

/**
 * A fake HTTP answer of DynamoDB's JSON protocol with the given error type, as DynamoDB sends it
 * (`x-amzn-errortype` and `__type`), so the SDK builds its own exception class from it.
 */
export function dynamoErrorResponse(type: 'ProvisionedThroughputExceededException' | 'ThrottlingException', statusCode = 400): { response: FakeHttpResponse } {
  const body = JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message: `Injected ${type}` });
  return {
    response: {
      statusCode,
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': type, 'x-amzn-requestid': 'injected' },
      body: Readable.from([Buffer.from(body)]),
    },
  };
}

/** A fake HTTP answer of S3's REST protocol with the given error code. */
export function s3ErrorResponse(code: 'InternalError' | 'SlowDown' | 'ServiceUnavailable', statusCode = 500): { response: FakeHttpResponse } {
  const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>Injected ${code}</Message><RequestId>injected</RequestId></Error>`;
  return {
    response: {
      statusCode,
      headers: { 'content-type': 'application/xml', 'x-amz-request-id': 'injected' },
      body: Readable.from([Buffer.from(body)]),
    },
  };
}

/** Where a wire-level fault goes: inside the SDK's retry loop, after the deserializer. */
export const WIRE_LEVEL = { step: 'deserialize', priority: 'low', name: 'faultTestWire' } as const;
/** Where a call-level fault goes: before marshalling and before the SDK's retries. */
export const CALL_LEVEL = { step: 'initialize', name: 'faultTestCall' } as const;

/** The input of a call as the wire-level middleware sees it (the SDK keeps the plain input beside the request). */
export const wireInput = (args: unknown): DynamoInput => ((args as { input?: DynamoInput }).input ?? {}) as DynamoInput;

export type ThrottleError = 'ProvisionedThroughputExceededException' | 'ThrottlingException';

/** What the call-level middleware leaves on the SDK's context for the wire-level one. */
interface FaultCall {
  step: string;
  nth: number;
  attempt: number;
}

/**
 * Throttling and partial batch answers in front of a real dynalite, decided per call:
 * - `throttle(step, nth, attempt)` answers the attempt with a throttling error instead of sending
 *   it (the n-th call of that step, attempt 1 being the SDK's first try), inside the SDK's retry
 *   loop, so the SDK retries it as it would retry DynamoDB's own answer;
 * - `processKeys(step, nth, keys)` sends only that many keys of a BatchGetItem call and answers
 *   the rest as `UnprocessedKeys`, as DynamoDB does when a batch exceeds what it serves at once.
 * Nothing injected reaches dynalite, so every injected failure provably applied nothing.
 */
export class DynamoFaultInjector {
  /** Calls seen per step. */
  readonly seen = new Map<string, number>();
  /** Every injected throttle, as `<step>#<nth>@<attempt>`. */
  readonly throttled: string[] = [];
  /** Keys answered as unprocessed, per BatchGetItem call. */
  readonly unprocessed: number[] = [];
  throttle: (step: string, nth: number, attempt: number) => ThrottleError | undefined = () => undefined;
  processKeys: (step: string, nth: number, keys: number) => number = (_step, _nth, keys) => keys;

  constructor(private readonly classify: (commandName: string | undefined, input: DynamoInput) => string) {}

  /** Forgets the counts and switches every fault off. */
  reset(): void {
    this.seen.clear();
    this.throttled.length = 0;
    this.unprocessed.length = 0;
    this.throttle = () => undefined;
    this.processKeys = (_step, _nth, keys) => keys;
  }

  callLevel: FaultMiddleware = (next, context) => async (args) => {
    const input = (args as { input: DynamoInput }).input;
    const step = this.classify(context.commandName, input);
    const nth = (this.seen.get(step) ?? 0) + 1;
    this.seen.set(step, nth);
    (context as { faultCall?: FaultCall }).faultCall = { step, nth, attempt: 0 };
    if (context.commandName !== 'BatchGetItemCommand') return next(args);
    const [table, spec] = Object.entries(input.RequestItems ?? {})[0];
    const keys = spec.Keys ?? [];
    const processed = Math.min(keys.length, this.processKeys(step, nth, keys.length));
    this.unprocessed.push(keys.length - processed);
    if (processed === keys.length) return next(args);
    const result = (
      processed === 0
        ? { output: { Responses: { [table]: [] }, $metadata: {} } }
        : await next({ ...(args as object), input: { ...input, RequestItems: { [table]: { ...spec, Keys: keys.slice(0, processed) } } } })
    ) as { output: { UnprocessedKeys?: Record<string, { Keys?: unknown[] }> } };
    const left = result.output.UnprocessedKeys?.[table]?.Keys ?? [];
    result.output.UnprocessedKeys = { [table]: { ...spec, Keys: [...keys.slice(processed), ...left] } };
    return result;
  };

  wireLevel: FaultMiddleware = (next, context) => async (args) => {
    const call = (context as { faultCall?: FaultCall }).faultCall;
    if (!call) return next(args);
    call.attempt++;
    const error = this.throttle(call.step, call.nth, call.attempt);
    if (!error) return next(args);
    this.throttled.push(`${call.step}#${call.nth}@${call.attempt}`);
    return dynamoErrorResponse(error);
  };
}

/** What a call-level interceptor does with one call: fail it, answer it without sending it, or let it through (undefined). */
export type Intercept = { fail: Error } | { answer: Record<string, unknown> } | undefined;

/**
 * A call-level middleware that may fail a call or answer it itself, before the SDK sends
 * anything (and before its retries): for S3 writes and reads, DynamoDB reads and SNS publishes.
 */
export function interceptCalls(decide: (commandName: string | undefined, input: Record<string, unknown>) => Intercept): FaultMiddleware {
  return (next, context) => async (args) => {
    const outcome = decide(context.commandName, (args as { input: Record<string, unknown> }).input);
    if (outcome === undefined) return next(args);
    if ('fail' in outcome) throw outcome.fail;
    return { output: { $metadata: {}, ...outcome.answer }, response: {} };
  };
}

/** An error as the SDK raises a service's 5xx answer. */
export function serviceError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name, $fault: 'server', $metadata: { httpStatusCode: 500, attempts: 3 } });
}

/** A small deterministic factor model: `users` known users, `items` items, 2 factors. */
export function factorModel(modelId: string, { users, items, tilt }: { users: string[]; items: number; tilt: number }): FactorModel {
  const factors = 2;
  const userFactors = new Float32Array(users.length * factors);
  users.forEach((_, u) => {
    userFactors[u * factors] = Math.cos(u + tilt);
    userFactors[u * factors + 1] = Math.sin(u + tilt);
  });
  const itemFactors = new Float32Array(items * factors);
  for (let i = 0; i < items; i++) {
    itemFactors[i * factors] = Math.cos(i * 0.7 - tilt);
    itemFactors[i * factors + 1] = Math.sin(i * 0.7 - tilt);
  }
  const seenOffsets = Int32Array.from({ length: users.length + 1 }, () => 0);
  return {
    modelId,
    algorithm: 'test',
    factors,
    userIds: users,
    itemIds: Array.from({ length: items }, (_, i) => `item-${i}`),
    userFactors,
    itemFactors,
    userBias: new Float32Array(users.length),
    itemBias: new Float32Array(items),
    globalBias: 3.5,
    itemPopularity: Float32Array.from({ length: items }, (_, i) => (i * 37) % items),
    seenOffsets,
    seenItems: new Int32Array(0),
    ratingScale: [1, 5],
    hyperparameters: { factors, tilt },
    metrics: {},
    trainingData: { fingerprint: `fault-${modelId}`, ratings: 0, users: users.length, items, source: 'fault test' },
  };
}

/** Sums the numeric fields of a variant's daily counters over all days (exact integers the store returns as BigInt included). */
export function sumDays(days: readonly object[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const day of days) {
    for (const [key, value] of Object.entries(day)) {
      if (typeof value === 'number' || typeof value === 'bigint') sum[key] = (sum[key] ?? 0) + Number(value);
    }
  }
  return sum;
}

/** A deterministic pool of events of `users` (impressions, clicks, purchases, watch time), ids `<prefix>-<i>`. */
export function eventPool({ prefix, experimentId, users, size }: { prefix: string; experimentId: string; users: string[]; size: number }): EventInput[] {
  return Array.from({ length: size }, (_, i) => {
    const user = users[(i * 7) % users.length];
    const kind = i % 10;
    const type = kind < 5 ? 'impression' : kind < 8 ? 'click' : kind < 9 ? 'purchase' : 'watch_time';
    return {
      event_id: `${prefix}-${i}`,
      event_type: type,
      user_id: user,
      experiment_id: experimentId,
      item_id: type === 'click' || type === 'purchase' ? `item-${i % 13}` : undefined,
      value: type === 'purchase' ? (i % 5) + 1 : type === 'watch_time' ? i % 300 : undefined,
    } as EventInput;
  });
}

/** What the counters of each variant must hold for a set of distinct events: event sums and the user-level sums. */
export function expectedTotals(events: EventInput[], variantOf: (userId: string) => string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  const perUser = new Map<string, { c: number; m: number; p: number }>();
  const add = (variant: string, metric: string, amount: number) => {
    out[variant] ??= {};
    out[variant][metric] = (out[variant][metric] ?? 0) + amount;
  };
  for (const e of events) {
    const variant = variantOf(e.user_id);
    const u = perUser.get(e.user_id) ?? { c: 0, m: 0, p: 0 };
    perUser.set(e.user_id, u);
    if (e.event_type === 'impression') {
      add(variant, 'impressions', 1);
      u.m++;
    }
    if (e.event_type === 'click') {
      add(variant, 'clicks', 1);
      u.c++;
    }
    if (e.event_type === 'purchase') {
      add(variant, 'conversions', 1);
      add(variant, 'revenue_sum', e.value!);
      u.p++;
    }
    if (e.event_type === 'watch_time') {
      add(variant, 'watch_time_n', 1);
      add(variant, 'watch_time_sum', e.value!);
    }
  }
  for (const [user, u] of perUser) {
    const variant = variantOf(user);
    add(variant, 'clickers', u.c > 0 ? 1 : 0);
    add(variant, 'converters', u.p > 0 ? 1 : 0);
    add(variant, 'user_clicks_sq_sum', u.c * u.c);
    add(variant, 'user_impressions_sq_sum', u.m * u.m);
    add(variant, 'user_clicks_impressions_sum', u.c * u.m);
  }
  return out;
}

/** The given metrics of a counter sum, 0 for absent ones. */
export const pick = (totals: Record<string, number>, keys: string[]): Record<string, number> => Object.fromEntries(keys.map((k) => [k, totals[k] ?? 0]));
