/**
 * The trainingEngine stack option (issue 13, item 4): with 'emr-serverless' or 'sagemaker' the
 * stack holds the job's engine, its role narrowed to its own prefixes, the scripts deployed from
 * training/, and DistributedTraining.trainStep() renders the .sync job, the candidate read-back
 * and the candidate in the Lambda train step's shape. cdk-nag runs over each variant.
 */
import { App, Aspects } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { DefinitionBody, LogLevel, StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbrecStack } from '../../lib/abrec-stack.ts';
import { AwsSolutionsChecks } from '../../lib/cdk-nag.ts';
import { parseTrainingEngine, TRAINING_CODE_DIR } from '../../lib/constructs/distributed-training.ts';
import { applyNagSuppressions, applyTrainStepNagSuppressions } from '../../lib/nag-suppressions.ts';
import { ARTIFACTS_BUCKET } from '../../lib/resources.ts';
import {
  allowsOn,
  buildAbrecApp,
  childAt,
  DEFAULT_ARTIFACTS_DIR,
  logicalIdOf,
  objectArn,
  removeAssembly,
  statementsOfRole,
  type PolicyStatement,
  type State,
  type StateMachineDefinition,
} from './support/synth.ts';

type Engine = 'emr-serverless' | 'sagemaker';

/** A Task state, whose Parameters (typed by `P`) are what the tests read of it. */
interface TaskState<P extends Record<string, unknown> = Record<string, unknown>> extends State {
  Resource: string;
  Parameters: P;
}

/** The train step: a Parallel state with one branch (Pass, the .sync job, the candidate read-back). */
interface TrainStep extends State {
  Branches: StateMachineDefinition[];
}

/** The Parameters of the EMR Serverless StartJobRun task, with the ones these tests read typed. */
interface StartJobRunParameters extends Record<string, unknown> {
  JobDriver: { SparkSubmit: { EntryPoint: string; SparkSubmitParameters: string; 'EntryPointArguments.$': string } };
  ConfigurationOverrides: { MonitoringConfiguration: { S3MonitoringConfiguration: { LogUri: string } } };
}

/** The Parameters of the SageMaker CreateTrainingJob task, with the ones these tests read typed. */
interface CreateTrainingJobParameters extends Record<string, unknown> {
  HyperParameters: Record<string, unknown>;
  InputDataConfig: unknown[];
  ResourceConfig: Record<string, unknown>;
  RoleArn: string;
  AlgorithmSpecification: { TrainingImage: string };
}

interface Built {
  app: App;
  stack: AbrecStack;
  template: Template;
  bucketId: string;
  jobRole: PolicyStatement[];
  probeRole: PolicyStatement[];
  /** The probe state machine's definition (a state machine whose only state is trainStep()). */
  definition: { StartAt: string; States: Record<string, TrainStep> };
}

const built = new Map<Engine, Built>();

/** The stack with the engine and a probe state machine holding only the train step, nag applied. */
function build(engine: Engine): Built {
  const { app, stack } = buildAbrecApp({ props: { trainingEngine: engine }, bundle: false });
  const training = stack.distributedTraining!;
  const probe = new StateMachine(stack, 'TrainStepProbe', {
    definitionBody: DefinitionBody.fromChainable(training.trainStep()),
    tracingEnabled: true,
    logs: { destination: new LogGroup(stack, 'TrainStepProbeLogs'), level: LogLevel.ALL },
  });
  applyNagSuppressions(stack);
  applyTrainStepNagSuppressions(probe, training, stack.artifacts.bucket);
  Aspects.of(app).add(new AwsSolutionsChecks());
  const template = Template.fromStack(stack);
  const probeProps = template.findResources('AWS::StepFunctions::StateMachine')[logicalIdOf(probe)].Properties as { DefinitionString: unknown };
  return {
    app,
    stack,
    template,
    bucketId: logicalIdOf(childAt(stack, `Artifacts/${ARTIFACTS_BUCKET.id}`)),
    jobRole: statementsOfRole(template, logicalIdOf(training.jobRole)),
    probeRole: statementsOfRole(template, logicalIdOf(probe.role)),
    definition: JSON.parse(renderDefinition(probeProps.DefinitionString)),
  };
}

