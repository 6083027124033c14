/**
 * The operator dashboard in a real browser: the local runtime in process, a little traffic on
 * the default experiment through the public API, a daily report written by the analysis
 * function, then headless Chromium (the system's, provisioned by scripts/ensure-browser.mjs)
 * signs in with the pasted admin key, opens the experiment and its report, and is refused a
 * promotion with the API's reason. A missing browser fails this file; it is never skipped.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, startLocalRuntime, type LocalRuntime } from '../../local/runtime.ts';
import { DASHBOARD_CSP } from '../../local/dashboard.ts';

const CHROMIUM = process.env.ABREC_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ARTIFACTS_DIR = join(PROJECT_ROOT, 'test-artifacts');
const KEY_STORAGE = 'abrec.adminKey';
const dayBefore = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10);
/** Oldest first, as the analysis writes them. */
const REPORT_DAYS = [dayBefore(2), dayBefore(1), dayBefore(0)];

interface RecommendResponse {
  request_id: string;
  variant: string;
  items: { item_id: string }[];
}

let dataDir: string;
let runtime: LocalRuntime;
let browser: Browser;

/** Runs the project's own provisioning script: finds Chromium, installs it as root on Debian, or fails saying how. */
function ensureBrowser(): void {
  const result = spawnSync(process.execPath, [join(PROJECT_ROOT, 'scripts/ensure-browser.mjs')], { encoding: 'utf8', timeout: 15 * 60_000 });
  if (result.status !== 0) throw new Error(`Chromium is required for the dashboard tests and could not be provisioned:\n${result.stdout}${result.stderr}`);
}

