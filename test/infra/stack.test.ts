/**
 * CDK Template assertions for the product stack, checked against the single source of truth
 * (lib/resources.ts): routes, functions, environment, least-privilege grants, storage, schedules,
 * the retraining workflow and operations. The stack is synthesized once for the whole file.
 */
import { AwsCustomResource } from 'aws-cdk-lib/custom-resources';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from 'aws-cdk-lib';
import type { AbrecStack } from '../../lib/abrec-stack.ts';
import {
  API_THROTTLE,
  ARTIFACTS_BUCKET,
  ENV,
  FUNCTIONS,
  ROUTES,
  SCHEDULES,
  TABLES,
  type Access,
  type FunctionName,
  type TableName,
} from '../../lib/resources.ts';
import {
  allows,
  allowsOn,
  bucketArn,
  buildAbrecApp,
  childAt,
  functionPropertiesOf,
  logicalIdOf,
  objectArn,
  propertiesOf,
  removeAssembly,
  renderIntrinsic,
  roleOfFunction,
  statementsOfRole,
  type GetAtt,
  type PolicyStatement,
  type State,
  type StateMachineDefinition,
} from './support/synth.ts';

let app: App;
let stack: AbrecStack;
let template: Template;

beforeAll(() => {
  ({ app, stack } = buildAbrecApp());
  template = Template.fromStack(stack);
});

afterAll(() => {
  if (app) removeAssembly(app);
});

const FUNCTION_NAMES = Object.keys(FUNCTIONS) as FunctionName[];
const TABLE_NAMES = Object.keys(TABLES) as TableName[];

const functionId = (name: FunctionName): string => logicalIdOf(stack.functions[name]);
const tableId = (name: TableName): string => logicalIdOf(childAt(stack, `Store/${TABLES[name].id}`));
const bucketId = (): string => logicalIdOf(childAt(stack, `Artifacts/${ARTIFACTS_BUCKET.id}`));
const alertsTopicId = (): string => logicalIdOf(childAt(stack, 'Analysis/Alerts'));
const failuresQueueId = (): string => logicalIdOf(childAt(stack, 'Analysis/Failures'));
const restApiId = (): string => logicalIdOf(childAt(stack, 'Api/Api'));
const getAttArn = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });

/** The properties of the AWS::StepFunctions::StateMachine that these tests read. */
interface StateMachineProperties {
  DefinitionString: unknown;
  RoleArn: GetAtt;
  TracingConfiguration?: unknown;
  LoggingConfiguration: { Destinations: { CloudWatchLogsLogGroup: { LogGroupArn: GetAtt } }[] };
}

/** The only state machine of the stack, with its definition resolved to JSON. */
function stateMachine(): { logicalId: string; properties: StateMachineProperties; definition: StateMachineDefinition } {
  const machines = template.findResources('AWS::StepFunctions::StateMachine');
  const ids = Object.keys(machines);
  expect(ids).toHaveLength(1);
  const properties = machines[ids[0]].Properties as StateMachineProperties;
  return { logicalId: ids[0], properties, definition: JSON.parse(renderIntrinsic(properties.DefinitionString)) };
}

/** API Gateway resource paths (`/experiments/{id}/start`) by logical id, walking ParentId to the root. */
function resourcePaths(): Map<string, string> {
  const resources = template.findResources('AWS::ApiGateway::Resource');
  const pathOf = (logicalId: string): string => {
    const { ParentId, PathPart } = resources[logicalId].Properties;
    const parent = ParentId.Ref as string | undefined;
    return `${parent ? pathOf(parent) : ''}/${PathPart}`;
  };
  return new Map(Object.keys(resources).map((id) => [id, pathOf(id)]));
}

/** The properties of an AWS::ApiGateway::Method that these tests read. */
interface MethodProperties {
  HttpMethod: string;
  /** A Ref to its resource, or (on the root path) a GetAtt of the API's root resource id, which has no Ref. */
  ResourceId: { Ref?: string };
  Integration: { Uri: { 'Fn::Join': [string, unknown[]] } };
  ApiKeyRequired?: boolean;
  AuthorizationType: string;
  RequestParameters?: Record<string, boolean>;
}