/** The definition's JSON with every CloudFormation value written as a placeholder string. */
function renderDefinition(value: unknown): string {
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) return value as string;
  return join[1].map((part) => (typeof part === 'string' ? part : `<${JSON.stringify(part).replace(/"/g, "'")}>`)).join(join[0]);
}

beforeAll(() => {
  for (const engine of ['emr-serverless', 'sagemaker'] as const) built.set(engine, build(engine));
});

afterAll(() => {
  for (const { app } of built.values()) removeAssembly(app);
});

const ENGINES = [['emr-serverless'], ['sagemaker']] as [Engine][];

describe('trainingEngine', () => {
  it('defaults to lambda: no engine, no job role, no scripts deployed', () => {
    const { app, stack } = buildAbrecApp({ bundle: false });
    try {
      const template = Template.fromStack(stack);

      expect(stack.distributedTraining).toBeUndefined();
      template.resourceCountIs('AWS::EMRServerless::Application', 0);
      expect(JSON.stringify(template.toJSON())).not.toContain('training/code/');
    } finally {
      removeAssembly(app);
    }
  });

  it('is read from the CDK context abrec:trainingEngine, and a bad value names where it came from', () => {
    const app = new App({ context: { 'abrec:trainingEngine': 'sagemaker', 'aws:cdk:bundling-stacks': [] } });
    const stack = new AbrecStack(app, 'FromContext', { defaultArtifactsDir: DEFAULT_ARTIFACTS_DIR });
    const bad = new App({ context: { 'abrec:trainingEngine': 'spark' } });

    expect(stack.distributedTraining?.engine).toBe('sagemaker');
    expect(() => new AbrecStack(bad, 'Bad', { defaultArtifactsDir: DEFAULT_ARTIFACTS_DIR })).toThrow(
      'context abrec:trainingEngine must be one of lambda, emr-serverless, sagemaker, got "spark"',
    );
    expect(() => parseTrainingEngine('EMR', 'trainingEngine')).toThrow('trainingEngine must be one of');
    removeAssembly(app);
  });
});

