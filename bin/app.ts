#!/usr/bin/env node
/** The CDK app: `npx cdk synth` / `npx cdk deploy`. Synthesizes offline, without credentials. */
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from '../lib/cdk-nag.ts';
import { fileURLToPath } from 'node:url';
import { AbrecStack } from '../lib/abrec-stack.ts';
import { applyNagSuppressions } from '../lib/nag-suppressions.ts';

const app = new App();
const stack = new AbrecStack(app, 'AbrecStack', {
  defaultArtifactsDir: fileURLToPath(new URL('../model-artifacts/', import.meta.url)),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
applyNagSuppressions(stack);
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
