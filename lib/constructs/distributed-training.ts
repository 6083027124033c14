import { Aws, CfnMapping, Duration, Size, Stack } from 'aws-cdk-lib';
import { InstanceType } from 'aws-cdk-lib/aws-ec2';
import { CfnApplication } from 'aws-cdk-lib/aws-emrserverless';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
import {
  IntegrationPattern,
  JsonPath,
  Parallel,
  Pass,
  QueryLanguage,
  TaskStateBase,
  type TaskMetricsConfig,
  type TaskStateBaseProps,
} from 'aws-cdk-lib/aws-stepfunctions';
import { CallAwsService, DockerImage, InputMode, S3Location, SageMakerCreateTrainingJob, type S3LocationConfig } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { fileURLToPath } from 'node:url';

/** Where the retraining's train step runs. */
export const TRAINING_ENGINES = ['lambda', 'emr-serverless', 'sagemaker'] as const;
export type TrainingEngine = (typeof TRAINING_ENGINES)[number];

/** Reads a training engine from a prop or the CDK context; the error names where it came from. */
export function parseTrainingEngine(value: unknown, source: string): TrainingEngine {
  if (value === undefined) return 'lambda';
  if (typeof value === 'string' && (TRAINING_ENGINES as readonly string[]).includes(value)) return value as TrainingEngine;
  throw new Error(`${source} must be one of ${TRAINING_ENGINES.join(', ')}, got ${JSON.stringify(value)}`);
}

/** The key prefixes of the artifacts bucket the engines use (beside models/ and datasets/). */
export const TRAINING_PREFIXES = {
  /** The job scripts (training/ of the repository), deployed by the stack. */
  code: 'training/code/',
  /** One candidate.json per job run, read back by the state machine. */
  runs: 'training-runs/',
  /** Spark driver and executor logs. */
  logs: 'training-logs/',
} as const;

/** Settings of the distributed ALS job. */
export interface DistributedAlsSettings {
  readonly factors: number;
  readonly iterations: number;
  /** Spark: regParam (scaled per row, ALS-WR); SageMaker (numpy): the absolute reg of the TypeScript trainer. */
  readonly reg: number;
  readonly alpha: number;
}

/** Props of {@link DistributedTraining}. */
export interface DistributedTrainingProps {
  /** The engine. 'lambda' needs no construct: the stack keeps the train function. */
  readonly engine: Exclude<TrainingEngine, 'lambda'>;
  /** The artifacts bucket: snapshots in, artifacts out. */
  readonly bucket: IBucket;
  /** Key prefixes the job may read training data from. @default ['datasets/'] (the base data set and the run snapshots) */
  readonly dataPrefixes?: readonly string[];
  /** ALS settings. @default 14 factors, 25 iterations (Spark) or 15 (SageMaker), reg 0.1 (Spark) or 60 (SageMaker), alpha 3 */
  readonly als?: Partial<DistributedAlsSettings>;
  /** EMR release of the Serverless application. @default 'emr-7.5.0' */
  readonly emrReleaseLabel?: string;
  /** Most vCPU / memory the application may hold at once. @default '200 vCPU' / '800 GB' */
  readonly emrMaximumCapacity?: { cpu: string; memory: string };
  /**
   * Image of the SageMaker job (a script-mode container with numpy and boto3). @default the
   * SageMaker scikit-learn 1.2-1 CPU image of the stack's region (mapped for us-east-1, us-east-2,
   * us-west-2, eu-west-1, eu-central-1, ap-northeast-1; other regions must set it)
   */
  readonly sagemakerImage?: { account: string; repository: string; tag: string };
  /** EC2 type name of the SageMaker instance (without ml.). @default 'm5.4xlarge' (16 vCPU, 64 GiB) */
  readonly sagemakerInstanceType?: string;
  /** Longest a job may run. @default 3 hours */
  readonly maxRuntime?: Duration;
}

/** The repository's training/ directory: the scripts every engine runs. */
export const TRAINING_CODE_DIR = fileURLToPath(new URL('../../training/', import.meta.url));

