/**
 * The README's architecture picture matches the synthesized stack: every route of the API and
 * every Lambda function is drawn, every component the picture names exists in the template, and
 * no kind of resource of the template is missing from it unless it is plumbing listed here.
 *
 * The picture is the mermaid block under `## Architecture`. Its checkable parts: a function is a
 * node whose id is its name in FUNCTIONS; an edge from `apigw` to a function is labelled with its
 * routes (`GET/POST /experiments`, `POST /experiments/{id}/start|stop`, one per `<br/>`); every
 * other node is an external actor or one of COMPONENTS below.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from 'aws-cdk-lib';
import type { AbrecStack } from '../../lib/abrec-stack.ts';
import { ARTIFACTS_BUCKET, FUNCTIONS, SCHEDULES, TABLES, type FunctionDefinition, type FunctionName } from '../../lib/resources.ts';
import { readmeSection, expandRoutes } from './support/readme.ts';
import { buildAbrecApp, childAt, logicalIdOf, removeAssembly, renderIntrinsic, resourceOf } from './support/synth.ts';

/** A node of the picture: its id, its label (`<br/>` kept) and the subgraph it sits in. */
interface PictureNode {
  readonly id: string;
  label?: string;
  subgraph?: string;
}

/** An edge of the picture, `from -- label --> to` (dotted or not). */
interface PictureEdge {
  readonly from: string;
  readonly to: string;
  readonly label: string;
}

interface Picture {
  readonly nodes: Map<string, PictureNode>;
  readonly edges: PictureEdge[];
  /** Subgraph id → the ids of the nodes inside it. */
  readonly subgraphs: Map<string, string[]>;
}

/** The mermaid source of the picture under `## Architecture`. */
function architectureMermaid(): string {
  const block = /```mermaid\n([\s\S]*?)```/.exec(readmeSection('Architecture'))?.[1];
  if (block === undefined) throw new Error('the Architecture section has no mermaid block');
  return block;
}

// A node with its shape: id[label], id([label]), id[(label)], id(label); the label quoted or not.
const NODE = /([A-Za-z]\w*)(\(\[|\[\(|\[|\()(?:"([^"]*)"|([^\])"]*))(\]\)|\)\]|\]|\))/g;
// What is left of an edge line once its nodes are reduced to their ids.
const EDGE = /^(\w+)\s*(?:(?:--|-\.)\s*(?:"([^"]*)"|([^">.-][^">]*?))\s*(?:-->|\.->)|-->|-\.->)\s*(\w+)$/;

/** Parses the subset of mermaid flowchart syntax the picture uses; throws on a line it cannot read. */
function parsePicture(source: string): Picture {
  const nodes = new Map<string, PictureNode>();
  const edges: PictureEdge[] = [];
  const subgraphs = new Map<string, string[]>();
  let subgraph: string | undefined;
  const mention = (id: string, label?: string): void => {
    const node: PictureNode = nodes.get(id) ?? { id };
    if (label !== undefined) node.label = label;
    if (subgraph !== undefined && !subgraphs.get(subgraph)?.includes(id)) {
      node.subgraph = subgraph;
      subgraphs.get(subgraph)?.push(id);
    }
    nodes.set(id, node);
  };
  for (const raw of source.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('flowchart') || line.startsWith('%%')) continue;
    const opens = /^subgraph (\w+)/.exec(line);
    if (opens) {
      subgraph = opens[1];
      subgraphs.set(subgraph, []);
      continue;
    }
    if (line === 'end') {
      subgraph = undefined;
      continue;
    }
    const reduced = line.replace(NODE, (_whole, id: string, _open, quoted?: string, plain?: string) => {
      mention(id, quoted ?? plain);
      return id;
    });
    if (/^\w+$/.test(reduced)) {
      mention(reduced);
      continue;
    }
    const edge = EDGE.exec(reduced);
    if (!edge) throw new Error(`cannot read the picture's line: ${line}`);
    const [, from, quoted, plain, to] = edge;
    for (const id of [from, to]) if (!subgraphs.has(id)) mention(id);
    edges.push({ from, to, label: (quoted ?? plain ?? '').trim() });
  }
  return { nodes, edges, subgraphs };
}