/** Every non-preflight method as `METHOD path` with its properties. */
function routeMethods(): Map<string, MethodProperties> {
  const paths = resourcePaths();
  const methods = Object.values(template.findResources('AWS::ApiGateway::Method'))
    .map((method) => method.Properties as MethodProperties)
    .filter((properties) => properties.HttpMethod !== 'OPTIONS');
  const pathOfResource = (resourceId: string | undefined): string => (resourceId === undefined ? undefined : paths.get(resourceId)) ?? '/';
  return new Map(methods.map((properties) => [`${properties.HttpMethod} ${pathOfResource(properties.ResourceId.Ref)}`, properties]));
}

describe('API routes', () => {
  it('exposes exactly the routes of ROUTES, each once', () => {
    const routes = routeMethods();

    expect([...routes.keys()].sort()).toEqual(ROUTES.map((route) => `${route.method} ${route.path}`).sort());
  });

  it.each(ROUTES.map((route) => [`${route.method} ${route.path}`, route] as const))('%s proxies to its function with its auth', (key, route) => {
    const method = routeMethods().get(key);

    expect(method).toBeDefined();
    expect(method!.Integration).toMatchObject({ Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' });
    expect(method!.Integration.Uri['Fn::Join'][1]).toContainEqual(getAttArn(functionId(route.function)));
    expect(method!.ApiKeyRequired === true).toBe(route.auth === 'apiKey');
    expect(method!.AuthorizationType).toBe(route.auth === 'admin' ? 'AWS_IAM' : 'NONE');
  });

  it('leaves GET /health open: no API key and no authorization', () => {
    const health = routeMethods().get('GET /health');

    expect(health).toMatchObject({ AuthorizationType: 'NONE', ApiKeyRequired: false });
  });

  it.each(['GET /experiments/{id}/reports', 'GET /experiments/{id}/reports/{day}', 'GET /models'])(
    'serves the dashboard read route %s from the experiments function under IAM, never with the public API key',
    (key) => {
      const method = routeMethods().get(key);

      expect(method).toMatchObject({ AuthorizationType: 'AWS_IAM', ApiKeyRequired: false });
      expect(method!.Integration.Uri['Fn::Join'][1]).toContainEqual(getAttArn(functionId('experiments')));
    },
  );

  it('lets the experiments function list the artifacts bucket, which the report history and model catalogue read by prefix', () => {
    const statements = statementsOfRole(template, roleOfFunction(template, functionId('experiments')));

    expect(allows(statements, 's3:ListBucket', bucketId())).toBe(true);
  });

  it('requires the user_id query parameter on GET /recommend so API Gateway rejects requests without it', () => {
    expect(routeMethods().get('GET /recommend')!.RequestParameters).toEqual({ 'method.request.querystring.user_id': true });
  });

  it('throttles the public usage plan with the rate, burst and daily quota of API_THROTTLE', () => {
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: API_THROTTLE.rateLimit, BurstLimit: API_THROTTLE.burstLimit },
      Quota: { Limit: API_THROTTLE.quotaPerDay, Period: 'DAY' },
    });
  });

  it('attaches the usage plan to the deployed stage and to the public API key', () => {
    const plans = template.findResources('AWS::ApiGateway::UsagePlan');
    const [planId] = Object.keys(plans);
    const stageId = logicalIdOf(childAt(stack, 'Api/Api/DeploymentStage.v1'));
    const keyId = logicalIdOf(childAt(stack, 'Api/Api/PublicKey'));

    expect(Object.keys(plans)).toHaveLength(1);
    expect(plans[planId].Properties.ApiStages).toEqual([expect.objectContaining({ ApiId: { Ref: restApiId() }, Stage: { Ref: stageId } })]);
    template.hasResourceProperties('AWS::ApiGateway::UsagePlanKey', { KeyId: { Ref: keyId }, KeyType: 'API_KEY', UsagePlanId: { Ref: planId } });
  });

  it('applies the same throttle to every method of the stage, so clients without a key are limited too', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      TracingEnabled: true,
      AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue() }),
      MethodSettings: Match.arrayWith([
        Match.objectLike({ HttpMethod: '*', ResourcePath: '/*', ThrottlingRateLimit: API_THROTTLE.rateLimit, ThrottlingBurstLimit: API_THROTTLE.burstLimit }),
      ]),
    });
  });
});

