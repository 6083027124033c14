#!/usr/bin/env node
/** The CDK app: `npx cdk synth` / `npx cdk deploy`. Synthesizes offline, without credentials. */
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from '../lib/cdk-nag.ts';
import { fileURLToPath } from 'node:url';
import { AbrecStack } from '../lib/abrec-stack.ts';
import { applyNagSuppressions } from '../lib/nag-suppressions.ts';

const app = new App();

/**
 * Deploy-time switches, so an account's limits need no code change:
 * `-c abrec:reservedConcurrency=none` reserves no concurrency (a new account's Lambda limit is
 * often too low for any reservation), `-c abrec:rateLimitPerIp=N` sets the WAF's per-IP limit.
 */
function reservedConcurrencyFromContext(): false | undefined {
  const value = app.node.tryGetContext('abrec:reservedConcurrency') as unknown;
  if (value === undefined) return undefined;
  if (value === 'none' || value === false) return false;
  throw new Error(`-c abrec:reservedConcurrency takes only "none" (reserve nothing), got ${JSON.stringify(value)}; set other values in bin/app.ts`);
}
const rateLimitPerIp = app.node.tryGetContext('abrec:rateLimitPerIp') as string | number | undefined;

const stack = new AbrecStack(app, 'AbrecStack', {
  defaultArtifactsDir: fileURLToPath(new URL('../model-artifacts/', import.meta.url)),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  reservedConcurrency: reservedConcurrencyFromContext(),
  rateLimitPerIp: rateLimitPerIp === undefined ? undefined : Number(rateLimitPerIp),
});
applyNagSuppressions(stack);
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