// The SageMaker scikit-learn images (AWS-owned ECR registries, one account per region).
const SKLEARN_IMAGE_ACCOUNTS: Record<string, string> = {
  'us-east-1': '683313688378',
  'us-east-2': '257758044811',
  'us-west-2': '246618743249',
  'eu-west-1': '141502667606',
  'eu-central-1': '492215442770',
  'ap-northeast-1': '354813040037',
};

/**
 * The train step on an existing distributed engine, behind the same artifact contract as the
 * Lambda train step: the job reads the run's snapshot under `dataset_prefix`, writes
 * `models/<model_id>/<version>/` (artifact_writer.py, abrec-factors/1) and a candidate JSON
 * under `training-runs/`, which the step reads back into `$.candidate`
 * ({model_id, model_version, algorithm, metrics}, as the Lambda returns it).
 *
 * - 'emr-serverless': Spark MLlib ALS (training/spark_als.py) on an EMR Serverless application,
 *   started with the Step Functions `emr-serverless:startJobRun.sync` integration.
 * - 'sagemaker': numpy ALS (training/sagemaker_als.py) as a SageMaker training job
 *   (SageMakerCreateTrainingJob, .sync), in the scikit-learn script-mode container.
 *
 * The job's role reads only the scripts and the data prefixes, and writes only artifact
 * versions (`models/<id>/<version>/<file>`, which cannot match `models/<id>/latest.json`), its
 * run's candidate and its logs: it can neither move a pointer nor delete anything.
 */
export class DistributedTraining extends Construct {
  public readonly engine: Exclude<TrainingEngine, 'lambda'>;
  /** The role the job runs as. */
  public readonly jobRole: Role;
  /** The EMR Serverless application ('emr-serverless' only). */
  public readonly application?: CfnApplication;
  /** The deployment of training/ to `training/code/`. */
  public readonly code: BucketDeployment;
  private readonly bucket: IBucket;
  private readonly props: DistributedTrainingProps;
  private readonly settings: DistributedAlsSettings;
  private image?: { account: string; repository: string; tag: string; uri: string };

