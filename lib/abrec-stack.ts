import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { Construct } from 'constructs';
import { AbFunction } from './constructs/ab-function.ts';
import { AnalysisSchedule } from './constructs/analysis-schedule.ts';
import { RecommendationApi } from './constructs/api.ts';
import { ArtifactStore } from './constructs/artifact-store.ts';
import { OperationsDashboard } from './constructs/dashboard.ts';
import { EventsStore } from './constructs/events-store.ts';
import { RetrainingWorkflow } from './constructs/retraining-workflow.ts';
import { ENV, FUNCTIONS, TABLES, type FunctionName, type TableName } from './resources.ts';

/** Props of {@link AbrecStack}. */
export interface AbrecStackProps extends StackProps {
  /** Directory of default model artifacts uploaded at deploy. @default no upload */
  readonly defaultArtifactsDir?: string;
  /** Keep data (tables, bucket) on stack deletion. @default true */
  readonly retainData?: boolean;
}

/** The whole product: storage, functions, API, daily analysis, weekly retraining, dashboard. */
export class AbrecStack extends Stack {
  public readonly functions: Record<FunctionName, AbFunction>;

  constructor(scope: Construct, id: string, props: AbrecStackProps = {}) {
    super(scope, id, props);
    const artifacts = new ArtifactStore(this, 'Artifacts', { defaultArtifactsDir: props.defaultArtifactsDir, retain: props.retainData });
    const store = new EventsStore(this, 'Store', { retain: props.retainData });

    const functions = {} as Record<FunctionName, AbFunction>;
    for (const [name, definition] of Object.entries(FUNCTIONS) as [FunctionName, (typeof FUNCTIONS)[FunctionName]][]) {
      const fn = new AbFunction(this, definition.id, {
        entry: definition.entry,
        description: definition.description,
        memorySize: definition.memorySize,
        timeout: Duration.seconds(definition.timeoutSeconds),
        // Only the recommend function records impressions; the switch lets a team turn it off.
        environment: name === 'recommend' ? { [ENV.recordImpressions]: 'true' } : {},
      });
      for (const [table, access] of Object.entries(definition.tables) as [TableName, 'read' | 'write' | 'readWrite'][]) {
        fn.bindTable(TABLES[table], store.tables[table], access);
      }
      if ('bucket' in definition && definition.bucket) fn.bindBucket(artifacts.bucket, definition.bucket);
      functions[name] = fn;
    }
    this.functions = functions;

    const api = new RecommendationApi(this, 'Api', { functions });
    const analysis = new AnalysisSchedule(this, 'Analysis', { analysisFunction: functions.analysis });
    const retraining = new RetrainingWorkflow(this, 'Retraining', {
      trainFunction: functions.retrainTrain,
      evaluateFunction: functions.retrainEvaluate,
      publishFunction: functions.retrainPublish,
    });
    new OperationsDashboard(this, 'Operations', { api: api.api, functions, stateMachine: retraining.stateMachine });

    // Conditions that need a person: serving from the popularity fallback because an artifact
    // failed to load; counters that an undo could not restore (they need a manual correction);
    // impressions that could not be recorded (the analysis under-counts exposure).
    const alarms: [string, string, string][] = [
      ['ArtifactFallbackAlarm', 'ArtifactFallback', 'Recommendations are served from the popularity fallback because an artifact failed to load'],
      ['CounterInconsistencyAlarm', 'CounterInconsistency', 'An event counter could not be restored after a failed write; the counters need a manual correction (see the logs)'],
      ['ImpressionWriteFailedAlarm', 'ImpressionWriteFailed', 'Impressions could not be recorded; exposure counts in the analysis are short'],
    ];
    for (const [id, metricName, alarmDescription] of alarms) {
      new Alarm(this, id, {
        alarmDescription,
        metric: new Metric({ namespace: 'Abrec', metricName, dimensionsMap: { service: 'abrec' }, statistic: 'Sum', period: Duration.minutes(5) }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }).addAlarmAction(new SnsAction(analysis.alertsTopic));
    }

    new CfnOutput(this, 'ApiUrl', { value: api.api.url });
    new CfnOutput(this, 'ApiKeyId', { value: api.apiKey.keyId, description: 'aws apigateway get-api-key --api-key ID --include-value' });
    new CfnOutput(this, 'ArtifactsBucketName', { value: artifacts.bucket.bucketName });
    new CfnOutput(this, 'RetrainingStateMachineArn', { value: retraining.stateMachine.stateMachineArn });
  }
}
