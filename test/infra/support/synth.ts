/**
 * Shared set-up and template readers for the infra tests. Synthesis bundles every function with
 * esbuild (seconds, not milliseconds), so each test file synthesizes the stack once in a
 * beforeAll and every test reads that one template.
 */
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { App, Stack, type CfnElement } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { AbrecStack, type AbrecStackProps } from '../../../lib/abrec-stack.ts';

/** The default model artifacts directory bin/app.ts uploads, so the tests see the app's stack. */
export const DEFAULT_ARTIFACTS_DIR = fileURLToPath(new URL('../../../model-artifacts/', import.meta.url));

/** Options of {@link buildAbrecApp}. */
export interface BuildOptions {
  /** Props over the app's own (the default artifacts directory). @default none */
  readonly props?: Omit<AbrecStackProps, 'defaultArtifactsDir'>;
  /**
   * Bundle the functions with esbuild, as a deploy does. Tests of properties that do not depend
   * on the code can skip it: a synthesis then takes well under a second instead of seconds.
   * @default true
   */
  readonly bundle?: boolean;
  /** App context, e.g. the feature flags of cdk.json, which the CLI passes and `new App()` does not. @default none */
  readonly context?: Record<string, unknown>;
}

/** The context cdk.json gives the CDK CLI (feature flags), for tests that synthesize as `cdk deploy` does. */
export function cdkJsonContext(): Record<string, unknown> {
  return (JSON.parse(readFileSync(fileURLToPath(new URL('../../../cdk.json', import.meta.url)), 'utf8')) as { context: Record<string, unknown> }).context;
}

/** A fresh app holding the product stack exactly as bin/app.ts builds it (without the nag aspect). */
export function buildAbrecApp(options: BuildOptions = {}): { app: App; stack: AbrecStack } {
  // An empty bundling-stacks list is how the CDK CLI skips bundling (cdk synth --exclusively).
  const app = new App({ context: { ...options.context, ...(options.bundle === false ? { 'aws:cdk:bundling-stacks': [] } : {}) } });
  const stack = new AbrecStack(app, 'AbrecStack', { ...options.props, defaultArtifactsDir: DEFAULT_ARTIFACTS_DIR });
  return { app, stack };
}

/** Deletes the temporary cloud assembly (bundled code, staged assets) an App synthesized into. */
export function removeAssembly(app: App): void {
  rmSync(app.outdir, { recursive: true, force: true });
}

/** The CloudFormation logical id of a construct's L1 resource (or of the L1 itself). */
export function logicalIdOf(construct: IConstruct): string {
  const element = (construct.node.defaultChild ?? construct) as CfnElement;
  return Stack.of(construct).getLogicalId(element);
}

/** The construct at `path` (ids separated by '/') under `scope`; throws naming the missing id. */
export function childAt(scope: IConstruct, path: string): IConstruct {
  return path.split('/').reduce<IConstruct>((parent, id) => {
    const child = parent.node.tryFindChild(id);
    if (!child) throw new Error(`no construct "${id}" under ${parent.node.path || '(root)'}`);
    return child;
  }, scope);
}

/** A template resource in its raw CloudFormation shape. */
export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}

/** The resource with `logicalId`, asserting it exists and has `type`. */
export function resourceOf(template: Template, logicalId: string, type: string): CfnResource {
  const resource = (template.toJSON().Resources as Record<string, CfnResource>)[logicalId];
  if (!resource) throw new Error(`template has no resource ${logicalId}`);
  if (resource.Type !== type) throw new Error(`${logicalId} is a ${resource.Type}, expected ${type}`);
  return resource;
}

/** Properties of the resource with `logicalId`, asserting its type. */
export function propertiesOf(template: Template, logicalId: string, type: string): Record<string, unknown> {
  return resourceOf(template, logicalId, type).Properties ?? {};
}

/** A `{ Ref: logicalId }` as CloudFormation writes it. */
export interface Ref {
  Ref: string;
}

/** A `{ 'Fn::GetAtt': [logicalId, attribute] }` as CloudFormation writes it. */
export interface GetAtt {
  'Fn::GetAtt': [string, string];
}

/**
 * The properties of an AWS::Lambda::Function, with the ones the tests read typed as every function
 * of the stack has them (its own role, its own log group, wired environment variables).
 */
export interface FunctionProperties extends Record<string, unknown> {
  Role: GetAtt;
  LoggingConfig: { LogGroup: Ref };
  Environment: { Variables: Record<string, unknown> };
  ReservedConcurrentExecutions?: number;
}

/** Properties of the Lambda function `functionLogicalId`, asserting it is one. */
export function functionPropertiesOf(template: Template, functionLogicalId: string): FunctionProperties {
  return propertiesOf(template, functionLogicalId, 'AWS::Lambda::Function') as FunctionProperties;
}

/** A state of an Amazon States Language definition, with the fields the tests read. */
export interface State {
  Type: string;
  Next?: string;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  ResultPath?: string | null;
  ResultSelector?: Record<string, unknown>;
  Retry?: unknown[];
  Catch?: unknown[];
  /** The item input of a Map state. */
  ItemSelector?: Record<string, unknown>;
  /** The states a Map state runs for each item. */
  ItemProcessor?: StateMachineDefinition;
  /** The branches a Parallel state runs. */
  Branches?: StateMachineDefinition[];
}

