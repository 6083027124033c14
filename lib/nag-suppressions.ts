import { Stack, type CfnElement } from 'aws-cdk-lib';
import type { Method } from 'aws-cdk-lib/aws-apigateway';
import { AwsCustomResource } from 'aws-cdk-lib/custom-resources';
import type { IConstruct } from 'constructs';
import type { AbrecStack } from './abrec-stack.ts';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { DistributedTraining } from './constructs/distributed-training.ts';
import { NagSuppressions } from './cdk-nag.ts';
import { FUNCTIONS, ROUTES, type BucketAccess, type FunctionName, type RouteAuth } from './resources.ts';

/** The id cdk-nag gives a wildcard resource it finds in a policy: `Resource::<Logical.Arn>/models/*`. */
const arnFinding = (scope: IConstruct, suffix: string): string => {
  const element = (scope.node.defaultChild ?? scope) as CfnElement;
  return `Resource::<${Stack.of(scope).getLogicalId(element)}.Arn>${suffix}`;
};

/** The child at `path` (ids separated by '/'), failing loudly if CDK ever moves it. */
function childAt(scope: IConstruct, path: string): IConstruct {
  return path.split('/').reduce<IConstruct>((parent, id) => {
    const child = parent.node.tryFindChild(id);
    if (!child) throw new Error(`applyNagSuppressions: no construct "${id}" under ${parent.node.path}`);
    return child;
  }, scope);
}

const METHOD_REASONS: Record<RouteAuth, { APIG4?: string; COG4: string }> = {
  apiKey: {
    APIG4:
      "A public route: callers present the API key of a throttled usage plan (the product's client model: the key ships in client apps), and the WAF limits each IP; there is no end-user identity to authorize.",
    COG4: 'A public route for client apps holding the API key; there is no end-user identity, so no Cognito user pool.',
  },
  admin: {
    COG4: 'An admin route authorized by IAM (SigV4), which is the stronger control here; operators are IAM principals, not Cognito users.',
  },
  none: {
    APIG4:
      'GET /health is intentionally open so load balancers and uptime checks can call it; it reveals only ok/unavailable per dependency, and the WAF rate rule limits it.',
    COG4: 'GET /health is intentionally open (liveness and dependency check); there is no identity to check.',
  },
};

/**
 * Every cdk-nag AwsSolutions finding this stack accepts, each on the resource it concerns and,
 * for wildcard findings, on exactly the wildcards named (appliesTo), with the reason. Nothing is
 * suppressed stack-wide. Applied by the app and by the infra tests, which fail on any
 * unsuppressed finding and on any suppression that no longer matches a finding.
 */
