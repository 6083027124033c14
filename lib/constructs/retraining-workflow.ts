import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { EventField, Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { SfnStateMachine } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import {
  Choice,
  Condition,
  DefinitionBody,
  Fail,
  LogLevel,
  StateMachine,
  Succeed,
  type IChainable,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { SCHEDULES } from '../resources.ts';
import { DeadLetterQueue } from './dead-letter-queue.ts';

/** Props of {@link RetrainingWorkflow}. */
export interface RetrainingWorkflowProps {
  readonly trainFunction: IFunction;
  readonly evaluateFunction: IFunction;
  readonly publishFunction: IFunction;
  /** Input of the weekly run. @default trains every model of the default set from `datasets/ratings/` */
  readonly scheduledInput?: Record<string, unknown>;
  /** Schedule expression. @default SCHEDULES.retraining (Sundays 04:00 UTC) */
  readonly scheduleExpression?: string;
}

/** Default input of the weekly retraining run. */
export const DEFAULT_RETRAINING_INPUT = {
  model_id: 'als',
  algorithm: 'als',
  dataset_prefix: 'datasets/ratings/',
  // The candidate must not be worse than the current version by more than this share.
  max_regression: 0.02,
} as const;

/**
 * Weekly retraining: Train → Evaluate → Gate (Choice) → Publish, started by an EventBridge
 * rule. Each task retries transient Lambda errors; a rejected candidate ends the run as
 * succeeded-but-not-published, so the console shows why. A weekly start EventBridge could not
 * deliver lands in `scheduleDeadLetters`.
 */
export class RetrainingWorkflow extends Construct {
  public readonly stateMachine: StateMachine;
  public readonly rule: Rule;
  public readonly scheduleDeadLetters: IQueue;

  constructor(scope: Construct, id: string, props: RetrainingWorkflowProps) {
    super(scope, id);
    const task = (name: string, fn: IFunction, resultPath: string): LambdaInvoke => {
      const invoke = new LambdaInvoke(this, name, {
        lambdaFunction: fn,
        payloadResponseOnly: true,
        resultPath,
        taskTimeout: undefined,
      });
      invoke.addRetry({ errors: ['Lambda.ServiceException', 'Lambda.TooManyRequestsException', 'Lambda.SdkClientException'], maxAttempts: 3, backoffRate: 2, interval: Duration.seconds(5) });
      return invoke;
    };
    const train = task('Train', props.trainFunction, '$.candidate');
    const evaluate = task('Evaluate', props.evaluateFunction, '$.evaluation');
    const publish = task('Publish', props.publishFunction, '$.published');
    const failed = new Fail(this, 'StepFailed', { error: 'RetrainingFailed', cause: 'A retraining step failed after retries' });
    for (const step of [train, evaluate, publish]) step.addCatch(failed, { resultPath: '$.error' });
    const gate = new Choice(this, 'Gate')
      .when(Condition.booleanEquals('$.evaluation.accepted', true), publish.next(new Succeed(this, 'Published')))
      .otherwise(new Succeed(this, 'Rejected', { comment: 'Candidate did not pass the offline gate; nothing published' }));
    const definition: IChainable = train.next(evaluate).next(gate);
    const logs = new LogGroup(this, 'Logs', { retention: RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      definitionBody: DefinitionBody.fromChainable(definition),
      timeout: Duration.hours(2),
      tracingEnabled: true,
      logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: true },
      comment: 'Weekly model retraining: train, evaluate, gate, publish',
    });
    this.scheduleDeadLetters = new DeadLetterQueue(this, 'ScheduleDeadLetters', { holds: 'weekly retraining starts EventBridge could not deliver' });
    this.rule = new Rule(this, 'Weekly', {
      description: 'Weekly model retraining',
      schedule: Schedule.expression(props.scheduleExpression ?? SCHEDULES.retraining),
      targets: [
        new SfnStateMachine(this.stateMachine, {
          // EventField (an input transformer), not JsonPath: JsonPath tokens only mean something
          // inside a state machine definition and would reach the run as the literal text "$.id".
          input: RuleTargetInput.fromObject({ ...(props.scheduledInput ?? DEFAULT_RETRAINING_INPUT), run_id: EventField.fromPath('$.id') }),
          retryAttempts: 2,
          maxEventAge: Duration.hours(2),
          deadLetterQueue: this.scheduleDeadLetters,
        }),
      ],
    });
  }
}
