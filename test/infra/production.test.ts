/**
 * The stack's production hardening, as CDK Template assertions: the alarms and what they watch,
 * the dead-letter queues of the scheduled targets, reserved concurrency (defaults and the stack
 * prop), and the WAF web ACL on the API stage. None of this depends on the functions' code, so
 * the stack is synthesized without bundling (one default synthesis for the file, plus a few
 * with other props).
 */
import type { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AbrecStack, AbrecStackProps } from '../../lib/abrec-stack.ts';
import { DEFAULT_ALARM_THRESHOLDS, DEFAULT_RATE_LIMIT_PER_IP, DEFAULT_RESERVED_CONCURRENCY } from '../../lib/defaults.ts';
import { FUNCTIONS, type FunctionName } from '../../lib/resources.ts';
import { buildAbrecApp, childAt, functionPropertiesOf, type GetAtt, logicalIdOf, propertiesOf, removeAssembly, renderIntrinsic } from './support/synth.ts';

let app: App;
let stack: AbrecStack;
let template: Template;

const apps: App[] = [];
/** Synthesizes the stack with `props` (no bundling) and returns its template. */
function templateWith(props: Omit<AbrecStackProps, 'defaultArtifactsDir'>): Template {
  const built = buildAbrecApp({ props, bundle: false });
  apps.push(built.app);
  return Template.fromStack(built.stack);
}

beforeAll(() => {
  ({ app, stack } = buildAbrecApp({ bundle: false }));
  apps.push(app);
  template = Template.fromStack(stack);
});

afterAll(() => {
  for (const built of apps) removeAssembly(built);
});

const FUNCTION_NAMES = Object.keys(FUNCTIONS) as FunctionName[];
const functionId = (name: FunctionName): string => logicalIdOf(stack.functions[name]);
const alertsTopicId = (): string => logicalIdOf(childAt(stack, 'Analysis/Alerts'));
const stateMachineId = (): string => logicalIdOf(childAt(stack, 'Retraining/StateMachine'));
const restApiId = (): string => logicalIdOf(childAt(stack, 'Api/Api'));
const getAttArn = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
const arnTarget = (value: GetAtt): string => value['Fn::GetAtt'][0];

/** The properties of an AWS::CloudWatch::Alarm (a single-metric or a metric-math one), with the ones these tests read typed. */
interface AlarmProperties extends Record<string, unknown> {
  Namespace?: string;
  MetricName?: string;
  AlarmDescription?: string;
  Threshold?: number;
  Metrics?: AlarmMetric[];
}

/** One metric or expression of a metric-math alarm. */
interface AlarmMetric extends Record<string, unknown> {
  Id: string;
  Expression?: string;
  MetricStat?: unknown;
}

/** A target of an AWS::Events::Rule, with the failure handling these tests read. */
interface RuleTarget extends Record<string, unknown> {
  RetryPolicy?: unknown;
  DeadLetterConfig?: { Arn: GetAtt };
}

/** A rule of an AWS::WAFv2::WebACL, with the statements these tests read. */
interface WebAclRule extends Record<string, unknown> {
  Name: string;
  Priority: number;
  Statement: { ManagedRuleGroupStatement?: { RuleActionOverrides?: unknown }; RateBasedStatement?: { Limit: number } };
}

const alarms = (): AlarmProperties[] => Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((alarm) => alarm.Properties as AlarmProperties);
/** The alarms on `namespace`/`metricName` (single-metric alarms). */
const alarmsOn = (namespace: string, metricName: string): AlarmProperties[] =>
  alarms().filter((alarm) => alarm.Namespace === namespace && alarm.MetricName === metricName);

/** Every queue some failure path sends to: Lambda on-failure destinations and EventBridge target DLQs. */
function deadLetterQueueIds(): string[] {
  const onFailure = Object.values(template.findResources('AWS::Lambda::EventInvokeConfig'))
    .map((config) => config.Properties.DestinationConfig?.OnFailure?.Destination)
    .filter(Boolean)
    .map(arnTarget);
  const targetDlqs = Object.values(template.findResources('AWS::Events::Rule'))
    .flatMap((rule) => rule.Properties.Targets as RuleTarget[])
    .map((target) => target.DeadLetterConfig?.Arn)
    .filter((arn) => arn !== undefined)
    .map(arnTarget);
  return [...new Set([...onFailure, ...targetDlqs])].sort();
}