export function applyNagSuppressions(stack: AbrecStack): void {
  const bucket = stack.artifacts.bucket;
  if (stack.distributedTraining) {
    applyDistributedTrainingNagSuppressions(stack.distributedTraining, bucket);
    // The retraining state machine runs the distributed train step for ALS models.
    applyTrainStepNagSuppressions(stack.retraining.stateMachine, stack.distributedTraining, bucket);
  }

  for (const [name, fn] of Object.entries(stack.functions) as [FunctionName, (typeof stack.functions)[FunctionName]][]) {
    NagSuppressions.addResourceSuppressions(fn, [
      {
        id: 'AwsSolutions-L1',
        reason:
          'The function pins nodejs22.x, the runtime the code is bundled (esbuild target node22) and tested for; moving runtime is a deliberate, tested change.',
      },
    ]);
    const access: BucketAccess = ('bucket' in FUNCTIONS[name] ? FUNCTIONS[name].bucket : undefined) ?? {};
    // Only patterns with a wildcard are findings (a single key such as datasets/snapshots/latest.json is not).
    const keyPatterns = [...new Set([...(access.read ?? []), ...(access.write ?? [])])].filter((pattern) => pattern.includes('*'));
    NagSuppressions.addResourceSuppressions(childAt(fn.role!, 'DefaultPolicy'), [
      {
        id: 'AwsSolutions-IAM5',
        reason:
          'Resource * is only xray:PutTraceSegments/PutTelemetryRecords (active tracing), which have no resource-level permissions. ' +
          'The artifacts bucket wildcards are key prefixes (models/*, reports/*, datasets/*): s3:GetObject or s3:PutObject on the keys this function reads or writes, never a delete.',
        appliesTo: ['Resource::*', ...keyPatterns.map((pattern) => arnFinding(bucket, `/${pattern}`))],
      },
    ]);
  }

  for (const method of stack.api.api.methods as Method[]) {
    if (method.httpMethod === 'OPTIONS') continue;
    const route = ROUTES.find((candidate) => candidate.path === method.resource.path && candidate.method === method.httpMethod);
    if (!route) throw new Error(`applyNagSuppressions: ${method.httpMethod} ${method.resource.path} is not a route of ROUTES`);
    const reasons = METHOD_REASONS[route.auth];
    NagSuppressions.addResourceSuppressions(method, [
      ...(reasons.APIG4 ? [{ id: 'AwsSolutions-APIG4', reason: reasons.APIG4 }] : []),
      { id: 'AwsSolutions-COG4', reason: reasons.COG4 },
    ]);
  }

  NagSuppressions.addResourceSuppressions(childAt(stack.api.api, 'CloudWatchRole'), [
    {
      id: 'AwsSolutions-IAM4',
      reason: "AmazonAPIGatewayPushToCloudWatchLogs is the AWS-managed policy API Gateway's account-level logging role is designed for; it only writes logs.",
      appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs'],
    },
  ]);

  const retrainingFunctions = [
    stack.functions.retrainSnapshot,
    stack.functions.retrainTrain,
    stack.functions.retrainEvaluate,
    stack.functions.retrainPublish,
    stack.functions.retrainSwitch,
    stack.functions.retrainRestore,
  ];
  NagSuppressions.addResourceSuppressions(childAt(stack.retraining.stateMachine.role, 'DefaultPolicy'), [
    {
      id: 'AwsSolutions-IAM5',
      reason:
        "The :* wildcards are the versions and aliases of the six retraining functions the tasks invoke (CDK's LambdaInvoke grant). " +
        'Resource * is the log-delivery actions (logs:CreateLogDelivery and friends) and X-Ray, which have no resource-level permissions.',
      appliesTo: ['Resource::*', ...retrainingFunctions.map((fn) => arnFinding(fn, ':*'))],
    },
  ]);

  // The AwsCustomResource provider is a CDK-managed singleton function that writes the default
  // pointers (conditional PutObject, artifact-store.ts) at deploy time; its managed policy is CDK's.
  const sdkCalls = stack.node.tryFindChild(`AWS${AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '')}`);
  if (sdkCalls) {
    NagSuppressions.addResourceSuppressions(childAt(sdkCalls, 'ServiceRole'), [
      {
        id: 'AwsSolutions-IAM4',
        reason:
          'The AwsCustomResource provider role is created by aws-cdk-lib with AWSLambdaBasicExecutionRole for its logs; it runs only during deployments, and its own policy allows s3:PutObject on the default pointer keys only.',
        appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
      },
    ]);
  }

  // The BucketDeployment provider is a CDK-managed singleton function that copies the bundled
  // defaults into the bucket at deploy time; its role and runtime are CDK's.
  const deployment = stack.node.children.find((child) => child.node.id.startsWith('Custom::CDKBucketDeployment'));
  if (deployment) {
    NagSuppressions.addResourceSuppressions(deployment, [
      { id: 'AwsSolutions-L1', reason: 'The BucketDeployment provider function and its runtime are managed by aws-cdk-lib; it runs only during deployments.' },
    ]);
    NagSuppressions.addResourceSuppressions(childAt(deployment, 'ServiceRole'), [
      {
        id: 'AwsSolutions-IAM4',
        reason: 'The BucketDeployment provider role is created by aws-cdk-lib with AWSLambdaBasicExecutionRole for its logs; it runs only during deployments.',
        appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
      },
    ]);
    NagSuppressions.addResourceSuppressions(childAt(deployment, 'ServiceRole/DefaultPolicy'), [
      {
        id: 'AwsSolutions-IAM5',
        reason:
          "aws-cdk-lib's BucketDeployment grant: it reads the staged assets from the CDK assets bucket (cdk-*-assets-*/*) and copies them into the artifacts bucket (bucket/*). " +
          'Its s3:DeleteObject* is part of that grant even without pruning (prune is false here, so it deletes nothing).',
        appliesTo: [
          'Action::s3:GetObject*',
          'Action::s3:GetBucket*',
          'Action::s3:List*',
          'Action::s3:Abort*',
          'Action::s3:DeleteObject*',
          arnFinding(bucket, '/*'),
          // The CDK assets bucket: the bootstrap qualifier (hnb659fds by default) varies by account
          // setup, and the partition, account and region are literal when the app knows them.
          { regex: '/^Resource::arn:(<AWS::Partition>|aws[a-z-]*):s3:::cdk-[a-z0-9]+-assets-(<AWS::AccountId>|\\d{12})-(<AWS::Region>|[a-z0-9-]+)\\/\\*$/g' },
        ],
      },
    ]);
  }
}

