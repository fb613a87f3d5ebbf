// A session's page in the dashboard, in a real headless Chromium (playwright-core): reached from the
// sessions list; its files (browse, upload by picker and by drop, download the same bytes, delete), its
// checkpoint chain, a named snapshot, a fork and its end, the link to its workflow; its terminal (xterm.js
// over the session's PTY WebSocket) and its listening ports. Then the cookie routes the page calls: bad
// input named, calls that change something refused from another origin, another account's session unseen.
// Real Docker, Temporal, PostgreSQL and runtime workers.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { call, login, newToken } from './support/http.js';
import { platform } from './support/hooks.js';
import { launchChromium } from './support/chromium.js';
import { ADMIN } from '../../harness/platform.js';
import { repoRoot } from '../../config/paths.js';
import { sessionWorkflowId } from '../../control/session-service.js';

const artifacts = join(repoRoot, 'test', 'artifacts');

type Out = { session_id: string; stdout: string; exit_code: number };

describe('dashboard: a session\'s page in headless Chromium', function () {
  this.timeout(120_000);
  let launched: Awaited<ReturnType<typeof launchChromium>> | undefined;
  let browser: BrowserContext;
  let page: Page;
  let cookie: string;
  let token: string;
  let accountId: string;
  let sid: string;
  const cspViolations: string[] = [];
  const ended: string[] = [];

  const shot = (name: string) => page.screenshot({ path: join(artifacts, `dashboard-session-${name}.png`), fullPage: true });
  const term = (body: Record<string, unknown>) => call<Out>('POST', '/api/v1/commands/terminal', { token, body: { lease_ttl_sec: 600, ...body } });
  const fileVia = (path: string) => fetch(`${platform.url}/api/v1/sessions/${sid}/files?path=${encodeURIComponent(path)}`, { headers: { authorization: `Bearer ${token}` } });
  const console_ = (method: string, path: string, opts: Parameters<typeof call>[2] = {}) =>
    call(method, `/api/v1/console/sessions/${path}`, { cookie, ...opts, headers: { origin: platform.url, ...(opts.headers ?? {}) } });
  const openPage = async (id: string) => {
    await page.goto(`${platform.url}/sessions/${id}`);
    await page.locator(`[data-testid=session-page][data-status]`).waitFor();
  };

  before(async () => {
    mkdirSync(artifacts, { recursive: true });
    cookie = await login();
    token = await newToken(cookie);
    accountId = (await call('GET', '/api/v1/console/session', { cookie })).body.account.account_id;
    const first = await term({ command: 'echo hello from the session > hello.txt && mkdir -p sub/deeper && echo deep > sub/deeper/deep.txt' });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    sid = first.body.session_id;
    ended.push(sid);

    launched = await launchChromium({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
    browser = launched.context;
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('dialog', (d) => void d.accept());
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
    await page.goto(`${platform.url}/`);
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  });
  after(async () => {
    await launched?.close();
    for (const id of ended) await call('DELETE', `/api/v1/sessions/${id}`, { token }).catch(() => undefined);
    platform.config.api.enableRegistration = false;
  });

  it('opens from the sessions list: its state, its workflow in the Temporal UI, its chain, and its files to browse', async () => {
    await page.getByRole('link', { name: 'Tasks' }).click();
    const row = page.locator(`[data-testid=sessions-table] tr[data-session-id="${sid}"]`);
    await row.waitFor();
    await row.getByRole('link', { name: sid }).click();
    await page.getByRole('heading', { name: `Session ${sid}` }).waitFor();
    assert.equal(new URL(page.url()).pathname, `/sessions/${sid}`);
    await page.locator('[data-testid=session-page][data-status=active]').waitFor();

    // The workflow link opens this session's workflow in this namespace; the API and Temporal agree it is it.
    const href = await page.getByTestId('workflow-link').getAttribute('href');
    const workflowId = sessionWorkflowId(accountId, sid);
    assert.equal(href, `${platform.config.temporal.uiUrl}/namespaces/${platform.config.temporal.namespace}/workflows/${workflowId}`);
    const d = await platform.api.deps.client.workflow.getHandle(workflowId).describe();
    assert.equal(d.type, 'sessionWorkflow');
    assert.equal(d.status.name, 'RUNNING');

    // The chain as the store holds it: with zero loss the first command's effect is a stored part, by the
    // session's first container.
    const chain = await platform.api.deps.snapshots.chain(accountId, sid);
    assert.ok(chain.length >= 1, 'a stored part');
    await page.waitForFunction(() => /^\d+$/.test(document.querySelector('[data-testid=generation]')?.textContent ?? ''));
    assert.equal(await page.getByTestId('generation').textContent(), String(await platform.api.deps.snapshots.generation(accountId, sid)));
    assert.match((await page.getByTestId('chain').textContent())!, new RegExp(`^${chain.length} parts? · last #${chain.at(-1)!.seq} \\((full|delta)\\)`));

    // Browse: /workspace, then a directory, then back up.
    const files = page.getByTestId('files-table');
    await files.locator('tr[data-file-name="hello.txt"][data-file-type=file]').waitFor();
    await files.locator('tr[data-file-name="sub"][data-file-type=dir]').getByRole('button', { name: 'sub/' }).click();
    await files.locator('tr[data-file-name="deeper"]').getByRole('button', { name: 'deeper/' }).click();
    await files.locator('tr[data-file-name="deep.txt"]').waitFor();
    assert.equal(await page.getByTestId('files-dir').textContent(), '/workspace/sub/deeper');
    await shot('files-deeper');
    await files.getByRole('button', { name: '..' }).click();
    await files.getByRole('button', { name: '..' }).click();
    await files.locator('tr[data-file-name="hello.txt"]').waitFor();
    await shot('page');
  });

  it('uploads a file by the picker, lists it, downloads the very bytes, deletes it; a dropped file is uploaded too', async () => {
    await openPage(sid);
    const files = page.getByTestId('files-table');
    await files.locator('tr[data-file-name="hello.txt"]').waitFor();
    // Every byte value, and more than one read's worth.
    const content = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(200_000)]);
    const [put] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'PUT' && new URL(r.url()).pathname === `/api/v1/console/sessions/${sid}/files`),
      page.locator('input[name=upload]').setInputFiles({ name: 'upload.bin', mimeType: 'application/octet-stream', buffer: content }),
    ]);
    assert.equal(put.status(), 201);
    const row = files.locator('tr[data-file-name="upload.bin"]');
    await row.waitFor();
    assert.match((await row.textContent())!, /^upload\.bin196 KiB/);
    // In the session, as the token route reads it.
    assert.deepEqual(Buffer.from(await (await fileVia('upload.bin')).arrayBuffer()), content);

    // The download is those bytes.
    const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('link', { name: 'upload.bin' }).click()]);
    assert.equal(download.suggestedFilename(), 'upload.bin');
    assert.deepEqual(readFileSync((await download.path())!), content);

    // A file dropped on the panel lands in the directory shown.
    const dropped = await page.evaluateHandle(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['dropped ✓\n'], 'dropped.txt', { type: 'text/plain' }));
      return dt;
    });
    await page.getByTestId('files').dispatchEvent('drop', { dataTransfer: dropped });
    await files.locator('tr[data-file-name="dropped.txt"]').waitFor();
    assert.equal(await (await fileVia('dropped.txt')).text(), 'dropped ✓\n');
    await shot('uploaded');

    // Delete, after a confirm: gone from the page and from the session.
    await row.getByRole('button', { name: 'delete' }).click();
    await row.waitFor({ state: 'detached' });
    const gone = await fileVia('upload.bin');
    assert.equal(gone.status, 404);
    assert.equal(((await gone.json()) as { code: string }).code, 'file_not_found');
    const ls = await term({ session_id: sid, command: 'ls' });
    assert.equal(ls.body.stdout, 'dropped.txt\nhello.txt\nsub\n');
  });

  it('keeps a named snapshot, forks into a new session\'s page, and ends that one', async () => {
    await openPage(sid);
    const name = `page-snap-${process.pid}-${Date.now()}`;
    await page.getByLabel('Snapshot name').fill(name);
    await page.getByRole('button', { name: 'Snapshot' }).click();
    await page.locator(`[data-testid=snapshots-table] tr[data-snapshot-name="${name}"]`).waitFor();
    const snap = await call('GET', `/api/v1/snapshots/${name}`, { token });
    assert.equal(snap.status, 200);
    assert.equal(snap.body.session_id, sid);
    // The same name again is refused, said on the page.
    await page.getByLabel('Snapshot name').fill(name);
    await page.getByRole('button', { name: 'Snapshot' }).click();
    await page.getByTestId('checkpoints').getByText(/already has a snapshot/).waitFor();
    await call('DELETE', `/api/v1/snapshots/${name}`, { token });

    await page.getByRole('button', { name: 'Fork' }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/sessions/') && u.pathname !== `/sessions/${sid}`);
    const fid = new URL(page.url()).pathname.split('/').pop()!;
    ended.push(fid);
    await page.getByRole('heading', { name: `Session ${fid}` }).waitFor();
    await page.locator('[data-testid=files-table] tr[data-file-name="dropped.txt"]').waitFor();
    const inFork = await term({ session_id: fid, command: 'cat hello.txt' });
    assert.equal(inFork.body.stdout, 'hello from the session\n');
    await shot('fork');

    await page.getByRole('button', { name: 'End session' }).click();
    await page.locator('[data-testid=session-page][data-status=ended]').waitFor();
    assert.equal((await call('GET', `/api/v1/sessions/${fid}`, { token })).body.status, 'ended');
    assert.equal((await call('GET', `/api/v1/sessions/${sid}`, { token })).body.status, 'active', 'the source goes on');
  });

  describe('the session routes by cookie: bad input, other origins, other accounts', () => {
    it('names the field of bad input', async () => {
      const bad: Array<[string, string, RegExp, unknown?]> = [
        ['GET', `${sid}/files`, /^invalid query: path: /],
        ['GET', `${sid}/files?path=${encodeURIComponent('../etc/passwd')}`, /^invalid query: path: must not contain \.\. segments/],
        ['DELETE', `${sid}/files?path=`, /^invalid query: path: /],
        ['POST', `${sid}/snapshots`, /^invalid request body: name: /, { name: 'Not A Name!' }],
        ['POST', `${sid}/snapshots`, /^invalid request body: name: /, {}],
        ['POST', `${sid}/fork`, /^invalid request body: lease_ttl_sec: unknown field/, { lease_ttl_sec: 5 }],
      ];
      for (const [method, path, problem, body] of bad) {
        const r = await console_(method, path, { body });
        assert.equal(r.status, 400, `${method} ${path}: ${JSON.stringify(r.body)}`);
        assert.match(r.body.error, problem, `${method} ${path}`);
      }
      const noFile = await console_('GET', `${sid}/files?path=nothing-here.txt`);
      assert.equal(noFile.status, 404);
      assert.equal(noFile.body.code, 'file_not_found');
      const tooBig = await console_('PUT', `${sid}/files?path=big.bin`, { raw: 'x'.repeat(platform.config.api.session.fileMaxBytes + 1), headers: { 'content-type': 'application/octet-stream' } });
      assert.equal(tooBig.status, 413);
      // A JSON body where bytes are asked for, or a form where JSON is: refused, as on every cookie route.
      const form = await console_('POST', `${sid}/snapshots`, { raw: 'name=from-a-form', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(form.status, 415);
      const plain = await console_('POST', `${sid}/fork`, { raw: '{}', headers: { 'content-type': 'text/plain' } });
      assert.equal(plain.status, 415);
    });

    it('takes the login cookie only, and refuses a change from any origin but its own', async () => {
      await term({ session_id: sid, command: 'echo keep > keep.txt' });
      const changes: Array<[string, string, string?]> = [
        ['PUT', `${sid}/files?path=keep.txt`, 'overwritten'], ['DELETE', `${sid}/files?path=keep.txt`], ['POST', `${sid}/snapshots`, JSON.stringify({ name: `xorigin-${Date.now()}` })],
        ['POST', `${sid}/fork`, '{}'], ['DELETE', sid],
      ];
      for (const [method, path, raw] of changes) {
        const type = method === 'PUT' ? 'application/octet-stream' : 'application/json';
        // A sibling host of the same site (it gets the SameSite=Lax cookie), a foreign one, a null origin, none.
        for (const origin of ['http://preview.127.0.0.1.nip.io:1', 'https://evil.example', 'null', undefined]) {
          const headers: Record<string, string> = { 'content-type': type, cookie, ...(origin ? { origin } : {}) };
          const r = await fetch(`${platform.url}/api/v1/console/sessions/${path}`, { method, headers, body: raw });
          const body = (await r.json()) as { error: string };
          assert.equal(r.status, 403, `${method} ${path} from ${origin}`);
          assert.match(body.error, /^Origin: /, `${method} ${path} from ${origin}`);
        }
        assert.equal((await call(method, `/api/v1/console/sessions/${path}`, { raw, headers: { 'content-type': type, origin: platform.url } })).status, 401, `${method} ${path} with no cookie`);
        assert.equal((await call(method, `/api/v1/console/sessions/${path}`, { token, raw, headers: { 'content-type': type, origin: platform.url } })).status, 401, `${method} ${path} with an access token`);
      }
      // Nothing happened: the file as it was, the session live.
      assert.equal(await (await fileVia('keep.txt')).text(), 'keep\n');
      assert.equal((await call('GET', `/api/v1/sessions/${sid}`, { token })).body.status, 'active');
      // Reads carry no Origin from a page's own navigation (a download link), and change nothing.
      assert.equal((await call('GET', `/api/v1/console/sessions/${sid}/files?path=keep.txt`, { cookie })).status, 200);
      assert.equal((await call('GET', `/api/v1/console/sessions/${sid}`, { token })).status, 401);
    });

    it('shows another account nothing of the session: every route answers 404, and nothing changes', async () => {
      await term({ session_id: sid, command: 'echo keep > keep.txt' });
      platform.config.api.enableRegistration = true;
      const username = `sess-other-${Date.now()}`;
      assert.equal((await call('POST', '/api/v1/console/register', { cookie, body: { username, password: 'other-pw' } })).status, 201);
      const other = await login(username, 'other-pw');
      const theirs: Array<[string, string, string?, string?]> = [
        ['GET', sid], ['GET', `${sid}/files?path=keep.txt`], ['GET', `${sid}/files?path=%2Fworkspace`], ['GET', `${sid}/ports`],
        ['PUT', `${sid}/files?path=keep.txt`, 'theirs', 'application/octet-stream'], ['DELETE', `${sid}/files?path=keep.txt`],
        ['POST', `${sid}/snapshots`, JSON.stringify({ name: `stolen-${Date.now()}` }), 'application/json'], ['POST', `${sid}/fork`, '{}', 'application/json'], ['DELETE', sid],
      ];
      for (const [method, path, raw, type] of theirs) {
        const r = await call(method, `/api/v1/console/sessions/${path}`, { cookie: other, raw, headers: { origin: platform.url, ...(type ? { 'content-type': type } : {}) } });
        assert.equal(r.status, 404, `${method} ${path}: ${JSON.stringify(r.body)}`);
        assert.match(JSON.stringify(r.body), /no session|session not found/);
      }
      // An id that cannot be a session's is as unknown.
      assert.equal((await call('GET', '/api/v1/console/sessions/..%2Fsessions', { cookie })).status, 404);
      assert.equal((await call('GET', '/api/v1/console/sessions/sess_0', { cookie })).status, 404);
      assert.equal(await (await fileVia('keep.txt')).text(), 'keep\n');
      assert.equal((await call('GET', `/api/v1/sessions/${sid}`, { token })).body.status, 'active');
      assert.deepEqual((await call('GET', '/api/v1/snapshots', { token: await newToken(other) })).body.items, []);
    });
  });

  // The terminal and the ports go through the session tunnel: GET /api/v1/sessions/{id}/pty (WebSocket, by
  // the login cookie from the dashboard's own origin) and GET /api/v1/console/sessions/{id}/ports.
  describe('terminal and ports', () => {
    it('types a command in the terminal and sees its output; the PTY has the terminal\'s size; a reconnect shows the scrollback', async () => {
      await openPage(sid);
      const status = page.getByTestId('terminal-status');
      await page.locator('[data-testid=terminal-status][data-state=open]').waitFor({ timeout: 30_000 }).catch(async (e) => {
        throw new Error(`the terminal did not connect: ${await status.textContent()} (${(e as Error).message})`);
      });
      const screen = page.locator('[data-testid=terminal] .xterm-rows');
      await page.getByTestId('terminal').click();
      await page.keyboard.type('echo "answer-$((6*7))"; stty size\n');
      await screen.getByText('answer-42').first().waitFor({ timeout: 15_000 });
      const el = page.getByTestId('terminal');
      const [cols, rows] = [await el.getAttribute('data-cols'), await el.getAttribute('data-rows')];
      assert.ok(Number(cols) > 40 && Number(rows) > 10, `fitted: ${cols}x${rows}`);
      await screen.getByText(`${rows} ${cols}`, { exact: true }).first().waitFor({ timeout: 10_000 });
      await shot('terminal');

      // The shell runs in the session: what it writes is in /workspace.
      await page.keyboard.type('echo typed-in-the-terminal > typed.txt\n');
      await (async () => {
        for (let i = 0; i < 30; i++) {
          const r = await fileVia('typed.txt');
          if (r.status === 200) return assert.equal(await r.text(), 'typed-in-the-terminal\n');
          await new Promise((res) => setTimeout(res, 500));
        }
        assert.fail('typed.txt never appeared in the session');
      })();

      // A new socket to the same terminal: the kept scrollback comes first.
      await page.getByRole('button', { name: 'reconnect' }).click();
      await page.locator('[data-testid=terminal-status][data-state=open]').waitFor({ timeout: 30_000 });
      await screen.getByText('answer-42').first().waitFor({ timeout: 15_000 });
    });

    it('lists a port listening in the session, linked through the API', async () => {
      const server = await term({ session_id: sid, command: 'mkdir -p site && echo served-from-the-session > site/index.html && (cd site && nohup python3 -m http.server 8765 --bind 127.0.0.1 >/dev/null 2>&1 &) ; sleep 1; echo started' });
      assert.equal(server.body.stdout, 'started\n');
      await openPage(sid);
      const item = page.locator('[data-testid=ports-list] li[data-port="8765"]');
      await item.waitFor({ timeout: 20_000 });
      const href = (await item.getByRole('link', { name: 'port 8765 ↗' }).getAttribute('href'))!;
      assert.equal(new URL(href, platform.url).pathname, `/api/v1/sessions/${sid}/ports/8765/`);
      // The page's list is the token route's.
      assert.deepEqual((await call('GET', `/api/v1/console/sessions/${sid}/ports`, { cookie })).body, (await call('GET', `/api/v1/sessions/${sid}/ports`, { token })).body);
      const served = await fetch(new URL(href, platform.url), { headers: { authorization: `Bearer ${token}` } });
      assert.equal(served.status, 200);
      assert.match(await served.text(), /served-from-the-session/);
      await shot('ports');
    });
  });

  // A suite of its own, so it runs after the others (mocha runs a suite's own tests before its suites').
  describe('content security policy', () => {
    it('ran every page above, the terminal too, under the dashboard\'s policy without a violation', () => {
      assert.deepEqual(cspViolations, []);
    });
  });
});
