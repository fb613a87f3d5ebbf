// The browser tools (api/workbench/browser.ts) against a real Chromium: the host's Debian chromium,
// started here with the flags the session agent gives it, on 127.0.0.1, driving pages of an HTTP server
// this test starts on 127.0.0.1. Then the browser image under the sandboxes' hardened profile, with the
// browser template's limits: Chromium starts as the sandbox user and answers CDP inside the container.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { DuraboxError } from '../../contract/errors.js';
import { BrowserNavigateBody, BrowserWaitBody, BROWSER_TEXT_MAX_CHARS } from '../../contract/schemas.js';
import { BROWSER_IMAGE, BROWSER_MIN_MEMORY_MB, BROWSER_MIN_PIDS, builtinTemplateRef } from '../../contract/templates.js';
import * as browser from '../../api/workbench/browser.js';
import type { CdpEndpoint } from '../../api/workbench/browser.js';
import { hardenedHostConfig, SANDBOX_USER } from '../../sandbox/profile.js';
import { templateLimits } from '../../sandbox/template-images.js';
import { loadWorkerSettings } from '../../config/index.js';
import { call, newToken } from './support/http.js';
import { platform } from './support/hooks.js';
import { eventually, sessionContainer } from './support/docker.js';

const CHROMIUM = process.env.DURABOX_CHROMIUM ?? '/usr/bin/chromium';
/** The session agent's command line for Chromium (sandbox/inside/session-agent.py), but on a free port of this host. */
const AGENT_FLAGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--remote-debugging-address=127.0.0.1'];
/** Nothing of Chromium's own goes past this machine while the test runs (updates, sync, field trials). */
const QUIET_FLAGS = ['--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'];

const PAGE = `<!doctype html><html><head><title>Workbench test</title></head><body>
<h1 id="head">Hello workbench</h1>
<form id="f" action="/result" method="get"><input id="name" name="name"><button id="go" type="button">Greet</button></form>
<p id="hidden" style="display:none">not shown</p>
<button id="later" onclick="setTimeout(() => { const p = document.createElement('p'); p.id = 'late'; p.textContent = 'arrived'; document.body.append(p); }, 300)">later</button>
<script>document.getElementById('go').onclick = () => { const p = document.createElement('p'); p.id = 'greeting'; p.textContent = 'Hello, ' + document.getElementById('name').value; document.body.append(p); };</script>
</body></html>`;