describe('alarms', () => {
  it('notifies the alerts topic from every alarm of the stack', () => {
    const notTopic = alarms().filter((alarm) => JSON.stringify(alarm.AlarmActions) !== JSON.stringify([{ Ref: alertsTopicId() }]));

    expect(alarms().length).toBeGreaterThan(0);
    expect(notTopic.map((alarm) => alarm.AlarmDescription)).toEqual([]);
  });

  it('never alarms on missing data: no traffic is not an incident', () => {
    expect(
      alarms()
        .filter((alarm) => alarm.TreatMissingData !== 'notBreaching')
        .map((alarm) => alarm.AlarmDescription),
    ).toEqual([]);
  });

  it('alarms on the API 5XX rate as a metric-math ratio of 5XXError to Count, not on the raw 5XX count', () => {
    const [rate, ...others] = alarms().filter((alarm) => JSON.stringify(alarm.Metrics ?? []).includes('"5XXError"'));
    const byId = new Map(rate.Metrics!.map((metric) => [metric.Id, metric]));
    const expression = rate.Metrics!.find((metric) => metric.Expression);

    expect(others).toEqual([]);
    expect(expression).toMatchObject({ Expression: 'IF(requests > 0, 100 * errors / requests, 0)', ReturnData: true });
    expect(byId.get('errors')!.MetricStat).toEqual({
      Metric: { Namespace: 'AWS/ApiGateway', MetricName: '5XXError', Dimensions: [{ Name: 'ApiName', Value: 'AbrecStack-api' }] },
      Period: 300,
      Stat: 'Sum',
    });
    expect(byId.get('requests')!.MetricStat).toEqual({
      Metric: { Namespace: 'AWS/ApiGateway', MetricName: 'Count', Dimensions: [{ Name: 'ApiName', Value: 'AbrecStack-api' }] },
      Period: 300,
      Stat: 'Sum',
    });
    expect(rate).toMatchObject({
      Threshold: DEFAULT_ALARM_THRESHOLDS.api5xxRatePercent,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
    });
    expect(alarmsOn('AWS/ApiGateway', '5XXError')).toEqual([]);
  });

  it('watches the API by the name the stack gives it, unique per stack', () => {
    expect(propertiesOf(template, restApiId(), 'AWS::ApiGateway::RestApi').Name).toBe('AbrecStack-api');
  });

  it('alarms on the API p99 latency for three periods in a row', () => {
    expect(alarmsOn('AWS/ApiGateway', 'Latency')).toEqual([
      expect.objectContaining({
        ExtendedStatistic: 'p99',
        Dimensions: [{ Name: 'ApiName', Value: 'AbrecStack-api' }],
        Period: 300,
        Threshold: DEFAULT_ALARM_THRESHOLDS.apiLatencyP99Ms,
        EvaluationPeriods: 3,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      }),
    ]);
  });

  it.each(FUNCTION_NAMES.flatMap((name) => [[name, 'Errors'] as const, [name, 'Throttles'] as const]))('alarms on the first %s %s', (name, metricName) => {
    const watching = alarmsOn('AWS/Lambda', metricName).filter(
      (alarm) => JSON.stringify(alarm.Dimensions) === JSON.stringify([{ Name: 'FunctionName', Value: { Ref: functionId(name) } }]),
    );

    expect(watching).toEqual([
      expect.objectContaining({ Statistic: 'Sum', Period: 300, Threshold: 1, EvaluationPeriods: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' }),
    ]);
  });

  it('has three dead-letter queues, and they are every SQS queue of the stack', () => {
    const queues = Object.keys(template.findResources('AWS::SQS::Queue')).sort();

    expect(deadLetterQueueIds()).toEqual(queues);
    expect(queues.map((id) => id.replace(/[0-9A-F]{8}$/, ''))).toEqual(['AnalysisFailures', 'AnalysisScheduleDeadLetters', 'RetrainingScheduleDeadLetters']);
  });

  it('alarms on a message waiting in any dead-letter queue (ApproximateNumberOfMessagesVisible)', () => {
    const watched = alarmsOn('AWS/SQS', 'ApproximateNumberOfMessagesVisible').map((alarm) => {
      expect(alarm).toMatchObject({ Statistic: 'Maximum', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
      const [dimension] = alarm.Dimensions as { Name: string; Value: { 'Fn::GetAtt': [string, string] } }[];
      expect(dimension.Name).toBe('QueueName');
      expect(dimension.Value['Fn::GetAtt'][1]).toBe('QueueName');
      return dimension.Value['Fn::GetAtt'][0];
    });

    expect(watched.sort()).toEqual(deadLetterQueueIds());
  });

  it.each(['ExecutionsFailed', 'ExecutionsTimedOut'])('alarms on the first retraining run counted in %s', (metricName) => {
    expect(alarmsOn('AWS/States', metricName)).toEqual([
      expect.objectContaining({ Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: stateMachineId() } }], Statistic: 'Sum', Threshold: 1 }),
    ]);
  });

  it('alarms on the SampleRatioMismatch metric exactly as the analysis function emits it (namespace and service of its Powertools environment)', () => {
    const variables = functionPropertiesOf(template, functionId('analysis')).Environment.Variables as {
      POWERTOOLS_METRICS_NAMESPACE: string;
      POWERTOOLS_SERVICE_NAME: string;
    };

    expect(alarmsOn(variables.POWERTOOLS_METRICS_NAMESPACE, 'SampleRatioMismatch')).toEqual([
      expect.objectContaining({ Dimensions: [{ Name: 'service', Value: variables.POWERTOOLS_SERVICE_NAME }], Statistic: 'Sum', Threshold: 1 }),
    ]);
  });

  it('takes its thresholds from the alarmThresholds prop', () => {
    const custom = templateWith({ alarmThresholds: { api5xxRatePercent: 5, apiLatencyP99Ms: 800 } });
    const all = Object.values(custom.findResources('AWS::CloudWatch::Alarm')).map((alarm) => alarm.Properties as AlarmProperties);

    expect(all.find((alarm) => JSON.stringify(alarm.Metrics ?? []).includes('"5XXError"'))!.Threshold).toBe(5);
    expect(all.find((alarm) => alarm.MetricName === 'Latency')!.Threshold).toBe(800);
  });

  it.each([
    [{ api5xxRatePercent: 0 }, /api5xxRatePercent must be a percentage above 0 and at most 100, got 0/],
    [{ api5xxRatePercent: 150 }, /api5xxRatePercent .* got 150/],
    [{ apiLatencyP99Ms: -1 }, /apiLatencyP99Ms must be positive, got -1/],
  ])('refuses alarmThresholds %j, saying what is wrong', (alarmThresholds, message) => {
    expect(() => templateWith({ alarmThresholds })).toThrow(message);
  });
});

describe('dead-letter queues of the scheduled targets', () => {
  const rules = [
    ['daily analysis', 'Analysis/Daily', 'Analysis/ScheduleDeadLetters'],
    ['weekly retraining', 'Retraining/Weekly', 'Retraining/ScheduleDeadLetters'],
  ] as const;

  it.each(rules)('the %s target retries twice for at most two hours, then sends the event to its dead-letter queue', (_, rulePath, queuePath) => {
    const [target] = propertiesOf(template, logicalIdOf(childAt(stack, rulePath)), 'AWS::Events::Rule').Targets as RuleTarget[];

    expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 7200 });
    expect(target.DeadLetterConfig).toEqual({ Arn: getAttArn(logicalIdOf(childAt(stack, queuePath))) });
  });

  it.each(rules)('the %s dead-letter queue accepts messages only from its rule', (_, rulePath, queuePath) => {
    const queueId = logicalIdOf(childAt(stack, queuePath));
    const [policy] = Object.values(template.findResources('AWS::SQS::QueuePolicy')).filter(
      (candidate) => JSON.stringify(candidate.Properties.Queues) === JSON.stringify([{ Ref: queueId }]),
    );

    expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Action: 'sqs:SendMessage',
        Principal: { Service: 'events.amazonaws.com' },
        Condition: { ArnEquals: { 'aws:SourceArn': getAttArn(logicalIdOf(childAt(stack, rulePath))) } },
      }),
    );
  });

  it.each(['Analysis/Failures', 'Analysis/ScheduleDeadLetters', 'Retraining/ScheduleDeadLetters'])(
    '%s is encrypted, keeps messages 14 days and refuses requests without TLS',
    (queuePath) => {
      const queueId = logicalIdOf(childAt(stack, queuePath));
      const [policy] = Object.values(template.findResources('AWS::SQS::QueuePolicy')).filter(
        (candidate) => JSON.stringify(candidate.Properties.Queues) === JSON.stringify([{ Ref: queueId }]),
      );

      expect(propertiesOf(template, queueId, 'AWS::SQS::Queue')).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 86_400 });
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual({
        Effect: 'Deny',
        Action: 'sqs:*',
        Principal: { AWS: '*' },
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        Resource: getAttArn(queueId),
      });
    },
  );
});

