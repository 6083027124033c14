/**
 * In-memory DynamoDB and S3 for `abrec bench serve`, plugged in as the SDK clients' request
 * handler: every call goes through the whole SDK stack (marshalling, serialization, signing,
 * deserialization) but never touches a socket, so the benchmark measures the handler, not a
 * network or an emulator.
 *
 * Only what the recommend and events handlers send is understood: GetItem, BatchGetItem,
 * PutItem (condition `attribute_not_exists(pk)`, ReturnValuesOnConditionCheckFailure as AWS
 * implements it), UpdateItem (`ADD a :x, ...`, `SET a = :x` or both; condition `a = :x` or the
 * daily limits' `(attribute_not_exists(a) OR a <= :x) AND ...`,
 * ReturnValues UPDATED_NEW or ALL_NEW, `SET a = if_not_exists(a, :v)`) and Query on `pk` with
 * an optional `begins_with(sk, ...)`; S3 GetObject. Write units are counted as DynamoDB bills them: ceil(KB) of the larger of the
 * item before and after, failed conditional writes included.
 */
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { Readable } from 'node:stream';
import { itemBytes, writeUnits } from '../../lambdas/domain/events/item-size.ts';
import { exactAdd, type Exact } from '../../lambdas/domain/events/exact.ts';

type Item = Record<string, unknown>;
type RawItem = Record<string, AttributeValue>;

interface HttpRequestLike {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: unknown;
}

interface HttpResponseLike {
  statusCode: number;
  headers: Record<string, string>;
  body: unknown;
}

/** What the store saw: calls per operation and the write units they cost. */
export interface CallCounts {
  /** Calls per operation and table, e.g. `UpdateItem abrec-counters`. */
  calls: Record<string, number>;
  writeUnits: number;
  conditionalFailures: number;
}

/** The request handler shape the SDK clients call. */
export interface FakeRequestHandler {
  handle: (request: HttpRequestLike) => Promise<{ response: HttpResponseLike }>;
  destroy?: () => void;
}

const json = (statusCode: number, body: unknown): { response: HttpResponseLike } => ({
  response: { statusCode, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: new TextEncoder().encode(JSON.stringify(body)) },
});

/**
 * The conditions the handlers send to UpdateItem: `a = :x`, or a conjunction of
 * `(attribute_not_exists(a) OR a <= :x)` (the daily limits).
 */
