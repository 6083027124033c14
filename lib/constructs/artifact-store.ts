import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership, type IBucket } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { ARTIFACTS_BUCKET } from '../resources.ts';

/** Props of {@link ArtifactStore}. */
export interface ArtifactStoreProps {
  /** Local directory whose contents are uploaded under `models/` at deploy. @default no upload */
  readonly defaultArtifactsDir?: string;
  /** Keep the bucket when the stack is deleted. @default true */
  readonly retain?: boolean;
}

/**
 * The S3 bucket for immutable model artifacts (`models/<id>/<version>/`) and analysis reports
 * (`reports/`): public access blocked, TLS enforced, S3-managed encryption, versioned, with
 * server access logs in a separate bucket.
 */
export class ArtifactStore extends Construct {
  public readonly bucket: IBucket;
  public readonly accessLogsBucket: IBucket;

  constructor(scope: Construct, id: string, props: ArtifactStoreProps = {}) {
    super(scope, id);
    const removalPolicy = props.retain === false ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const accessLogsBucket = new Bucket(this, 'AccessLogs', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy,
    });
    const bucket = new Bucket(this, ARTIFACTS_BUCKET.id, {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: accessLogsBucket,
      serverAccessLogsPrefix: 'artifacts/',
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(90) }],
      removalPolicy,
    });
    if (props.defaultArtifactsDir) {
      new BucketDeployment(this, 'DefaultModels', {
        sources: [Source.asset(props.defaultArtifactsDir)],
        destinationBucket: bucket,
        destinationKeyPrefix: 'models/',
        // Artifacts are immutable and versioned by content: never delete what is there.
        prune: false,
      });
    }
    this.bucket = bucket;
    this.accessLogsBucket = accessLogsBucket;
  }
}
