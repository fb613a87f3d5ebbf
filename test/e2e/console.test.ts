import assert from 'node:assert/strict';
import { call, login } from './support/http.js';
import { platform } from './support/hooks.js';
import { ADMIN } from '../../harness/platform.js';
import { createApp } from '../../api/app.js';
import { LoginLimiter } from '../../api/login-limiter.js';

const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;

/** Registers an account as the admin and logs it in; registration is switched on for the call. */
async function registeredAccount(admin: string, username = unique('user'), password = 'pw-of-a-user') {
  const r = await call('POST', '/api/v1/console/register', { cookie: admin, body: { username, password } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return { id: r.body.account.account_id as string, username, password, cookie: await login(username, password) };
}

describe('console REST contract: login, session, logout (spec §4.1)', () => {
  it('POST /console/login answers 200 with the session body and an HttpOnly SameSite cookie', async () => {
    const r = await fetch(`${platform.url}/api/v1/console/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN),
    });
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.equal(body.authenticated, true);
    assert.deepEqual(Object.keys(body.account).sort(), ['account_id', 'is_admin', 'username']);
    assert.equal(body.account.username, ADMIN.username);
    assert.equal(body.account.is_admin, true);
    assert.equal(typeof body.registration_enabled, 'boolean');
    assert.equal(typeof body.console_version, 'string');
    assert.equal(body.temporal_ui_url, platform.config.temporal.uiUrl);
    const cookie = r.headers.get('set-cookie')!;
    assert.match(cookie, /durabox_session=/);
    assert.match(cookie, /httponly/i);
    assert.match(cookie, /samesite=lax/i);
  });

  it('GET /console/session answers the login body with the cookie, 401 without', async () => {
    const cookie = await login();
    const r = await call('GET', '/api/v1/console/session', { cookie });
    assert.equal(r.status, 200);
    assert.equal(r.body.authenticated, true);
    assert.equal(r.body.account.username, ADMIN.username);
    assert.equal((await call('GET', '/api/v1/console/session')).status, 401);
    assert.equal((await call('GET', '/api/v1/console/session', { cookie: 'durabox_session=forged' })).status, 401);
  });

  it('POST /console/logout answers 204, clears the cookie and ends the session', async () => {
    const cookie = await login();
    const r = await call('POST', '/api/v1/console/logout', { cookie });
    assert.equal(r.status, 204);
    assert.match(r.headers.get('set-cookie') ?? '', /durabox_session=;.*expires=Thu, 01 Jan 1970/i);
    assert.equal((await call('GET', '/api/v1/console/session', { cookie })).status, 401);
  });

  it('login: 400 for a missing field, 401 for an unknown user or a wrong password', async () => {
    const missing = await call('POST', '/api/v1/console/login', { body: { username: 'admin' } });
    assert.equal(missing.status, 400);
    assert.match(missing.body.error, /password/);
    assert.equal((await call('POST', '/api/v1/console/login', { body: { username: unique('nobody'), password: 'x' } })).status, 401);
    assert.equal((await call('POST', '/api/v1/console/login', { body: { username: ADMIN.username, password: 'wrong' } })).status, 401);
    platform.api.deps.loginLimiter.reset();
  });
});

describe('console: login attempts are rate-limited', () => {
  afterEach(() => platform.api.deps.loginLimiter.reset());

  it('10 failed logins in 5 minutes → 429 with Retry-After, even with the right password, and for others from that address', async () => {
    const username = unique('victim');
    for (let i = 0; i < 10; i++) {
      assert.equal((await call('POST', '/api/v1/console/login', { body: { username, password: `guess-${i}` } })).status, 401);
    }
    const limited = await call('POST', '/api/v1/console/login', { body: { username, password: 'guess-11' } });
    assert.equal(limited.status, 429);
    assert.match(limited.body.error, /too many failed logins/);
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter > 0 && retryAfter <= 300, `Retry-After ${retryAfter}`);
    // The address is limited too: the admin's right password from the same client waits as well.
    assert.equal((await call('POST', '/api/v1/console/login', { body: ADMIN })).status, 429);
    platform.api.deps.loginLimiter.reset();
    assert.equal((await call('POST', '/api/v1/console/login', { body: ADMIN })).status, 200);
  });

  it('an attacker\'s failures never lock the real admin out: from another address the right password gets in', async () => {
    const limiter = platform.api.deps.loginLimiter;
    // Ten wrong passwords for the admin, as from an attacker's own addresses.
    for (let i = 0; i < 10; i++) limiter.recordFailure(ADMIN.username, `203.0.113.${i}`);
    const t0 = Date.now();
    const admin = await call('POST', '/api/v1/console/login', { body: ADMIN });
    assert.equal(admin.status, 200, 'slowed down, not locked out');
    assert.ok(Date.now() - t0 >= 200, 'the attempt waited its backoff');
  });

  it('behind a trusted proxy, the client is the address the proxy saw: a forged X-Forwarded-For changes nothing', async () => {
    // The same control plane served by an app configured for a proxy in front, with a limiter of its own.
    const limiter = new LoginLimiter(3, 60_000);
    const app = createApp({ ...platform.api.deps, api: { ...platform.config.api, trustProxy: true }, loginLimiter: limiter });
    const server = app.listen(0, '127.0.0.1');
    try {
      await new Promise((r) => server.once('listening', r));
      const port = (server.address() as { port: number }).port;
      for (const forged of ['1.1.1.1', '2.2.2.2', '3.3.3.3', '4.4.4.4']) {
        await fetch(`http://127.0.0.1:${port}/api/v1/console/login`, {
          method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': `${forged}, 198.51.100.7` }, body: JSON.stringify({ username: 'nobody', password: 'x' }),
        });
      }
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/console/login`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': '9.9.9.9, 198.51.100.7' }, body: JSON.stringify({ username: 'someone', password: 'x' }),
      });
      assert.equal(r.status, 429, 'three failures from the proxy-seen address 198.51.100.7 limit it, whatever the client wrote before it');
    } finally {
      server.close();
    }
  });
});

describe('console REST contract: accounts (spec §4.1)', () => {
  let admin: string;
  before(async () => { admin = await login(); });
  afterEach(() => { platform.config.api.enableRegistration = false; });

  it('POST /console/register answers 403 while registration is disabled', async () => {
    platform.config.api.enableRegistration = false;
    const r = await call('POST', '/api/v1/console/register', { cookie: admin, body: { username: unique('x'), password: 'pw' } });
    assert.equal(r.status, 403);
    assert.match(r.body.error, /registration is disabled/);
    assert.equal((await call('GET', '/api/v1/console/session', { cookie: admin })).body.registration_enabled, false);
  });

  it('POST /console/register by the admin answers 201 {account, created_at, updated_at}; the account logs in as a non-admin', async () => {
    platform.config.api.enableRegistration = true;
    const username = unique('Reg');
    const r = await call('POST', '/api/v1/console/register', { cookie: admin, body: { username, password: 'secret-1' } });
    assert.equal(r.status, 201);
    assert.deepEqual(Object.keys(r.body).sort(), ['account', 'created_at', 'updated_at']);
    assert.match(r.body.account.account_id, /^acc_/);
    assert.equal(r.body.account.username, username);
    assert.equal(r.body.account.is_admin, false);
    assert.ok(!Number.isNaN(Date.parse(r.body.created_at)));
    const cookie = await login(username.toLowerCase(), 'secret-1');
    const s = await call('GET', '/api/v1/console/session', { cookie });
    assert.equal(s.body.account.is_admin, false);
    assert.equal(s.body.registration_enabled, true);
  });

  it('POST /console/register answers 400 for an empty or too long username and an empty password', async () => {
    platform.config.api.enableRegistration = true;
    const cases: Array<[unknown, RegExp]> = [
      [{ username: '', password: 'pw' }, /username/],
      [{ username: '   ', password: 'pw' }, /username/],
      [{ username: 'u'.repeat(65), password: 'pw' }, /username/],
      [{ username: unique('ok'), password: '' }, /password/],
      [{ username: unique('ok') }, /password/],
    ];
    for (const [body, field] of cases) {
      const r = await call('POST', '/api/v1/console/register', { cookie: admin, body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.error, field);
    }
    const longest = await call('POST', '/api/v1/console/register', { cookie: admin, body: { username: `${unique('l')}`.padEnd(64, 'x'), password: 'pw' } });
    assert.equal(longest.status, 201, '64 characters are allowed');
  });

  it('POST /console/register answers 409 for a username taken in any letter case', async () => {
    platform.config.api.enableRegistration = true;
    const username = unique('Dup');
    assert.equal((await call('POST', '/api/v1/console/register', { cookie: admin, body: { username, password: 'pw' } })).status, 201);
    const again = await call('POST', '/api/v1/console/register', { cookie: admin, body: { username: username.toUpperCase(), password: 'pw' } });
    assert.equal(again.status, 409);
    assert.equal((await call('POST', '/api/v1/console/register', { cookie: admin, body: { username: ADMIN.username.toUpperCase(), password: 'pw' } })).status, 409);
  });

  it('register, account list and delete answer 403 to a non-admin and 401 without a login', async () => {
    platform.config.api.enableRegistration = true;
    const user = await registeredAccount(admin);
    assert.equal((await call('POST', '/api/v1/console/register', { cookie: user.cookie, body: { username: unique('y'), password: 'pw' } })).status, 403);
    assert.equal((await call('GET', '/api/v1/console/accounts', { cookie: user.cookie })).status, 403);
    assert.equal((await call('DELETE', `/api/v1/console/accounts/${user.id}`, { cookie: user.cookie })).status, 403);
    assert.equal((await call('GET', '/api/v1/console/accounts')).status, 401);
    assert.equal((await call('POST', '/api/v1/console/register', { body: { username: unique('z'), password: 'pw' } })).status, 401);
  });

  it('GET /console/accounts lists accounts with paging, without password hashes', async () => {
    platform.config.api.enableRegistration = true;
    const user = await registeredAccount(admin);
    const r = await call('GET', '/api/v1/console/accounts?page_size=100', { cookie: admin });
    assert.equal(r.status, 200);
    assert.equal(r.body.page, 1);
    assert.equal(r.body.page_size, 100);
    assert.ok(r.body.total >= 2);
    const mine = r.body.items.find((a: { account_id: string }) => a.account_id === user.id);
    assert.deepEqual(Object.keys(mine).sort(), ['account_id', 'created_at', 'is_admin', 'updated_at', 'username']);
    const one = await call('GET', '/api/v1/console/accounts?page=1&page_size=1', { cookie: admin });
    assert.equal(one.body.items.length, 1);
    assert.equal((await call('GET', '/api/v1/console/accounts?page_size=101', { cookie: admin })).status, 400);
  });

  it('DELETE /console/accounts/:id answers 204 and ends its logins and tokens; 403 for the admin itself, 404 when unknown', async () => {
    platform.config.api.enableRegistration = true;
    const user = await registeredAccount(admin);
    const token = (await call('POST', '/api/v1/console/tokens', { cookie: user.cookie, body: { name: 'doomed' } })).body.token;
    assert.equal((await call('GET', '/api/v1/tasks', { token })).status, 200);
    assert.equal((await call('DELETE', `/api/v1/console/accounts/${user.id}`, { cookie: admin })).status, 204);
    assert.equal((await call('GET', '/api/v1/console/session', { cookie: user.cookie })).status, 401);
    assert.equal((await call('GET', '/api/v1/tasks', { token })).status, 401);
    assert.equal((await call('POST', '/api/v1/console/login', { body: { username: user.username, password: user.password } })).status, 401);
    assert.equal((await call('DELETE', `/api/v1/console/accounts/${user.id}`, { cookie: admin })).status, 404);
    const self = (await call('GET', '/api/v1/console/session', { cookie: admin })).body.account.account_id;
    const r = await call('DELETE', `/api/v1/console/accounts/${self}`, { cookie: admin });
    assert.equal(r.status, 403);
    assert.match(r.body.error, /own account/);
    platform.api.deps.loginLimiter.reset();
  });
});

describe('console REST contract: access tokens (spec §4.2)', () => {
  it('POST /console/tokens answers 201 with the plaintext once; GET lists it masked; DELETE answers 204', async () => {
    const cookie = await login();
    const name = unique('tok');
    const r = await call('POST', '/api/v1/console/tokens', { cookie, body: { name } });
    assert.equal(r.status, 201);
    assert.deepEqual(Object.keys(r.body).sort(), ['created_at', 'generated', 'id', 'name', 'token', 'token_masked', 'updated_at']);
    assert.match(r.body.token, /^dbx_[0-9a-f]{48}$/);
    assert.equal(r.body.generated, true);
    assert.notEqual(r.body.token_masked, r.body.token);
    const list = await call('GET', '/api/v1/console/tokens', { cookie });
    assert.equal(list.status, 200);
    assert.equal(list.body.total, list.body.items.length);
    const item = list.body.items.find((t: { id: string }) => t.id === r.body.id);
    assert.deepEqual(Object.keys(item).sort(), ['created_at', 'id', 'name', 'token_masked', 'updated_at']);
    assert.ok(!JSON.stringify(list.body).includes(r.body.token));
    assert.equal((await call('DELETE', `/api/v1/console/tokens/${r.body.id}`, { cookie })).status, 204);
  });

  it('tokens are per account: another account neither lists nor deletes them (404)', async () => {
    const admin = await login();
    platform.config.api.enableRegistration = true;
    const user = await registeredAccount(admin);
    platform.config.api.enableRegistration = false;
    const r = await call('POST', '/api/v1/console/tokens', { cookie: admin, body: { name: unique('admins') } });
    const theirs = await call('GET', '/api/v1/console/tokens', { cookie: user.cookie });
    assert.ok(!theirs.body.items.some((t: { id: string }) => t.id === r.body.id));
    assert.equal((await call('DELETE', `/api/v1/console/tokens/${r.body.id}`, { cookie: user.cookie })).status, 404);
    // The same name is free in another account.
    assert.equal((await call('POST', '/api/v1/console/tokens', { cookie: user.cookie, body: { name: r.body.name } })).status, 201);
  });
});

describe('isolation between accounts', () => {
  let admin: string;
  let adminToken: string;
  let other: { id: string; cookie: string; token: string };
  before(async () => {
    admin = await login();
    adminToken = (await call('POST', '/api/v1/console/tokens', { cookie: admin, body: { name: unique('iso') } })).body.token;
    platform.config.api.enableRegistration = true;
    const user = await registeredAccount(admin);
    platform.config.api.enableRegistration = false;
    const token = (await call('POST', '/api/v1/console/tokens', { cookie: user.cookie, body: { name: 'iso' } })).body.token;
    other = { id: user.id, cookie: user.cookie, token };
  });

  it('a second account sees none of the first one\'s tasks', async () => {
    const mine = await call('POST', '/api/v1/tasks', { token: adminToken, body: { capability: 'echo', input: { message: 'private' }, mode: 'sync' } });
    assert.equal(mine.status, 200);
    const id = mine.body.task_id;
    assert.equal((await call('GET', `/api/v1/tasks/${id}`, { token: other.token })).status, 404);
    assert.equal((await call('POST', `/api/v1/tasks/${id}/cancel`, { token: other.token })).status, 404);
    const theirs = await call('GET', '/api/v1/tasks?page_size=100', { token: other.token });
    assert.equal(theirs.status, 200);
    assert.equal(theirs.body.total, 0);
    assert.deepEqual(theirs.body.items, []);
    const ours = await call('GET', '/api/v1/tasks?page_size=100', { token: adminToken });
    assert.ok(ours.body.items.some((t: { task_id: string }) => t.task_id === id));
    // Their own task is theirs alone, and the same request_id in two accounts gives two tasks.
    const a = await call('POST', '/api/v1/tasks', { token: adminToken, body: { capability: 'echo', input: { message: 'a' }, mode: 'sync', request_id: 'shared-key' } });
    const b = await call('POST', '/api/v1/tasks', { token: other.token, body: { capability: 'echo', input: { message: 'b' }, mode: 'sync', request_id: 'shared-key' } });
    assert.notEqual(a.body.task_id, b.body.task_id);
    assert.equal(b.body.result.message, 'b');
    assert.equal((await call('GET', `/api/v1/tasks/${b.body.task_id}`, { token: adminToken })).status, 404);
  });

  it('the dashboard cookie reads the account\'s own tasks through /console/tasks; the token API stays token-only', async () => {
    assert.equal((await call('GET', '/api/v1/tasks', { cookie: other.cookie })).status, 401);
    assert.equal((await call('GET', '/api/v1/sessions', { cookie: other.cookie })).status, 401);
    assert.equal((await call('GET', '/api/v1/console/sessions', { cookie: other.cookie })).status, 200);
    assert.equal((await call('GET', '/api/v1/console/tasks')).status, 401);
    const list = await call('GET', '/api/v1/console/tasks?page_size=100', { cookie: other.cookie });
    assert.equal(list.status, 200);
    assert.ok(list.body.items.every((t: { task_id: string }) => typeof t.task_id === 'string'));
    assert.equal(list.body.total, 1, 'only the one task of that account');
    const post = await call('POST', '/api/v1/tasks', { cookie: other.cookie, body: { capability: 'echo', input: { message: 'x' } } });
    assert.equal(post.status, 401);
  });

  it('every workflow carries the DuraboxAccount search attribute', async () => {
    const { count: all } = await platform.api.deps.client.workflow.count('');
    const { count: without } = await platform.api.deps.client.workflow.count('DuraboxAccount IS NULL');
    assert.ok(all > 0);
    assert.equal(without, 0);
  });
});
