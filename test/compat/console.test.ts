// Reference API §3 (dashboard authentication) and §4 (token management), replayed against durabox.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { platform } from '../e2e/support/hooks.js';
import { call, login } from '../e2e/support/http.js';
import { ADMIN } from '../../harness/platform.js';
import { assertError, assertTime, unique } from './support/reference.js';

/** The login / session body of reference §3.1 and §3.2. */
function assertSessionBody(body: any, username: string, isAdmin: boolean): void {
  assert.equal(body.authenticated, true);
  assert.deepEqual(Object.keys(body.account).sort(), ['account_id', 'is_admin', 'username']);
  assert.match(body.account.account_id, /^acc_/);
  assert.equal(body.account.username, username);
  assert.equal(body.account.is_admin, isAdmin);
  assert.equal(typeof body.registration_enabled, 'boolean');
  assert.equal(typeof body.console_version, 'string');
}

describe('reference API §3 dashboard authentication', () => {
  afterEach(() => {
    platform.config.api.enableRegistration = false;
    platform.api.deps.loginLimiter.reset();
  });

  describe('§3.1 POST /api/v1/console/login', () => {
    it('200 {authenticated, account{account_id, username, is_admin}, registration_enabled, console_version} and a session cookie', async () => {
      const r = await fetch(`${platform.url}/api/v1/console/login`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN),
      });
      assert.equal(r.status, 200);
      assertSessionBody(await r.json(), ADMIN.username, true);
      // Deliberate difference: the cookie is `durabox_session`, not `onlyboxes_console_session`;
      // a browser client sends back whatever the server set, so no client depends on the name.
      assert.match(r.headers.get('set-cookie') ?? '', /^durabox_session=[^;]+;/);
      assert.match(r.headers.get('set-cookie') ?? '', /httponly/i);
    });

    it('400 for an invalid JSON body', async () => {
      assertError(await call('POST', '/api/v1/console/login', { raw: '{"username": "admin", ' }), 400);
    });

    it('401 for an invalid username or password', async () => {
      assertError(await call('POST', '/api/v1/console/login', { body: { username: ADMIN.username, password: 'not-the-password' } }), 401);
      assertError(await call('POST', '/api/v1/console/login', { body: { username: unique('nobody'), password: 'x' } }), 401);
    });
  });

  describe('§3.2 GET /api/v1/console/session', () => {
    it('200 with the login body for a dashboard cookie', async () => {
      const r = await call('GET', '/api/v1/console/session', { cookie: await login() });
      assert.equal(r.status, 200);
      assertSessionBody(r.body, ADMIN.username, true);
    });

    it('401 when not authenticated', async () => {
      assertError(await call('GET', '/api/v1/console/session'), 401);
      assertError(await call('GET', '/api/v1/console/session', { cookie: 'durabox_session=forged' }), 401);
    });
  });

  describe('§3.3 POST /api/v1/console/logout', () => {
    it('204 No Content, clears the cookie and ends the session', async () => {
      const cookie = await login();
      const r = await call('POST', '/api/v1/console/logout', { cookie });
      assert.equal(r.status, 204);
      assert.equal(r.body, undefined, 'no content');
      assert.match(r.headers.get('set-cookie') ?? '', /^durabox_session=;/);
      assertError(await call('GET', '/api/v1/console/session', { cookie }), 401);
    });

    it('204 also without a session', async () => {
      assert.equal((await call('POST', '/api/v1/console/logout')).status, 204);
    });
  });

  describe('§3.4 POST /api/v1/console/register', () => {
    let admin: string;
    before(async () => { admin = await login(); });

    it('201 {account{account_id, username, is_admin:false}, created_at, updated_at}; the account logs in', async () => {
      platform.config.api.enableRegistration = true;
      const username = unique('dev-user');
      const r = await call('POST', '/api/v1/console/register', { cookie: admin, body: { username, password: 'strong-password' } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.deepEqual(Object.keys(r.body).sort(), ['account', 'created_at', 'updated_at']);
      assert.deepEqual(Object.keys(r.body.account).sort(), ['account_id', 'is_admin', 'username']);
      assert.match(r.body.account.account_id, /^acc_/);
      assert.equal(r.body.account.username, username);
      assert.equal(r.body.account.is_admin, false);
      assertTime(r.body.created_at, 'created_at');
      assertTime(r.body.updated_at, 'updated_at');
      const s = await call('GET', '/api/v1/console/session', { cookie: await login(username, 'strong-password') });
      assertSessionBody(s.body, username, false);
    });

    it('403 while registration is disabled', async () => {
      platform.config.api.enableRegistration = false;
      assertError(await call('POST', '/api/v1/console/register', { cookie: admin, body: { username: unique('off'), password: 'pw' } }), 403);
    });

    it('403 when the caller is not an admin', async () => {
      platform.config.api.enableRegistration = true;
      const other = await platform.otherAccount('reg-nonadmin');
      const cookie = await login(other.account.username, 'pw');
      assertError(await call('POST', '/api/v1/console/register', { cookie, body: { username: unique('by-user'), password: 'pw' } }), 403);
    });

    it('400 for an empty username, a username longer than 64, or an empty password', async () => {
      platform.config.api.enableRegistration = true;
      for (const body of [
        { username: '', password: 'pw' },
        { username: 'u'.repeat(65), password: 'pw' },
        { username: unique('nopw'), password: '' },
      ]) {
        assertError(await call('POST', '/api/v1/console/register', { cookie: admin, body }), 400);
      }
      const longest = await call('POST', '/api/v1/console/register', { cookie: admin, body: { username: unique('l').padEnd(64, 'x'), password: 'pw' } });
      assert.equal(longest.status, 201, '64 characters are allowed');
    });

    it('409 for a username that exists in any letter case', async () => {
      platform.config.api.enableRegistration = true;
      const username = unique('Taken');
      assert.equal((await call('POST', '/api/v1/console/register', { cookie: admin, body: { username, password: 'pw' } })).status, 201);
      assertError(await call('POST', '/api/v1/console/register', { cookie: admin, body: { username: username.toUpperCase(), password: 'pw' } }), 409);
      assertError(await call('POST', '/api/v1/console/register', { cookie: admin, body: { username: username.toLowerCase(), password: 'pw' } }), 409);
    });
  });
});

