import type { Stack } from 'aws-cdk-lib';
import { NagSuppressions } from './cdk-nag.ts';

/**
 * Every cdk-nag AwsSolutions finding this stack accepts, each with the reason. Applied by
 * the app and by the infra tests, which fail on any unsuppressed error.
 */
export function applyNagSuppressions(stack: Stack): void {
  NagSuppressions.addStackSuppressions(stack, [
    { id: 'AwsSolutions-IAM4', reason: 'AWSLambdaBasicExecutionRole and the API Gateway CloudWatch role are the AWS-managed minimum for writing logs; no broader managed policy is attached.' },
    { id: 'AwsSolutions-IAM5', reason: 'Wildcards come from CDK grants and stay inside this stack: object actions (s3:GetObject*, s3:List*, s3:Abort*) on the artifacts bucket and its objects (bucket/*), the retraining functions\' version ARNs (:*) for the state machine, the CDK assets bucket read by the BucketDeployment provider, and X-Ray/log-delivery actions that have no resource-level permissions (Resource *).' },
    { id: 'AwsSolutions-APIG4', reason: 'Public routes are protected by an API key with a throttled usage plan (the product\'s client model); admin routes use IAM authorization; /health is intentionally open.' },
    { id: 'AwsSolutions-COG4', reason: 'No end-user identity: public callers are services holding an API key, admins use IAM (SigV4).' },
    { id: 'AwsSolutions-L1', reason: 'Functions pin nodejs22.x, the runtime the code is built and tested for; the BucketDeployment provider runtime is managed by CDK.' },
  ]);
}
