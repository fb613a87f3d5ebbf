// The dashboard in a real headless Chromium (Debian's chromium, driven by playwright-core).
// The test Temporal dev server runs headless (no Web UI), so a task's link is checked by its exact
// href and by finding that workflow in that namespace through the API and the Temporal client.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { call, login, newToken } from './support/http.js';
import { platform } from './support/hooks.js';
import { launchChromium } from './support/chromium.js';
import { ADMIN } from '../../harness/platform.js';
import { repoRoot } from '../../config/paths.js';
import { templateImage } from '../../control/template-service.js';
import { NETWORK_POLICIES, TEMPLATE_BASES } from '../../contract/templates.js';

const artifacts = join(repoRoot, 'test', 'artifacts');

describe('dashboard in headless Chromium', function () {
  this.timeout(60_000);
  let launched: Awaited<ReturnType<typeof launchChromium>> | undefined;
  let browser: BrowserContext;
  let page: Page;
  const cspViolations: string[] = [];

  const shot = (name: string) => page.screenshot({ path: join(artifacts, `dashboard-${name}.png`), fullPage: true });
  const go = async (path: string) => {
    await page.goto(`${platform.url}${path}`);
  };

  before(async () => {
    mkdirSync(artifacts, { recursive: true });
    launched = await launchChromium({ viewport: { width: 1280, height: 800 } });
    browser = launched.context;
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('dialog', (d) => void d.accept());
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
  });
  after(async () => {
    await launched?.close();
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

  it('lists the built-in templates, builds one from the form with each host\'s log, names a bad field, deletes it; its routes need the login cookie and show no other account\'s', async function () {
    this.timeout(300_000);
    const name = `dash-${process.pid}`;
    const PACKAGES = { pip: ['tabulate==0.9.0'], npm: [], apt: [] };
    // Built by this run, not found from an earlier one on this Docker, so its log is a real install.
    await platform.docker.getImage(templateImage({ base: 'python', packages: PACKAGES })).remove({ force: true }).catch(() => undefined);

    await go('/');
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Templates' }).click();
    await page.getByRole('heading', { name: 'Templates', exact: true }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/templates');
    const table = page.getByTestId('templates-table');
    for (const builtin of ['python', 'terminal']) {
      const row = table.locator(`tr[data-template-name="${builtin}"]`);
      await row.locator('.badge-ready').waitFor();
      assert.match((await row.textContent())!, new RegExp(`^${builtin}built-in${builtin}ready`));
      assert.equal(await row.getByRole('button', { name: 'delete' }).count(), 0, 'a built-in has no delete');
    }

    // The form offers what the contract does and this platform allows; an allow-list's patterns only with that policy.
    const options = (label: string) => page.getByLabel(label).locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    await page.getByRole('button', { name: 'Create template' }).and(page.locator(':enabled')).waitFor();
    assert.deepEqual(await options('Base'), [...TEMPLATE_BASES]);
    const offered = platform.api.deps.api.templateNetworks;
    assert.deepEqual(await options('Network'), NETWORK_POLICIES.filter((p) => offered.includes(p)));
    assert.ok(!(await options('Network')).includes('full'), 'full is not offered by default (DURABOX_TEMPLATE_NETWORKS)');
    for (const policy of offered) {
      await page.getByLabel('Network').selectOption(policy);
      assert.equal(await page.getByLabel('Allow', { exact: true }).count(), (policy as string) === 'allowlist' ? 1 : 0, policy);
    }

    // Create through the form; the page follows its build without a reload.
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Base').selectOption('python');
    await page.getByLabel('Network').selectOption('none');
    await page.getByLabel('pip packages').fill('tabulate==0.9.0');
    await page.getByLabel('Memory (MB)').fill('384');
    await page.getByLabel('CPUs').fill('0.5');
    await page.getByRole('button', { name: 'Create template' }).click();
    await page.getByText(`Template ${name} created`).waitFor();
    const detail = page.getByTestId('template-detail');
    await detail.getByRole('heading', { name: `Template ${name}` }).waitFor();
    await page.locator('[data-testid=template-detail][data-status=building]').waitFor();
    await shot('template-building');
    await page.locator('[data-testid=template-detail][data-status=ready]').waitFor({ timeout: 240_000 });
    const hostRow = detail.locator(`tr[data-node-id="${platform.workerId('w-main')}"]`);
    assert.match((await hostRow.textContent())!, new RegExp(`^${platform.workerId('w-main')}ready\\d+\\.\\d`), 'host, status, seconds');
    const logs = await detail.getByTestId('build-log').allTextContents();
    assert.ok(logs.some((l) => /tabulate/.test(l)), `a host's log shows the install:\n${logs.join('\n---\n')}`);
    const row = table.locator(`tr[data-template-name="${name}"]`);
    await row.locator('.badge-ready').waitFor();
    assert.equal((await row.textContent())!, `${name}pythonreadypip: tabulate==0.9.0none3840.5delete`);
    await shot('templates');

    // The same template through the token route: the console route is the same service.
    const cookie = await login();
    const token = await newToken(cookie);
    const viaConsole = await call('GET', `/api/v1/console/templates/${name}`, { cookie });
    assert.equal(viaConsole.status, 200);
    assert.deepEqual(viaConsole.body, (await call('GET', `/api/v1/templates/${name}`, { token })).body);
    assert.deepEqual(viaConsole.body.packages, PACKAGES);
    assert.equal(viaConsole.body.memory_mb, 384);

    // A bad name, and a name taken, come back from the API naming the field, beside it.
    const nameInput = page.getByLabel('Name', { exact: true });
    const refusal = async (value: string, status: number, problem: RegExp) => {
      await nameInput.fill(value);
      const [res] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/v1/console/templates'),
        page.getByRole('button', { name: 'Create template' }).click(),
      ]);
      assert.equal(res.status(), status);
      await page.locator('#tpl-name[aria-invalid=true]').waitFor();
      const described = (await nameInput.getAttribute('aria-describedby'))!;
      assert.match((await page.locator(`[id="${described}"]`).textContent())!, problem);
    };
    await refusal('Bad Name!', 400, /^name: must be 1\.\.63 lowercase letters/);
    await shot('template-bad-name');
    await refusal(name, 409, new RegExp(`^name: the account already has a template named ${name}`));

    // The console routes take the login cookie only: no cookie, or an access token, is 401; a form a
    // foreign page posts is refused as every cookie route refuses it.
    const routes: Array<[string, string, unknown?]> = [
      ['GET', '/api/v1/console/templates'], ['GET', `/api/v1/console/templates/${name}`],
      ['POST', '/api/v1/console/templates', { name: `${name}-x`, base: 'python' }], ['DELETE', `/api/v1/console/templates/${name}`],
    ];
    for (const [method, path, body] of routes) {
      assert.equal((await call(method, path, { body })).status, 401, `${method} ${path}`);
      assert.equal((await call(method, path, { body, token })).status, 401, `${method} ${path} with an access token`);
    }
    const form = await call('POST', '/api/v1/console/templates', { cookie, raw: `name=${name}-form&base=python`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(form.status, 415);
    assert.equal((await call('GET', `/api/v1/console/templates/${name}-form`, { cookie })).status, 404);

    // Another account sees only the built-ins, and cannot read or delete this one.
    platform.config.api.enableRegistration = true;
    const username = `tpl-other-${Date.now()}`;
    assert.equal((await call('POST', '/api/v1/console/register', { cookie, body: { username, password: 'other-pw' } })).status, 201);
    const other = await login(username, 'other-pw');
    const theirs = await call('GET', '/api/v1/console/templates', { cookie: other });
    assert.equal(theirs.status, 200);
    assert.deepEqual(theirs.body.items.map((t: { name: string }) => t.name), ['python', 'terminal', 'browser']);
    assert.equal((await call('GET', `/api/v1/console/templates/${name}`, { cookie: other })).status, 404);
    assert.equal((await call('DELETE', `/api/v1/console/templates/${name}`, { cookie: other })).status, 404);
    assert.equal((await call('GET', `/api/v1/console/templates/${name}`, { cookie })).body.status, 'ready', 'still there');

    // Delete, after a confirm naming it: gone from the page and from the API.
    const dialogs: string[] = [];
    const onDialog = (d: { message(): string }) => void dialogs.push(d.message());
    page.on('dialog', onDialog);
    await row.getByRole('button', { name: 'delete' }).click();
    await row.waitFor({ state: 'detached' });
    page.off('dialog', onDialog);
    assert.match(dialogs.join('\n'), new RegExp(`^Delete template “${name}”\\?`));
    assert.equal(await page.getByTestId('template-detail').count(), 0, 'its detail closes with it');
    await page.reload();
    await table.locator('tr[data-template-name="terminal"]').waitFor();
    assert.equal(await table.locator(`tr[data-template-name="${name}"]`).count(), 0);
    assert.equal((await call('GET', `/api/v1/templates/${name}`, { token })).status, 404);
    assert.ok(!(await call('GET', '/api/v1/console/templates', { cookie })).body.items.some((t: { name: string }) => t.name === name));
  });

  it('serves its own routes as the page, and never shadows the API, MCP or operations paths', async () => {
    for (const path of ['/', '/tokens', '/workers', '/templates', '/some/page']) {
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