/** What each non-function node of the picture stands for: a construct of the stack and its CloudFormation type. */
const COMPONENTS: Record<string, { readonly path: string; readonly type: string } | 'external' | 'subgraph' | 'custom'> = {
  client: 'external',
  admin: 'external',
  retrain: 'subgraph',
  waf: { path: 'Firewall/WebAcl', type: 'AWS::WAFv2::WebACL' },
  apigw: { path: 'Api/Api', type: 'AWS::ApiGateway::RestApi' },
  s3: { path: `Artifacts/${ARTIFACTS_BUCKET.id}`, type: 'AWS::S3::Bucket' },
  accessLogs: { path: 'Artifacts/AccessLogs', type: 'AWS::S3::Bucket' },
  sns: { path: 'Analysis/Alerts', type: 'AWS::SNS::Topic' },
  analysisRule: { path: 'Analysis/Daily', type: 'AWS::Events::Rule' },
  analysisFailures: { path: 'Analysis/Failures', type: 'AWS::SQS::Queue' },
  analysisScheduleDlq: { path: 'Analysis/ScheduleDeadLetters', type: 'AWS::SQS::Queue' },
  retrainingRule: { path: 'Retraining/Weekly', type: 'AWS::Events::Rule' },
  retrainingScheduleDlq: { path: 'Retraining/ScheduleDeadLetters', type: 'AWS::SQS::Queue' },
  sfn: { path: 'Retraining/StateMachine', type: 'AWS::StepFunctions::StateMachine' },
  dashboard: { path: 'Operations/Dashboard', type: 'AWS::CloudWatch::Dashboard' },
  // Checked by type below: one node for several resources, or resources of an optional engine.
  ddb: 'custom',
  alarms: 'custom',
  seed: 'custom',
  engine: 'custom',
};

/** Resource types of the template the picture draws (through COMPONENTS, functions and routes). */
const DRAWN_TYPES = new Set([
  'AWS::WAFv2::WebACL',
  'AWS::ApiGateway::RestApi',
  'AWS::ApiGateway::Method',
  'AWS::ApiGateway::UsagePlan',
  'AWS::ApiGateway::ApiKey',
  'AWS::Lambda::Function',
  'AWS::S3::Bucket',
  'AWS::DynamoDB::GlobalTable',
  'AWS::SNS::Topic',
  'AWS::SQS::Queue',
  'AWS::Events::Rule',
  'AWS::StepFunctions::StateMachine',
  'AWS::CloudWatch::Dashboard',
  'AWS::CloudWatch::Alarm',
  'Custom::CDKBucketDeployment',
  'Custom::AWS',
]);

/** Plumbing the picture leaves out on purpose: permissions, policies, logs, and the API's and WAF's wiring. */
const LEFT_OUT_TYPES = new Set([
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::Lambda::Permission',
  'AWS::Lambda::EventInvokeConfig',
  'AWS::Lambda::LayerVersion',
  'AWS::Logs::LogGroup',
  'AWS::S3::BucketPolicy',
  'AWS::SNS::TopicPolicy',
  'AWS::SQS::QueuePolicy',
  'AWS::ApiGateway::Account',
  'AWS::ApiGateway::Deployment',
  'AWS::ApiGateway::Stage',
  'AWS::ApiGateway::Resource',
  'AWS::ApiGateway::RequestValidator',
  'AWS::ApiGateway::UsagePlanKey',
  'AWS::WAFv2::WebACLAssociation',
]);

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}

let app: App;
let stack: AbrecStack;
let template: Template;
let resources: Record<string, CfnResource>;
let picture: Picture;

beforeAll(() => {
  // Nothing checked here depends on the bundled code.
  ({ app, stack } = buildAbrecApp({ bundle: false }));
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources as Record<string, CfnResource>;
  picture = parsePicture(architectureMermaid());
});

afterAll(() => {
  if (app) removeAssembly(app);
});