describe('reserved concurrency', () => {
  const reservedIn = (source: Template, id: (name: FunctionName) => string) =>
    Object.fromEntries(FUNCTION_NAMES.map((name) => [name, functionPropertiesOf(source, id(name)).ReservedConcurrentExecutions]));
  /** Logical ids do not depend on props, so the default stack's ids name the functions of every variant. */
  const idOf = (name: FunctionName) => functionId(name);

  it('runs the analysis and each retraining step one at a time by default', () => {
    const reserved = reservedIn(template, idOf);

    expect([reserved.analysis, reserved.retrainTrain, reserved.retrainEvaluate, reserved.retrainPublish]).toEqual([1, 1, 1, 1]);
  });

  it("bounds the public functions by default, so one client cannot take the account's concurrency", () => {
    const reserved = reservedIn(template, idOf);

    expect(reserved).toEqual({ ...DEFAULT_RESERVED_CONCURRENCY });
    expect(reserved.recommend).toBe(200);
    expect(reserved.events).toBe(100);
  });

  it('leaves at least 100 of the default regional limit of 1,000 unreserved, as Lambda requires', () => {
    const total = Object.values(DEFAULT_RESERVED_CONCURRENCY).reduce((sum, value) => sum + value, 0);

    expect(1_000 - total).toBeGreaterThanOrEqual(100);
  });

  it('reserves nothing with reservedConcurrency: false (accounts whose limit is still low)', () => {
    const reserved = reservedIn(templateWith({ reservedConcurrency: false }), idOf);

    expect(Object.values(reserved).filter((value) => value !== undefined)).toEqual([]);
  });

  it('merges overrides over the defaults; null leaves one function unreserved', () => {
    const reserved = reservedIn(templateWith({ reservedConcurrency: { recommend: 50, events: null } }), idOf);

    expect(reserved).toEqual({ ...DEFAULT_RESERVED_CONCURRENCY, recommend: 50, events: undefined });
  });

  it.each([0, -3, 1.5])('refuses a reservation of %s, naming the function', (value) => {
    expect(() => templateWith({ reservedConcurrency: { events: value } })).toThrow(
      `reservedConcurrency.events must be a whole number of at least 1, or null for unreserved, got ${value}`,
    );
  });
});