function conditionHolds(expression: string, existing: Item | undefined, name: (token: string) => string, values: Item): boolean {
  // The catalogue size of the coverage markers, raised and never lowered.
  const raise = /^attribute_not_exists\((#?\w+)\) OR (#?\w+) < (:\w+)$/.exec(expression);
  if (raise) return existing?.[name(raise[1])] === undefined || (existing[name(raise[2])] as number) < (values[raise[3]] as number);
  const limits = [...expression.matchAll(/\(attribute_not_exists\((#?\w+)\) OR (#?\w+) <= (:\w+)\)/g)];
  if (limits.length > 0)
    return limits.every(
      ([, attribute, , room]) => existing?.[name(attribute)] === undefined || (existing[name(attribute)] as number) <= (values[room] as number),
    );
  const [attribute, value] = expression.split('=').map((s) => s.trim());
  return existing !== undefined && existing[name(attribute)] === values[value];
}

const conditionFailed = (existing?: RawItem) =>
  json(400, {
    __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException',
    message: 'The conditional request failed',
    ...(existing ? { Item: existing } : {}),
  });

const bodyText = (body: unknown) => (typeof body === 'string' ? body : body instanceof Uint8Array ? new TextDecoder().decode(body) : '');

export class InMemoryDynamo implements FakeRequestHandler {
  private readonly tables = new Map<string, Map<string, Item>>();
  counts: CallCounts = { calls: {}, writeUnits: 0, conditionalFailures: 0 };

  resetCounts(): void {
    this.counts = { calls: {}, writeUnits: 0, conditionalFailures: 0 };
  }

  private table(name: string): Map<string, Item> {
    let table = this.tables.get(name);
    if (!table) this.tables.set(name, (table = new Map()));
    return table;
  }

  /** Puts an item directly (seeding). */
  seed(tableName: string, item: Item): void {
    this.table(tableName).set(`${item.pk}\u0000${item.sk}`, item);
  }

  async handle(request: HttpRequestLike): Promise<{ response: HttpResponseLike }> {
    const operation = (request.headers['x-amz-target'] ?? '').split('.')[1] ?? 'Unknown';
    const input = JSON.parse(bodyText(request.body)) as Record<string, unknown>;
    const table = (input.TableName as string | undefined) ?? Object.keys((input.RequestItems as object | undefined) ?? {}).join('+');
    // The daily limit items (`EXP#<e>#USER#<u>` / `DAY#<day>`) live in the counters table but are not counters.
    const key = input.Key ? unmarshall(input.Key as RawItem) : {};
    const limit = operation === 'UpdateItem' && String(key.pk).includes('#USER#') && String(key.sk).startsWith('DAY#');
    // So are the catalogue-coverage markers (`EXP#<e>#SHOWN#<variant>`), written once per item and container.
    const batchPk =
      operation === 'BatchWriteItem'
        ? Object.values(input.RequestItems as Record<string, { PutRequest?: { Item: RawItem } }[]>)[0]?.[0]?.PutRequest?.Item
        : undefined;
    const shown = String(batchPk ? unmarshall(batchPk).pk : key.pk).includes('#SHOWN#');
    const label = `${operation} ${table}${limit ? ' (daily limits)' : shown ? ' (coverage markers)' : ''}`;
    this.counts.calls[label] = (this.counts.calls[label] ?? 0) + 1;
    switch (operation) {
      case 'GetItem':
        return this.getItem(input);
      case 'BatchGetItem':
        return this.batchGetItem(input);
      case 'PutItem':
        return this.putItem(input);
      case 'BatchWriteItem':
        return this.batchWriteItem(input);
      case 'UpdateItem':
        return this.updateItem(input);
      case 'Query':
        return this.query(input);
      default:
        return json(400, { __type: 'com.amazon.coral.validate#ValidationException', message: `${operation} is not supported by the in-memory store` });
    }
  }

  private keyOf(key: RawItem): string {
    const k = unmarshall(key);
    return `${k.pk}\u0000${k.sk}`;
  }

  private getItem(input: Record<string, unknown>) {
    const item = this.table(input.TableName as string).get(this.keyOf(input.Key as RawItem));
    return json(200, item ? { Item: marshall(item, { removeUndefinedValues: true }) } : {});
  }

  private batchGetItem(input: Record<string, unknown>) {
    const responses: Record<string, RawItem[]> = {};
    for (const [name, request] of Object.entries(input.RequestItems as Record<string, { Keys: RawItem[] }>)) {
      responses[name] = request.Keys.flatMap((key) => {
        const item = this.table(name).get(this.keyOf(key));
        return item ? [marshall(item, { removeUndefinedValues: true })] : [];
      });
    }
    return json(200, { Responses: responses, UnprocessedKeys: {} });
  }

  private putItem(input: Record<string, unknown>) {
    const table = this.table(input.TableName as string);
    const item = unmarshall(input.Item as RawItem);
    const key = `${item.pk}\u0000${item.sk}`;
    const existing = table.get(key);
    this.counts.writeUnits += writeUnits(Math.max(itemBytes(item), existing ? itemBytes(existing) : 0));
    if (input.ConditionExpression === 'attribute_not_exists(pk)' && existing) {
      this.counts.conditionalFailures++;
      return conditionFailed(input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' ? marshall(existing, { removeUndefinedValues: true }) : undefined);
    }
    table.set(key, item);
    return json(200, {});
  }

  /** Unconditional puts only (what the coverage markers write); everything processed. */
  private batchWriteItem(input: Record<string, unknown>) {
    for (const [name, requests] of Object.entries(input.RequestItems as Record<string, { PutRequest?: { Item: RawItem } }[]>)) {
      for (const request of requests) {
        if (!request.PutRequest)
          return json(400, { __type: 'com.amazon.coral.validate#ValidationException', message: 'only PutRequest is supported by the in-memory store' });
        const item = unmarshall(request.PutRequest.Item);
        const existing = this.table(name).get(`${item.pk}\u0000${item.sk}`);
        this.counts.writeUnits += writeUnits(Math.max(itemBytes(item), existing ? itemBytes(existing) : 0));
        this.table(name).set(`${item.pk}\u0000${item.sk}`, item);
      }
    }
    return json(200, { UnprocessedItems: {} });
  }

  private updateItem(input: Record<string, unknown>) {
    const table = this.table(input.TableName as string);
    const key = unmarshall(input.Key as RawItem);
    const id = `${key.pk}\u0000${key.sk}`;
    const existing = table.get(id);
    const names = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
    const values = unmarshall((input.ExpressionAttributeValues ?? {}) as RawItem);
    const name = (token: string) => names[token] ?? token;
    if (typeof input.ConditionExpression === 'string' && !conditionHolds(input.ConditionExpression, existing, name, values)) {
      this.counts.conditionalFailures++;
      this.counts.writeUnits += writeUnits(existing ? itemBytes(existing) : 1);
      return conditionFailed();
    }
    const next: Item = { ...(existing ?? key) };
    const updated: string[] = [];
    // `ADD a :x, b :y SET c = :z` or `SET c = :z`: one or two actions, each with its clauses.
    for (const [, action, clauses] of (input.UpdateExpression as string).matchAll(/(ADD|SET)\s+(.*?)(?=\s+(?:ADD|SET)\s|$)/g)) {
      // Commas inside a function call (if_not_exists(a, :v)) do not end a clause.
      for (const clause of clauses.split(/,(?![^(]*\))/).map((c) => c.trim())) {
        if (action === 'ADD') {
          const [attribute, value] = clause.split(/\s+/);
          next[name(attribute)] = exactAdd((next[name(attribute)] as Exact | undefined) ?? 0, values[value] as Exact);
          updated.push(name(attribute));
        } else {
          const [attribute, value] = clause.split('=').map((s) => s.trim());
          // `a = if_not_exists(a, :v)` keeps a's value when it has one (the CUPED covariate).
          const ifNotExists = /^if_not_exists\(\s*([^,\s]+)\s*,\s*([^)\s]+)\s*\)$/.exec(value);
          next[name(attribute)] = ifNotExists ? (next[name(ifNotExists[1])] ?? values[ifNotExists[2]]) : values[value];
          updated.push(name(attribute));
        }
      }
    }
    table.set(id, next);
    this.counts.writeUnits += writeUnits(Math.max(itemBytes(next), existing ? itemBytes(existing) : 0));
    const attributes =
      input.ReturnValues === 'UPDATED_NEW'
        ? { Attributes: marshall(Object.fromEntries(updated.map((a) => [a, next[a]]))) }
        : input.ReturnValues === 'ALL_NEW'
          ? { Attributes: marshall(next, { removeUndefinedValues: true }) }
          : {};
    return json(200, attributes);
  }

  private query(input: Record<string, unknown>) {
    const values = unmarshall((input.ExpressionAttributeValues ?? {}) as RawItem);
    const prefix = /begins_with\(sk,\s*(:\w+)\)/.exec(input.KeyConditionExpression as string)?.[1];
    const items = [...this.table(input.TableName as string).values()]
      .filter((item) => item.pk === values[':pk'] && (!prefix || String(item.sk).startsWith(values[prefix] as string)))
      .sort((a, b) => String(a.sk).localeCompare(String(b.sk)));
    return json(200, { Items: items.map((item) => marshall(item, { removeUndefinedValues: true })), Count: items.length });
  }
}

/** S3 GetObject from memory, path-style (`/<bucket>/<key>`). */
export class InMemoryS3 implements FakeRequestHandler {
  private readonly objects = new Map<string, Uint8Array>();

  put(bucket: string, key: string, body: Uint8Array | string): void {
    this.objects.set(`/${bucket}/${key}`, typeof body === 'string' ? new TextEncoder().encode(body) : body);
  }

  async handle(request: HttpRequestLike): Promise<{ response: HttpResponseLike }> {
    const bytes = this.objects.get(decodeURIComponent(request.path));
    if (!bytes || request.method !== 'GET') {
      const xml = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>';
      return { response: { statusCode: 404, headers: { 'content-type': 'application/xml' }, body: Readable.from([Buffer.from(xml)]) } };
    }
    return {
      response: {
        statusCode: 200,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.byteLength) },
        body: Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]),
      },
    };
  }
}
