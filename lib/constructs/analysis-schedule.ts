import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { Topic, type ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV, SCHEDULES } from '../resources.ts';
import type { AbFunction } from './ab-function.ts';
import { DeadLetterQueue } from './dead-letter-queue.ts';

/** Props of {@link AnalysisSchedule}. */
export interface AnalysisScheduleProps {
  /** The analysis function the schedule invokes. */
  readonly analysisFunction: AbFunction;
  /** Schedule expression. @default SCHEDULES.analysis (daily 03:00 UTC) */
  readonly scheduleExpression?: string;
}

/**
 * Runs the analysis daily. Alerts go to an encrypted SNS topic. Two dead-letter queues: a run
 * that still fails after the asynchronous retries lands in `failures` (the function's on-failure
 * destination); a firing EventBridge could not hand to Lambda at all lands in
 * `scheduleDeadLetters`.
 */
export class AnalysisSchedule extends Construct {
  public readonly rule: Rule;
  public readonly alertsTopic: ITopic;
  public readonly failures: IQueue;
  public readonly scheduleDeadLetters: IQueue;

  constructor(scope: Construct, id: string, props: AnalysisScheduleProps) {
    super(scope, id);
    this.alertsTopic = new Topic(this, 'Alerts', { displayName: 'abrec experiment alerts', enforceSSL: true });
    this.failures = new DeadLetterQueue(this, 'Failures', { holds: 'analysis runs that failed after the asynchronous retries' });
    this.scheduleDeadLetters = new DeadLetterQueue(this, 'ScheduleDeadLetters', { holds: 'daily analysis firings EventBridge could not deliver' });
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
      // A delivery is retried for two hours at most, then kept in the dead-letter queue; the run
      // reports the day its firing time names, so a late delivery still writes the right day.
      targets: [new LambdaFunction(fn, { retryAttempts: 2, maxEventAge: Duration.hours(2), deadLetterQueue: this.scheduleDeadLetters })],
    });
  }
}
