// The login cookie is Secure wherever the browser reaches the API over TLS. Behind a TLS-terminating
// proxy that is not trusted with X-Forwarded-*, the API sees plain HTTP: DURABOX_SECURE_COOKIES says so.
// (A second API process of the platform, in this process; the embedded database serves one, so this
// suite runs on PostgreSQL.)
import assert from 'node:assert/strict';
import { startApiPlatform, type ApiPlatform } from '../../api/platform.js';
import { platform } from './support/hooks.js';
import { ADMIN } from '../../harness/platform.js';

async function loginCookie(base: string, headers: Record<string, string> = {}): Promise<string> {
  const r = await fetch(`${base}/api/v1/console/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(ADMIN) });
  assert.equal(r.status, 200);
  return r.headers.get('set-cookie')!;
}

describe('login cookie: Secure behind TLS', function () {
  this.timeout(60_000);
  let behindTls: ApiPlatform | undefined;
  before(async () => {
    behindTls = await startApiPlatform({ ...platform.config.api, httpPort: 0, httpHost: '127.0.0.1', secureCookies: true }, platform.config.temporal);
  });
  after(async () => { await behindTls?.close(); });

  it('with DURABOX_SECURE_COOKIES the cookie is Secure though the request came in plain HTTP from the proxy; the logout cookie too', async () => {
    const set = await loginCookie(behindTls!.url);
    assert.match(set, /; secure/i);
    assert.match(set, /; httponly/i);
    const out = await fetch(`${behindTls!.url}/api/v1/console/logout`, { method: 'POST', headers: { cookie: set.split(';')[0] } });
    assert.match(out.headers.get('set-cookie') ?? '', /; secure/i);
  });

  it('without it, plain HTTP gets no Secure, and an untrusted X-Forwarded-Proto does not change that', async () => {
    assert.doesNotMatch(await loginCookie(platform.url), /; secure/i);
    assert.doesNotMatch(await loginCookie(platform.url, { 'x-forwarded-proto': 'https' }), /; secure/i);
  });
});