/** Recommendations for 40 users, clicks on the first item for a third of them, in one batch. */
async function putTraffic(): Promise<void> {
  const clicks: Record<string, string>[] = [];
  for (let user = 1; user <= 40; user++) {
    const response = await fetch(`${runtime.url}/recommend?user_id=${user}&top_n=5`, { headers: { 'x-api-key': runtime.apiKey } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as RecommendResponse;
    if (user % 3 === 0)
      clicks.push({ event_type: 'click', user_id: String(user), experiment_id: 'default', item_id: body.items[0].item_id, request_id: body.request_id });
  }
  const batch = await fetch(`${runtime.url}/events/batch`, {
    method: 'POST',
    headers: { 'x-api-key': runtime.apiKey, 'content-type': 'application/json' },
    body: JSON.stringify({ events: clicks }),
  });
  expect(batch.status).toBeLessThan(300);
}

/** A fresh tab (own sessionStorage) that records every URL it requests and everything it logs. */
async function openDashboard(): Promise<{ page: Page; urls: string[]; logs: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  const urls: string[] = [];
  const logs: string[] = [];
  page.on('request', (request) => urls.push(request.url()));
  page.on('console', (entry) => logs.push(entry.text()));
  page.on('pageerror', (error) => logs.push(`pageerror: ${error.message}`));
  await page.goto(`${runtime.url}/`);
  return { page, urls, logs };
}

async function signIn(page: Page, key: string): Promise<void> {
  await page.getByLabel('Admin key').fill(key);
  await page.getByLabel('Admin key').press('Enter');
}

beforeAll(async () => {
  ensureBrowser();
  dataDir = await mkdtemp(join(tmpdir(), 'abrec-dashboard-'));
  runtime = await startLocalRuntime({ dataDir, port: 0 });
  await putTraffic();
  // Three daily reports: the two days before (no traffic yet) and today's, with the traffic.
  for (const day of REPORT_DAYS) await runtime.invoke('analysis', { experiment_id: 'default', day });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}, 20 * 60_000);

afterAll(async () => {
  await browser?.close();
  await runtime?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('the dashboard in Chromium', () => {
  it('signs in with the pasted key, opens the default experiment and its report, and shows why a promotion is refused', async () => {
    // Prepare
    const { page, urls, logs } = await openDashboard();
    const refusal = await fetch(`${runtime.url}/experiments/default/promote`, {
      method: 'POST',
      headers: { 'x-admin-key': runtime.adminKey, 'content-type': 'application/json' },
      body: JSON.stringify({ winner: 'treatment' }),
    });
    const { error } = (await refusal.json()) as { error: { code: string; message: string } };
    expect(refusal.status).toBe(409);

    // Act: sign in, open the experiment from the list, try to promote
    await signIn(page, runtime.adminKey);
    const row = page.getByRole('row', { name: /default/ });
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.textContent()).toMatch(/running/);
    expect(await row.textContent()).toMatch(/50%/);
    await page.getByRole('link', { name: 'default', exact: true }).click();
    await page.locator('#history li').first().waitFor();
    await page.frameLocator('#report-frame').locator('svg').first().waitFor();
    await page.getByLabel('Variant').selectOption('treatment');
    await page.getByRole('button', { name: 'Promote' }).click();
    await page.locator('#action-result .error').waitFor();

    // Assess: the report, its history, the refusal reason as the API gave it, the models
    expect(await page.locator('#detail-title').textContent()).toContain('default');
    expect(await page.locator('#report-title').textContent()).toMatch(/^Latest report \(\d{4}-\d{2}-\d{2}\)$/);
    expect(await page.locator('#report-summary .badge').textContent()).toMatch(/^(keep-running|ship|stop-no-effect|investigate-srm)$/);
    expect(await page.locator('#report-title').textContent()).toBe(`Latest report (${REPORT_DAYS[2]})`);
    expect(await page.locator('#history li button').allTextContents()).toEqual([...REPORT_DAYS].reverse());
    expect(await page.locator('#history .badge').count()).toBe(3);
    const shown = await page.locator('#action-result').textContent();
    expect(shown).toContain(`409 ${error.code}: ${error.message}`);
    expect(await page.locator('#models-body tbody tr').count()).toBeGreaterThanOrEqual(3);
    expect(await page.locator('#models-body').textContent()).toMatch(/latest/);

    // Assess: the key lives in this tab's sessionStorage, never in a URL or a log line
    expect(await page.evaluate((name) => sessionStorage.getItem(name), KEY_STORAGE)).toBe(runtime.adminKey);
    expect(page.url()).not.toContain(runtime.adminKey);
    expect(urls.filter((url) => url.includes(runtime.adminKey))).toEqual([]);
    expect(logs.filter((line) => line.includes(runtime.adminKey))).toEqual([]);
    expect(logs.filter((line) => /pageerror|Content Security Policy|Refused/.test(line))).toEqual([]);

    // An older day of the history opens in place of the latest.
    await page.getByRole('button', { name: REPORT_DAYS[0] }).click();
    await expect.poll(() => page.locator('#report-title').textContent()).toBe(`Report of ${REPORT_DAYS[0]}`);
    await page.getByRole('button', { name: REPORT_DAYS[2] }).click();
    await expect.poll(() => page.locator('#report-title').textContent()).toBe(`Latest report (${REPORT_DAYS[2]})`);

    await mkdir(ARTIFACTS_DIR, { recursive: true });
    await page.locator('#report-frame').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'dashboard.png'), fullPage: true });
    await page.context().close();
  });

  it("creates, starts and ramps an experiment, showing the API's reason for each refusal", async () => {
    // Prepare: the create form starts from a valid request pinned to the published versions
    const { page } = await openDashboard();
    await signIn(page, runtime.adminKey);
    await page.getByRole('link', { name: 'default', exact: true }).waitFor();
    await page.getByText('Create an experiment').click();
    const textarea = page.getByLabel(/Experiment \(JSON/);
    await expect.poll(() => textarea.inputValue()).toContain('"my-experiment"');
    const valid = JSON.parse(await textarea.inputValue()) as { variants: { model_version: string }[] };
    const result = page.locator('#create-result');
    const actionResult = page.locator('#action-result');

    // Act + assess: a pinned version that does not exist is refused naming the field
    const unknownVersion = structuredClone(valid);
    unknownVersion.variants[0].model_version = 'ffffffffffffffff';
    await textarea.fill(JSON.stringify(unknownVersion));
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await expect.poll(() => result.textContent()).toMatch(/^create refused: 400 validation_failed: .*variants\[0\]\.model_version/);

    // Act + assess: the valid request creates a draft, listed
    await textarea.fill(JSON.stringify(valid));
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await expect.poll(() => result.textContent()).toBe('Created my-experiment (draft).');
    await page.getByRole('link', { name: 'my-experiment', exact: true }).click();
    await page.locator('#detail-title', { hasText: 'my-experiment' }).waitFor();

    // Act + assess: ramping a draft is refused (409), start works, weights not summing to 1 are refused (400), a good ramp works
    await page.getByRole('button', { name: 'Ramp' }).click();
    await expect.poll(() => actionResult.textContent()).toMatch(/^ramp refused: 409 conflict: /);
    await page.getByRole('button', { name: 'Start' }).click();
    await expect.poll(() => actionResult.textContent()).toBe('start: done (status running, revision 1).');
    await page.getByLabel('treatment', { exact: true }).fill('0.2');
    await page.getByLabel('control', { exact: true }).fill('0.7');
    await page.getByLabel('control', { exact: true }).press('Enter');
    await expect.poll(() => actionResult.textContent()).toMatch(/^ramp refused: 400 validation_failed: .*weights/);
    await page.getByLabel('treatment', { exact: true }).fill('0.3');
    await page.getByLabel('treatment', { exact: true }).press('Enter');
    await expect.poll(() => actionResult.textContent()).toBe('ramp: done (status running, revision 2).');
    expect(await page.locator('#detail-summary').textContent()).toContain('70%');
    await page.context().close();
  });

  it("shows the API's 403 message for a wrong key and keeps nothing", async () => {
    // Prepare
    const { page } = await openDashboard();

    // Act
    await signIn(page, 'not-the-admin-key');
    await page.locator('#sign-in-error:not([hidden])').waitFor();

    // Assess
    expect(await page.locator('#sign-in-error').textContent()).toBe('403 forbidden: Invalid admin key');
    expect(await page.evaluate((name) => sessionStorage.getItem(name), KEY_STORAGE)).toBeNull();
    expect(await page.locator('#app').isHidden()).toBe(true);
    await page.context().close();
  });

  it('signs out: the key leaves sessionStorage and the experiments leave the page', async () => {
    // Prepare
    const { page } = await openDashboard();
    await signIn(page, runtime.adminKey);
    await page.getByRole('link', { name: 'default', exact: true }).waitFor();

    // Act
    await page.getByRole('button', { name: 'Sign out' }).click();

    // Assess
    expect(await page.evaluate((name) => sessionStorage.getItem(name), KEY_STORAGE)).toBeNull();
    expect(await page.locator('#sign-in').isVisible()).toBe(true);
    expect(await page.locator('#experiments-body').textContent()).toBe('');
    await page.context().close();
  });

  it('is usable from the keyboard: the sign-in form and the experiment link are reached and used with Tab and Enter', async () => {
    // Prepare
    const { page } = await openDashboard();

    // Act: the key field has the focus on load; Enter submits
    await page.keyboard.type(runtime.adminKey);
    await page.keyboard.press('Enter');
    await page.getByRole('link', { name: 'default', exact: true }).waitFor();
    // Tab from the top of the content to the experiment's link (past Refresh), then Enter.
    for (let presses = 0; presses < 10 && (await page.evaluate('document.activeElement?.textContent')) !== 'default'; presses++)
      await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('default');
    await page.keyboard.press('Enter');
    await page.locator('#history li').first().waitFor();

    // Assess
    expect(page.url()).toMatch(/#\/experiments\/default$/);
    await expect.poll(() => page.evaluate('document.activeElement?.id')).toBe('detail-title');
    await page.context().close();
  });

  it('shows an experiment its schedule stopped: the reason, its final report and the banner of the page', async () => {
    // Prepare: an experiment that ends in an hour, stopped by the analysis EventBridge fires two hours later
    const adminHeaders = { 'x-admin-key': runtime.adminKey, 'content-type': 'application/json' };
    const base = (await (await fetch(`${runtime.url}/experiments/default`, { headers: adminHeaders })).json()) as {
      variants: { name: string; model_id: string; model_version: string; is_control: boolean }[];
    };
    const now = runtime.clock.now();
    const created = await fetch(`${runtime.url}/experiments`, {
      method: 'POST',
      headers: adminHeaders,
      body: JSON.stringify({
        id: 'ends-on-schedule',
        name: 'Ends on schedule',
        status: 'running',
        end_time: new Date(now + 3_600_000).toISOString(),
        variants: base.variants.map(({ name, model_id, model_version, is_control }) => ({ name, model_id, model_version, is_control, weight: 0.5 })),
        target_metric: { kind: 'click_through' },
      }),
    });
    expect(created.status).toBe(201);
    const firedAt = new Date(now + 2 * 3_600_000).toISOString();
    await runtime.invoke('analysis', { source: 'aws.events', 'detail-type': 'Scheduled Event', time: firedAt, experiment_id: 'ends-on-schedule' });
    const { page, logs } = await openDashboard();

    // Act
    await signIn(page, runtime.adminKey);
    const row = page.getByRole('row', { name: /ends-on-schedule/ });
    await expect.poll(() => row.count()).toBe(1);
    const rowText = await row.textContent();
    await page.getByRole('link', { name: 'ends-on-schedule', exact: true }).click();
    await page.locator('#history .tag.final').waitFor();
    await page.frameLocator('#report-frame').locator('.final-report').waitFor();

    // Assess
    expect(rowText).toMatch(/stopped.*final.*schedule: end_time reached/);
    const facts = await page.locator('#detail-summary').textContent();
    expect(facts).toContain('Stoppedschedule: end_time reached');
    expect(facts).toMatch(/Final report\d{4}-\d{2}-\d{2} · [a-z-]+ · alert sent/);
    expect(facts).toContain('Max duration90 days from the start');
    expect(await page.locator('#report-summary .final-report').textContent()).toContain('schedule: end_time reached');
    expect(await page.frameLocator('#report-frame').locator('.final-report').textContent()).toContain('Final report');
    expect(logs.filter((line) => /pageerror|Content Security Policy|Refused/.test(line))).toEqual([]);
    await page.context().close();
  });
});

describe('the dashboard files', () => {
  it('are served with a strict Content-Security-Policy and no-referrer, nosniff and no framing', async () => {
    for (const path of ['/', '/dashboard/app.js', '/dashboard/style.css']) {
      const response = await fetch(`${runtime.url}${path}`);

      expect(response.status).toBe(200);
      expect(response.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
      expect(DASHBOARD_CSP).toContain("default-src 'self'");
      expect(DASHBOARD_CSP).toContain("script-src 'self'");
      expect(DASHBOARD_CSP).not.toMatch(/script-src[^;]*unsafe/);
      expect(DASHBOARD_CSP).toContain("frame-ancestors 'none'");
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });

  it.each(['/dashboard/%2e%2e/package.json', '/dashboard/..%2fpackage.json', '/dashboard/keys.json', '/dashboard/../../etc/passwd'])(
    'serve nothing outside the fixed file list (%s is 404)',
    async (path) => {
      const response = await fetch(`${runtime.url}${path}`);

      expect(response.status).toBe(404);
      expect(await response.text()).not.toContain('"dependencies"');
    },
  );

  it('answer 405 to anything but GET', async () => {
    const response = await fetch(`${runtime.url}/`, { method: 'POST', body: '{}' });

    expect(response.status).toBe(405);
  });
});