describe('reference API §4 token management', () => {
  let cookie: string;
  before(async () => { cookie = await login(); });

  const create = (body: unknown, c = cookie) => call('POST', '/api/v1/console/tokens', { cookie: c, body });

  describe('§4.1 GET /api/v1/console/tokens', () => {
    it('200 {items[{id, name, token_masked, created_at, updated_at}], total}, never the plaintext', async () => {
      const made = await create({ name: unique('listed') });
      const r = await call('GET', '/api/v1/console/tokens', { cookie });
      assert.equal(r.status, 200);
      assert.deepEqual(Object.keys(r.body).sort(), ['items', 'total']);
      assert.equal(r.body.total, r.body.items.length);
      const item = r.body.items.find((t: { id: string }) => t.id === made.body.id);
      assert.ok(item, 'the new token is listed');
      assert.deepEqual(Object.keys(item).sort(), ['created_at', 'id', 'name', 'token_masked', 'updated_at']);
      assert.match(item.id, /^tok_/);
      assert.equal(item.token_masked, made.body.token_masked);
      assertTime(item.created_at, 'created_at');
      assertTime(item.updated_at, 'updated_at');
      assert.ok(!JSON.stringify(r.body).includes(made.body.token), 'the plaintext is not listed');
    });

    it('401 without a dashboard login', async () => {
      assertError(await call('GET', '/api/v1/console/tokens'), 401);
    });
  });

  describe('§4.2 POST /api/v1/console/tokens', () => {
    it('201 {id, name, token, token_masked, generated:true, created_at, updated_at} for a generated token; the token works as a bearer', async () => {
      const r = await create({ name: unique('ci-prod') });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.deepEqual(Object.keys(r.body).sort(), ['created_at', 'generated', 'id', 'name', 'token', 'token_masked', 'updated_at']);
      assert.match(r.body.id, /^tok_/);
      // Deliberate difference: generated tokens look like `dbx_<hex>` where the reference's are `obx_<hex>`.
      assert.match(r.body.token, /^dbx_[0-9a-f]+$/);
      assert.equal(r.body.generated, true);
      assert.notEqual(r.body.token_masked, r.body.token);
      assert.ok(r.body.token_masked.endsWith(r.body.token.slice(-4)), `masked keeps the last characters: ${r.body.token_masked}`);
      assert.ok(!r.body.token_masked.includes(r.body.token.slice(4, -4)), 'masked hides the middle');
      assertTime(r.body.created_at, 'created_at');
      assertTime(r.body.updated_at, 'updated_at');
      assert.equal((await call('POST', '/api/v1/commands/echo', { token: r.body.token, body: { message: 'hello' } })).status, 200);
    });

    it('201 with generated:false for a manual token, trimmed name; the manual token works as a bearer', async () => {
      const name = unique('manual');
      const value = `optional-manual-token-${unique('v')}`;
      const r = await create({ name: `  ${name}  `, token: value });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.name, name, 'name is trimmed');
      assert.equal(r.body.token, value);
      assert.equal(r.body.generated, false);
      assert.notEqual(r.body.token_masked, value);
      assert.equal((await call('POST', '/api/v1/commands/echo', { token: value, body: { message: 'manual' } })).status, 200);
    });

    it('400 for a name that is missing, empty or longer than 64; 64 characters are allowed', async () => {
      for (const body of [{}, { name: '' }, { name: '   ' }, { name: 'n'.repeat(65) }]) assertError(await create(body), 400);
      assert.equal((await create({ name: unique('n').padEnd(64, 'n') })).status, 201);
    });

    it('400 for a token that is empty after trim, contains whitespace or is longer than 256; 256 characters are allowed', async () => {
      const accepted: string[] = [];
      for (const token of ['', '   ', 'has whitespace-inside', 'tab\there', 'new\nline', ' leading', 'trailing ', 'x'.repeat(257)]) {
        const r = await create({ name: unique('bad'), token });
        if (r.status !== 400) accepted.push(`${JSON.stringify(token.length > 40 ? `${token.slice(0, 8)}…(${token.length})` : token)} → ${r.status}`);
        else assertError(r, 400);
      }
      assert.deepEqual(accepted, [], 'every one of these tokens is refused with 400');
      // 256 characters that also carry enough entropy (a run of one letter alone would not).
      const long = `${randomBytes(24).toString('hex')}${'t'.repeat(256 - 48)}`;
      const r = await create({ name: unique('long'), token: long });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    });

    it('400 for an invalid JSON body', async () => {
      assertError(await call('POST', '/api/v1/console/tokens', { cookie, raw: '{"name": ' }), 400);
    });

    it('409 for a name taken in any letter case (per account), and for a token value taken', async () => {
      const name = unique('Dup');
      assert.equal((await create({ name })).status, 201);
      assertError(await create({ name: name.toUpperCase() }), 409);
      assertError(await create({ name: ` ${name.toLowerCase()} ` }), 409);
      const value = unique('same-value');
      assert.equal((await create({ name: unique('v1'), token: value })).status, 201);
      assertError(await create({ name: unique('v2'), token: value }), 409);
    });

    it('names are unique per account: another account may use the same name', async () => {
      const name = unique('shared');
      assert.equal((await create({ name })).status, 201);
      const other = await platform.otherAccount('tok-other');
      assert.equal((await create({ name }, await login(other.account.username, 'pw'))).status, 201);
    });
  });

  describe('§4.3 DELETE /api/v1/console/tokens/:token_id', () => {
    it('204 deleted (the token stops working), then 404', async () => {
      const r = await create({ name: unique('doomed') });
      assert.equal((await call('POST', '/api/v1/commands/echo', { token: r.body.token, body: { message: 'x' } })).status, 200);
      const d = await call('DELETE', `/api/v1/console/tokens/${r.body.id}`, { cookie });
      assert.equal(d.status, 204);
      assert.equal(d.body, undefined);
      assertError(await call('POST', '/api/v1/commands/echo', { token: r.body.token, body: { message: 'x' } }), 401);
      assertError(await call('DELETE', `/api/v1/console/tokens/${r.body.id}`, { cookie }), 404);
    });

    it('404 for an unknown token and for one owned by another account', async () => {
      assertError(await call('DELETE', '/api/v1/console/tokens/tok_does_not_exist', { cookie }), 404);
      const other = await platform.otherAccount('tok-owner');
      assertError(await call('DELETE', `/api/v1/console/tokens/${other.tokenId}`, { cookie }), 404);
    });
  });

  describe('§4.4 GET /api/v1/console/tokens/:token_id/value', () => {
    it('always 410 Gone with {error}', async () => {
      const r = await create({ name: unique('valued') });
      const g = await call('GET', `/api/v1/console/tokens/${r.body.id}/value`, { cookie });
      assertError(g, 410, /creat/i);
      assert.ok(!JSON.stringify(g.body).includes(r.body.token), 'never the value');
      assertError(await call('GET', '/api/v1/console/tokens/tok_unknown/value', { cookie }), 410);
    });
  });
});
