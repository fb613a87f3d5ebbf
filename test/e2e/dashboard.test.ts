// The dashboard in a real headless Chromium (Debian's chromium, driven by playwright-core).
// The test Temporal dev server runs headless (no Web UI), so a task's link is checked by its exact
// href and by finding that workflow in that namespace through the API and the Temporal client.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { call, login } from './support/http.js';
import { platform } from './support/hooks.js';
import { ADMIN } from '../../harness/platform.js';
import { repoRoot } from '../../config/paths.js';

const CHROMIUM = process.env.DURABOX_CHROMIUM ?? '/usr/bin/chromium';
const artifacts = join(repoRoot, 'test', 'artifacts');

describe('dashboard in headless Chromium', function () {
  this.timeout(60_000);
  let userDataDir: string;
  let browser: BrowserContext;
  let page: Page;
  const cspViolations: string[] = [];

  const shot = (name: string) => page.screenshot({ path: join(artifacts, `dashboard-${name}.png`), fullPage: true });
  const go = async (path: string) => {
    await page.goto(`${platform.url}${path}`);
  };

  before(async () => {
    mkdirSync(artifacts, { recursive: true });
    userDataDir = mkdtempSync(join(tmpdir(), 'durabox-chromium-'));
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 800 },
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('dialog', (d) => void d.accept());
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
  });
  after(async () => {
    await browser?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    platform.config.api.enableRegistration = false;
  });

  it('signs the admin in from the login page and shows live counts', async () => {
    await go('/');
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('invalid username or password').waitFor();
    await shot('login');
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.waitForFunction(() => /^\d+$/.test(document.querySelector('[data-testid=workers-online] .card-value')?.textContent ?? ''));
    const online = await page.locator('[data-testid=workers-online] .card-value').textContent();
    assert.ok(Number(online) >= 1, `workers online: ${online}`);
    await page.waitForFunction(() => /^\d+$/.test(document.querySelector('[data-testid=tasks-total] .card-value')?.textContent ?? ''));
    await shot('overview');
    platform.api.deps.loginLimiter.reset();
  });

  it('shows a new token once, and only masked after a reload', async () => {
    await go('/tokens');
    const name = `browser-${Date.now()}`;
    await page.locator('input[name=token-name]').fill(name);
    await page.getByRole('button', { name: 'Create token' }).click();
    const value = (await page.getByTestId('once-value').textContent())!;
    assert.match(value, /^dbx_[0-9a-f]{48}$/);
    await shot('token-created');
    // The token works against the API.
    assert.equal((await call('GET', '/api/v1/tasks', { token: value })).status, 200);
    await page.reload();
    const row = page.locator(`tr[data-token-name="${name}"]`);
    await row.waitFor();
    const masked = (await row.locator('td.mono').textContent())!;
    assert.notEqual(masked, value);
    assert.match(masked, /^dbx_\*+/);
    assert.equal(await page.getByTestId('once-box').count(), 0);
    assert.ok(!(await page.content()).includes(value), 'the value is nowhere on the page after a reload');
    await shot('tokens');
  });

  it('creates a worker credential, shows its start command once, and lists the online worker with its runtimes', async () => {
    await go('/workers');
    await page.getByRole('button', { name: 'New worker' }).click();
    const command = (await page.getByTestId('once-value').textContent())!;
    assert.match(command, /DURABOX_WORKER_ID=wrk_[0-9a-f]{32}/);
    assert.match(command, /DURABOX_WORKER_SECRET=dbxw_[0-9a-f]{48}/);
    assert.match(command, new RegExp(`DURABOX_API_URL=${platform.url.replace(/[.]/g, '\\.')}`));
    assert.match(command, /durabox worker$/);
    const nodeId = /DURABOX_WORKER_ID=(\S+)/.exec(command)![1];
    await page.locator(`tr[data-node-id="${nodeId}"]`).waitFor();
    const main = page.locator(`tr[data-node-id="${platform.workerId('w-main')}"]`);
    await main.getByText('online').waitFor();
    assert.match((await main.textContent())!, /python \d+\/2/);
    await shot('workers');
    await page.reload();
    assert.equal(await page.getByTestId('once-box').count(), 0, 'the command is not shown again');
    await page.locator(`tr[data-node-id="${nodeId}"]`).getByRole('button', { name: 'delete' }).click();
    await page.locator(`tr[data-node-id="${nodeId}"]`).waitFor({ state: 'detached' });
  });

  it('lists a task run through the API, linked to its workflow in the Temporal UI', async () => {
    const cookie = await login();
    const token = (await call('POST', '/api/v1/console/tokens', { cookie, body: { name: `link-${Date.now()}` } })).body.token;
    const t = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', input: { code: 'print("from the dashboard test")' }, mode: 'sync' } });
    assert.equal(t.status, 200);
    await go('/tasks');
    const row = page.locator(`tr[data-task-id="${t.body.task_id}"]`);
    await row.waitFor();
    assert.match((await row.textContent())!, /pythonExec.*succeeded/);
    const href = await row.getByRole('link', { name: t.body.task_id }).getAttribute('href');
    const ns = platform.config.temporal.namespace;
    assert.equal(href, `${platform.config.temporal.uiUrl}/namespaces/${ns}/workflows/${t.body.task_id}`);
    // What the link opens exists: that workflow, in that namespace, as the API and Temporal see it.
    const [, linkNs, linkId] = /\/namespaces\/([^/]+)\/workflows\/([^/]+)$/.exec(href!)!;
    assert.equal((await call('GET', `/api/v1/tasks/${linkId}`, { token })).body.status, 'succeeded');
    const d = await platform.api.deps.client.workflow.getHandle(linkId).describe();
    assert.equal(linkNs, ns);
    assert.equal(d.type, 'taskWorkflow');
    await shot('tasks');
  });

  it('lets the admin create an account when registration is on, and that account sees no admin pages', async () => {
    platform.config.api.enableRegistration = true;
    await go('/accounts');
    const username = `browser-user-${Date.now()}`;
    await page.locator('input[name=new-username]').fill(username);
    await page.locator('input[name=new-password]').fill('browser-pw');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText(`Account ${username} created.`).waitFor();
    await page.getByRole('cell', { name: username, exact: true }).waitFor();
    await shot('accounts');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill('browser-pw');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Workers' }).count(), 0);
    assert.equal(await page.getByRole('link', { name: 'Accounts' }).count(), 0);
    await go('/tasks');
    await page.getByText('No tasks yet').waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Username').waitFor();
  });

  it('serves its own routes as the page, and never shadows the API, MCP or operations paths', async () => {
    for (const path of ['/', '/tokens', '/workers', '/some/page']) {
      const r = await fetch(`${platform.url}${path}`);
      assert.equal(r.status, 200, path);
      assert.match(r.headers.get('content-type') ?? '', /text\/html/, path);
    }
    const api = await fetch(`${platform.url}/api/v1/nothing-here`);
    assert.equal(api.status, 404);
    assert.match(api.headers.get('content-type') ?? '', /json/);
    assert.equal((await fetch(`${platform.url}/api`)).status, 404);
    assert.deepEqual(await (await fetch(`${platform.url}/healthz`)).json(), { status: 'ok' });
    assert.match(await (await fetch(`${platform.url}/metrics`)).text(), /durabox_api_/);
    const mcp = await fetch(`${platform.url}/mcp`);
    assert.notEqual(mcp.status, 200);
    assert.doesNotMatch(mcp.headers.get('content-type') ?? '', /html/);
    assert.equal((await fetch(`${platform.url}/assets/missing.js`)).status, 404);
  });

  it('serves the dashboard with security headers, and nothing it does breaks its own policy', async () => {
    const res = await fetch(`${platform.url}/tokens`);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self';.*frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.deepEqual(cspViolations, [], 'the pages visited above ran under the policy without a violation');
  });
});
