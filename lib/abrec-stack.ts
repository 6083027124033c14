import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { AbFunction } from './constructs/ab-function.ts';
import { OperationsAlarms } from './constructs/alarms.ts';
import { AnalysisSchedule } from './constructs/analysis-schedule.ts';
import { RecommendationApi } from './constructs/api.ts';
import { ApiFirewall } from './constructs/api-firewall.ts';
import { ArtifactStore } from './constructs/artifact-store.ts';
import { DistributedTraining, parseTrainingEngine, type TrainingEngine } from './constructs/distributed-training.ts';
import { OperationsDashboard } from './constructs/dashboard.ts';
import { EventsStore } from './constructs/events-store.ts';
import { RetrainingWorkflow } from './constructs/retraining-workflow.ts';
import { DEFAULT_RESERVED_CONCURRENCY, type AlarmThresholds } from './defaults.ts';
import { ENV, FUNCTIONS, TABLES, type FunctionName, type TableName } from './resources.ts';

/**
 * Reserved concurrency per function, merged over DEFAULT_RESERVED_CONCURRENCY; `null` leaves that
 * function unreserved (it shares the account's unreserved pool).
 */
export type ReservedConcurrency = Partial<Record<FunctionName, number | null>>;

/** Props of {@link AbrecStack}. */
export interface AbrecStackProps extends StackProps {
  /** Directory of default model artifacts uploaded at deploy. @default no upload */
  readonly defaultArtifactsDir?: string;
  /** Keep data (tables, bucket) on stack deletion. @default true */
  readonly retainData?: boolean;
  /**
   * Reserved concurrency per function (see DEFAULT_RESERVED_CONCURRENCY: recommend 200, events
   * 100, experiments 10, health 5, analysis and each retraining step 1; 322 in all). `false`
   * reserves nothing: Lambda refuses a reservation that leaves the account fewer than 100
   * unreserved executions, so an account whose limit is still the new-account default (often 10)
   * cannot deploy any reservation. @default DEFAULT_RESERVED_CONCURRENCY
   */
  readonly reservedConcurrency?: ReservedConcurrency | false;
  /**
   * Requests one client IP may send to the API in any 5-minute window before the WAF answers
   * 429. @default DEFAULT_RATE_LIMIT_PER_IP (3,000)
   */
  readonly rateLimitPerIp?: number;
  /** Alarm thresholds, merged over the defaults. @default DEFAULT_ALARM_THRESHOLDS */
  readonly alarmThresholds?: Partial<AlarmThresholds>;
  /**
   * Where ALS is trained past one Lambda: 'lambda' (the train function), 'emr-serverless' (Spark
   * MLlib ALS, training/spark_als.py) or 'sagemaker' (a training job, training/sagemaker_als.py),
   * each writing the same artifact (see DistributedTraining). Also `-c abrec:trainingEngine=...`.
   * @default 'lambda'
   */
  readonly trainingEngine?: TrainingEngine;
}

/** The reservation of each function: the defaults, the overrides over them, or none at all. */
export function resolveReservedConcurrency(setting: ReservedConcurrency | false | undefined): Record<FunctionName, number | undefined> {
  const resolved = {} as Record<FunctionName, number | undefined>;
  for (const name of Object.keys(FUNCTIONS) as FunctionName[]) {
    if (setting === false) {
      resolved[name] = undefined;
      continue;
    }
    const override = setting?.[name];
    const value = override === undefined ? DEFAULT_RESERVED_CONCURRENCY[name] : override;
    if (value !== null && value !== undefined && !(Number.isInteger(value) && value >= 1)) {
      // 0 is Lambda's "throttle everything": a switch for an incident, not a setting to deploy.
      throw new Error(`AbrecStack: reservedConcurrency.${name} must be a whole number of at least 1, or null for unreserved, got ${value}`);
    }
    resolved[name] = value ?? undefined;
  }
  return resolved;
}

