import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { EventField, Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { SfnStateMachine } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import {
  Choice,
  Condition,
  DefinitionBody,
  Fail,
  JsonPath,
  LogLevel,
  Map as MapState,
  Pass,
  StateMachine,
  Succeed,
  TaskInput,
  type IChainable,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke, SnsPublish } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { SCHEDULES } from '../resources.ts';
import { DEFAULT_RETRAINING_INPUT } from '../retraining-input.ts';
import { DeadLetterQueue } from './dead-letter-queue.ts';
import type { DistributedTraining } from './distributed-training.ts';

/** Props of {@link RetrainingWorkflow}. */
export interface RetrainingWorkflowProps {
  readonly snapshotFunction: IFunction;
  readonly trainFunction: IFunction;
  readonly evaluateFunction: IFunction;
  readonly publishFunction: IFunction;
  readonly switchFunction: IFunction;
  readonly restoreFunction: IFunction;
  /** Where every run's outcome is published: each model's metrics, decision and reason, or the failure. */
  readonly notificationTopic: ITopic;
  /** Input of the weekly run. @default DEFAULT_RETRAINING_INPUT */
  readonly scheduledInput?: Record<string, unknown>;
  /** Schedule expression. @default SCHEDULES.retraining (Sundays 04:00 UTC) */
  readonly scheduleExpression?: string;
  /**
   * The distributed engine (stack option `trainingEngine`): ALS models train on it, behind the
   * same artifact contract, every other algorithm on the train Lambda. @default every model on the Lambda
   */
  readonly distributedTraining?: Pick<DistributedTraining, 'trainStep'>;
}

export { DEFAULT_RETRAINING_INPUT, DEFAULT_RETRAINING_MODELS } from '../retraining-input.ts';

/** Errors a task retries with backoff: Lambda's own transient failures and a throttled start (reserved concurrency 1). */
export const TRANSIENT_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.TooManyRequestsException',
] as const;

/**
 * Weekly retraining, started by an EventBridge rule (or on demand with StartExecution):
 *
 *   Snapshot → TrainEach (Map over the models: Train → Evaluate → Gate → Accept | Reject)
 *            → Publish → SwitchFollowers → Notify → Done
 *
 * and on any failure (caught after the retries): RestorePointers → NotifyFailure → Failed.
 * The Map runs one model at a time (each step's reserved concurrency is 1). Every Lambda task
 * retries transient errors with exponential backoff; the notifications go to `notificationTopic`
 * and the failed execution raises the RetrainingFailed alarm (alarms.ts, ExecutionsFailed).
 * A weekly start EventBridge could not deliver lands in `scheduleDeadLetters`.
 */
export class RetrainingWorkflow extends Construct {
  public readonly stateMachine: StateMachine;
  public readonly rule: Rule;
  public readonly scheduleDeadLetters: IQueue;

