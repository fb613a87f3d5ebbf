import assert from 'node:assert/strict';
import { request } from 'node:http';
import { chromium } from 'playwright-core';
import { platform } from './support/hooks.js';
import { call, newToken } from './support/http.js';

type Out = { session_id: string; stdout: string; exit_code: number };

/** A GET with a Host header of the caller's choosing (fetch does not let one set it). */
function getWithHost(url: string, host: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const r = request({ host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, headers: { ...headers, host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    r.on('error', reject);
    r.end();
  });
}

describe('workbench: the session\'s browser over CDP, and preview host names', function () {
  this.timeout(180_000);
  let token: string;
  let sid: string;
  const term = async (command: string, extra: Record<string, unknown> = {}) => {
    const r = await call<Out>('POST', '/api/v1/commands/terminal', { token, body: { command, lease_ttl_sec: 600, ...(sid ? { session_id: sid } : {}), ...extra } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };

  before(async () => {
    token = await newToken();
    sid = (await term('mkdir -p app && echo "<title>In the session</title><h1 id=hi>hello from the session</h1>" > app/index.html', { template: 'browser' })).session_id;
    const r = await call('POST', `/api/v1/sessions/${sid}/ports`, { token, body: { port: 5173, command: 'cd app && exec python3 -m http.server 5173 --bind 127.0.0.1' } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  });
  after(async () => { if (sid) await call('DELETE', `/api/v1/sessions/${sid}`, { token }); });

  it('lets Playwright drive the session\'s browser through the API (connectOverCDP with the token), reaching the session\'s own localhost', async () => {
    const browser = await chromium.connectOverCDP(`${platform.url.replace(/^http/, 'ws')}/api/v1/sessions/${sid}/browser/cdp`, { headers: { authorization: `Bearer ${token}` } });
    try {
      const context = browser.contexts()[0] ?? (await browser.newContext());
      const page = context.pages()[0] ?? (await context.newPage());
      await page.goto('http://localhost:5173/');
      assert.equal(await page.title(), 'In the session');
      assert.equal(await page.textContent('#hi'), 'hello from the session');
      const png = await page.screenshot();
      assert.equal(png.subarray(1, 4).toString('ascii'), 'PNG');
    } finally {
      await browser.close(); // a CDP connection: this disconnects, the session's browser stays
    }
    // The browser kept its page for the next client (the browser tools act on it too).
    const again = await chromium.connectOverCDP(`${platform.url.replace(/^http/, 'ws')}/api/v1/sessions/${sid}/browser/cdp`, { headers: { authorization: `Bearer ${token}` } });
    try {
      assert.equal(await again.contexts()[0].pages()[0].title(), 'In the session');
    } finally {
      await again.close();
    }
  });

  it('refuses CDP without a token, to another account, and for a session without a browser', async () => {
    await assert.rejects(chromium.connectOverCDP(`${platform.url.replace(/^http/, 'ws')}/api/v1/sessions/${sid}/browser/cdp`, { timeout: 20_000 }), /401/);
    const other = (await platform.otherAccount('cdp')).token;
    await assert.rejects(chromium.connectOverCDP(`${platform.url.replace(/^http/, 'ws')}/api/v1/sessions/${sid}/browser/cdp`, { headers: { authorization: `Bearer ${other}` }, timeout: 20_000 }), /404/);
    const plain = await call<Out>('POST', '/api/v1/commands/terminal', { token, body: { command: 'true', lease_ttl_sec: 60 } });
    try {
      await assert.rejects(chromium.connectOverCDP(`${platform.url.replace(/^http/, 'ws')}/api/v1/sessions/${plain.body.session_id}/browser/cdp`, { headers: { authorization: `Bearer ${token}` }, timeout: 30_000 }), /409/);
    } finally {
      await call('DELETE', `/api/v1/sessions/${plain.body.session_id}`, { token });
    }
  });

  it('serves a port at <port>-<session>.<preview domain>: a signed link opens it once and leaves a cookie of that host alone', async () => {
    const api = platform.api.deps.api;
    const before = api.previewDomain;
    api.previewDomain = 'preview.test';
    try {
      const host = `5173-${sid}.preview.test`;
      const link = await call('POST', `/api/v1/sessions/${sid}/links`, { token, body: { port: 5173, ttl_sec: 60 } });
      assert.equal(link.status, 201);
      const preview = new URL(link.body.preview_url);
      assert.equal(preview.hostname, host);
      // Without a credential: refused.
      assert.equal((await getWithHost(`${platform.url}/`, host)).status, 401);
      // The link: a redirect without it, and a cookie of this host.
      const opened = await getWithHost(`${platform.url}/${preview.search}`, host);
      assert.equal(opened.status, 302);
      assert.equal(opened.headers.location, '/');
      const cookie = String(opened.headers['set-cookie']).split(';')[0];
      assert.match(cookie, /^durabox_link=/);
      const page = await getWithHost(`${platform.url}/`, host, { cookie });
      assert.equal(page.status, 200);
      assert.match(page.body, /hello from the session/);
      // Its own origin: no sandbox needed, and the link's cookie opens no other port.
      assert.equal(page.headers['content-security-policy'], undefined);
      assert.equal((await getWithHost(`${platform.url}/`, `8000-${sid}.preview.test`, { cookie })).status, 403);
      // A token works too, as on the API's own paths.
      assert.equal((await getWithHost(`${platform.url}/`, host, { authorization: `Bearer ${token}` })).status, 200);
    } finally {
      api.previewDomain = before;
    }
  });
});
