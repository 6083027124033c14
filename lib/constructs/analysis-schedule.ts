import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { Topic, type ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption, type IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { NagSuppressions } from '../cdk-nag.ts';
import { ENV, SCHEDULES } from '../resources.ts';
import type { AbFunction } from './ab-function.ts';

/** Props of {@link AnalysisSchedule}. */
export interface AnalysisScheduleProps {
  /** The analysis function the schedule invokes. */
  readonly analysisFunction: AbFunction;
  /** Schedule expression. @default SCHEDULES.analysis (daily 03:00 UTC) */
  readonly scheduleExpression?: string;
}

/**
 * Runs the analysis daily. Alerts go to an encrypted SNS topic; a run that still fails after
 * the asynchronous retries lands in an encrypted dead-letter queue (the on-failure destination).
 */
export class AnalysisSchedule extends Construct {
  public readonly rule: Rule;
  public readonly alertsTopic: ITopic;
  public readonly failures: IQueue;

  constructor(scope: Construct, id: string, props: AnalysisScheduleProps) {
    super(scope, id);
    this.alertsTopic = new Topic(this, 'Alerts', { displayName: 'abrec experiment alerts', enforceSSL: true, });
    this.failures = new Queue(this, 'Failures', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    NagSuppressions.addResourceSuppressions(this.failures, [
      { id: 'AwsSolutions-SQS3', reason: 'This queue is itself the dead-letter (on-failure) destination of the analysis function; a DLQ of a DLQ adds nothing.' },
    ]);
    const fn: IFunction = props.analysisFunction;
    props.analysisFunction.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new SqsDestination(this.failures),
    });
    props.analysisFunction.addEnvironment(ENV.alertsTopicArn, this.alertsTopic.topicArn);
    this.alertsTopic.grantPublish(fn);
    this.rule = new Rule(this, 'Daily', {
      description: 'Daily significance reports for running experiments',
      schedule: Schedule.expression(props.scheduleExpression ?? SCHEDULES.analysis),
      targets: [new LambdaFunction(fn, { retryAttempts: 2 })],
    });
  }
}
