/**
 * cdk-nag's AwsSolutions pack over the product stack, exactly as bin/app.ts applies it: no
 * unsuppressed error, every suppression gives a real reason, and no suppression is stale (each
 * one silences a rule that actually fires, so none can hide a future regression for free).
 * One synthesis for the whole file.
 */
import { Aspects, type App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import type { SynthesisMessage } from 'aws-cdk-lib/cx-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AbrecStack } from '../../lib/abrec-stack.ts';
import { AwsSolutionsChecks } from '../../lib/cdk-nag.ts';
import { applyNagSuppressions } from '../../lib/nag-suppressions.ts';
import { buildAbrecApp, removeAssembly } from './support/synth.ts';

interface Suppression {
  id: string;
  reason: string;
  applies_to?: unknown[];
}

/** A suppression as it appears in the synthesized template, with where it sits. */
interface LocatedSuppression extends Suppression {
  on: string;
}

let app: App;
let stack: AbrecStack;
let annotations: Annotations;
let template: Record<string, any>;

beforeAll(() => {
  ({ app, stack } = buildAbrecApp());
  applyNagSuppressions(stack);
  // logIgnores turns each suppressed finding into an info message, which is how the
  // stale-suppression test sees which rules fired without synthesizing a second time.
  Aspects.of(app).add(new AwsSolutionsChecks({ logIgnores: true }));
  annotations = Annotations.fromStack(stack);
  template = Template.fromStack(stack).toJSON();
});

afterAll(() => {
  if (app) removeAssembly(app);
});

const AWS_SOLUTIONS = Match.stringLikeRegexp('AwsSolutions-.*');
const describeMessages = (messages: SynthesisMessage[]): string[] => messages.map((message) => `${message.id}: ${String(message.entry.data).trim()}`);

/** Every cdk-nag suppression written into the template: stack-level and per resource. */
function suppressionsInTemplate(): LocatedSuppression[] {
  const located = (on: string, metadata: any): LocatedSuppression[] =>
    ((metadata?.cdk_nag?.rules_to_suppress ?? []) as Suppression[]).map((suppression) => ({ ...suppression, on }));
  return [
    ...located('(stack)', template.Metadata),
    ...Object.entries(template.Resources as Record<string, { Metadata?: unknown }>).flatMap(([logicalId, resource]) => located(logicalId, resource.Metadata)),
  ];
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

  it('each silence a rule that actually fires on this stack', () => {
    const fired = new Set(
      annotations
        .findInfo('*', Match.stringLikeRegexp('CdkNagSuppression.*'))
        .map((message) => /(AwsSolutions-[A-Z]+\d+) was triggered but suppressed/.exec(String(message.entry.data))?.[1]),
    );
    const stale = suppressionsInTemplate().filter((suppression) => !fired.has(suppression.id));

    expect(stale).toEqual([]);
  });

  it('name each rule once per place', () => {
    const keys = suppressionsInTemplate().map((suppression) => `${suppression.on} ${suppression.id} ${JSON.stringify(suppression.applies_to ?? [])}`);

    expect(keys.filter((key, index) => keys.indexOf(key) !== index)).toEqual([]);
  });
});