describe('functions', () => {
  it('has one Lambda per FUNCTIONS entry and no other, apart from the CDK bucket deployment and custom resource (default pointers) providers', () => {
    const providers = ['CustomCDKBucketDeployment', `AWS${AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '')}`];
    const lambdaIds = Object.keys(template.findResources('AWS::Lambda::Function')).filter((id) => !providers.some((provider) => id.startsWith(provider)));

    expect(lambdaIds.sort()).toEqual(FUNCTION_NAMES.map(functionId).sort());
  });

  it.each(FUNCTION_NAMES)('%s runs Node.js 22 on ARM64 with active tracing and the memory and timeout of its definition', (name) => {
    const definition = FUNCTIONS[name];

    expect(functionPropertiesOf(template, functionId(name))).toMatchObject({
      Description: definition.description,
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      MemorySize: definition.memorySize,
      Timeout: definition.timeoutSeconds,
      Handler: 'index.handler',
    });
  });

  it.each(FUNCTION_NAMES)('%s logs to its own log group with a retention', (name) => {
    const logGroup = functionPropertiesOf(template, functionId(name)).LoggingConfig?.LogGroup;

    expect(logGroup).toEqual({ Ref: expect.any(String) });
    expect(propertiesOf(template, logGroup.Ref, 'AWS::Logs::LogGroup').RetentionInDays).toBeGreaterThan(0);
  });

  const TABLE_VARS = TABLE_NAMES.map((name) => TABLES[name].envVar);
  const WIRED_VARS: readonly string[] = [...TABLE_VARS, ARTIFACTS_BUCKET.envVar, ENV.alertsTopicArn];

  it.each(FUNCTION_NAMES)('%s gets exactly the table, bucket and topic variables its definition needs', (name) => {
    const definition = FUNCTIONS[name];
    const variables = functionPropertiesOf(template, functionId(name)).Environment.Variables;
    const expected: Record<string, unknown> = {};
    for (const table of Object.keys(definition.tables) as TableName[]) expected[TABLES[table].envVar] = { Ref: tableId(table) };
    if ('bucket' in definition) expected[ARTIFACTS_BUCKET.envVar] = { Ref: bucketId() };
    if ('alerts' in definition && definition.alerts) expected[ENV.alertsTopicArn] = { Ref: alertsTopicId() };

    const wired = Object.fromEntries(Object.entries(variables).filter(([key]) => WIRED_VARS.includes(key)));

    expect(wired).toEqual(expected);
  });

  it('gives the analysis function the alerts topic ARN', () => {
    const variables = functionPropertiesOf(template, functionId('analysis')).Environment.Variables;

    expect(variables[ENV.alertsTopicArn]).toEqual({ Ref: alertsTopicId() });
    expect(propertiesOf(template, alertsTopicId(), 'AWS::SNS::Topic')).toBeDefined();
  });
});

