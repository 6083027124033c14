/**
 * The single source of truth for the product's storage, functions, routes and schedules.
 * The CDK constructs build AWS resources from these definitions and the local runtime
 * creates the same tables, bucket and routes from them, so the two can never drift apart.
 *
 * Plain data only: no aws-cdk-lib imports, so the local runtime can load it cheaply.
 */

export interface KeyAttribute {
  name: string;
  type: 'S' | 'N';
}

export interface TableDefinition {
  /** Construct id in the stack. */
  id: string;
  /** Environment variable that carries the table name to the functions. */
  envVar: string;
  /** Table name on the local runtime (in AWS, CloudFormation names it). */
  localName: string;
  partitionKey: KeyAttribute;
  sortKey: KeyAttribute;
  /** Attribute holding an epoch-seconds expiry, when items expire. */
  timeToLiveAttribute?: string;
  description: string;
}

/** DynamoDB tables. Key design and access patterns are documented in the README. */
export const TABLES = {
  experiments: {
    id: 'ExperimentsTable',
    envVar: 'EXPERIMENTS_TABLE',
    localName: 'abrec-experiments',
    partitionKey: { name: 'pk', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    description: 'Experiment definitions (one item each, optimistic revision) and sticky user assignments.',
  },
  events: {
    id: 'EventsTable',
    envVar: 'EVENTS_TABLE',
    localName: 'abrec-events',
    partitionKey: { name: 'pk', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    timeToLiveAttribute: 'expires_at',
    description: 'Raw events and impression slates, one item per event id (the idempotency record).',
  },
  counters: {
    id: 'CountersTable',
    envVar: 'COUNTERS_TABLE',
    localName: 'abrec-counters',
    partitionKey: { name: 'pk', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    timeToLiveAttribute: 'expires_at',
    description:
      'Per experiment, variant and day aggregates the analysis reads instead of raw events; per-user running totals and daily limits (these expire).',
  },
} as const satisfies Record<string, TableDefinition>;

export type TableName = keyof typeof TABLES;

/** The S3 bucket for model artifacts (models/...) and reports (reports/...). */
export const ARTIFACTS_BUCKET = {
  id: 'ArtifactsBucket',
  envVar: 'ARTIFACTS_BUCKET',
  localName: 'abrec-artifacts',
} as const;

/** Environment variables the functions read besides table and bucket names. */
export const ENV = {
  alertsTopicArn: 'ALERTS_TOPIC_ARN',
  recordImpressions: 'RECORD_IMPRESSIONS',
  defaultExperimentId: 'DEFAULT_EXPERIMENT_ID',
  s3ForcePathStyle: 'S3_FORCE_PATH_STYLE',
  eventsTtlDays: 'EVENTS_TTL_DAYS',
} as const;

/** Which tables and bucket rights a function needs: the CDK grants exactly these. */
export type Access = 'read' | 'write' | 'readWrite';

/**
 * What a function may do in the artifacts bucket, as S3 key patterns (`models/*`): the CDK grants
 * s3:GetObject and s3:PutObject on exactly these keys, never a delete (artifacts and reports are
 * immutable and versioned). Reading also grants listing the bucket: S3 answers a missing key with
 * 404 only to a caller that may list (403 otherwise), and the readers treat 404 as "not there".
 */
export interface BucketAccess {
  /** Key patterns the function reads (s3:GetObject). @default none */
  readonly read?: readonly string[];
  /** Key patterns the function writes (s3:PutObject). @default none */
  readonly write?: readonly string[];
  /** Only list the bucket (s3:ListBucket, which HeadBucket needs), reading no object. @default false */
  readonly listOnly?: boolean;
}

export interface FunctionDefinition {
  id: string;
  /** Entry file, relative to the project root. */
  entry: string;
  description: string;
  memorySize: number;
  timeoutSeconds: number;
  tables: Partial<Record<TableName, Access>>;
  bucket?: BucketAccess;
  alerts?: boolean;
}

/** One Lambda per concern. */
export const FUNCTIONS = {
  health: {
    id: 'HealthFunction',
    entry: 'lambdas/health.ts',
    description: 'Liveness and dependency check',
    memorySize: 256,
    timeoutSeconds: 5,
    tables: { experiments: 'read' },
    // HeadBucket needs s3:ListBucket; the health check reads no object.
    bucket: { listOnly: true },
  },
  recommend: {
    id: 'RecommendFunction',
    entry: 'lambdas/recommend.ts',
    description: 'Assigns a variant, scores the pinned model, records the impression',
    memorySize: 1769,
    timeoutSeconds: 10,
    tables: { experiments: 'readWrite', events: 'write', counters: 'write' },
    // Pinned artifacts (models/<id>/<version>/...); serving never writes.
    bucket: { read: ['models/*'] },
  },
  events: {
    id: 'EventsFunction',
    entry: 'lambdas/events.ts',
    description: 'Idempotent single and batch event ingestion with counters',
    memorySize: 512,
    timeoutSeconds: 29,
    tables: { experiments: 'read', events: 'readWrite', counters: 'write' },
  },
  experiments: {
    id: 'ExperimentsFunction',
    entry: 'lambdas/experiments.ts',
    description: 'Admin API: experiment lifecycle, ramp, promotion and results',
    memorySize: 512,
    timeoutSeconds: 29,
    tables: { experiments: 'readWrite', counters: 'read' },
    // Pinned versions exist, the model catalogue, the report history; no writes.
    bucket: { read: ['models/*', 'reports/*'] },
  },
  analysis: {
    id: 'AnalysisFunction',
    entry: 'lambdas/analysis.ts',
    description: 'Daily significance reports to S3 and alerts',
    memorySize: 1024,
    timeoutSeconds: 300,
    tables: { experiments: 'read', counters: 'read' },
    // Writes the day's reports and reads the day before's (to alert once, not daily).
    bucket: { read: ['reports/*'], write: ['reports/*'] },
    alerts: true,
  },
  retrainSnapshot: {
    id: 'RetrainSnapshotFunction',
    entry: 'lambdas/retrain-snapshot.ts',
    description: 'Retraining step: snapshots the training data (base + logged feedback) and lists the models to train',
    memorySize: 1024,
    timeoutSeconds: 300,
    // The interaction log (events table, queried by day and shard) and the experiments (who follows latest).
    tables: { events: 'read', experiments: 'read' },
    // Reads the base data set, the last snapshot and the pointers; writes this run's snapshot.
    bucket: { read: ['datasets/*', 'models/*'], write: ['datasets/snapshots/*/u.data', 'datasets/snapshots/*/u.item'] },
  },
  retrainTrain: {
    id: 'RetrainTrainFunction',
    entry: 'lambdas/retrain-train.ts',
    description: "Retraining step: trains a candidate model from the run's snapshot in S3",
    memorySize: 3008,
    timeoutSeconds: 900,
    tables: {},
    // Reads the snapshot, checks whether the version exists, writes it.
    bucket: { read: ['datasets/*', 'models/*'], write: ['models/*'] },
  },
  retrainEvaluate: {
    id: 'RetrainEvaluateFunction',
    entry: 'lambdas/retrain-evaluate.ts',
    description: 'Retraining step: evaluates the candidate and the published version on the same held-out split',
    memorySize: 3008,
    timeoutSeconds: 900,
    tables: {},
    // Reads the snapshot, the latest pointer and the published version.
    bucket: { read: ['datasets/*', 'models/*'] },
  },
  retrainPublish: {
    id: 'RetrainPublishFunction',
    entry: 'lambdas/retrain-publish.ts',
    description: 'Retraining step: publishes the accepted candidates as the latest versions',
    memorySize: 512,
    timeoutSeconds: 60,
    tables: {},
    // Checks each candidate's manifest, moves the latest pointers and the snapshot marker, and writes nothing else.
    bucket: { read: ['models/*'], write: ['models/*/latest.json', 'datasets/snapshots/latest.json'] },
  },
  retrainSwitch: {
    id: 'RetrainSwitchFunction',
    entry: 'lambdas/retrain-switch.ts',
    description: 'Retraining step: switches the experiments that follow latest to the published versions',
    memorySize: 512,
    timeoutSeconds: 60,
    tables: { experiments: 'readWrite' },
  },
  retrainRestore: {
    id: 'RetrainRestoreFunction',
    entry: 'lambdas/retrain-restore.ts',
    description: 'Retraining failure path: puts every pointer back as it was before the run',
    memorySize: 512,
    timeoutSeconds: 60,
    tables: {},
    // The pointers only.
    bucket: { read: ['models/*/latest.json', 'datasets/snapshots/latest.json'], write: ['models/*/latest.json', 'datasets/snapshots/latest.json'] },
  },
} as const satisfies Record<string, FunctionDefinition>;

export type FunctionName = keyof typeof FUNCTIONS;

/** How a route is protected: an API key (usage plan) or IAM (SigV4; the admin key locally). */
export type RouteAuth = 'none' | 'apiKey' | 'admin';

export interface RouteDefinition {
  method: 'GET' | 'POST' | 'PATCH';
  /** API Gateway resource path; `{id}` is a path parameter. */
  path: string;
  function: FunctionName;
  auth: RouteAuth;
}

/** Every HTTP route of the product. */
export const ROUTES: readonly RouteDefinition[] = [
  { method: 'GET', path: '/health', function: 'health', auth: 'none' },
  { method: 'GET', path: '/recommend', function: 'recommend', auth: 'apiKey' },
  { method: 'POST', path: '/events', function: 'events', auth: 'apiKey' },
  { method: 'POST', path: '/events/batch', function: 'events', auth: 'apiKey' },
  { method: 'GET', path: '/experiments', function: 'experiments', auth: 'admin' },
  { method: 'POST', path: '/experiments', function: 'experiments', auth: 'admin' },
  { method: 'GET', path: '/experiments/{id}', function: 'experiments', auth: 'admin' },
  { method: 'PATCH', path: '/experiments/{id}', function: 'experiments', auth: 'admin' },
  { method: 'POST', path: '/experiments/{id}/start', function: 'experiments', auth: 'admin' },
  { method: 'POST', path: '/experiments/{id}/stop', function: 'experiments', auth: 'admin' },
  { method: 'POST', path: '/experiments/{id}/ramp', function: 'experiments', auth: 'admin' },
  { method: 'POST', path: '/experiments/{id}/promote', function: 'experiments', auth: 'admin' },
  { method: 'GET', path: '/experiments/{id}/results', function: 'experiments', auth: 'admin' },
  { method: 'GET', path: '/experiments/{id}/reports', function: 'experiments', auth: 'admin' },
  { method: 'GET', path: '/experiments/{id}/reports/{day}', function: 'experiments', auth: 'admin' },
  { method: 'GET', path: '/models', function: 'experiments', auth: 'admin' },
];

/** EventBridge schedules (UTC). */
export const SCHEDULES = {
  /** Daily significance reports at 03:00 UTC, after the day's counters are complete. */
  analysis: 'cron(0 3 * * ? *)',
  /** Weekly retraining on Sundays at 04:00 UTC. */
  retraining: 'cron(0 4 ? * SUN *)',
} as const;

/** Public API throttling for the usage plan. */
export const API_THROTTLE = { rateLimit: 500, burstLimit: 1000, quotaPerDay: 5_000_000 } as const;