function expectCode(code: string, field?: string): (e: unknown) => true {
  return (e) => {
    assert.ok(e instanceof DuraboxError, `a DuraboxError, not ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.status >= 400 && e.status < 600);
    if (field) assert.ok(e.message.startsWith(`${field}:`), `the message names ${field}: ${e.message}`);
    return true;
  };
}

describe('browser tools against a real Chromium', function () {
  this.timeout(60_000);
  let server: Server;
  let site: string;
  let chrome: ChildProcess;
  let profile: string;
  let ep: CdpEndpoint;

  before(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      if (url.pathname === '/result') return void res.writeHead(200, { 'content-type': 'text/html' }).end(`<title>Result</title><p id="who">${(url.searchParams.get('name') ?? '').replace(/[<&]/g, '')}</p>`);
      if (url.pathname === '/tall') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<title>Tall</title><div style="height:3000px;background:linear-gradient(red,blue)">tall</div>');
      if (url.pathname === '/huge') return void res.writeHead(200, { 'content-type': 'text/html' }).end(`<title>Huge</title><pre>${'x'.repeat(BROWSER_TEXT_MAX_CHARS + 1000)}</pre>`);
      res.writeHead(404, { 'content-type': 'text/html' }).end('<title>Missing</title>nothing here');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    site = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    profile = mkdtempSync(join(tmpdir(), 'durabox-browser-tools-'));
    // Its own process group, so its helpers (renderers, the GPU and network processes) end with it.
    chrome = spawn(CHROMIUM, [...AGENT_FLAGS, '--remote-debugging-port=0', `--user-data-dir=${profile}`, ...QUIET_FLAGS, 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    // Chromium says where its DevTools listen on stderr: the browser's CDP WebSocket URL.
    const wsUrl = await new Promise<string>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`chromium did not start: ${err.slice(-2000)}`)), 30_000);
      chrome.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
        if (m) { clearTimeout(timer); resolve(m[1]!); }
      });
      chrome.once('exit', (code) => { clearTimeout(timer); reject(new Error(`chromium exited ${code}: ${err.slice(-2000)}`)); });
    });
    ep = { wsUrl, headers: { 'X-Durabox-Test': '1' } };
  });

  after(async () => {
    if (chrome?.pid !== undefined && chrome.exitCode === null && chrome.signalCode === null) {
      const exited = new Promise((r) => chrome.once('exit', r));
      try {
        process.kill(-chrome.pid, 'SIGKILL'); // the whole group: a helper left alive kept writing the profile
      } catch {
        chrome.kill('SIGKILL');
      }
      await exited;
    }
    await new Promise((r) => server?.close(r));
    // A helper process may still be flushing the profile as it dies: removed with retries.
    if (profile) rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  });

  it('navigates and answers url, title and status; the page outlives each call\'s connection', async () => {
    const nav = await browser.navigate(ep, BrowserNavigateBody.parse({ url: `${site}/` }));
    assert.deepEqual(nav, { url: `${site}/`, title: 'Workbench test', status: 200 });
    // A new connection finds the same page where the last one left it: the browser was only disconnected from.
    assert.deepEqual(await browser.info(ep), { url: `${site}/`, title: 'Workbench test' });
    const missing = await browser.navigate(ep, BrowserNavigateBody.parse({ url: `${site}/nope`, wait_until: 'domcontentloaded' }));
    assert.equal(missing.status, 404, 'an HTTP error page is a page, not a failure');
    assert.equal(missing.title, 'Missing');
    const targets = await (await fetch(`${new URL(ep.wsUrl).origin.replace('ws:', 'http:')}/json/list`)).json() as Array<{ type: string }>;
    assert.equal(targets.filter((t) => t.type === 'page').length, 1, 'one page, reused by every call');
  });

  it('types, clicks and waits for what the click makes appear', async () => {
    await browser.navigate(ep, BrowserNavigateBody.parse({ url: `${site}/` }));
    const typed = await browser.type(ep, { selector: '#name', text: 'Ada', submit: false, timeout_ms: 5_000 });
    assert.equal(typed.selector, '#name');
    await browser.click(ep, { selector: '#go', timeout_ms: 5_000 });
    const greeting = await browser.html(ep, { selector: '#greeting', timeout_ms: 5_000 });
    assert.equal(greeting.html, '<p id="greeting">Hello, Ada</p>');
    await browser.click(ep, { selector: 'text=later', timeout_ms: 5_000 });
    const waited = await browser.waitFor(ep, BrowserWaitBody.parse({ selector: '#late', timeout_ms: 5_000 }));
    assert.equal(waited.state, 'visible');
    await browser.waitFor(ep, { selector: '#hidden', state: 'hidden', timeout_ms: 2_000 });
    await browser.waitFor(ep, { selector: '#hidden', state: 'attached', timeout_ms: 2_000 });
  });

  it('types with submit: Enter submits the field\'s form', async () => {
    await browser.navigate(ep, BrowserNavigateBody.parse({ url: `${site}/` }));
    await browser.type(ep, { selector: '#name', text: 'Grace', submit: true, timeout_ms: 5_000 });
    await browser.waitFor(ep, { selector: '#who', state: 'visible', timeout_ms: 5_000 });
    const now = await browser.info(ep);
    assert.equal(now.url, `${site}/result?name=Grace`);
    assert.equal(now.title, 'Result');
  });

  it('answers selector_timeout naming the selector that never appears, and invalid_input for one that cannot parse', async () => {
    await browser.navigate(ep, BrowserNavigateBody.parse({ url: `${site}/` }));
    const started = Date.now();
    await assert.rejects(browser.waitFor(ep, { selector: '#never', state: 'visible', timeout_ms: 400 }), (e) => {
      expectCode('selector_timeout', 'selector')(e);
      assert.match((e as Error).message, /"#never".*400 ms/);
      assert.equal((e as DuraboxError).status, 422);
      return true;
    });
    assert.ok(Date.now() - started < 10_000, 'the wait ends at its timeout');
    await assert.rejects(browser.click(ep, { selector: '#never', timeout_ms: 300 }), expectCode('selector_timeout', 'selector'));
    await assert.rejects(browser.waitFor(ep, { selector: '#hidden', state: 'visible', timeout_ms: 300 }), expectCode('selector_timeout', 'selector'));
    for (const bad of ['div[', 'nosuchengine=foo']) {
      await assert.rejects(browser.click(ep, { selector: bad, timeout_ms: 2_000 }), (e) => {
        expectCode('invalid_input', 'selector')(e);
        assert.equal((e as DuraboxError).status, 400);
        return true;
      });
    }
    await assert.rejects(browser.type(ep, { selector: '#head', text: 'x', submit: false, timeout_ms: 2_000 }), expectCode('invalid_input', 'selector'));
  });

  it('answers navigation_failed for a URL that cannot load, and refuses schemes other than http(s) before any call', async () => {
    // A port this test just closed: nothing listens there.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await assert.rejects(browser.navigate(ep, BrowserNavigateBody.parse({ url: `http://127.0.0.1:${port}/` })), (e) => {
      expectCode('navigation_failed', 'url')(e);
      assert.match((e as Error).message, /net::ERR_CONNECTION_REFUSED/);
      return true;
    });
    for (const url of ['file:///etc/passwd', 'chrome://version', 'javascript:alert(1)', 'data:text/html,hi', 'not a url', 'view-source:http://127.0.0.1/']) {
      const r = BrowserNavigateBody.safeParse({ url });
      assert.equal(r.success, false, url);
      assert.deepEqual(r.error!.issues[0]!.path, ['url']);
    }
    assert.ok(BrowserNavigateBody.safeParse({ url: 'about:blank' }).success);
    assert.equal((await browser.navigate(ep, BrowserNavigateBody.parse({ url: 'about:blank' }))).status, null);
  });

  it('evaluates expressions to JSON, awaits promises, reports page errors and stops a runaway script', async () => {
    await browser.navigate(ep, BrowserNavigateBody.parse({ url: `${site}/` }));
    assert.equal((await browser.evaluate(ep, { expression: 'document.title', timeout_ms: 5_000 })).result, 'Workbench test');
    assert.deepEqual((await browser.evaluate(ep, { expression: '({ a: [1, 2], b: null })', timeout_ms: 5_000 })).result, { a: [1, 2], b: null });
    assert.equal((await browser.evaluate(ep, { expression: 'new Promise((r) => setTimeout(() => r(42), 50))', timeout_ms: 5_000 })).result, 42);
    assert.equal((await browser.evaluate(ep, { expression: 'undefined', timeout_ms: 5_000 })).result, null);
    assert.equal((await browser.evaluate(ep, { expression: '(() => 6 * 7)()', timeout_ms: 5_000 })).result, 42);
    const big = await browser.evaluate(ep, { expression: `'y'.repeat(${BROWSER_TEXT_MAX_CHARS + 10})`, timeout_ms: 5_000 });
    assert.equal(big.truncated, true);
    assert.equal((big.result as string).length, BROWSER_TEXT_MAX_CHARS);
    await assert.rejects(browser.evaluate(ep, { expression: 'nosuchname.x', timeout_ms: 5_000 }), (e) => {
      expectCode('script_error', 'expression')(e);
      assert.match((e as Error).message, /nosuchname is not defined/);
      return true;
    });
    await assert.rejects(browser.evaluate(ep, { expression: '(() => { while (true) {} })()', timeout_ms: 500 }), (e) => {
      expectCode('script_error', 'expression')(e);
      assert.match((e as Error).message, /did not settle within 500 ms; the page no longer answered and was closed/);
      return true;
    });
    // The stuck page was closed: the next call gets a fresh one.
    const after = await browser.evaluate(ep, { expression: '1 + 1', timeout_ms: 5_000 });
    assert.equal(after.result, 2);
    assert.equal(after.url, 'about:blank');
    // A promise that merely has not settled leaves the page (and its state) alone.
    await browser.navigate(ep, BrowserNavigateBody.parse({ url: `${site}/` }));
    await assert.rejects(browser.evaluate(ep, { expression: 'new Promise(() => {})', timeout_ms: 300 }), (e) => {
      expectCode('script_error', 'expression')(e);
      assert.doesNotMatch((e as Error).message, /closed/);
      return true;
    });
    assert.equal((await browser.info(ep)).title, 'Workbench test');
  });

  it('answers the whole document or one element as HTML, cut at its cap', async () => {
    await browser.navigate(ep, BrowserNavigateBody.parse({ url: `${site}/` }));
    const whole = await browser.html(ep, { timeout_ms: 5_000 });
    assert.match(whole.html, /^<!DOCTYPE html><html><head><title>Workbench test<\/title>/);
    assert.equal(whole.truncated, false);
    assert.equal((await browser.html(ep, { selector: 'h1', timeout_ms: 5_000 })).html, '<h1 id="head">Hello workbench</h1>');
    await browser.navigate(ep, BrowserNavigateBody.parse({ url: `${site}/huge` }));
    const huge = await browser.html(ep, { timeout_ms: 5_000 });
    assert.equal(huge.truncated, true);
    assert.equal(huge.html.length, BROWSER_TEXT_MAX_CHARS);
    assert.ok(huge.chars > BROWSER_TEXT_MAX_CHARS);
  });

  it('takes PNG screenshots of the viewport, the full page and one element, and prints a PDF', async () => {
    await browser.navigate(ep, BrowserNavigateBody.parse({ url: `${site}/tall` }));
    const size = (png: Buffer) => ({ w: png.readUInt32BE(16), h: png.readUInt32BE(20) });
    const view = await browser.screenshot(ep, { full_page: false, timeout_ms: 10_000 });
    assert.equal(view.mime, 'image/png');
    assert.ok(view.bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'a PNG');
    assert.equal(view.title, 'Tall');
    const full = await browser.screenshot(ep, { full_page: true, timeout_ms: 10_000 });
    assert.ok(size(full.bytes).h >= 3000, `the full page is at least 3000 px tall: ${JSON.stringify(size(full.bytes))}`);
    assert.ok(size(view.bytes).h < size(full.bytes).h);
    await browser.navigate(ep, BrowserNavigateBody.parse({ url: `${site}/` }));
    const h1 = await browser.screenshot(ep, { full_page: false, selector: '#head', timeout_ms: 10_000 });
    assert.ok(size(h1.bytes).h < size(view.bytes).h, 'an element is smaller than the viewport');
    await assert.rejects(browser.screenshot(ep, { full_page: false, selector: '#never', timeout_ms: 300 }), expectCode('selector_timeout', 'selector'));
    const doc = await browser.pdf(ep, { timeout_ms: 20_000 });
    assert.equal(doc.mime, 'application/pdf');
    assert.equal(doc.bytes.subarray(0, 5).toString(), '%PDF-');
  });

  describe('through the REST API and MCP (the platform\'s CDP endpoint stood in for by this Chromium)', () => {
    let token: string;
    const asked: Array<[string, string]> = [];
    let tunnel: typeof platform.api.deps.workbench;
    before(async () => {
      token = await newToken();
      // The tunnel's cdpEndpoint stood in for: this account's session sess-web has a browser; any other is not found.
      tunnel = platform.api.deps.workbench;
      platform.api.deps.workbench = {
        cdpEndpoint: async (accountId, sessionId) => {
          asked.push([accountId, sessionId]);
          if (sessionId !== 'sess-web') throw new DuraboxError('session_not_found', 'no session with this id');
          return ep;
        },
      };
    });
    after(() => { platform.api.deps.workbench = tunnel; });

    const mcp = async (name: string, args: Record<string, unknown>) => {
      const r = await call('POST', '/mcp', { token, headers: { accept: 'application/json, text/event-stream' }, body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body as { result?: { content: Array<Record<string, string | Record<string, string>>>; structuredContent?: Record<string, unknown>; isError?: boolean }; error?: { message: string } };
    };

    it('answers each REST call with its record\'s body, bytes for screenshot and PDF, and session errors with their code', async () => {
      const base = '/api/v1/sessions/sess-web/browser';
      const nav = await call('POST', `${base}/navigate`, { token, body: { url: `${site}/` } });
      assert.equal(nav.status, 200, JSON.stringify(nav.body));
      assert.deepEqual(nav.body, { url: `${site}/`, title: 'Workbench test', status: 200 });
      assert.equal(asked.at(-1)![1], 'sess-web');
      assert.deepEqual((await call('GET', base, { token })).body, { url: `${site}/`, title: 'Workbench test' });
      assert.equal((await call('POST', `${base}/type`, { token, body: { selector: '#name', text: 'Lin' } })).status, 200);
      assert.equal((await call('POST', `${base}/click`, { token, body: { selector: '#go' } })).status, 200);
      assert.equal((await call('POST', `${base}/wait`, { token, body: { selector: '#greeting' } })).body.state, 'visible');
      assert.equal((await call('POST', `${base}/html`, { token, body: { selector: '#greeting' } })).body.html, '<p id="greeting">Hello, Lin</p>');
      assert.equal((await call('POST', `${base}/evaluate`, { token, body: { expression: 'document.title.length' } })).body.result, 'Workbench test'.length);
      const shot = await fetch(`${platform.url}${base}/screenshot`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
      assert.equal(shot.status, 200);
      assert.equal(shot.headers.get('content-type'), 'image/png');
      assert.equal(Buffer.from(await shot.arrayBuffer()).readUInt32BE(0), 0x89504e47);
      const doc = await fetch(`${platform.url}${base}/pdf`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
      assert.equal(doc.headers.get('content-type'), 'application/pdf');
      assert.equal(Buffer.from(await doc.arrayBuffer()).subarray(0, 5).toString(), '%PDF-');

      const never = await call('POST', `${base}/wait`, { token, body: { selector: '#never', timeout_ms: 300 } });
      assert.equal(never.status, 422);
      assert.equal(never.body.code, 'selector_timeout');
      assert.match(never.body.message, /^selector: .*"#never"/);
      const badSelector = await call('POST', `${base}/click`, { token, body: { selector: 'div[' } });
      assert.equal(badSelector.status, 400);
      assert.match(badSelector.body.message, /^selector:/);
      const fileUrl = await call('POST', `${base}/navigate`, { token, body: { url: 'file:///etc/passwd' } });
      assert.equal(fileUrl.status, 400);
      assert.match(fileUrl.body.error, /url/);
      assert.equal((await call('POST', `${base}/navigate`, { token, body: { url: `${site}/`, extra: 1 } })).status, 400, 'unknown fields are refused');
      const other = await call('GET', '/api/v1/sessions/sess-other/browser', { token });
      assert.equal(other.status, 404);
      assert.equal(other.body.code, 'session_not_found');
      assert.equal((await call('GET', `${base}`)).status, 401, 'a token is needed');
    });

    it('answers MCP browser tools: a screenshot as an image item, HTML and evaluation as structured content, errors as tool errors', async () => {
      const nav = await mcp('browserNavigate', { session_id: 'sess-web', url: `${site}/` });
      assert.equal(nav.result!.structuredContent!.title, 'Workbench test');
      const shot = await mcp('browserScreenshot', { session_id: 'sess-web' });
      const image = shot.result!.content.find((c) => c.type === 'image')!;
      assert.equal(image.mimeType, 'image/png');
      assert.equal(Buffer.from(image.data as string, 'base64').readUInt32BE(0), 0x89504e47);
      assert.equal(shot.result!.structuredContent!.size, Buffer.from(image.data as string, 'base64').length);
      assert.equal(shot.result!.structuredContent!.url, `${site}/`);
      await mcp('browserType', { session_id: 'sess-web', selector: '#name', text: 'Mo' });
      await mcp('browserClick', { session_id: 'sess-web', selector: '#go' });
      assert.equal((await mcp('browserWaitFor', { session_id: 'sess-web', selector: '#greeting' })).result!.structuredContent!.state, 'visible');
      assert.equal((await mcp('browserGetHtml', { session_id: 'sess-web', selector: '#greeting' })).result!.structuredContent!.html, '<p id="greeting">Hello, Mo</p>');
      assert.deepEqual((await mcp('browserEvaluate', { session_id: 'sess-web', expression: '[1, "a"]' })).result!.structuredContent!.result, [1, 'a']);
      const pdf = await mcp('browserPdf', { session_id: 'sess-web' });
      const resource = pdf.result!.content.find((c) => c.type === 'resource')!.resource as Record<string, string>;
      assert.equal(resource.mimeType, 'application/pdf');
      assert.equal(Buffer.from(resource.blob!, 'base64').subarray(0, 5).toString(), '%PDF-');
      const never = await mcp('browserWaitFor', { session_id: 'sess-web', selector: '#never', timeout_ms: 300 });
      assert.equal(never.result!.isError, true);
      assert.match(never.result!.content[0]!.text as string, /^selector_timeout: selector: .*"#never"/);
      const refused = await mcp('browserNavigate', { session_id: 'sess-web', url: 'chrome://version' });
      assert.match(refused.error!.message, /url/, 'an invalid argument is a JSON-RPC error naming the field');
    });
  });

  it('answers browser_unavailable when nothing answers CDP', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await assert.rejects(browser.info({ wsUrl: `ws://127.0.0.1:${port}/devtools/browser/x`, headers: {} }), expectCode('browser_unavailable'));
  });
});

describe('browser image under the hardened sandbox profile', function () {
  this.timeout(120_000);
  const docker = new Docker();
  let container: Docker.Container | undefined;

  after(async () => {
    await container?.remove({ force: true }).catch(() => undefined);
  });

  it('runs the session agent\'s Chromium command as the sandbox user, which answers /json/version on 127.0.0.1:9222', async () => {
    // The browser template's limits over the terminal runtime's, exactly as a session container gets them.
    const limits = templateLimits(loadWorkerSettings({}).terminal, builtinTemplateRef('browser')!);
    assert.equal(limits.image, BROWSER_IMAGE);
    const host = hardenedHostConfig(limits);
    assert.equal(host.ReadonlyRootfs, true);
    assert.deepEqual(host.CapDrop, ['ALL']);
    assert.equal(host.NetworkMode, 'none');
    container = await docker.createContainer({
      Image: limits.image, Cmd: ['sleep', '300'], User: SANDBOX_USER, WorkingDir: '/workspace',
      Env: ['HOME=/workspace', 'LANG=C.UTF-8', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      NetworkDisabled: true, HostConfig: host,
    });
    await container.start();
    const exec = async (cmd: string, detach = false): Promise<string> => {
      const e = await container!.exec({ Cmd: ['sh', '-c', cmd], User: SANDBOX_USER, AttachStdout: !detach, AttachStderr: !detach });
      if (detach) { await e.start({ Detach: true }); return ''; }
      const stream = await e.start({});
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      await new Promise((r) => stream.on('end', r));
      // Docker multiplexes stdout and stderr in 8-byte-headed frames.
      const raw = Buffer.concat(chunks);
      let out = '';
      for (let i = 0; i + 8 <= raw.length;) { const n = raw.readUInt32BE(i + 4); out += raw.subarray(i + 8, i + 8 + n).toString(); i += 8 + n; }
      return out;
    };
    await exec('chromium --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --remote-debugging-address=127.0.0.1 --remote-debugging-port=9222 --user-data-dir=/tmp/.durabox-browser about:blank >/tmp/chromium.log 2>&1', true);
    let version = '';
    for (let i = 0; i < 60 && !version.includes('webSocketDebuggerUrl'); i++) {
      await new Promise((r) => setTimeout(r, 500));
      version = await exec('curl -s -m 2 http://127.0.0.1:9222/json/version || true');
    }
    assert.match(version, /"Browser": "Chrome\/\d+/, `no CDP answer; chromium's log: ${await exec('tail -c 2000 /tmp/chromium.log')}`);
    assert.match(version, /ws:\/\/127\.0\.0\.1:9222\/devtools\/browser\//);
    // A page renders: a new target loads (about:blank), and Chromium runs as the sandbox user.
    const opened = await exec('curl -s -m 5 -X PUT "http://127.0.0.1:9222/json/new?about:blank"');
    assert.match(opened, /"type": "page"/);
    assert.match(await exec('ps -o user= -C chromium | sort -u'), /^(sandbox|1000)\s*$/);
    // Its profile, crash database and caches stay in /tmp: the session's /workspace (its durable state) is untouched.
    assert.equal((await exec('find /workspace -mindepth 1 | head -5')).trim(), '');
  });
});

describe('the browser template on the platform', function () {
  this.timeout(180_000);
  let token: string;
  before(async () => { token = await newToken(); });

  it('is listed as a built-in of the terminal runtime, and an account template may ask for it only on terminal', async () => {
    const t = await call('GET', '/api/v1/templates/browser', { token });
    assert.equal(t.status, 200);
    assert.deepEqual({ builtin: t.body.builtin, base: t.body.base, browser: t.body.browser, memory_mb: t.body.memory_mb, status: t.body.status },
      { builtin: true, base: 'terminal', browser: true, memory_mb: BROWSER_MIN_MEMORY_MB, status: 'ready' });
    const py = await call('POST', '/api/v1/templates', { token, body: { name: `web-${process.pid}`, base: 'python', browser: true } });
    assert.equal(py.status, 400);
    assert.match(py.body.error, /browser/);
    assert.equal((await call('DELETE', '/api/v1/templates/browser', { token })).status, 403);
    // One-shot python runs are not sessions: the browser template is refused there, naming the field.
    const once = await call('POST', '/api/v1/commands/code', { token, body: { language: 'python', code: 'print(1)', template: 'browser' } });
    assert.equal(once.status, 400, JSON.stringify(once.body));
    assert.match(once.body.error, /template/);
  });

  it('runs a session in the browser image with Chromium\'s limits, where the session agent\'s Chromium command answers CDP', async () => {
    // Chromium started by hand as the agent will start it, detached so the command ends; then its CDP answers.
    const start = 'setsid chromium --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --remote-debugging-address=127.0.0.1 ' +
      '--remote-debugging-port=9222 --user-data-dir=/tmp/.durabox-browser about:blank </dev/null >/tmp/chromium.log 2>&1 & ' +
      'for i in $(seq 1 60); do curl -s -m 2 http://127.0.0.1:9222/json/version && break; sleep 0.5; done';
    const r = await call('POST', '/api/v1/commands/terminal', { token, body: { command: start, template: 'browser', timeout_ms: 60_000 } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.match(r.body.stdout, /"Browser": "Chrome\/\d+/, r.body.stderr);
    const host = (await sessionContainer(token, r.body.session_id))!;
    assert.equal(host.Config.Image, BROWSER_IMAGE);
    assert.equal(host.HostConfig.Memory, BROWSER_MIN_MEMORY_MB * 1024 * 1024);
    assert.equal(host.HostConfig.PidsLimit, BROWSER_MIN_PIDS);
    assert.equal(host.HostConfig.ReadonlyRootfs, true);
    // The session goes on with its browser: a second command finds it answering, and /workspace holds none of its files.
    const again = await call('POST', '/api/v1/commands/terminal', { token, body: { session_id: r.body.session_id, command: 'curl -s -m 5 http://127.0.0.1:9222/json/list | grep -c \'"type": "page"\'; find /workspace -mindepth 1 | wc -l' } });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.deepEqual(again.body.stdout.trim().split('\n'), ['1', '0']);
    await call('DELETE', `/api/v1/sessions/${r.body.session_id}`, { token });
  });

  it('drives the browser of a real browser session through the platform\'s tunnel; other sessions are refused with their code', async () => {
    const r = await call('POST', '/api/v1/commands/terminal', { token, body: { command: 'echo hi > /workspace/page.html', template: 'browser' } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const base = `/api/v1/sessions/${r.body.session_id}/browser`;
    // The session agent starts Chromium on this first call.
    const nav = await call('POST', `${base}/navigate`, { token, body: { url: 'about:blank' } });
    assert.equal(nav.status, 200, JSON.stringify(nav.body));
    assert.deepEqual(nav.body, { url: 'about:blank', title: '', status: null });
    const set = await call('POST', `${base}/evaluate`, { token, body: { expression: 'document.title = "kept"' } });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal((await call('GET', base, { token })).body.title, 'kept', 'the page lives on between calls');
    const shot = await fetch(`${platform.url}${base}/screenshot`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(shot.status, 200);
    assert.equal(Buffer.from(await shot.arrayBuffer()).readUInt32BE(0), 0x89504e47);
    // The browser reaches the session's own localhost: a server started in the session serves its files to it.
    const serve = await call('POST', '/api/v1/commands/terminal', { token, body: { session_id: r.body.session_id, command: 'cd /workspace && (setsid python3 -m http.server 8000 --bind 127.0.0.1 </dev/null >/tmp/http.log 2>&1 &) && for i in $(seq 1 40); do curl -sf http://127.0.0.1:8000/page.html >/dev/null && break; sleep 0.25; done' } });
    assert.equal(serve.status, 200, JSON.stringify(serve.body));
    const local = await call('POST', `${base}/navigate`, { token, body: { url: 'http://localhost:8000/page.html' } });
    assert.equal(local.status, 200, JSON.stringify(local.body));
    assert.equal(local.body.status, 200);
    assert.match((await call('POST', `${base}/html`, { token, body: { selector: 'body' } })).body.html, /hi/);

    const plain = await call('POST', '/api/v1/commands/terminal', { token, body: { command: 'true' } });
    const none = await call('GET', `/api/v1/sessions/${plain.body.session_id}/browser`, { token });
    assert.equal(none.status, 409, JSON.stringify(none.body));
    assert.equal(none.body.code, 'browser_unavailable');
    const other = await platform.otherAccount('browser');
    const theirs = await call('GET', base, { token: other.token });
    assert.equal(theirs.status, 404, JSON.stringify(theirs.body));
    assert.equal(theirs.body.code, 'session_not_found');
    for (const id of [r.body.session_id, plain.body.session_id]) await call('DELETE', `/api/v1/sessions/${id}`, { token });
  });

  it('builds an account template with browser: true FROM the browser image, with the browser\'s floors over a smaller ask', async () => {
    const name = `web-${process.pid}`;
    const created = await call('POST', '/api/v1/templates', { token, body: { name, base: 'terminal', browser: true, memory_mb: 256 } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.browser, true);
    const built = await eventually(`template ${name} to build`, async () => {
      const t = await call('GET', `/api/v1/templates/${name}`, { token });
      return t.body.status !== 'building' && t.body;
    }, 120_000);
    assert.equal(built.status, 'ready', JSON.stringify(built.hosts));
    const r = await call('POST', '/api/v1/commands/terminal', { token, body: { command: 'command -v chromium; ls /etc/chromium.d/durabox', template: name } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.stdout, '/usr/bin/chromium\n/etc/chromium.d/durabox\n', r.body.stderr);
    const host = (await sessionContainer(token, r.body.session_id))!;
    assert.equal(host.HostConfig.Memory, BROWSER_MIN_MEMORY_MB * 1024 * 1024, 'raised to the browser\'s floor');
    assert.equal(host.HostConfig.PidsLimit, BROWSER_MIN_PIDS);
    await call('DELETE', `/api/v1/sessions/${r.body.session_id}`, { token });
    assert.equal((await call('DELETE', `/api/v1/templates/${name}`, { token })).status, 204);
  });
});
