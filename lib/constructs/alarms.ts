import { Duration } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import { Alarm, ComparisonOperator, MathExpression, Metric, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { DEFAULT_ALARM_THRESHOLDS, type AlarmThresholds } from '../defaults.ts';

/** Props of {@link OperationsAlarms}. */
export interface OperationsAlarmsProps {
  /** Every alarm notifies this topic. */
  readonly alertsTopic: ITopic;
  readonly api: RestApi;
  /** Each function's Errors and Throttles are alarmed, under its key. */
  readonly functions: Readonly<Record<string, IFunction>>;
  /** Each queue's depth is alarmed, under its key: every on-failure and dead-letter queue. */
  readonly deadLetterQueues: Readonly<Record<string, IQueue>>;
  /** The retraining state machine: failed and timed-out runs are alarmed. */
  readonly stateMachine: IStateMachine;
  /** Thresholds, merged over the defaults. @default DEFAULT_ALARM_THRESHOLDS */
  readonly thresholds?: Partial<AlarmThresholds>;
  /** Custom metrics namespace written by Powertools. @default 'Abrec' */
  readonly namespace?: string;
}

const PERIOD = Duration.minutes(5);

/** `recommend` → `Recommend`, for construct ids. */
const pascal = (name: string): string => name.charAt(0).toUpperCase() + name.slice(1);

/**
 * Every condition that needs a person, each an alarm to the alerts topic: the API's 5XX rate and
 * p99 latency; each function's errors and throttles; anything waiting in a dead-letter queue; a
 * failed or timed-out retraining run; and the product's own signals (a sample ratio mismatch,
 * artifact fallbacks, counters an undo could not restore, impressions not recorded). Missing data
 * is never an alarm: no traffic is not an incident.
 */
export class OperationsAlarms extends Construct {
  /** Every alarm, by construct id. */
  public readonly alarms: Readonly<Record<string, Alarm>>;

  constructor(scope: Construct, id: string, props: OperationsAlarmsProps) {
    super(scope, id);
    const thresholds = { ...DEFAULT_ALARM_THRESHOLDS, ...props.thresholds };
    if (!(thresholds.api5xxRatePercent > 0 && thresholds.api5xxRatePercent <= 100)) {
      throw new Error(`OperationsAlarms: api5xxRatePercent must be a percentage above 0 and at most 100, got ${thresholds.api5xxRatePercent}`);
    }
    if (!(thresholds.apiLatencyP99Ms > 0)) throw new Error(`OperationsAlarms: apiLatencyP99Ms must be positive, got ${thresholds.apiLatencyP99Ms}`);
    const namespace = props.namespace ?? 'Abrec';
    const action = new SnsAction(props.alertsTopic);
    const alarms: Record<string, Alarm> = {};
    const alarm = (
      alarmId: string,
      alarmDescription: string,
      metric: IMetric,
      options: { threshold?: number; evaluationPeriods?: number; datapointsToAlarm?: number } = {},
    ) => {
      const created = new Alarm(this, alarmId, {
        alarmDescription,
        metric,
        // Most conditions are "any occurrence": one is worth a look.
        threshold: options.threshold ?? 1,
        evaluationPeriods: options.evaluationPeriods ?? 1,
        datapointsToAlarm: options.datapointsToAlarm,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(action);
      alarms[alarmId] = created;
    };
    const custom = (metricName: string): IMetric =>
      new Metric({ namespace, metricName, dimensionsMap: { service: 'abrec' }, statistic: 'Sum', period: PERIOD });

    // A rate, not a count: ten 5XX among a million requests is not an incident, ten among twenty is.
    alarm(
      'Api5xxRateAlarm',
      `${thresholds.api5xxRatePercent} % or more of API requests answered 5XX in 2 of 3 five-minute periods`,
      new MathExpression({
        expression: 'IF(requests > 0, 100 * errors / requests, 0)',
        usingMetrics: {
          errors: props.api.metricServerError({ period: PERIOD, statistic: 'Sum' }),
          requests: props.api.metricCount({ period: PERIOD, statistic: 'Sum' }),
        },
        label: 'API 5XX rate (%)',
        period: PERIOD,
      }),
      { threshold: thresholds.api5xxRatePercent, evaluationPeriods: 3, datapointsToAlarm: 2 },
    );
    alarm(
      'ApiLatencyP99Alarm',
      `API p99 latency at or above ${thresholds.apiLatencyP99Ms} ms for 15 minutes`,
      props.api.metricLatency({ period: PERIOD, statistic: 'p99' }),
      { threshold: thresholds.apiLatencyP99Ms, evaluationPeriods: 3 },
    );

    for (const [name, fn] of Object.entries(props.functions)) {
      alarm(
        `${pascal(name)}ErrorsAlarm`,
        `The ${name} function failed (an uncaught error or a timeout)`,
        fn.metricErrors({ period: PERIOD, statistic: 'Sum' }),
      );
      alarm(
        `${pascal(name)}ThrottlesAlarm`,
        `The ${name} function was throttled: it reached its reserved concurrency or the account's limit`,
        fn.metricThrottles({ period: PERIOD, statistic: 'Sum' }),
      );
    }

    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      alarm(
        `${pascal(name)}DepthAlarm`,
        `Messages wait in the ${name} dead-letter queue: something failed for good and needs a redrive or a fix`,
        queue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: 'Maximum' }),
      );
    }

    alarm(
      'RetrainingFailedAlarm',
      'A retraining run failed (a step failed after its retries)',
      props.stateMachine.metricFailed({ period: PERIOD, statistic: 'Sum' }),
    );
    alarm('RetrainingTimedOutAlarm', 'A retraining run timed out', props.stateMachine.metricTimedOut({ period: PERIOD, statistic: 'Sum' }));

    const productSignals: [string, string, string][] = [
      [
        'SampleRatioMismatchAlarm',
        'SampleRatioMismatch',
        "An experiment's daily report found a sample ratio mismatch: assignment or logging is broken and its results are not trustworthy",
      ],
      ['ArtifactFallbackAlarm', 'ArtifactFallback', 'Recommendations are served from the popularity fallback because an artifact failed to load'],
      [
        'CounterInconsistencyAlarm',
        'CounterInconsistency',
        'An event counter could not be restored after a failed write; the counters need a manual correction (see the logs)',
      ],
      ['ImpressionWriteFailedAlarm', 'ImpressionWriteFailed', 'Impressions could not be recorded; exposure counts in the analysis are short'],
    ];
    for (const [alarmId, metricName, description] of productSignals) alarm(alarmId, description, custom(metricName));

    this.alarms = alarms;
  }
}
