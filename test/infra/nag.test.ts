/**
 * cdk-nag's AwsSolutions pack over the product stack, exactly as bin/app.ts applies it: no
 * unsuppressed error, every suppression gives a real reason, and no suppression is stale (each
 * one silences a rule that actually fires, so none can hide a future regression for free).
 * One synthesis for the whole file.
 */
import { Aspects, CfnElement, type App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import type { SynthesisMessage } from 'aws-cdk-lib/cx-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AbrecStack } from '../../lib/abrec-stack.ts';
import { AwsSolutionsChecks } from '../../lib/cdk-nag.ts';
import { applyNagSuppressions } from '../../lib/nag-suppressions.ts';
import { buildAbrecApp, cdkJsonContext, removeAssembly } from './support/synth.ts';

/** A finding a suppression names: the finding id itself, or a regular expression written as '/body/flags'. */
type AppliesTo = string | { regex: string };

interface Suppression {
  id: string;
  reason: string;
  applies_to?: AppliesTo[];
}

/** A suppression as it appears in the synthesized template, with where it sits. */
interface LocatedSuppression extends Suppression {
  on: string;
}

/** Metadata of the template or of a resource: cdk-nag writes its suppressions under cdk_nag. */
interface NagMetadata {
  cdk_nag?: { rules_to_suppress?: Suppression[] };
}

/** The parts of the synthesized template that hold suppressions. */
interface TemplateJson {
  Metadata?: NagMetadata;
  Resources: Record<string, { Metadata?: NagMetadata }>;
}

let app: App;
let stack: AbrecStack;
let annotations: Annotations;
let template: TemplateJson;

beforeAll(() => {
  ({ app, stack } = buildAbrecApp());
  applyNagSuppressions(stack);
  // logIgnores turns each suppressed finding into an info message, which is how the
  // stale-suppression test sees which rules fired without synthesizing a second time.
  Aspects.of(app).add(new AwsSolutionsChecks({ logIgnores: true }));
  annotations = Annotations.fromStack(stack);
  template = Template.fromStack(stack).toJSON() as TemplateJson;
});

afterAll(() => {
  if (app) removeAssembly(app);
});

const AWS_SOLUTIONS = Match.stringLikeRegexp('AwsSolutions-.*');
const describeMessages = (messages: SynthesisMessage[]): string[] => messages.map((message) => `${message.id}: ${String(message.entry.data).trim()}`);

/** Every cdk-nag suppression written into the template: stack-level and per resource. */
function suppressionsInTemplate(): LocatedSuppression[] {
  const located = (on: string, metadata: NagMetadata | undefined): LocatedSuppression[] =>
    (metadata?.cdk_nag?.rules_to_suppress ?? []).map((suppression) => ({ ...suppression, on }));
  return [
    ...located('(stack)', template.Metadata),
    ...Object.entries(template.Resources).flatMap(([logicalId, resource]) => located(logicalId, resource.Metadata)),
  ];
}

/** A finding cdk-nag reported as suppressed: the rule, the finding id (appliesTo form) if any, and where. */
interface FiredFinding {
  on: string;
  rule: string;
  finding?: string;
}

/** Every suppressed finding, read from the info messages logIgnores writes, located by logical id. */
function firedFindings(): FiredFinding[] {
  const logicalIds = new Map(
    stack.node
      .findAll()
      .filter((construct): construct is CfnElement => CfnElement.isCfnElement(construct))
      .map((element) => [`/${element.node.path}`, stack.getLogicalId(element)]),
  );
  return annotations.findInfo('*', Match.stringLikeRegexp('CdkNagSuppression.*')).flatMap((message) => {
    const match = /^CdkNagSuppression(?:\[(.*)\])?: (AwsSolutions-[A-Z]+\d+) was triggered but suppressed/.exec(String(message.entry.data));
    const on = logicalIds.get(message.id);
    return match && on ? [{ on, rule: match[2], finding: match[1] }] : [];
  });
}

describe('cdk-nag AwsSolutions', () => {
  it('reports no unsuppressed error', () => {
    const errors = annotations.findError('*', AWS_SOLUTIONS);

    expect(describeMessages(errors)).toEqual([]);
  });

  it('reports no unsuppressed warning', () => {
    const warnings = annotations.findWarning('*', AWS_SOLUTIONS);

    expect(describeMessages(warnings)).toEqual([]);
  });

  it('ran every rule: no rule failed to evaluate a resource', () => {
    const failures = annotations.findWarning('*', Match.stringLikeRegexp('CdkNagValidationFailure.*'));

    expect(describeMessages(failures)).toEqual([]);
  });

  it.each([
    ['a region', { region: 'us-east-1' }],
    ['an account and a region of another partition', { account: '123456789012', region: 'cn-north-1' }],
  ])('reports no unsuppressed finding when the app knows %s and has the cdk.json flags, as a deploy does', (_, env) => {
    const built = buildAbrecApp({ props: { env }, bundle: false, context: cdkJsonContext() });
    try {
      applyNagSuppressions(built.stack);
      Aspects.of(built.app).add(new AwsSolutionsChecks());
      const found = Annotations.fromStack(built.stack);

      expect(describeMessages([...found.findError('*', AWS_SOLUTIONS), ...found.findWarning('*', AWS_SOLUTIONS)])).toEqual([]);
    } finally {
      removeAssembly(built.app);
    }
  });

  it('checked the stack: suppressed findings were logged, so the pack really ran', () => {
    expect(annotations.findInfo('*', Match.stringLikeRegexp('CdkNagSuppression.*')).length).toBeGreaterThan(0);
  });
});

describe('suppressions', () => {
  it('are written into the synthesized template', () => {
    expect(suppressionsInTemplate().length).toBeGreaterThan(0);
  });

  it('each name an AwsSolutions rule and give a reason of at least 20 characters', () => {
    const weak = suppressionsInTemplate().filter(
      (suppression) => !/^AwsSolutions-[A-Z]+\d+$/.test(suppression.id) || typeof suppression.reason !== 'string' || suppression.reason.trim().length < 20,
    );

    expect(weak).toEqual([]);
  });

  it('each silence a rule that actually fires on the resource they sit on, and each finding they name (appliesTo) fires there too', () => {
    const fired = firedFindings();
    const firesHere = (suppression: LocatedSuppression, finding?: AppliesTo): boolean =>
      fired.some((candidate) => {
        if (candidate.on !== suppression.on || candidate.rule !== suppression.id) return false;
        if (finding === undefined) return true;
        if (typeof finding === 'string') return candidate.finding === finding;
        const [, body, flags] = /^\/(.*)\/([a-z]*)$/.exec(finding.regex)!;
        return candidate.finding !== undefined && new RegExp(body, flags.replace('g', '')).test(candidate.finding);
      });
    const stale = suppressionsInTemplate().flatMap((suppression) => [
      ...(firesHere(suppression) ? [] : [`${suppression.on} ${suppression.id}`]),
      ...(suppression.applies_to ?? [])
        .filter((finding) => !firesHere(suppression, finding))
        .map((finding) => `${suppression.on} ${suppression.id} ${JSON.stringify(finding)}`),
    ]);

    expect(stale).toEqual([]);
  });

  it('are never stack-wide: each sits on the resource it concerns', () => {
    expect(template.Metadata?.cdk_nag).toBeUndefined();
    expect(suppressionsInTemplate().filter((suppression) => suppression.on === '(stack)')).toEqual([]);
  });

  it('accept wildcard and managed-policy findings (IAM4, IAM5) only by name (appliesTo), never the whole rule', () => {
    const unnamed = suppressionsInTemplate().filter(
      (suppression) => ['AwsSolutions-IAM4', 'AwsSolutions-IAM5'].includes(suppression.id) && !suppression.applies_to?.length,
    );

    expect(unnamed).toEqual([]);
  });

  it('accept no wildcard that would let a function delete from the artifacts bucket or reach all of it', () => {
    const bucketId = stack.getLogicalId(stack.artifacts.bucket.node.defaultChild as CfnElement);
    const functionPolicies = new Set(
      Object.values(stack.functions).map((fn) => stack.getLogicalId(fn.role!.node.findChild('DefaultPolicy').node.defaultChild as CfnElement)),
    );
    const accepted = suppressionsInTemplate()
      .filter((suppression) => functionPolicies.has(suppression.on))
      .flatMap((suppression) => (suppression.applies_to ?? []).map((finding) => (typeof finding === 'string' ? finding : finding.regex)));

    expect(accepted.filter((finding) => finding.includes('Delete') || finding === `Resource::<${bucketId}.Arn>/*`)).toEqual([]);
  });

  it('name each rule once per place', () => {
    const keys = suppressionsInTemplate().map((suppression) => `${suppression.on} ${suppression.id} ${JSON.stringify(suppression.applies_to ?? [])}`);

    expect(keys.filter((key, index) => keys.indexOf(key) !== index)).toEqual([]);
  });
});