/** An Amazon States Language definition: a state machine's, a Map's item processor or a Parallel's branch. */
export interface StateMachineDefinition {
  StartAt: string;
  States: Record<string, State>;
  TimeoutSeconds?: number;
}

/**
 * Renders an intrinsic-function value as a string: literal parts are kept, `Fn::Join` is joined,
 * and every other token becomes a readable placeholder (`${Ref:Id}`, `${GetAtt:Id.Arn}`), so a
 * definition or dashboard body that CloudFormation would assemble at deploy can be parsed here.
 */
export function renderIntrinsic(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    if ('Fn::Join' in record) {
      const [separator, parts] = record['Fn::Join'] as [string, unknown[]];
      return parts.map(renderIntrinsic).join(separator);
    }
    if ('Ref' in record) return `\${Ref:${String(record.Ref)}}`;
    if ('Fn::GetAtt' in record) return `\${GetAtt:${(record['Fn::GetAtt'] as string[]).join('.')}}`;
    return `\${${Object.keys(record).join(',')}}`;
  }
  throw new Error(`cannot render intrinsic value ${JSON.stringify(value)}`);
}

/** One IAM policy statement as CDK renders it. */
export interface PolicyStatement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

/** Every statement of every AWS::IAM::Policy attached to the role `roleLogicalId`. */
export function statementsOfRole(template: Template, roleLogicalId: string): PolicyStatement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((policy) => (policy.Properties.Roles as unknown[]).some((role) => isRefTo(role, roleLogicalId)))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as PolicyStatement[]);
}

/** The execution role of the Lambda function `functionLogicalId`. */
export function roleOfFunction(template: Template, functionLogicalId: string): string {
  return functionPropertiesOf(template, functionLogicalId).Role['Fn::GetAtt'][0];
}

function isRefTo(value: unknown, logicalId: string): boolean {
  return typeof value === 'object' && value !== null && (value as { Ref?: unknown }).Ref === logicalId;
}

/** True when `value` (any nesting of intrinsics) points at the resource `logicalId`. */
function mentions(value: unknown, logicalId: string): boolean {
  if (Array.isArray(value)) return value.some((item) => mentions(item, logicalId));
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (record.Ref === logicalId) return true;
    const getAtt = record['Fn::GetAtt'];
    if (Array.isArray(getAtt) && getAtt[0] === logicalId) return true;
    return Object.values(record).some((item) => mentions(item, logicalId));
  }
  return false;
}

/** IAM action patterns (`s3:GetObject*`) match case-insensitively with `*` and `?` wildcards. */
function actionMatches(pattern: string, action: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
  return regex.test(action);
}

/**
 * Whether the statements allow `action` on the resource `logicalId` (a statement on `*` or on any
 * wildcard ARN string counts, as it could in IAM). Conditions are ignored, which can only over-report access: a least
 * privilege assertion that passes here also passes in AWS.
 */
export function allows(statements: readonly PolicyStatement[], action: string, logicalId: string): boolean {
  return statements.some((statement) => {
    if (statement.Effect !== 'Allow') return false;
    const actions = Array.isArray(statement.Action) ? statement.Action : [statement.Action];
    if (!actions.some((pattern) => actionMatches(pattern, action))) return false;
    const resources = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
    // A wildcard ARN written as a plain string could cover the resource: count it (over-report).
    const wildcard = resources.some((resource) => typeof resource === 'string' && resource.includes('*'));
    return wildcard || mentions(resources, logicalId);
  });
}

/** IAM ARN patterns match case-sensitively, `*` and `?` spanning any characters (slashes too). */
function arnMatches(pattern: string, arn: string): boolean {
  return new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  ).test(arn);
}

/**
 * Whether the statements allow `action` on the ARN `arn`, written as {@link renderIntrinsic}
 * renders it: `${GetAtt:ArtifactsBucket.Arn}/models/als/latest.json` for an object of a bucket in
 * the stack. Each statement's resources are rendered the same way and matched as IAM patterns;
 * a literal wildcard ARN outside the stack (`arn:aws:s3:::*`) counts as covering it, which can only
 * over-report access. Conditions are ignored, likewise.
 */
export function allowsOn(statements: readonly PolicyStatement[], action: string, arn: string): boolean {
  return statements.some((statement) => {
    if (statement.Effect !== 'Allow') return false;
    const actions = Array.isArray(statement.Action) ? statement.Action : [statement.Action];
    if (!actions.some((pattern) => actionMatches(pattern, action))) return false;
    const resources = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
    return resources.some((resource) => (typeof resource === 'string' && resource.includes('*')) || arnMatches(renderIntrinsic(resource), arn));
  });
}

/** The ARN of an object of the bucket `bucketLogicalId`, as {@link allowsOn} takes it. */
export const objectArn = (bucketLogicalId: string, key: string): string => `\${GetAtt:${bucketLogicalId}.Arn}/${key}`;

/** The ARN of the bucket `bucketLogicalId` itself, as {@link allowsOn} takes it. */
export const bucketArn = (bucketLogicalId: string): string => `\${GetAtt:${bucketLogicalId}.Arn}`;