describe('least privilege', () => {
  const TABLE_READ = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:Scan'];
  const TABLE_WRITE = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];
  // Artifacts are immutable and versioned: no function deletes objects or versions.
  const BUCKET_DELETE = ['s3:DeleteObject', 's3:DeleteObjectVersion'];
  /** One key of each kind the bucket holds, as the handlers name them. */
  const KEYS = {
    artifact: 'models/als/0123456789abcdef/manifest.json',
    pointer: 'models/als/latest.json',
    report: 'reports/default/2026-12-01/report.json',
    dataset: 'datasets/ratings/u.data',
    snapshot: 'datasets/snapshots/run-1/u.data',
    marker: 'datasets/snapshots/latest.json',
    elsewhere: 'exports/anything.json',
  } as const;
  type KeyKind = keyof typeof KEYS;
  const KEY_KINDS = Object.keys(KEYS) as KeyKind[];
  /**
   * What each handler reads and writes in the bucket (read from lambdas/*.ts and services/): the
   * specification the grants are checked against, written out rather than derived from FUNCTIONS.
   */
  const BUCKET_USE: Record<FunctionName, { list: boolean; get: KeyKind[]; put: KeyKind[] }> = {
    // HeadBucket only.
    health: { list: true, get: [], put: [] },
    // Pinned artifacts.
    recommend: { list: true, get: ['artifact', 'pointer'], put: [] },
    events: { list: false, get: [], put: [] },
    // Pinned versions exist, the model catalogue (manifests, latest.json), the report history.
    experiments: { list: true, get: ['artifact', 'pointer', 'report'], put: [] },
    // Writes the day's reports, reads the day before's.
    analysis: { list: true, get: ['report'], put: ['report'] },
    // Reads the base data set, the last snapshot (marker) and the pointers and manifests of followed models; writes this run's snapshot.
    retrainSnapshot: { list: true, get: ['artifact', 'pointer', 'dataset', 'snapshot', 'marker'], put: ['snapshot'] },
    // Reads the snapshot, checks whether the candidate version exists, writes it.
    retrainTrain: { list: true, get: ['artifact', 'pointer', 'dataset', 'snapshot', 'marker'], put: ['artifact', 'pointer'] },
    // Reads the snapshot, latest.json and the published version.
    retrainEvaluate: { list: true, get: ['artifact', 'pointer', 'dataset', 'snapshot', 'marker'], put: [] },
    // Checks each candidate's manifest, moves latest.json and the snapshot marker.
    retrainPublish: { list: true, get: ['artifact', 'pointer'], put: ['pointer', 'marker'] },
    // The experiments table only.
    retrainSwitch: { list: false, get: [], put: [] },
    // Reads and writes back the pointers only.
    retrainRestore: { list: true, get: ['pointer', 'marker'], put: ['pointer', 'marker'] },
  };
  const can = (statements: PolicyStatement[], action: string): KeyKind[] =>
    KEY_KINDS.filter((kind) => allowsOn(statements, action, objectArn(bucketId(), KEYS[kind])));

  const statementsOf = (name: FunctionName): PolicyStatement[] => statementsOfRole(template, roleOfFunction(template, functionId(name)));
  const allowed = (statements: PolicyStatement[], actions: string[], logicalId: string): string[] =>
    actions.filter((action) => allows(statements, action, logicalId));

  const tableCases = FUNCTION_NAMES.flatMap((name) =>
    TABLE_NAMES.map((table) => [name, (FUNCTIONS[name].tables as Partial<Record<TableName, Access>>)[table] ?? 'no', table] as const),
  );

  it.each(tableCases)('%s has %s access to the %s table and nothing more', (name, access, table) => {
    const statements = statementsOf(name);
    const canRead = access === 'read' || access === 'readWrite';
    const canWrite = access === 'write' || access === 'readWrite';

    expect(allowed(statements, TABLE_READ, tableId(table))).toEqual(canRead ? TABLE_READ : []);
    expect(allowed(statements, TABLE_WRITE, tableId(table))).toEqual(canWrite ? TABLE_WRITE : []);
    if (access === 'no') expect(allows(statements, 'dynamodb:DescribeTable', tableId(table))).toBe(false);
  });

  it.each(FUNCTION_NAMES)('%s gets and puts exactly the keys its handler uses, lists the bucket only if it reads it, and never deletes', (name) => {
    const statements = statementsOf(name);
    const expected = BUCKET_USE[name];

    expect(can(statements, 's3:GetObject')).toEqual(KEY_KINDS.filter((kind) => expected.get.includes(kind)));
    expect(can(statements, 's3:PutObject')).toEqual(KEY_KINDS.filter((kind) => expected.put.includes(kind)));
    expect(allowsOn(statements, 's3:ListBucket', bucketArn(bucketId()))).toBe(expected.list);
    for (const action of BUCKET_DELETE) expect(can(statements, action)).toEqual([]);
  });

  it.each(FUNCTION_NAMES)('%s has no S3 action beyond GetObject, PutObject and ListBucket (no versions, ACLs, tags or multipart)', (name) => {
    const s3Actions = statementsOf(name)
      .filter((statement) => statement.Effect === 'Allow')
      .flatMap((statement) => [statement.Action].flat())
      .filter((action) => action.startsWith('s3:'));

    expect([...new Set(s3Actions)].filter((action) => !['s3:GetObject', 's3:PutObject', 's3:ListBucket'].includes(action))).toEqual([]);
  });

  it('lets the analysis function write reports and nothing else: no s3:PutObject on models/* or datasets/*', () => {
    const statements = statementsOf('analysis');

    expect(allowsOn(statements, 's3:PutObject', objectArn(bucketId(), KEYS.report))).toBe(true);
    expect(allowsOn(statements, 's3:PutObject', objectArn(bucketId(), KEYS.pointer))).toBe(false);
    expect(allowsOn(statements, 's3:PutObject', objectArn(bucketId(), KEYS.artifact))).toBe(false);
    expect(allowsOn(statements, 's3:PutObject', objectArn(bucketId(), KEYS.dataset))).toBe(false);
  });

  it('lets the health function check the bucket exists (HeadBucket needs s3:ListBucket) without reading any object', () => {
    const statements = statementsOf('health');

    expect(allowsOn(statements, 's3:ListBucket', bucketArn(bucketId()))).toBe(true);
    expect(can(statements, 's3:GetObject')).toEqual([]);
  });

  it.each(FUNCTION_NAMES)('%s has its own role with no AWS-managed policy, writing logs only to its own log group', (name) => {
    const roleId = roleOfFunction(template, functionId(name));
    const logGroupId = functionPropertiesOf(template, functionId(name)).LoggingConfig.LogGroup.Ref;
    const logStatements = statementsOfRole(template, roleId).filter((statement) => [statement.Action].flat().some((action) => action.startsWith('logs:')));

    expect(propertiesOf(template, roleId, 'AWS::IAM::Role').ManagedPolicyArns).toBeUndefined();
    expect(logStatements).toEqual([{ Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: getAttArn(logGroupId) }]);
  });

  it('lets health read only the experiments item it checks: GetItem on experiments, no write anywhere', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: roleOfFunction(template, functionId('health')) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Allow', Action: Match.arrayWith(['dynamodb:GetItem']), Resource: getAttArn(tableId('experiments')) }),
        ]),
      },
    });
    const statements = statementsOf('health');

    for (const table of TABLE_NAMES) expect(allowed(statements, TABLE_WRITE, tableId(table))).toEqual([]);
    expect(allows(statements, 'dynamodb:GetItem', tableId('events'))).toBe(false);
    expect(allows(statements, 'dynamodb:GetItem', tableId('counters'))).toBe(false);
  });

  it('never lets the analysis function write a table', () => {
    const statements = statementsOf('analysis');

    for (const table of TABLE_NAMES) expect(allowed(statements, TABLE_WRITE, tableId(table))).toEqual([]);
  });

  it('never lets the recommend function write or delete in the bucket it serves models from', () => {
    const statements = statementsOf('recommend');

    for (const action of ['s3:PutObject', ...BUCKET_DELETE, 's3:PutObjectAcl']) expect(can(statements, action)).toEqual([]);
  });

  it('lets only the analysis function publish alerts and send to its failure queue', () => {
    for (const name of FUNCTION_NAMES) {
      const statements = statementsOf(name);

      expect(allows(statements, 'sns:Publish', alertsTopicId())).toBe(name === 'analysis');
      expect(allows(statements, 'sqs:SendMessage', failuresQueueId())).toBe(name === 'analysis');
    }
  });

  it('lets the state machine invoke the six retraining functions and no other, and publish to the alerts topic', () => {
    const { properties } = stateMachine();
    const statements = statementsOfRole(template, properties.RoleArn['Fn::GetAtt'][0]);
    const invocable = FUNCTION_NAMES.filter((name) => allows(statements, 'lambda:InvokeFunction', functionId(name)));

    expect(invocable.sort()).toEqual(['retrainEvaluate', 'retrainPublish', 'retrainRestore', 'retrainSnapshot', 'retrainSwitch', 'retrainTrain']);
    expect(allows(statements, 'sns:Publish', alertsTopicId())).toBe(true);
  });

  it('grants no service-wide wildcard action (dynamodb:*, s3:*, *) in any identity policy', () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (policy) => policy.Properties.PolicyDocument.Statement as PolicyStatement[],
    );
    const actions = statements.filter((statement) => statement.Effect === 'Allow').flatMap((statement) => [statement.Action].flat());

    expect(actions.filter((action) => action === '*' || action.endsWith(':*'))).toEqual([]);
  });
});