const FUNCTION_NAMES = Object.keys(FUNCTIONS) as FunctionName[];
const isFunction = (id: string): id is FunctionName => id in FUNCTIONS;
const functionId = (name: FunctionName): string => logicalIdOf(stack.functions[name]);
const ofType = (type: string): [string, CfnResource][] => Object.entries(resources).filter(([, resource]) => resource.Type === type);
const labelOf = (id: string): string => picture.nodes.get(id)?.label ?? '';
const hasEdge = (from: string, to: string): boolean => picture.edges.some((edge) => edge.from === from && edge.to === to);

/** The function a resource's intrinsic value points at (`Fn::GetAtt [id, Arn]`), by name. */
function functionNamed(value: unknown): FunctionName | undefined {
  const rendered = JSON.stringify(value);
  return FUNCTION_NAMES.find((name) => rendered.includes(`"${functionId(name)}"`));
}

/** Every state name of a state machine definition, nested Map and Parallel states included, with its type. */
function statesOf(definition: { States: Record<string, Record<string, unknown>> }): Map<string, string> {
  const found = new Map<string, string>();
  const visit = (states: Record<string, Record<string, unknown>>): void => {
    for (const [name, state] of Object.entries(states)) {
      found.set(name, state.Type as string);
      const processor = (state.ItemProcessor ?? state.Iterator) as { States: Record<string, Record<string, unknown>> } | undefined;
      if (processor) visit(processor.States);
      for (const branch of (state.Branches ?? []) as { States: Record<string, Record<string, unknown>> }[]) visit(branch.States);
    }
  };
  visit(definition.States);
  return found;
}

