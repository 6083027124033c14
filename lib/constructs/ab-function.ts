import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { ARTIFACTS_BUCKET, type Access, type TableDefinition } from '../resources.ts';

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
 * with retention. `bindTable` / `bindBucket` grant access and set the environment variable in
 * one call, so permissions and configuration never drift apart.
 */
export class AbFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: AbFunctionProps) {
    const { logRetention, bundling, environment, ...rest } = props;
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    super(scope, id, {
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
   * Grants exactly `access` on the artifacts bucket and passes its name. Write means put, never
   * delete: artifacts and reports are immutable and versioned, and grantReadWrite would add
   * s3:DeleteObject* (including DeleteObjectVersion, which erases history).
   */
  bindBucket(bucket: IBucket, access: Access): this {
    this.addEnvironment(ARTIFACTS_BUCKET.envVar, bucket.bucketName);
    if (access === 'read' || access === 'readWrite') bucket.grantRead(this);
    if (access === 'write' || access === 'readWrite') bucket.grantPut(this);
    return this;
  }
}
