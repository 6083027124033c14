import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { ARTIFACTS_BUCKET, type Access, type BucketAccess, type TableDefinition } from '../resources.ts';

/** Props of {@link AbFunction}: everything NodejsFunction takes, with the shared defaults applied. */
export interface AbFunctionProps extends Omit<NodejsFunctionProps, 'runtime' | 'architecture'> {
  /** Entry file relative to the project root. */
  readonly entry: string;
  /** Log retention. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/**
 * The one Lambda shape every function shares: Node.js 22 on ARM64, bundled as minified ESM
 * with source maps by the local esbuild (no Docker), X-Ray tracing, and an explicit log group
 * with retention. Its own execution role may write to that log group only (not
 * AWSLambdaBasicExecutionRole, which lets a function create and write any log group of the
 * account). `bindTable` / `bindBucket` grant access and set the environment variable in one
 * call, so permissions and configuration never drift apart.
 */
export class AbFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: AbFunctionProps) {
    const { logRetention, bundling, environment, ...rest } = props;
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = rest.role ?? new Role(scope, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);
    super(scope, id, {
      role,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      tracing: Tracing.ACTIVE,
      timeout: Duration.seconds(10),
      memorySize: 512,
      logGroup,
      ...rest,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'abrec',
        POWERTOOLS_METRICS_NAMESPACE: 'Abrec',
        ...environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        minify: true,
        sourceMap: true,
        target: 'node22',
        forceDockerBundling: false,
        mainFields: ['module', 'main'],
        // Bundled CommonJS dependencies may call require(); give ESM output a real one.
        banner: "import { createRequire as __abrecCreateRequire } from 'node:module'; const require = __abrecCreateRequire(import.meta.url);",
        ...bundling,
      },
    });
  }

  /** Grants exactly `access` on the table and passes its name in the table's variable. */
  bindTable(definition: TableDefinition, table: ITable, access: Access): this {
    this.addEnvironment(definition.envVar, table.tableName);
    if (access === 'read') table.grantReadData(this);
    else if (access === 'write') table.grantWriteData(this);
    else table.grantReadWriteData(this);
    return this;
  }

  /**
   * Grants exactly `access` on the artifacts bucket and passes its name: s3:GetObject on the
   * `read` key patterns (with s3:ListBucket, so a missing key is a 404), s3:PutObject on the
   * `write` patterns, and never a delete. Artifacts and reports are immutable and versioned;
   * grantReadWrite would add s3:DeleteObject* (including DeleteObjectVersion, which erases
   * history), and even grantRead/grantPut add object versions, ACLs, tags, retention and legal
   * holds that no handler uses.
   */
  bindBucket(bucket: IBucket, access: BucketAccess): this {
    const read = access.read ?? [];
    const write = access.write ?? [];
    if (access.listOnly && read.length > 0) {
      throw new Error(`AbFunction ${this.node.id}: bucket access is either listOnly or reads keys (${read.join(', ')}), not both`);
    }
    for (const pattern of [...read, ...write]) {
      // A pattern is a key under a prefix; '*' alone would be the whole bucket again.
      if (!/^[a-z0-9-]+\/.+$/.test(pattern))
        throw new Error(`AbFunction ${this.node.id}: bucket key pattern "${pattern}" must start with a prefix such as models/`);
    }
    this.addEnvironment(ARTIFACTS_BUCKET.envVar, bucket.bucketName);
    if (access.listOnly || read.length > 0) this.addToRolePolicy(new PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
    if (read.length > 0)
      this.addToRolePolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: read.map((pattern) => bucket.arnForObjects(pattern)) }));
    if (write.length > 0)
      this.addToRolePolicy(new PolicyStatement({ actions: ['s3:PutObject'], resources: write.map((pattern) => bucket.arnForObjects(pattern)) }));
    return this;
  }
}
