/**
 * What the README says of the functions' code: "bundled by the local esbuild (ESM, minified,
 * source maps), never Docker". One AbFunction is synthesized with bundling, as a deploy does, and
 * its staged asset is read: an ES module, minified, with its source map, which the runtime is told
 * to use.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbFunction } from '../../lib/constructs/ab-function.ts';
import { FUNCTIONS } from '../../lib/resources.ts';
import { readmeSection } from './support/readme.ts';
import { removeAssembly } from './support/synth.ts';

let app: App;
let assetDir: string;
let template: Template;

beforeAll(() => {
  app = new App();
  const stack = new Stack(app, 'BundlingProbe');
  new AbFunction(stack, 'Probe', { entry: FUNCTIONS.health.entry });
  template = Template.fromStack(stack);
  const assembly = app.synth();
  const assets = readdirSync(assembly.directory).filter((name) => name.startsWith('asset.'));
  expect(assets).toHaveLength(1);
  assetDir = join(assembly.directory, assets[0]);
});

afterAll(() => {
  if (app) removeAssembly(app);
});

describe("the functions' bundles, as the README describes them", () => {
  it('is what the Deploying section says', () => {
    expect(readmeSection('Deploying to AWS').replace(/\s+/g, ' ')).toContain(
      'functions are bundled by the local esbuild (ESM, minified, source maps), never Docker',
    );
  });

  it('is one ES module (index.mjs) with its source map beside it', () => {
    expect(readdirSync(assetDir).sort()).toEqual(['index.mjs', 'index.mjs.map']);
    expect(readFileSync(join(assetDir, 'index.mjs'), 'utf8')).toMatch(/^import /);
  });

  it('is minified: a few long lines, not the source', () => {
    const code = readFileSync(join(assetDir, 'index.mjs'), 'utf8');
    const lines = code.split('\n');

    expect(code.length / lines.length).toBeGreaterThan(1_000);
    // Unminified, the same bundle would be thousands of lines; the few here are line breaks inside strings.
    expect(lines.length).toBeLessThan(200);
  });

  it('never needs Docker: esbuild is a dev dependency, which CDK runs locally before it would try Docker', () => {
    const { devDependencies } = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };

    expect(devDependencies.esbuild).toMatch(/^\d/);
  });

  it('tells Node to use the source map', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps' } } });
    expect(existsSync(join(assetDir, 'index.mjs.map'))).toBe(true);
  });
});