/** The properties of an AWS::DynamoDB::GlobalTable, with the replicas typed as the tests walk them. */
interface GlobalTableProperties extends Record<string, unknown> {
  Replicas: { PointInTimeRecoverySpecification?: unknown }[];
}

describe('DynamoDB tables', () => {
  it.each(TABLE_NAMES)('the %s table is on-demand with point-in-time recovery, encryption and the key schema of TABLES', (name) => {
    const definition = TABLES[name];
    const properties = propertiesOf(template, tableId(name), 'AWS::DynamoDB::GlobalTable') as GlobalTableProperties;

    expect(properties.BillingMode).toBe('PAY_PER_REQUEST');
    expect(properties.SSESpecification).toMatchObject({ SSEEnabled: true });
    expect(properties.Replicas.length).toBeGreaterThan(0);
    for (const replica of properties.Replicas) {
      expect(replica.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    }
    expect(properties.KeySchema).toEqual([
      { AttributeName: definition.partitionKey.name, KeyType: 'HASH' },
      { AttributeName: definition.sortKey.name, KeyType: 'RANGE' },
    ]);
    expect(properties.AttributeDefinitions).toEqual(
      expect.arrayContaining([
        { AttributeName: definition.partitionKey.name, AttributeType: definition.partitionKey.type },
        { AttributeName: definition.sortKey.name, AttributeType: definition.sortKey.type },
      ]),
    );
  });

  it.each(TABLE_NAMES)('the %s table expires items exactly when its definition names a TTL attribute', (name) => {
    const definition = TABLES[name];
    const ttl = propertiesOf(template, tableId(name), 'AWS::DynamoDB::GlobalTable').TimeToLiveSpecification;

    if ('timeToLiveAttribute' in definition) expect(ttl).toEqual({ AttributeName: definition.timeToLiveAttribute, Enabled: true });
    else expect(ttl).toBeUndefined();
  });

  it('expires raw events on the expires_at attribute', () => {
    expect(propertiesOf(template, tableId('events'), 'AWS::DynamoDB::GlobalTable').TimeToLiveSpecification).toEqual({
      AttributeName: 'expires_at',
      Enabled: true,
    });
  });
});

describe('artifacts bucket', () => {
  it('blocks all public access, is versioned and encrypted', () => {
    expect(propertiesOf(template, bucketId(), 'AWS::S3::Bucket')).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          expect.objectContaining({ ServerSideEncryptionByDefault: expect.objectContaining({ SSEAlgorithm: expect.any(String) }) }),
        ],
      },
      LoggingConfiguration: expect.objectContaining({ DestinationBucketName: expect.anything() }),
    });
  });

  it('denies every request that does not use TLS, on the bucket and on its objects', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId() },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Resource: [getAttArn(bucketId()), { 'Fn::Join': ['', [getAttArn(bucketId()), '/*']] }],
          }),
        ]),
      },
    });
  });

  it('keeps the access-log bucket private and encrypted too', () => {
    const logsBucketId = logicalIdOf(childAt(stack, 'Artifacts/AccessLogs'));

    expect(propertiesOf(template, logsBucketId, 'AWS::S3::Bucket')).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: expect.anything(),
    });
  });
});