describe("README's architecture picture", () => {
  it('is read whole: every line parses, every node is a function, an actor or a known component', () => {
    const unknown = [...picture.nodes.keys()].filter((id) => !isFunction(id) && !(id in COMPONENTS));

    expect(picture.edges.length).toBeGreaterThan(20);
    expect(unknown).toEqual([]);
  });

  it('draws every component this test knows, and each is in the template with its type', () => {
    const drawn = [...picture.nodes.keys(), ...picture.subgraphs.keys()];

    expect(Object.keys(COMPONENTS).filter((id) => !drawn.includes(id))).toEqual([]);
    for (const component of Object.values(COMPONENTS)) {
      if (typeof component === 'string') continue;
      expect(() => resourceOf(template, logicalIdOf(childAt(stack, component.path)), component.type)).not.toThrow();
    }
  });

  it('draws one node per Lambda function of the stack, named as in FUNCTIONS; the others are the seeding custom resources', () => {
    const functionNodes = [...picture.nodes.keys()].filter(isFunction);
    const providers = new Set(
      Object.values(resources)
        .filter((resource) => resource.Type.startsWith('Custom::'))
        .map((resource) => JSON.stringify(resource.Properties?.ServiceToken)),
    );
    const undrawn = ofType('AWS::Lambda::Function')
      .map(([logicalId]) => logicalId)
      .filter((logicalId) => !FUNCTION_NAMES.some((name) => functionId(name) === logicalId))
      .filter((logicalId) => ![...providers].some((token) => token.includes(`"${logicalId}"`)));

    expect(functionNodes.sort()).toEqual([...FUNCTION_NAMES].sort());
    expect(undrawn).toEqual([]);
    expect(ofType('Custom::CDKBucketDeployment').length).toBeGreaterThan(0);
    expect(ofType('Custom::AWS').length).toBeGreaterThan(0);
    expect(labelOf('seed')).toMatch(/bucket deployments.*latest\.json custom resources/);
    expect(hasEdge('seed', 's3')).toBe(true);
  });

  it("labels the API's edges with exactly the template's routes, each to the function it proxies to", () => {
    const drawn = picture.edges
      .filter((edge) => edge.from === 'apigw' && isFunction(edge.to))
      .flatMap((edge) =>
        edge.label
          .split('<br/>')
          .flatMap(expandRoutes)
          .map((route) => `${route} -> ${edge.to}`),
      );
    const pathOf = (logicalId: string | undefined): string => {
      if (logicalId === undefined) return '';
      const { ParentId, PathPart } = resources[logicalId].Properties as { ParentId: { Ref?: string }; PathPart: string };
      return `${pathOf(ParentId.Ref)}/${PathPart}`;
    };
    const synthesized = ofType('AWS::ApiGateway::Method')
      .map(([, method]) => method.Properties as { HttpMethod: string; ResourceId: { Ref?: string }; Integration?: unknown })
      .filter((method) => method.HttpMethod !== 'OPTIONS')
      .map((method) => `${method.HttpMethod} ${pathOf(method.ResourceId.Ref) || '/'} -> ${functionNamed(method.Integration)}`);

    expect(drawn.sort()).toEqual(synthesized.sort());
  });

  it('enters the API through the WAF web ACL on its stage, for the client (API key) and the operator (IAM)', () => {
    const association = ofType('AWS::WAFv2::WebACLAssociation');

    expect(association).toHaveLength(1);
    expect(JSON.stringify(association[0][1].Properties)).toContain(logicalIdOf(childAt(stack, 'Firewall/WebAcl')));
    expect(picture.edges.filter((edge) => edge.to === 'waf').map((edge) => `${edge.from}: ${edge.label}`)).toEqual(['client: x-api-key', 'admin: IAM SigV4']);
    expect(hasEdge('waf', 'apigw')).toBe(true);
    expect(labelOf('apigw')).toContain('usage plan + API key');
    expect(ofType('AWS::ApiGateway::UsagePlan')).toHaveLength(1);
    expect(ofType('AWS::ApiGateway::ApiKey')).toHaveLength(1);
  });

  it('names the tables of TABLES in the DynamoDB node, and the template has exactly those', () => {
    const names = labelOf('ddb').split('<br/>')[1]?.split(' · ') ?? [];
    const tables = ofType('AWS::DynamoDB::GlobalTable').map(([logicalId]) => logicalId);

    expect(names.sort()).toEqual(Object.keys(TABLES).sort());
    expect(tables.sort()).toEqual(
      Object.values(TABLES)
        .map((table) => logicalIdOf(childAt(stack, `Store/${table.id}`)))
        .sort(),
    );
  });

  it('draws an edge to the bucket and to the tables exactly for the functions that may use them', () => {
    const reaches = (name: FunctionName, store: 's3' | 'ddb'): boolean => {
      const subgraph = picture.nodes.get(name)?.subgraph;
      return hasEdge(name, store) || (subgraph !== undefined && hasEdge(subgraph, store));
    };
    for (const name of FUNCTION_NAMES) {
      const definition: FunctionDefinition = FUNCTIONS[name];
      const usesBucket = definition.bucket !== undefined;
      const usesTables = Object.keys(definition.tables).length > 0;
      // A subgraph's edge stands for its members: it is drawn when one of them needs it.
      if (picture.nodes.get(name)?.subgraph === undefined) {
        expect({ name, s3: reaches(name, 's3'), ddb: reaches(name, 'ddb') }).toEqual({ name, s3: usesBucket, ddb: usesTables });
      } else {
        if (usesBucket) expect({ name, s3: reaches(name, 's3') }).toEqual({ name, s3: true });
        if (usesTables) expect({ name, ddb: reaches(name, 'ddb') }).toEqual({ name, ddb: true });
      }
    }
    expect(hasEdge('s3', 'accessLogs')).toBe(true);
  });

  it('shows the two schedules with their cron expressions and what each starts', () => {
    const cron = (id: string): string | undefined => /cron\([^)]*\)/.exec(labelOf(id))?.[0];
    const ruleOf = (path: string): { ScheduleExpression: string; Targets: unknown[] } =>
      resources[logicalIdOf(childAt(stack, path))].Properties as { ScheduleExpression: string; Targets: unknown[] };
    const daily = ruleOf('Analysis/Daily');
    const weekly = ruleOf('Retraining/Weekly');

    expect(cron('analysisRule')).toBe(SCHEDULES.analysis);
    expect(daily.ScheduleExpression).toBe(SCHEDULES.analysis);
    expect(functionNamed(daily.Targets)).toBe('analysis');
    expect(hasEdge('analysisRule', 'analysis')).toBe(true);
    expect(cron('retrainingRule')).toBe(SCHEDULES.retraining);
    expect(weekly.ScheduleExpression).toBe(SCHEDULES.retraining);
    expect(JSON.stringify(weekly.Targets)).toContain(`"${logicalIdOf(childAt(stack, 'Retraining/StateMachine'))}"`);
    expect(hasEdge('retrainingRule', 'sfn')).toBe(true);
    expect(ofType('AWS::Events::Rule')).toHaveLength(2);
  });

  it('shows each rule and the analysis with its dead-letter queue, and the template has no other queue', () => {
    expect(hasEdge('analysisRule', 'analysisScheduleDlq')).toBe(true);
    expect(hasEdge('retrainingRule', 'retrainingScheduleDlq')).toBe(true);
    expect(hasEdge('analysis', 'analysisFailures')).toBe(true);
    expect(ofType('AWS::SQS::Queue')).toHaveLength(3);
  });

  it('names the states of the retraining state machine, and puts in its subgraph exactly the functions it invokes', () => {
    const machine = resources[logicalIdOf(childAt(stack, 'Retraining/StateMachine'))].Properties as { DefinitionString: unknown };
    const rendered = renderIntrinsic(machine.DefinitionString);
    const states = statesOf(JSON.parse(rendered));
    const [, ...stateLines] = labelOf('sfn').split('<br/>');
    const named: string[] = stateLines.join(' ').match(/\b[A-Z][A-Za-z]+\b/g) ?? [];
    const invoked = FUNCTION_NAMES.filter((name) => rendered.includes(`GetAtt:${functionId(name)}.Arn`));

    expect(named.filter((name) => !states.has(name))).toEqual([]);
    // Pass and Succeed states (Accept, Reject, Done) only route; every state that does or decides something is named.
    expect([...states].filter(([name, type]) => type !== 'Pass' && type !== 'Succeed' && !named.includes(name))).toEqual([]);
    expect((picture.subgraphs.get('retrain') ?? []).sort()).toEqual(invoked.sort());
    expect(hasEdge('sfn', 'retrain')).toBe(true);
    expect(hasEdge('sfn', 'sns')).toBe(true);
  });

  it('sends every alarm and the analysis alerts to the one SNS topic', () => {
    const topicId = logicalIdOf(childAt(stack, 'Analysis/Alerts'));
    const alarms = ofType('AWS::CloudWatch::Alarm');

    expect(ofType('AWS::SNS::Topic')).toHaveLength(1);
    expect(alarms.length).toBeGreaterThan(0);
    expect(alarms.filter(([, alarm]) => JSON.stringify(alarm.Properties?.AlarmActions) !== JSON.stringify([{ Ref: topicId }])).map(([id]) => id)).toEqual([]);
    expect(hasEdge('alarms', 'sns')).toBe(true);
    expect(hasEdge('analysis', 'sns')).toBe(true);
  });

  it('leaves out only plumbing: every resource type of the template is drawn or listed as left out', () => {
    const types = new Set(Object.values(resources).map((resource) => resource.Type));

    expect([...types].filter((type) => !DRAWN_TYPES.has(type) && !LEFT_OUT_TYPES.has(type))).toEqual([]);
  });

  it.each([
    ['emr-serverless', 'AWS::EMRServerless::Application'],
    ['sagemaker', undefined],
  ] as const)('draws the optional engine: with trainingEngine %s the stack has it and the state machine starts it', (engine, type) => {
    const built = buildAbrecApp({ bundle: false, props: { trainingEngine: engine } });
    try {
      const template = Template.fromStack(built.stack).toJSON().Resources as Record<string, CfnResource>;
      const definitions = Object.values(template)
        .filter((resource) => resource.Type === 'AWS::StepFunctions::StateMachine')
        .map((resource) => renderIntrinsic(resource.Properties?.DefinitionString));

      if (type !== undefined) expect(Object.values(template).some((resource) => resource.Type === type)).toBe(true);
      expect(definitions.join('\n')).toContain(engine === 'sagemaker' ? 'sagemaker:createTrainingJob' : 'emr-serverless:startJobRun');
      expect(labelOf('engine')).toMatch(engine === 'sagemaker' ? /SageMaker training job/ : /EMR Serverless application/);
      expect(hasEdge('sfn', 'engine') && hasEdge('engine', 's3')).toBe(true);
    } finally {
      removeAssembly(built.app);
    }
  });
});
