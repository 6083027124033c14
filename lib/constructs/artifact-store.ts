import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership, type IBucket } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
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
 * Three deployments, none pruning (published versions and retrained pointers are never deleted):
 * the model files, the bundled ratings, and the default pointers. The pointers are their own
 * deployment, after the models, so a reader never finds a pointer to missing files, and a change of
 * the bundled models does not re-sync (and so roll back) pointers the retraining has moved since;
 * they are written again only when default-set.json itself changes.
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
  const pointers = new BucketDeployment(scope, 'DefaultPointers', {
    sources: set.models.map((model) => Source.jsonData(`${model.model_id}/latest.json`, defaultPointer(model))),
    destinationBucket: bucket,
    destinationKeyPrefix: 'models/',
    prune: false,
  });
  pointers.node.addDependency(models);
}