describe('schedules', () => {
  it('runs the analysis function on exactly the daily schedule of SCHEDULES', () => {
    expect(SCHEDULES.analysis).toBe('cron(0 3 * * ? *)');
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(0 3 * * ? *)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: getAttArn(functionId('analysis')) })],
    });
  });

  it('lets EventBridge invoke the analysis function', () => {
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: getAttArn(functionId('analysis')),
      Principal: 'events.amazonaws.com',
    });
  });

  it('starts the retraining state machine on exactly the weekly schedule of SCHEDULES', () => {
    expect(SCHEDULES.retraining).toBe('cron(0 4 ? * SUN *)');
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(0 4 ? * SUN *)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { Ref: stateMachine().logicalId }, RoleArn: Match.anyValue() })],
    });
  });

  it('passes the EventBridge event id to the retraining run as run_id, not the literal text "$.id"', () => {
    const rules = template.findResources('AWS::Events::Rule', { Properties: { ScheduleExpression: SCHEDULES.retraining } });
    const [target] = Object.values(rules)[0].Properties.Targets;

    expect(target.Input).toBeUndefined();
    const [[placeholder, path]] = Object.entries(target.InputTransformer.InputPathsMap as Record<string, string>);
    expect(path).toBe('$.id');
    expect(target.InputTransformer.InputTemplate).toContain(`"run_id":<${placeholder}>`);
    expect(target.InputTransformer.InputTemplate).toContain('"model_id":"als"');
  });

  it('passes the rule time to the retraining run as now (the end of the feedback window)', () => {
    const rules = template.findResources('AWS::Events::Rule', { Properties: { ScheduleExpression: SCHEDULES.retraining } });
    const [target] = Object.values(rules)[0].Properties.Targets;
    const paths = target.InputTransformer.InputPathsMap as Record<string, string>;
    const [placeholder] = Object.entries(paths).find(([, path]) => path === '$.time')!;

    expect(target.InputTransformer.InputTemplate).toContain(`"now":<${placeholder}>`);
  });
});