describe.each(ENGINES)('trainingEngine %s', (engine) => {
  it('deploys the scripts of training/ to training/code/, never pruning', () => {
    const { template, bucketId } = built.get(engine)!;
    const deployments = Object.values(template.findResources('Custom::CDKBucketDeployment')).filter(
      (d) => (d.Properties as { DestinationBucketKeyPrefix?: string }).DestinationBucketKeyPrefix === 'training/code/',
    );

    expect(deployments).toHaveLength(1);
    expect(deployments[0].Properties).toMatchObject({ DestinationBucketName: { Ref: bucketId }, Prune: false });
    expect(readdirSync(TRAINING_CODE_DIR)).toEqual(expect.arrayContaining(['artifact_writer.py', 'spark_als.py', 'sagemaker_als.py']));
  });

  it("gives the job's role only its own prefixes: reads scripts and data, writes versions and its candidate, never a pointer, never a delete", () => {
    const { jobRole, bucketId } = built.get(engine)!;
    const on = (key: string) => objectArn(bucketId, key);

    expect(allowsOn(jobRole, 's3:GetObject', on('training/code/spark_als.py'))).toBe(true);
    expect(allowsOn(jobRole, 's3:GetObject', on('datasets/snapshots/run-1/u.data'))).toBe(true);
    expect(allowsOn(jobRole, 's3:PutObject', on('models/als/0123456789abcdef/manifest.json'))).toBe(true);
    expect(allowsOn(jobRole, 's3:PutObject', on('training-runs/abc/candidate.json'))).toBe(true);

    expect(allowsOn(jobRole, 's3:PutObject', on('models/als/latest.json'))).toBe(false);
    expect(allowsOn(jobRole, 's3:PutObject', on('datasets/ratings/u.data'))).toBe(false);
    expect(allowsOn(jobRole, 's3:PutObject', on('training/code/spark_als.py'))).toBe(false);
    expect(allowsOn(jobRole, 's3:GetObject', on('reports/exp/2026-12-01/report.json'))).toBe(false);
    expect(allowsOn(jobRole, 's3:GetObject', on('models/als/latest.json'))).toBe(false);
    for (const action of ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutBucketPolicy']) {
      expect(allowsOn(jobRole, action, on('models/als/0123456789abcdef/manifest.json'))).toBe(false);
    }
  });

  it('renders the train step as one Parallel state whose result has the Lambda candidate shape', () => {
    const { definition } = built.get(engine)!;
    const step = definition.States[definition.StartAt];

    expect(step.Type).toBe('Parallel');
    expect(step.ResultPath).toBe('$.candidate');
    expect(step.ResultSelector).toEqual({
      'model_id.$': '$[0].candidate.model_id',
      'model_version.$': '$[0].candidate.model_version',
      'algorithm.$': '$[0].candidate.algorithm',
      'metrics.$': '$[0].candidate.metrics',
    });
    const branch = step.Branches[0];
    const order: string[] = [];
    for (let name: string | undefined = branch.StartAt; name; name = branch.States[name].Next) order.push(name);
    expect(order.map((name) => branch.States[name].Type)).toEqual(['Pass', 'Task', 'Task']);
    const read = branch.States[order[2]] as TaskState;
    expect(read.Resource).toContain(':states:::aws-sdk:s3:getObject');
    expect(read.Parameters['Key.$']).toBe("States.Format('training-runs/{}/candidate.json', $.training_run.id)");
    expect(read.ResultSelector).toEqual({ 'candidate.$': 'States.StringToJson($.Body)' });
  });

  it('lets the state machine read only the candidates, not the artifacts or pointers', () => {
    const { probeRole, bucketId } = built.get(engine)!;

    expect(allowsOn(probeRole, 's3:GetObject', objectArn(bucketId, 'training-runs/abc/candidate.json'))).toBe(true);
    expect(allowsOn(probeRole, 's3:GetObject', objectArn(bucketId, 'models/als/latest.json'))).toBe(false);
    expect(allowsOn(probeRole, 's3:PutObject', objectArn(bucketId, 'models/als/latest.json'))).toBe(false);
  });

  it("reports no unsuppressed cdk-nag finding on the engine's resources and on a state machine running the step", () => {
    const { stack } = built.get(engine)!;
    const found = Annotations.fromStack(stack);
    // The rest of the stack is nag.test.ts's; here only what the option adds.
    const ours = (id: string) =>
      ['/AbrecStack/DistributedTraining/', '/AbrecStack/TrainStepProbe', '/AbrecStack/Custom::CDKBucketDeployment'].some((prefix) => id.startsWith(prefix));
    const messages = [
      ...found.findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
      ...found.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ].filter((m) => ours(m.id));

    expect(messages.map((m) => `${m.id}: ${String(m.entry.data).trim()}`)).toEqual([]);
  });
});

describe('trainingEngine emr-serverless', () => {
  it('defines a Spark application that stops when idle', () => {
    built.get('emr-serverless')!.template.hasResourceProperties('AWS::EMRServerless::Application', {
      Type: 'SPARK',
      ReleaseLabel: 'emr-7.5.0',
      AutoStopConfiguration: { Enabled: true, IdleTimeoutMinutes: 5 },
    });
  });

  it('starts the Spark job with the .sync integration, on the run snapshot and model of its input', () => {
    const { definition } = built.get('emr-serverless')!;
    const branch = definition.States[definition.StartAt].Branches[0];
    const job = branch.States[branch.States[branch.StartAt].Next!] as TaskState<StartJobRunParameters>;

    expect(job.Resource).toMatch(/:states:::emr-serverless:startJobRun\.sync$/);
    expect(job.Parameters.JobDriver.SparkSubmit.EntryPoint).toMatch(/^s3:\/\/.+\/training\/code\/spark_als\.py$/);
    expect(job.Parameters.JobDriver.SparkSubmit.SparkSubmitParameters).toMatch(/--py-files s3:\/\/.+\/training\/code\/artifact_writer\.py/);
    const args = job.Parameters.JobDriver.SparkSubmit['EntryPointArguments.$'];
    expect(args).toMatch(/^States\.Array\(/);
    expect(args).toContain("'--dataset-prefix', $.dataset_prefix");
    expect(args).toContain("'--model-id', $.model_id");
    expect(args).toContain("'--candidate-key', States.Format('training-runs/{}/candidate.json', $.training_run.id)");
    expect(job.Parameters.ConfigurationOverrides.MonitoringConfiguration.S3MonitoringConfiguration.LogUri).toMatch(/\/training-logs\/$/);
  });

  it('lets the state machine start, follow and cancel runs of its application only, and pass only the job role to EMR Serverless', () => {
    const { probeRole, stack, template } = built.get('emr-serverless')!;
    const appId = logicalIdOf(stack.distributedTraining!.application!);
    const roleId = logicalIdOf(stack.distributedTraining!.jobRole);
    const statement = (action: string) => probeRole.find((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]).includes(action));

    expect(statement('emr-serverless:StartJobRun')?.Resource).toEqual({ 'Fn::GetAtt': [appId, 'Arn'] });
    expect(statement('emr-serverless:GetJobRun')?.Resource).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [appId, 'Arn'] }, '/jobruns/*']] });
    expect(statement('iam:PassRole')).toMatchObject({
      Resource: { 'Fn::GetAtt': [roleId, 'Arn'] },
      Condition: { StringEquals: { 'iam:PassedToService': 'emr-serverless.amazonaws.com' } },
    });
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'emr-serverless.amazonaws.com' } })] },
    });
  });
});

