import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership, type IBucket } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId, type AwsSdkCall } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS_BUCKET } from '../resources.ts';

/** Props of {@link ArtifactStore}. */
export interface ArtifactStoreProps {
  /**
   * Local directory laid out as `model-artifacts/`: `models/<id>/<version>/...` is deployed to
   * `models/<id>/<version>/...` (where serving reads), `data/...` to `datasets/ratings/...` (the
   * retraining's input) and, for every model of `default-set.json`, a `models/<id>/latest.json`
   * pointer to its version. @default no upload
   */
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
    if (props.defaultArtifactsDir) deployDefaultArtifacts(this, bucket, props.defaultArtifactsDir);
    this.bucket = bucket;
    this.accessLogsBucket = accessLogsBucket;
  }
}

/** The part of `default-set.json` the deployment needs. */
interface DefaultModelSet {
  models: { model_id: string; model_version: string }[];
}

/** What `models/<id>/latest.json` holds for a bundled default (as local/provision.ts writes it). */
export function defaultPointer(model: { model_id: string; model_version: string }) {
  return { model_id: model.model_id, model_version: model.model_version, published_at: '2026-01-01T00:00:00.000Z', run_id: null };
}

/**
 * What local/provision.ts does on the local servers, done at deploy: the model files and the
 * bundled ratings as two deployments (never pruning: published versions are never deleted), then
 * each default pointer written only if absent, as provision's putIfAbsent does. A pointer is an
 * S3 PutObject with If-None-Match: * (a conditional write: S3 answers 412 PreconditionFailed when
 * the key exists, which the custom resource ignores), after the models, so a reader never finds a
 * pointer to missing files, and no deployment, even one changing default-set.json, can roll back
 * a pointer the retraining has moved.
 */
function deployDefaultArtifacts(scope: Construct, bucket: IBucket, dir: string): void {
  const models = new BucketDeployment(scope, 'DefaultModels', {
    sources: [Source.asset(join(dir, 'models'))],
    destinationBucket: bucket,
    destinationKeyPrefix: 'models/',
    prune: false,
  });
  new BucketDeployment(scope, 'BundledRatings', {
    sources: [Source.asset(join(dir, 'data'))],
    destinationBucket: bucket,
    destinationKeyPrefix: 'datasets/ratings/',
    prune: false,
  });
  const set = JSON.parse(readFileSync(join(dir, 'default-set.json'), 'utf8')) as DefaultModelSet;
  for (const model of set.models) {
    const key = `models/${model.model_id}/latest.json`;
    const putIfAbsent: AwsSdkCall = {
      service: 'S3',
      action: 'putObject',
      parameters: { Bucket: bucket.bucketName, Key: key, Body: JSON.stringify(defaultPointer(model)), ContentType: 'application/json', IfNoneMatch: '*' },
      physicalResourceId: PhysicalResourceId.of(key),
      ignoreErrorCodesMatching: 'PreconditionFailed',
    };
    const pointer = new AwsCustomResource(scope, `DefaultPointer-${model.model_id}`, {
      onCreate: putIfAbsent,
      onUpdate: putIfAbsent,
      // No onDelete: like every pointer, it outlives the stack with the (retained) bucket.
      policy: AwsCustomResourcePolicy.fromStatements([new PolicyStatement({ actions: ['s3:PutObject'], resources: [bucket.arnForObjects(key)] })]),
      installLatestAwsSdk: false,
    });
    pointer.node.addDependency(models);
  }
}