  constructor(scope: Construct, id: string, props: RetrainingWorkflowProps) {
    super(scope, id);
    const task = (name: string, fn: IFunction, resultPath: string, payload?: TaskInput): LambdaInvoke => {
      // One retrier of our own (retryOnServiceExceptions off): the transient errors, throttling included, with backoff.
      const invoke = new LambdaInvoke(this, name, {
        lambdaFunction: fn,
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        resultPath,
        ...(payload ? { payload } : {}),
      });
      invoke.addRetry({ errors: [...TRANSIENT_ERRORS], maxAttempts: 3, backoffRate: 2, interval: Duration.seconds(5) });
      return invoke;
    };

    const snapshot = task('Snapshot', props.snapshotFunction, '$.snapshot');
    const train = task('Train', props.trainFunction, '$.candidate');
    const evaluate = task('Evaluate', props.evaluateFunction, '$.evaluation');
    const gate = new Choice(this, 'Gate', { comment: 'Publish only a candidate not worse than the published version by more than max_regression' })
      .when(Condition.booleanEquals('$.evaluation.accepted', true), new Pass(this, 'Accept'))
      .otherwise(new Pass(this, 'Reject', { comment: 'Worse than the published version on the same split: not published; the reason is in the notification' }));
    const trainEach = new MapState(this, 'TrainEach', {
      itemsPath: '$.snapshot.models',
      itemSelector: {
        model_id: JsonPath.stringAt('$$.Map.Item.Value.model_id'),
        algorithm: JsonPath.stringAt('$$.Map.Item.Value.algorithm'),
        dataset_prefix: JsonPath.stringAt('$.snapshot.dataset_prefix'),
        max_regression: JsonPath.numberAt('$.max_regression'),
        run_id: JsonPath.stringAt('$.run_id'),
        held_out_since_ms: JsonPath.numberAt('$.snapshot.since_ms'),
      },
      maxConcurrency: 1,
      resultPath: '$.results',
    });
    // ALS on the distributed engine when the stack has one (its job writes the same artifact and candidate), the rest on the Lambda.
    const trainOn =
      props.distributedTraining === undefined
        ? train
        : new Choice(this, 'TrainOn', { comment: 'ALS on the distributed training engine, every other algorithm on the train Lambda' })
            .when(Condition.stringEquals('$.algorithm', 'als'), props.distributedTraining.trainStep('TrainOnEngine'))
            .otherwise(train)
            .afterwards();
    trainEach.itemProcessor(trainOn.next(evaluate).next(gate));
    const publish = task(
      'Publish',
      props.publishFunction,
      '$.published',
      TaskInput.fromObject({ run_id: JsonPath.stringAt('$.run_id'), results: JsonPath.listAt('$.results'), snapshot: JsonPath.objectAt('$.snapshot') }),
    );
    const switchFollowers = task(
      'SwitchFollowers',
      props.switchFunction,
      '$.switched',
      TaskInput.fromObject({ run_id: JsonPath.stringAt('$.run_id'), versions: JsonPath.objectAt('$.published.versions') }),
    );
    const notify = new SnsPublish(this, 'Notify', {
      topic: props.notificationTopic,
      subject: 'abrec retraining: run finished',
      message: TaskInput.fromObject({
        outcome: 'succeeded',
        run_id: JsonPath.stringAt('$.run_id'),
        snapshot: {
          since: JsonPath.stringAt('$.snapshot.since'),
          until: JsonPath.stringAt('$.snapshot.until'),
          base_ratings: JsonPath.numberAt('$.snapshot.base_ratings'),
          logged: JsonPath.objectAt('$.snapshot.logged'),
          ratings: JsonPath.numberAt('$.snapshot.ratings'),
        },
        models: JsonPath.listAt('$.published.models'),
        published: JsonPath.objectAt('$.published.versions'),
        switched: JsonPath.listAt('$.switched'),
      }),
      resultPath: JsonPath.DISCARD,
    });
    notify.addRetry({
      errors: ['SNS.SdkClientException', 'SNS.InternalErrorException', 'SNS.ThrottledException'],
      maxAttempts: 3,
      backoffRate: 2,
      interval: Duration.seconds(5),
    });

    // The failure path: every pointer back to its bytes before the run, then the notification.
    const restore = task('RestorePointers', props.restoreFunction, '$.restored');
    const notifyFailure = new SnsPublish(this, 'NotifyFailure', {
      topic: props.notificationTopic,
      subject: 'abrec retraining: run FAILED',
      message: TaskInput.fromObject({
        outcome: 'failed',
        run_id: JsonPath.stringAt('$.run_id'),
        error: JsonPath.objectAt('$.error'),
        restored: JsonPath.objectAt('$.restored'),
      }),
      resultPath: JsonPath.DISCARD,
    });
    notifyFailure.addRetry({ errors: ['States.TaskFailed'], maxAttempts: 3, backoffRate: 2, interval: Duration.seconds(5) });
    const failed = new Fail(this, 'Failed', {
      error: 'RetrainingFailed',
      cause: 'A retraining step failed after retries; the pointers were put back as they were',
    });
    // A failed restore is still notified (its error in `restored`), and the run still fails.
    restore.addCatch(notifyFailure, { resultPath: '$.restored' });
    const onFailure = restore.next(notifyFailure).next(failed);
    for (const step of [snapshot, trainEach, publish, switchFollowers]) step.addCatch(onFailure, { resultPath: '$.error' });

    const definition: IChainable = snapshot.next(trainEach).next(publish).next(switchFollowers).next(notify).next(new Succeed(this, 'Done'));
    const logs = new LogGroup(this, 'Logs', { retention: RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      definitionBody: DefinitionBody.fromChainable(definition),
      timeout: Duration.hours(4),
      tracingEnabled: true,
      logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: true },
      comment: 'Weekly model retraining: snapshot, train and gate each model on the same split, publish, switch followers, notify',
    });
    this.scheduleDeadLetters = new DeadLetterQueue(this, 'ScheduleDeadLetters', { holds: 'weekly retraining starts EventBridge could not deliver' });
    this.rule = new Rule(this, 'Weekly', {
      description: 'Weekly model retraining',
      schedule: Schedule.expression(props.scheduleExpression ?? SCHEDULES.retraining),
      targets: [
        new SfnStateMachine(this.stateMachine, {
          // EventField (an input transformer), not JsonPath: JsonPath tokens only mean something
          // inside a state machine definition and would reach the run as the literal text "$.id".
          input: RuleTargetInput.fromObject({
            ...(props.scheduledInput ?? DEFAULT_RETRAINING_INPUT),
            run_id: EventField.fromPath('$.id'),
            now: EventField.fromPath('$.time'),
          }),
          retryAttempts: 2,
          maxEventAge: Duration.hours(2),
          deadLetterQueue: this.scheduleDeadLetters,
        }),
      ],
    });
  }
}