/** The whole product: storage, functions, API and its firewall, daily analysis, weekly retraining, dashboard and alarms. */
export class AbrecStack extends Stack {
  public readonly functions: Record<FunctionName, AbFunction>;
  public readonly artifacts: ArtifactStore;
  public readonly api: RecommendationApi;
  public readonly firewall: ApiFirewall;
  public readonly analysis: AnalysisSchedule;
  public readonly retraining: RetrainingWorkflow;
  public readonly alarms: OperationsAlarms;
  /** The distributed train step (job, role, scripts) when trainingEngine is not 'lambda'. */
  public readonly distributedTraining?: DistributedTraining;

  constructor(scope: Construct, id: string, props: AbrecStackProps = {}) {
    super(scope, id, props);
    const artifacts = (this.artifacts = new ArtifactStore(this, 'Artifacts', { defaultArtifactsDir: props.defaultArtifactsDir, retain: props.retainData }));
    const store = new EventsStore(this, 'Store', { retain: props.retainData });
    const trainingEngine = parseTrainingEngine(
      props.trainingEngine ?? this.node.tryGetContext('abrec:trainingEngine'),
      props.trainingEngine === undefined ? 'context abrec:trainingEngine' : 'trainingEngine',
    );
    if (trainingEngine !== 'lambda')
      this.distributedTraining = new DistributedTraining(this, 'DistributedTraining', { engine: trainingEngine, bucket: artifacts.bucket });
    const reserved = resolveReservedConcurrency(props.reservedConcurrency);

    const functions = {} as Record<FunctionName, AbFunction>;
    for (const [name, definition] of Object.entries(FUNCTIONS) as [FunctionName, (typeof FUNCTIONS)[FunctionName]][]) {
      const fn = new AbFunction(this, definition.id, {
        entry: definition.entry,
        description: definition.description,
        memorySize: definition.memorySize,
        timeout: Duration.seconds(definition.timeoutSeconds),
        reservedConcurrentExecutions: reserved[name],
        // Only the recommend function records impressions; the switch lets a team turn it off.
        environment: name === 'recommend' ? { [ENV.recordImpressions]: 'true' } : {},
      });
      for (const [table, access] of Object.entries(definition.tables) as [TableName, 'read' | 'write' | 'readWrite'][]) {
        fn.bindTable(TABLES[table], store.tables[table], access);
      }
      if ('bucket' in definition) fn.bindBucket(artifacts.bucket, definition.bucket);
      functions[name] = fn;
    }
    this.functions = functions;

    const api = (this.api = new RecommendationApi(this, 'Api', { functions }));
    this.firewall = new ApiFirewall(this, 'Firewall', { stage: api.api.deploymentStage, rateLimitPerIp: props.rateLimitPerIp });
    const analysis = (this.analysis = new AnalysisSchedule(this, 'Analysis', { analysisFunction: functions.analysis }));
    const retraining = (this.retraining = new RetrainingWorkflow(this, 'Retraining', {
      snapshotFunction: functions.retrainSnapshot,
      trainFunction: functions.retrainTrain,
      evaluateFunction: functions.retrainEvaluate,
      publishFunction: functions.retrainPublish,
      switchFunction: functions.retrainSwitch,
      restoreFunction: functions.retrainRestore,
      notificationTopic: analysis.alertsTopic,
      ...(this.distributedTraining === undefined ? {} : { distributedTraining: this.distributedTraining }),
    }));
    new OperationsDashboard(this, 'Operations', { api: api.api, functions, stateMachine: retraining.stateMachine });
    this.alarms = new OperationsAlarms(this, 'Alarms', {
      alertsTopic: analysis.alertsTopic,
      api: api.api,
      functions,
      deadLetterQueues: {
        analysisFailures: analysis.failures,
        analysisScheduleDeadLetters: analysis.scheduleDeadLetters,
        retrainingScheduleDeadLetters: retraining.scheduleDeadLetters,
      },
      stateMachine: retraining.stateMachine,
      thresholds: props.alarmThresholds,
    });

    new CfnOutput(this, 'ApiUrl', { value: api.api.url });
    new CfnOutput(this, 'ApiKeyId', { value: api.apiKey.keyId, description: 'aws apigateway get-api-key --api-key ID --include-value' });
    new CfnOutput(this, 'ArtifactsBucketName', { value: artifacts.bucket.bucketName });
    new CfnOutput(this, 'RetrainingStateMachineArn', { value: retraining.stateMachine.stateMachineArn });
  }
}
