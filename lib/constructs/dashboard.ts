import { Duration } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import { Dashboard, GraphWidget, MathExpression, Metric, TextWidget, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

/** Props of {@link OperationsDashboard}. */
export interface OperationsDashboardProps {
  readonly api: RestApi;
  readonly functions: Record<string, IFunction>;
  readonly stateMachine: IStateMachine;
  /** Custom metrics namespace written by Powertools. @default 'Abrec' */
  readonly namespace?: string;
}

/** One CloudWatch dashboard: API traffic and errors, function latency, serving fallbacks, retraining runs. */
export class OperationsDashboard extends Construct {
  public readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    const namespace = props.namespace ?? 'Abrec';
    const apiMetric = (metricName: string, statistic = 'Sum'): IMetric =>
      new Metric({ namespace: 'AWS/ApiGateway', metricName, dimensionsMap: { ApiName: props.api.restApiName }, statistic, period: Duration.minutes(5) });
    const custom = (metricName: string): IMetric =>
      new Metric({ namespace, metricName, dimensionsMap: { service: 'abrec' }, statistic: 'Sum', period: Duration.minutes(5) });
    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(24) });
    this.dashboard.addWidgets(
      new TextWidget({ markdown: '# abrec: A/B testing for recommendation models', width: 24, height: 1 }),
      new GraphWidget({ title: 'API requests and errors', left: [apiMetric('Count'), apiMetric('4XXError'), apiMetric('5XXError')], width: 12 }),
      new GraphWidget({ title: 'API latency p99 (ms)', left: [apiMetric('Latency', 'p99'), apiMetric('IntegrationLatency', 'p99')], width: 12 }),
      new GraphWidget({
        title: 'Function duration p99 (ms)',
        left: Object.values(props.functions).map((fn) => fn.metricDuration({ statistic: 'p99', period: Duration.minutes(5) })),
        width: 12,
      }),
      new GraphWidget({
        title: 'Function errors',
        left: Object.values(props.functions).map((fn) => fn.metricErrors({ period: Duration.minutes(5) })),
        width: 12,
      }),
      new GraphWidget({
        title: 'Serving: recommendations, cold-start and artifact fallbacks',
        left: [custom('Recommendations'), custom('ColdStartFallback'), custom('ArtifactFallback')],
        right: [
          new MathExpression({
            expression: '100 * cold / MAX([recs, 1])',
            usingMetrics: { cold: custom('ColdStartFallback'), recs: custom('Recommendations') },
            label: 'cold-start %',
          }),
        ],
        width: 12,
      }),
      new GraphWidget({
        title: 'Events stored and duplicates',
        left: [custom('EventsStored'), custom('EventsDuplicate'), custom('EventsRejected')],
        right: [custom('CounterInconsistency'), custom('ImpressionWriteFailed')],
        width: 12,
      }),
      new GraphWidget({
        title: 'Retraining runs',
        left: [props.stateMachine.metricSucceeded(), props.stateMachine.metricFailed()],
        width: 12,
      }),
    );
  }
}