/**
 * The findings of the distributed train step (trainingEngine 'emr-serverless' or 'sagemaker'):
 * the job role's key-prefix wildcards and, for SageMaker, the two actions without resource-level
 * permissions. Applied by applyNagSuppressions when the stack has the engine.
 */
export function applyDistributedTrainingNagSuppressions(training: DistributedTraining, bucket: IBucket): void {
  NagSuppressions.addResourceSuppressions(childAt(training.jobRole, 'DefaultPolicy'), [
    {
      id: 'AwsSolutions-IAM5',
      reason:
        "The job role's wildcards are key prefixes of the artifacts bucket: s3:GetObject on the scripts (training/code/*), the training data (datasets/*) and existing manifests (models/*/*/manifest.json, to skip an existing version), " +
        's3:PutObject on artifact versions (models/*/*/*, which cannot match a models/<id>/latest.json pointer), its candidates (training-runs/*) and Spark logs (training-logs/*); never a delete. ' +
        (training.engine === 'sagemaker'
          ? "Resource * is only ecr:GetAuthorizationToken and cloudwatch:PutMetricData (the latter limited to the /aws/sagemaker/TrainingJobs namespace), which have no resource-level permissions; the log-stream wildcard is the training jobs' own log group."
          : ''),
      appliesTo: trainingJobFindings(training, bucket),
    },
  ]);
}

function trainingJobFindings(training: DistributedTraining, bucket: IBucket): string[] {
  const prefixes = ['training/code/*', 'datasets/*', 'models/*/*/manifest.json', 'models/*/*/*', 'training-runs/*'];
  if (training.engine === 'emr-serverless') prefixes.push('training-logs/*');
  return [
    ...prefixes.map((pattern) => arnFinding(bucket, `/${pattern}`)),
    ...(training.engine === 'sagemaker'
      ? ['Resource::*', 'Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/TrainingJobs:*']
      : []),
  ];
}

/**
 * The findings on a state machine whose definition holds DistributedTraining.trainStep(): the
 * candidates it reads back (training-runs/*) and the job runs of the application (jobruns/*).
 */
export function applyTrainStepNagSuppressions(stateMachine: StateMachine, training: DistributedTraining, bucket: IBucket): void {
  const spark = training.engine === 'emr-serverless';
  NagSuppressions.addResourceSuppressions(childAt(stateMachine.role, 'DefaultPolicy'), [
    {
      id: 'AwsSolutions-IAM5',
      reason:
        "The train step reads back its job's candidate (s3:GetObject on training-runs/*, the key is a fresh id per run). " +
        (spark
          ? 'The jobruns/* wildcard is the runs of the one EMR Serverless application (GetJobRun and CancelJobRun, to follow the .sync run). '
          : "The training-job/* wildcard and part of Resource * are what the SageMakerCreateTrainingJob .sync integration needs: create, describe and stop the jobs it names at run time, and its managed EventBridge rule for the job's end. ") +
        'Resource * is otherwise the log-delivery actions and X-Ray of a state machine with logging and tracing, which have no resource-level permissions.',
      appliesTo: [
        arnFinding(bucket, `/training-runs/*`),
        'Resource::*',
        spark
          ? `Resource::<${Stack.of(training).getLogicalId(training.application!)}.Arn>/jobruns/*`
          : 'Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/*',
      ],
    },
  ]);
}
