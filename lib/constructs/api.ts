import { Duration, Stack } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  ApiKeySourceType,
  AuthorizationType,
  Cors,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  Period,
  RequestValidator,
  RestApi,
  type IApiKey,
  type IResource,
} from 'aws-cdk-lib/aws-apigateway';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { API_THROTTLE, ROUTES, type FunctionName } from '../resources.ts';

/** Props of {@link RecommendationApi}. */
export interface RecommendationApiProps {
  /** The function serving each concern; every function named by a route must be present. */
  readonly functions: Partial<Record<FunctionName, IFunction>>;
  /** Stage name. @default 'v1' */
  readonly stageName?: string;
}

/**
 * The REST API: every route of resources.ts, proxied to its function. Public routes need an
 * API key under a throttled usage plan; admin routes need IAM (SigV4), so a public API key
 * alone never reaches them.
 */
export class RecommendationApi extends Construct {
  public readonly api: RestApi;
  public readonly apiKey: IApiKey;

  constructor(scope: Construct, id: string, props: RecommendationApiProps) {
    super(scope, id);
    for (const route of ROUTES) {
      if (!props.functions[route.function]) {
        throw new Error(`RecommendationApi: route ${route.method} ${route.path} needs the "${route.function}" function`);
      }
    }
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: RetentionDays.THREE_MONTHS });
    this.api = new RestApi(this, 'Api', {
      // Unique per stack: API Gateway's metrics (and so the alarms) are keyed by this name, and a
      // second API called 'Api' in the account would blend into them.
      restApiName: `${Stack.of(this).stackName}-api`,
      description: 'A/B testing for recommendation models',
      apiKeySourceType: ApiKeySourceType.HEADER,
      cloudWatchRole: true,
      deployOptions: {
        stageName: props.stageName ?? 'v1',
        tracingEnabled: true,
        loggingLevel: MethodLoggingLevel.ERROR,
        metricsEnabled: true,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
        throttlingRateLimit: API_THROTTLE.rateLimit,
        throttlingBurstLimit: API_THROTTLE.burstLimit,
      },
      defaultCorsPreflightOptions: {
        allowOrigins: Cors.ALL_ORIGINS,
        allowMethods: ['GET', 'POST', 'PATCH', 'OPTIONS'],
        allowHeaders: ['Content-Type', 'X-Api-Key', 'Authorization', 'X-Amz-Date', 'X-Amz-Security-Token'],
        maxAge: Duration.hours(1),
      },
    });
    const validator = new RequestValidator(this, 'Validator', {
      restApi: this.api,
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const integrations = new Map<FunctionName, LambdaIntegration>();
    for (const route of ROUTES) {
      const resource = route.path
        .split('/')
        .filter(Boolean)
        .reduce<IResource>((parent, part) => parent.getResource(part) ?? parent.addResource(part), this.api.root);
      let integration = integrations.get(route.function);
      if (!integration) {
        integration = new LambdaIntegration(props.functions[route.function]!, { proxy: true });
        integrations.set(route.function, integration);
      }
      resource.addMethod(route.method, integration, {
        apiKeyRequired: route.auth === 'apiKey',
        authorizationType: route.auth === 'admin' ? AuthorizationType.IAM : AuthorizationType.NONE,
        requestValidator: validator,
        requestParameters: route.path === '/recommend' ? { 'method.request.querystring.user_id': true } : undefined,
      });
    }
    const plan = this.api.addUsagePlan('PublicPlan', {
      description: 'Throttled access for recommendation and event clients',
      throttle: { rateLimit: API_THROTTLE.rateLimit, burstLimit: API_THROTTLE.burstLimit },
      quota: { limit: API_THROTTLE.quotaPerDay, period: Period.DAY },
    });
    plan.addApiStage({ stage: this.api.deploymentStage });
    this.apiKey = this.api.addApiKey('PublicKey', { description: 'Public API key for /recommend and /events' });
    plan.addApiKey(this.apiKey);
  }
}