describe('retraining state machine', () => {
  const TASKS = [
    ['Snapshot', 'retrainSnapshot'],
    ['Train', 'retrainTrain'],
    ['Evaluate', 'retrainEvaluate'],
    ['Publish', 'retrainPublish'],
    ['SwitchFollowers', 'retrainSwitch'],
    ['RestorePointers', 'retrainRestore'],
  ] as const;
  /** Every state, the Map's own included, by name. */
  const states = (): Record<string, State> => {
    const { definition } = stateMachine();
    return { ...definition.States, ...definition.States.TrainEach.ItemProcessor!.States };
  };

  it("runs Snapshot → TrainEach (a Map over the snapshot's models, one at a time) → Publish → SwitchFollowers → Notify → Done", () => {
    const { definition } = stateMachine();

    expect(definition.StartAt).toBe('Snapshot');
    expect(definition.States.Snapshot).toMatchObject({ Type: 'Task', Next: 'TrainEach', ResultPath: '$.snapshot' });
    expect(definition.States.TrainEach).toMatchObject({
      Type: 'Map',
      ItemsPath: '$.snapshot.models',
      MaxConcurrency: 1,
      ResultPath: '$.results',
      Next: 'Publish',
    });
    expect(definition.States.TrainEach.ItemSelector).toEqual({
      'model_id.$': '$$.Map.Item.Value.model_id',
      'algorithm.$': '$$.Map.Item.Value.algorithm',
      'dataset_prefix.$': '$.snapshot.dataset_prefix',
      'max_regression.$': '$.max_regression',
      'run_id.$': '$.run_id',
      'held_out_since_ms.$': '$.snapshot.since_ms',
    });
    expect(definition.States.Publish).toMatchObject({ Type: 'Task', Next: 'SwitchFollowers', ResultPath: '$.published' });
    expect(definition.States.SwitchFollowers).toMatchObject({
      Type: 'Task',
      Next: 'Notify',
      ResultPath: '$.switched',
      Parameters: { 'run_id.$': '$.run_id', 'versions.$': '$.published.versions' },
    });
    expect(definition.States.Notify.Next).toBe('Done');
    expect(definition.States.Done.Type).toBe('Succeed');
  });

  it('trains, evaluates and gates each model inside the Map: Train → Evaluate → Gate (Choice) → Accept | Reject', () => {
    const processor = stateMachine().definition.States.TrainEach.ItemProcessor!;

    expect(processor.StartAt).toBe('Train');
    expect(processor.States.Train).toMatchObject({ Type: 'Task', Next: 'Evaluate', ResultPath: '$.candidate' });
    expect(processor.States.Evaluate).toMatchObject({ Type: 'Task', Next: 'Gate', ResultPath: '$.evaluation' });
    expect(processor.States.Gate).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.evaluation.accepted', BooleanEquals: true, Next: 'Accept' }],
      Default: 'Reject',
    });
    expect(processor.States.Accept).toMatchObject({ Type: 'Pass', End: true });
    expect(processor.States.Reject).toMatchObject({ Type: 'Pass', End: true });
  });

  it.each(TASKS)('the %s task invokes the %s function and retries transient Lambda errors with exponential backoff', (state, name) => {
    const task = states()[state];

    expect(task.Resource).toBe(`\${GetAtt:${functionId(name)}.Arn}`);
    expect(task.Retry).toEqual([
      {
        ErrorEquals: [
          'Lambda.ServiceException',
          'Lambda.AWSLambdaException',
          'Lambda.SdkClientException',
          'Lambda.ClientExecutionTimeoutException',
          'Lambda.TooManyRequestsException',
        ],
        IntervalSeconds: 5,
        MaxAttempts: 3,
        BackoffRate: 2,
      },
    ]);
  });

  it.each(['Snapshot', 'TrainEach', 'Publish', 'SwitchFollowers'])('a failure of %s is caught into RestorePointers → NotifyFailure → Failed', (state) => {
    const { definition } = stateMachine();

    expect(definition.States[state].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RestorePointers' }]);
    expect(definition.States.RestorePointers).toMatchObject({
      Next: 'NotifyFailure',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.restored', Next: 'NotifyFailure' }],
    });
    expect(definition.States.NotifyFailure.Next).toBe('Failed');
    expect(definition.States.Failed).toMatchObject({ Type: 'Fail', Error: 'RetrainingFailed' });
  });

  it("notifies every run on the alerts topic: each model's metrics, decision and reason, or the failure and what was restored", () => {
    const { definition } = stateMachine();
    const topic = { Ref: alertsTopicId() };

    expect(definition.States.Notify).toMatchObject({ Type: 'Task', Resource: 'arn:${Ref:AWS::Partition}:states:::sns:publish', ResultPath: null });
    expect(definition.States.Notify.Parameters).toMatchObject({
      TopicArn: `\${Ref:${topic.Ref}}`,
      Subject: 'abrec retraining: run finished',
      Message: {
        outcome: 'succeeded',
        'run_id.$': '$.run_id',
        'models.$': '$.published.models',
        'published.$': '$.published.versions',
        'switched.$': '$.switched',
      },
    });
    expect(definition.States.NotifyFailure.Parameters).toMatchObject({
      TopicArn: `\${Ref:${topic.Ref}}`,
      Subject: 'abrec retraining: run FAILED',
      Message: { outcome: 'failed', 'run_id.$': '$.run_id', 'error.$': '$.error', 'restored.$': '$.restored' },
    });
  });

  it('alarms on a failed execution (ExecutionsFailed) to the alerts topic', () => {
    const { logicalId } = stateMachine();

    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsFailed',
      Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: logicalId } }],
      AlarmActions: [{ Ref: alertsTopicId() }],
    });
  });

  it('bounds a run with a timeout', () => {
    expect(stateMachine().definition.TimeoutSeconds).toBe(14400);
  });

  it('logs every execution with its data to a log group and traces with X-Ray', () => {
    const { properties } = stateMachine();

    expect(properties.TracingConfiguration).toEqual({ Enabled: true });
    expect(properties.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
    const logGroupId = properties.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'][0];
    expect(propertiesOf(template, logGroupId, 'AWS::Logs::LogGroup').RetentionInDays).toBeGreaterThan(0);
  });
});