describe('trainingEngine sagemaker', () => {
  it('creates a training job (.sync) running sagemaker_als.py in script mode on the run snapshot and model of its input', () => {
    const { definition, stack } = built.get('sagemaker')!;
    const branch = definition.States[definition.StartAt].Branches[0];
    const job = branch.States[branch.States[branch.StartAt].Next!] as TaskState<CreateTrainingJobParameters>;

    expect(job.Resource).toMatch(/:states:::sagemaker:createTrainingJob\.sync$/);
    expect(job.Parameters.HyperParameters).toMatchObject({
      sagemaker_program: 'sagemaker_als.py',
      sagemaker_submit_directory: '/opt/ml/input/data/code',
      'dataset-prefix.$': '$.dataset_prefix',
      'model-id.$': '$.model_id',
      'candidate-key.$': "States.Format('training-runs/{}/candidate.json', $.training_run.id)",
    });
    expect(job.Parameters.InputDataConfig).toEqual([
      expect.objectContaining({
        ChannelName: 'code',
        DataSource: { S3DataSource: expect.objectContaining({ S3Uri: expect.stringMatching(/\/training\/code\/$/) }) },
      }),
    ]);
    expect(job.Parameters.ResourceConfig).toMatchObject({ InstanceCount: 1, InstanceType: 'ml.m5.4xlarge', VolumeSizeInGB: 50 });
    expect(job.Parameters.RoleArn).toContain(logicalIdOf(stack.distributedTraining!.jobRole));
    expect(job.Parameters.AlgorithmSpecification.TrainingImage).toContain('sagemaker-scikit-learn:1.2-1-cpu-py3');
  });
});

describe.each(ENGINES)('the retraining workflow with trainingEngine %s', (engine) => {
  /** The retraining state machine's definition in the stack built with the engine. */
  function retrainingDefinition(): {
    States: Record<string, { Type: string; ItemProcessor?: { StartAt: string; States: Record<string, Record<string, unknown>> } }>;
  } {
    const { stack, template } = built.get(engine)!;
    const props = template.findResources('AWS::StepFunctions::StateMachine')[logicalIdOf(stack.retraining.stateMachine)].Properties as {
      DefinitionString: unknown;
    };
    return JSON.parse(renderDefinition(props.DefinitionString));
  }

  it('trains ALS models on the engine and every other algorithm on the train Lambda, then evaluates either the same way', () => {
    // Act
    const processor = retrainingDefinition().States.TrainEach.ItemProcessor!;

    // Assess
    expect(processor.StartAt).toBe('TrainOn');
    expect(processor.States.TrainOn).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.algorithm', StringEquals: 'als', Next: 'TrainOnEngine' }],
      Default: 'Train',
    });
    expect(processor.States.TrainOnEngine).toMatchObject({ Type: 'Parallel', ResultPath: '$.candidate', Next: 'Evaluate' });
    expect(processor.States.Train).toMatchObject({ Type: 'Task', ResultPath: '$.candidate', Next: 'Evaluate' });
  });

  it('reports no unsuppressed cdk-nag finding on the retraining state machine running the engine', () => {
    // Act
    const found = Annotations.fromStack(built.get(engine)!.stack);

    // Assess
    const messages = [
      ...found.findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
      ...found.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ].filter((m) => m.id.startsWith('/AbrecStack/Retraining/'));
    expect(messages.map((m) => `${m.id}: ${String(m.entry.data).trim()}`)).toEqual([]);
  });
});