  constructor(scope: Construct, id: string, props: DistributedTrainingProps) {
    super(scope, id);
    const dataPrefixes = props.dataPrefixes ?? ['datasets/'];
    for (const prefix of dataPrefixes) {
      if (!/^[a-z0-9][a-z0-9_./-]*\/$/.test(prefix) || prefix.startsWith('models/')) {
        throw new Error(`DistributedTraining: dataPrefixes must be key prefixes ending in '/' outside models/, got '${prefix}'`);
      }
    }
    this.engine = props.engine;
    this.bucket = props.bucket;
    this.props = props;
    const spark = props.engine === 'emr-serverless';
    this.settings = { factors: 14, iterations: spark ? 25 : 15, reg: spark ? 0.1 : 60, alpha: 3, ...props.als };

    this.code = new BucketDeployment(this, 'Code', {
      sources: [Source.asset(TRAINING_CODE_DIR, { exclude: ['__pycache__', '*.pyc'] })],
      destinationBucket: props.bucket,
      destinationKeyPrefix: TRAINING_PREFIXES.code,
      prune: false,
    });

    this.jobRole = new Role(this, 'JobRole', {
      assumedBy: new ServicePrincipal(spark ? 'emr-serverless.amazonaws.com' : 'sagemaker.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      description: `Runs the ${props.engine} training job: reads the scripts and the training data, writes artifact versions and its candidate`,
    });
    const objects = (pattern: string): string => props.bucket.arnForObjects(pattern);
    this.jobRole.addToPolicy(
      new PolicyStatement({
        sid: 'ReadScriptsAndData',
        actions: ['s3:GetObject'],
        resources: [objects(`${TRAINING_PREFIXES.code}*`), ...dataPrefixes.map((prefix) => objects(`${prefix}*`)), objects('models/*/*/manifest.json')],
      }),
    );
    this.jobRole.addToPolicy(
      new PolicyStatement({
        sid: 'ListOwnPrefixes',
        actions: ['s3:ListBucket'],
        resources: [props.bucket.bucketArn],
        conditions: {
          StringLike: {
            's3:prefix': [TRAINING_PREFIXES.code, ...dataPrefixes, 'models/', ...dataPrefixes.map((p) => `${p}*`), `${TRAINING_PREFIXES.code}*`, 'models/*'],
          },
        },
      }),
    );
    this.jobRole.addToPolicy(
      new PolicyStatement({
        sid: 'WriteVersionsAndCandidate',
        actions: ['s3:PutObject'],
        resources: [objects('models/*/*/*'), objects(`${TRAINING_PREFIXES.runs}*`), ...(spark ? [objects(`${TRAINING_PREFIXES.logs}*`)] : [])],
      }),
    );
    // No statement allows s3:PutObject on models/<id>/latest.json (two slashes, the pattern needs three).

    if (spark) {
      this.application = new CfnApplication(this, 'Application', {
        name: 'abrec-training',
        releaseLabel: props.emrReleaseLabel ?? 'emr-7.5.0',
        type: 'SPARK',
        autoStartConfiguration: { enabled: true },
        autoStopConfiguration: { enabled: true, idleTimeoutMinutes: 5 },
        maximumCapacity: props.emrMaximumCapacity ?? { cpu: '200 vCPU', memory: '800 GB' },
      });
    } else {
      const image = this.sagemakerImage();
      this.jobRole.addToPolicy(
        new PolicyStatement({
          sid: 'PullTrainingImage',
          actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
          resources: [`arn:${Aws.PARTITION}:ecr:${Aws.REGION}:${image.account}:repository/${image.repository}`],
        }),
      );
      this.jobRole.addToPolicy(new PolicyStatement({ sid: 'EcrLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
      this.jobRole.addToPolicy(
        new PolicyStatement({
          sid: 'TrainingJobLogs',
          actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
          resources: [`arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:/aws/sagemaker/TrainingJobs:*`],
        }),
      );
      this.jobRole.addToPolicy(
        new PolicyStatement({
          sid: 'TrainingJobMetrics',
          actions: ['cloudwatch:PutMetricData'],
          resources: ['*'],
          conditions: { StringEquals: { 'cloudwatch:namespace': '/aws/sagemaker/TrainingJobs' } },
        }),
      );
    }
  }

  private sagemakerImage(): { account: string; repository: string; tag: string; uri: string } {
    this.image ??= this.resolveSagemakerImage();
    return this.image;
  }

  private resolveSagemakerImage(): { account: string; repository: string; tag: string; uri: string } {
    const image = this.props.sagemakerImage;
    if (image) return { ...image, uri: `${image.account}.dkr.ecr.${Aws.REGION}.${Aws.URL_SUFFIX}/${image.repository}:${image.tag}` };
    const region = Stack.of(this).region;
    const known = Object.fromEntries(Object.entries(SKLEARN_IMAGE_ACCOUNTS).map(([name, account]) => [name, { account }]));
    const account = new CfnMapping(this, 'SklearnImageAccounts', { mapping: known, lazy: true }).findInMap(region, 'account');
    const repository = 'sagemaker-scikit-learn';
    const tag = '1.2-1-cpu-py3';
    return { account, repository, tag, uri: `${account}.dkr.ecr.${Aws.REGION}.${Aws.URL_SUFFIX}/${repository}:${tag}` };
  }

  /**
   * The train step for one model, to put where the Lambda Train task is: reads `$.model_id` and
   * `$.dataset_prefix` of its input and puts the candidate at `resultPath`. A Parallel of one
   * branch (run id → job, .sync → read the candidate), so the workflow can add its Retry and
   * Catch to a single state as it does to the Lambda task. Trains ALS only: a workflow training
   * other algorithms keeps the Lambda for them (a Choice on `$.algorithm`).
   */
  public trainStep(id = 'TrainDistributed', options: { resultPath?: string } = {}): Parallel {
    const runId = new Pass(this, `${id}RunId`, {
      comment: 'A fresh id for the job run and its candidate.json',
      parameters: { id: JsonPath.uuid() },
      resultPath: '$.training_run',
    });
    const candidateKey = JsonPath.format(`${TRAINING_PREFIXES.runs}{}/candidate.json`, JsonPath.stringAt('$.training_run.id'));
    const job = this.engine === 'emr-serverless' ? this.sparkJob(`${id}SparkJob`, candidateKey) : this.sagemakerJob(`${id}SageMakerJob`, candidateKey);
    const readCandidate = new CallAwsService(this, `${id}ReadCandidate`, {
      service: 's3',
      action: 'getObject',
      parameters: { Bucket: this.bucket.bucketName, Key: candidateKey },
      iamResources: [this.bucket.arnForObjects(`${TRAINING_PREFIXES.runs}*`)],
      iamAction: 's3:GetObject',
      resultSelector: { candidate: JsonPath.stringToJson(JsonPath.stringAt('$.Body')) },
    });
    const step = new Parallel(this, id, {
      comment: `Train on ${this.engine} (the artifact contract of the Lambda train step)`,
      resultPath: options.resultPath ?? '$.candidate',
      resultSelector: {
        model_id: JsonPath.stringAt('$[0].candidate.model_id'),
        model_version: JsonPath.stringAt('$[0].candidate.model_version'),
        algorithm: JsonPath.stringAt('$[0].candidate.algorithm'),
        metrics: JsonPath.objectAt('$[0].candidate.metrics'),
      },
    });
    step.branch(runId.next(job).next(readCandidate));
    return step;
  }

  private sparkJob(id: string, candidateKey: string): TaskStateBase {
    const code = `s3://${this.bucket.bucketName}/${TRAINING_PREFIXES.code}`;
    const s = this.settings;
    return new EmrServerlessStartJobRun(this, id, {
      application: this.application!,
      executionRole: this.jobRole,
      name: JsonPath.format('abrec-train-{}', JsonPath.stringAt('$.model_id')),
      entryPoint: `${code}spark_als.py`,
      entryPointArguments: JsonPath.array(
        '--bucket',
        this.bucket.bucketName,
        '--dataset-prefix',
        JsonPath.stringAt('$.dataset_prefix'),
        '--model-id',
        JsonPath.stringAt('$.model_id'),
        '--candidate-key',
        candidateKey,
        '--factors',
        String(s.factors),
        '--iterations',
        String(s.iterations),
        '--reg-param',
        String(s.reg),
        '--alpha',
        String(s.alpha),
      ),
      sparkSubmitParameters: `--py-files ${code}artifact_writer.py --conf spark.executor.memory=8g --conf spark.driver.memory=16g`,
      logUri: `s3://${this.bucket.bucketName}/${TRAINING_PREFIXES.logs}`,
      executionTimeout: this.props.maxRuntime ?? Duration.hours(3),
    });
  }

  private sagemakerJob(id: string, candidateKey: string): TaskStateBase {
    const s = this.settings;
    return new SageMakerCreateTrainingJob(this, id, {
      trainingJobName: JsonPath.format('abrec-{}', JsonPath.stringAt('$.training_run.id')),
      role: this.jobRole,
      algorithmSpecification: { trainingImage: DockerImage.fromRegistry(this.sagemakerImage().uri), trainingInputMode: InputMode.FILE },
      hyperparameters: {
        // Script mode: the toolkit runs sagemaker_program from the code channel's directory.
        sagemaker_program: 'sagemaker_als.py',
        sagemaker_submit_directory: '/opt/ml/input/data/code',
        bucket: this.bucket.bucketName,
        'dataset-prefix': JsonPath.stringAt('$.dataset_prefix'),
        'model-id': JsonPath.stringAt('$.model_id'),
        'candidate-key': candidateKey,
        factors: String(s.factors),
        iterations: String(s.iterations),
        reg: String(s.reg),
        alpha: String(s.alpha),
      },
      integrationPattern: IntegrationPattern.RUN_JOB,
      inputDataConfig: [{ channelName: 'code', dataSource: { s3DataSource: { s3Location: new GrantedS3Location(this.bucket, TRAINING_PREFIXES.code) } } }],
      outputDataConfig: { s3OutputLocation: new GrantedS3Location(this.bucket, `${TRAINING_PREFIXES.runs}sagemaker-output/`) },
      resourceConfig: {
        instanceCount: 1,
        // Rendered as ml.<type>.
        instanceType: new InstanceType(this.props.sagemakerInstanceType ?? 'm5.4xlarge'),
        volumeSize: Size.gibibytes(50),
      },
      stoppingCondition: { maxRuntime: this.props.maxRuntime ?? Duration.hours(3) },
    });
  }
}

/**
 * An S3 location whose access the job role already has from its own statements (scripts read,
 * training-runs/ written). S3Location.fromBucket would grant the bucket's read or write set,
 * which includes s3:DeleteObject* on the prefix.
 */
class GrantedS3Location extends S3Location {
  constructor(
    private readonly bucket: IBucket,
    private readonly keyPrefix: string,
  ) {
    super();
  }

  bind(): S3LocationConfig {
    return { uri: this.bucket.s3UrlForObject(this.keyPrefix) };
  }
}

/** Props of {@link EmrServerlessStartJobRun}. */
export interface EmrServerlessStartJobRunProps extends TaskStateBaseProps {
  readonly application: CfnApplication;
  readonly executionRole: Role;
  /** The job run's name (a JsonPath expression allowed). */
  readonly name: string;
  readonly entryPoint: string;
  /** A JsonPath expression (e.g. JsonPath.array(...)) giving the script's arguments. */
  readonly entryPointArguments: string;
  readonly sparkSubmitParameters: string;
  /** Where the job writes its Spark logs. */
  readonly logUri: string;
  readonly executionTimeout: Duration;
}

/**
 * StartJobRun on EMR Serverless with the `.sync` integration (`arn:aws:states:::emr-serverless:startJobRun.sync`):
 * the state waits for the job run to finish and fails when it fails. aws-stepfunctions-tasks has
 * no class for it, so this one renders the state and grants what the integration needs: start,
 * get and cancel job runs of the application, pass the job role to EMR Serverless, and the
 * EventBridge rule Step Functions manages to learn of the run's end.
 */
export class EmrServerlessStartJobRun extends TaskStateBase {
  protected readonly taskMetrics?: TaskMetricsConfig;
  protected readonly taskPolicies?: PolicyStatement[];

  constructor(
    scope: Construct,
    id: string,
    private readonly runProps: EmrServerlessStartJobRunProps,
  ) {
    super(scope, id, runProps);
    const applicationArn = runProps.application.attrArn;
    this.taskPolicies = [
      new PolicyStatement({ actions: ['emr-serverless:StartJobRun'], resources: [applicationArn] }),
      new PolicyStatement({ actions: ['emr-serverless:GetJobRun', 'emr-serverless:CancelJobRun'], resources: [`${applicationArn}/jobruns/*`] }),
      new PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [runProps.executionRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'emr-serverless.amazonaws.com' } },
      }),
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        resources: [`arn:${Aws.PARTITION}:events:${Aws.REGION}:${Aws.ACCOUNT_ID}:rule/StepFunctionsGetEventsForEMRServerlessJobRule`],
      }),
    ];
  }

  protected _renderTask(): unknown {
    const p = this.runProps;
    return {
      Resource: `arn:${Aws.PARTITION}:states:::emr-serverless:startJobRun.sync`,
      ...this._renderParametersOrArguments(
        {
          ApplicationId: p.application.attrApplicationId,
          ExecutionRoleArn: p.executionRole.roleArn,
          Name: p.name,
          ClientToken: JsonPath.uuid(),
          ExecutionTimeoutMinutes: Math.ceil(p.executionTimeout.toMinutes({ integral: false })),
          JobDriver: { SparkSubmit: { EntryPoint: p.entryPoint, EntryPointArguments: p.entryPointArguments, SparkSubmitParameters: p.sparkSubmitParameters } },
          ConfigurationOverrides: { MonitoringConfiguration: { S3MonitoringConfiguration: { LogUri: p.logUri } } },
        },
        QueryLanguage.JSON_PATH,
      ),
    };
  }
}
