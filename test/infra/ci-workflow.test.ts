/**
 * The GitHub Actions workflow is the README's CI/CD section made executable: it parses, its test
 * job runs the quick start's test command (read from the README, so the two cannot drift, and
 * `.ci/run` runs the same), and its deploy job reaches AWS only through OIDC, only from main.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '..', '..');
const WORKFLOW_PATH = join(ROOT, '.github', 'workflows', 'ci.yml');

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string | number | boolean>;
}
interface Job {
  'runs-on'?: string;
  needs?: string | string[];
  if?: string;
  permissions?: Record<string, string>;
  concurrency?: string | { group: string; 'cancel-in-progress'?: boolean };
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

const workflowText = readFileSync(WORKFLOW_PATH, 'utf8');
const workflow = parse(workflowText) as Workflow;

/** The test command of the README's quick start: the line of its first code block that runs `npm test`. */
function readmeTestCommand(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const quickStart = readme.split(/^## Quick start$/m)[1];
  if (quickStart === undefined) throw new Error('README.md has no "## Quick start" section');
  const block = /```sh\n([\s\S]*?)```/.exec(quickStart)?.[1];
  if (block === undefined) throw new Error('the Quick start section has no ```sh code block');
  const line = block.split('\n').find((l) => /\bnpm test\b/.test(l));
  if (line === undefined) throw new Error('the Quick start code block has no line running npm test');
  return line.replace(/#.*$/, '').trim();
}

/** The commands `.ci/run` runs, joined as one shell line (comments, `set` and `cd` left out). */
function ciRunCommand(): string {
  const script = readFileSync(join(ROOT, '.ci', 'run'), 'utf8');
  return script
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('set ') && !l.startsWith('cd '))
    .join(' && ');
}

describe('.github/workflows/ci.yml', () => {
  it('runs on every push and every pull request, with read-only repository access by default', () => {
    expect(Object.keys(workflow.on).sort()).toEqual(['pull_request', 'push']);
    expect(workflow.on.push).toBeNull();
    expect(workflow.on.pull_request).toBeNull();
    expect(workflow.permissions).toEqual({ contents: 'read' });
  });

  it("test job: sets up Node 22 with the npm cache and runs the README quick start's test command, which .ci/run also runs", () => {
    const command = readmeTestCommand();
    const test = workflow.jobs.test;

    expect(command).toBe('npm ci && npm test');
    expect(ciRunCommand()).toBe(command);
    expect(test['runs-on']).toBe('ubuntu-latest');
    expect(test.if).toBeUndefined();
    const setupNode = test.steps.find((s) => s.uses?.startsWith('actions/setup-node@'));
    expect(setupNode?.with).toMatchObject({ 'node-version': '22', cache: 'npm' });
    expect(test.steps.map((s) => s.run?.trim()).filter(Boolean)).toEqual([command]);
  });

  it('deploy job: only for a push to main, after the test job, one at a time', () => {
    const deploy = workflow.jobs.deploy;

    expect(deploy.needs).toBe('test');
    expect(deploy.if).toBe("github.event_name == 'push' && github.ref == 'refs/heads/main'");
    expect(deploy.concurrency).toEqual({ group: 'deploy-main', 'cancel-in-progress': false });
  });

  it('deploy job: takes AWS credentials from an OIDC role, then runs the pinned CDK CLI', () => {
    const deploy = workflow.jobs.deploy;
    const runs = deploy.steps.map((s) => s.run?.trim());
    const credentials = deploy.steps.findIndex((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
    const cdkDeploy = runs.indexOf('npx cdk deploy --require-approval never');

    expect(deploy.permissions).toEqual({ 'id-token': 'write', contents: 'read' });
    expect(deploy.steps[credentials].uses).toMatch(/^aws-actions\/configure-aws-credentials@v\d+$/);
    expect(deploy.steps[credentials].with).toEqual({
      'role-to-assume': '${{ secrets.AWS_DEPLOY_ROLE_ARN }}',
      'aws-region': '${{ vars.AWS_REGION }}',
      'role-session-name': 'abrec-deploy-${{ github.run_id }}',
    });
    expect(runs).toContain('npm ci');
    expect(runs.indexOf('npm ci')).toBeLessThan(cdkDeploy);
    expect(credentials).toBeGreaterThanOrEqual(0);
    expect(credentials).toBeLessThan(cdkDeploy);
  });

  it('stores no AWS keys: no access key, secret key or session token input anywhere in the file', () => {
    expect(workflowText).not.toMatch(/aws-access-key-id|aws-secret-access-key|aws-session-token|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY/i);
    expect(workflowText).not.toMatch(/AKIA[0-9A-Z]{16}/);
  });

  it('pins every action to a major version', () => {
    const uses = Object.values(workflow.jobs).flatMap((job) => job.steps.map((s) => s.uses).filter((u): u is string => u !== undefined));

    expect(uses.length).toBeGreaterThan(0);
    for (const action of uses) expect(action).toMatch(/^[\w-]+\/[\w-]+@v\d+$/);
  });
});