describe('WAF', () => {
  const webAclId = (): string => logicalIdOf(childAt(stack, 'Firewall/WebAcl'));
  const rulesOf = (source: Template): WebAclRule[] => Object.values(source.findResources('AWS::WAFv2::WebACL'))[0].Properties.Rules;

  it('is a regional web ACL that allows what no rule blocks', () => {
    expect(propertiesOf(template, webAclId(), 'AWS::WAFv2::WebACL')).toMatchObject({ Scope: 'REGIONAL', DefaultAction: { Allow: {} } });
  });

  it('is associated with the API stage', () => {
    const associations = Object.values(template.findResources('AWS::WAFv2::WebACLAssociation')).map((association) => association.Properties);
    const stageId = logicalIdOf(childAt(stack, 'Api/Api/DeploymentStage.v1'));

    expect(associations).toHaveLength(1);
    expect(associations[0].WebACLArn).toEqual(getAttArn(webAclId()));
    expect(renderIntrinsic(associations[0].ResourceArn)).toBe(
      `arn:\${Ref:AWS::Partition}:apigateway:\${Ref:AWS::Region}::/restapis/\${Ref:${restApiId()}}/stages/\${Ref:${stageId}}`,
    );
  });

  it('blocks an IP past the per-IP rate with 429, before any other rule', () => {
    const [first] = rulesOf(template);

    expect(first).toMatchObject({
      Name: 'RateLimitPerIp',
      Priority: 0,
      Action: { Block: { CustomResponse: { ResponseCode: 429 } } },
      Statement: { RateBasedStatement: { Limit: DEFAULT_RATE_LIMIT_PER_IP, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } },
      VisibilityConfig: { CloudWatchMetricsEnabled: true },
    });
  });

  it.each(['AWSManagedRulesCommonRuleSet', 'AWSManagedRulesKnownBadInputsRuleSet'])('applies the AWS managed %s with its own actions', (name) => {
    const rule = rulesOf(template).find((candidate) => candidate.Name === name);

    expect(rule).toMatchObject({ OverrideAction: { None: {} }, Statement: { ManagedRuleGroupStatement: { VendorName: 'AWS', Name: name } } });
  });

  it("only counts the common rule set's 8 KB body limit, which POST /events/batch exceeds by design", () => {
    const common = rulesOf(template).find((candidate) => candidate.Name === 'AWSManagedRulesCommonRuleSet')!;

    expect(common.Statement.ManagedRuleGroupStatement!.RuleActionOverrides).toEqual([{ Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } }]);
  });

  it('gives every rule a distinct priority', () => {
    const priorities = rulesOf(template).map((rule) => rule.Priority);

    expect(new Set(priorities).size).toBe(priorities.length);
  });

  it('takes the per-IP limit from the rateLimitPerIp prop', () => {
    const [first] = rulesOf(templateWith({ rateLimitPerIp: 600 }));

    expect(first.Statement.RateBasedStatement!.Limit).toBe(600);
  });

  it.each([5, 2_500.5, 3_000_000_000])("refuses a rateLimitPerIp of %s, naming WAF's bounds", (rateLimitPerIp) => {
    expect(() => templateWith({ rateLimitPerIp })).toThrow(
      `rateLimitPerIp must be an integer from 10 to 2000000000 (requests per IP per 5 minutes), got ${rateLimitPerIp}`,
    );
  });
});