describe('operations', () => {
  it('retries a failed asynchronous analysis run and then sends it to an SQS on-failure destination', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: functionId('analysis') },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: getAttArn(failuresQueueId()) } },
    });
    expect(propertiesOf(template, failuresQueueId(), 'AWS::SQS::Queue')).toMatchObject({ SqsManagedSseEnabled: true });
  });

  it('has a dashboard charting the API, the functions, the fallbacks and the retraining runs', () => {
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));

    expect(dashboards).toHaveLength(1);
    const body = JSON.parse(renderIntrinsic(dashboards[0].Properties.DashboardBody));
    const rendered = JSON.stringify(body);
    expect(rendered).toContain('"AWS/ApiGateway","5XXError"');
    expect(rendered).toContain('"Abrec","ArtifactFallback"');
    expect(rendered).toContain('"AWS/States","ExecutionsFailed"');
    for (const name of FUNCTION_NAMES) expect(rendered).toContain(`\${Ref:${functionId(name)}}`);
  });

  it.each(['ArtifactFallback', 'CounterInconsistency', 'ImpressionWriteFailed'])('alarms to the alerts topic on the first %s', (metricName) => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Abrec',
      MetricName: metricName,
      Dimensions: [{ Name: 'service', Value: 'abrec' }],
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: alertsTopicId() }],
    });
  });
});
