import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { call, login, newToken } from './support/http.js';
import { platform } from './support/hooks.js';
import { keyedHash } from '../../control/security.js';
import { HASH_KEY } from '../../harness/platform.js';

describe('bad input and auth answer 4xx naming the field', () => {
  let token: string;
  before(async () => { token = await newToken(); });

  const cases: Array<[string, unknown, RegExp]> = [
    ['missing capability', { input: {} }, /capability/],
    ['unknown capability', { capability: 'rmRf', input: {} }, /capability/],
    ['capability of the wrong type', { capability: 7 }, /capability/],
    ['input not an object', { capability: 'pythonExec', input: 'print(1)' }, /input/],
    ['missing code', { capability: 'pythonExec', input: {} }, /code/],
    ['code of the wrong type', { capability: 'pythonExec', input: { code: 42 } }, /code/],
    ['timeout_ms too big', { capability: 'pythonExec', input: { code: 'print(1)' }, timeout_ms: 600001 }, /timeout_ms/],
    ['timeout_ms zero', { capability: 'pythonExec', input: { code: 'print(1)' }, timeout_ms: 0 }, /timeout_ms/],
    ['timeout_ms fractional', { capability: 'pythonExec', input: { code: 'print(1)' }, timeout_ms: 1.5 }, /timeout_ms/],
    ['wait_ms out of range', { capability: 'echo', input: { message: 'x' }, wait_ms: 60001 }, /wait_ms/],
    ['unknown mode', { capability: 'echo', input: { message: 'x' }, mode: 'later' }, /mode/],
    ['blank echo message', { capability: 'echo', input: { message: '   ' } }, /message/],
    ['body is an array', [1, 2], /body/],
  ];
  for (const [name, body, field] of cases) {
    it(`POST /tasks: ${name} → 400`, async () => {
      const r = await call('POST', '/api/v1/tasks', { token, body });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match(r.body.error, field);
    });
  }

  it('broken JSON → 400 invalid JSON', async () => {
    const r = await call('POST', '/api/v1/tasks', { token, raw: '{"capability": "echo", ' });
    assert.equal(r.status, 400);
    assert.match(r.body.error, /JSON/);
  });

  it('a token route reads JSON whatever the declared type, as `curl -d` sends it; a body that is not JSON → 400', async () => {
    const echo = JSON.stringify({ capability: 'echo', input: { message: 'curl' }, mode: 'sync' });
    // `curl -d` declares a form; a client with a byte body may declare nothing at all.
    const form = await call('POST', '/api/v1/tasks', { token, raw: echo, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(form.status, 200, JSON.stringify(form.body));
    assert.equal(form.body.result.message, 'curl');
    const untyped = await fetch(`${platform.url}/api/v1/tasks`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: Buffer.from(echo) });
    assert.equal(untyped.status, 200, await untyped.clone().text());
    assert.equal((await untyped.json()).result.message, 'curl');
    const notJson = await call('POST', '/api/v1/tasks', { token, raw: 'capability=echo', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(notJson.status, 400);
    assert.match(notJson.body.error, /JSON/);
    const fields = await call('POST', '/api/v1/tasks', { token, raw: '{"capability":"echo"}', headers: { 'content-type': 'text/plain' } });
    assert.equal(fields.status, 400, 'read as JSON, the body is judged field by field');
    assert.match(fields.body.error, /input/);
  });

  it('a cookie route takes JSON only: a form a foreign page posts → 415, even where an empty body is fine (POST /workers)', async () => {
    const cookie = await login();
    const json = JSON.stringify({ type: 'normal' });
    for (const type of ['application/x-www-form-urlencoded', 'text/plain']) {
      const worker = await call('POST', '/api/v1/workers', { cookie, raw: json, headers: { 'content-type': type } });
      assert.equal(worker.status, 415, `a ${type} body a foreign page posts never creates a worker credential`);
      assert.match(worker.body.error, /application\/json/);
    }
    const made = await call('POST', '/api/v1/workers', { cookie });
    assert.equal(made.status, 201, 'no body at all, as the reference sends it, is fine');
    assert.equal((await call('DELETE', `/api/v1/workers/${made.body.node_id}`, { cookie })).status, 204);
  });

  it('a page past 100 → 400 naming page: one request never walks more than 10,000 workflows', async () => {
    for (const path of ['/api/v1/tasks?page=101', '/api/v1/sessions?page=1000000000']) {
      const r = await call('GET', path, { token });
      assert.equal(r.status, 400, path);
      assert.match(r.body.error, /page: must be at most 100/);
    }
    assert.equal((await call('GET', '/api/v1/tasks?page=100', { token })).status, 200);
  });

  it('oversize body → 413', async () => {
    const r = await call('POST', '/api/v1/tasks', { token, raw: JSON.stringify({ capability: 'pythonExec', input: { code: '#'.repeat(5 * 1024 * 1024) } }) });
    assert.equal(r.status, 413);
    assert.match(r.body.error, /too large/);
  });

  it('echo command: blank message and out-of-range timeout → 400', async () => {
    const a = await call('POST', '/api/v1/commands/echo', { token, body: { message: '' } });
    assert.equal(a.status, 400);
    assert.match(a.body.error, /message/);
    const b = await call('POST', '/api/v1/commands/echo', { token, body: { message: 'x', timeout_ms: 60001 } });
    assert.equal(b.status, 400);
    assert.match(b.body.error, /timeout_ms/);
  });

  it('no token, a wrong token or a malformed header → 401', async () => {
    for (const headers of [{}, { authorization: 'Bearer dbx_nope' }, { authorization: 'Basic abc' }] as Array<Record<string, string>>) {
      const r = await call('POST', '/api/v1/tasks', { headers, body: { capability: 'echo', input: { message: 'x' } } });
      assert.equal(r.status, 401);
      assert.ok(r.body.error);
    }
    assert.equal((await call('GET', '/api/v1/tasks')).status, 401);
  });

  it('tokens are stored only as keyed hashes', async () => {
    const rows = await platform.api.deps.db('access_tokens').select('token_hash', 'token_masked');
    assert.ok(rows.some((r) => r.token_hash === keyedHash(HASH_KEY, token)));
    assert.ok(rows.every((r) => !r.token_hash.includes(token) && r.token_masked !== token));
  });

  it('another account\'s task id answers 404', async () => {
    const mine = await call('POST', '/api/v1/tasks', { token, body: { capability: 'echo', input: { message: 'mine' }, mode: 'sync' } });
    const { token: otherToken } = await platform.otherAccount();
    assert.equal((await call('GET', `/api/v1/tasks/${mine.body.task_id}`, { token: otherToken })).status, 404);
    assert.equal((await call('POST', `/api/v1/tasks/${mine.body.task_id}/cancel`, { token: otherToken })).status, 404);
    const list = await call('GET', '/api/v1/tasks', { token: otherToken });
    assert.equal(list.body.items.length, 0);
  });

  it('console: login with wrong password → 401, bad JSON → 400, token rules → 400/409/410', async () => {
    assert.equal((await call('POST', '/api/v1/console/login', { body: { username: 'admin', password: 'wrong' } })).status, 401);
    assert.equal((await call('POST', '/api/v1/console/login', { raw: '{' })).status, 400);
    const cookie = await login();
    const blank = await call('POST', '/api/v1/console/tokens', { cookie, body: { name: '  ' } });
    assert.equal(blank.status, 400);
    assert.match(blank.body.error, /name/);
    const long = await call('POST', '/api/v1/console/tokens', { cookie, body: { name: 'n'.repeat(65) } });
    assert.equal(long.status, 400);
    const ws = await call('POST', '/api/v1/console/tokens', { cookie, body: { name: 'ws', token: ' padded ' } });
    assert.equal(ws.status, 400);
    assert.match(ws.body.error, /token/);
    const weak = await call('POST', '/api/v1/console/tokens', { cookie, body: { name: 'weak', token: 'password123' } });
    assert.equal(weak.status, 400);
    assert.match(weak.body.error, /token: token must carry at least 128 bits/);
    const first = await call('POST', '/api/v1/console/tokens', { cookie, body: { name: 'Dup-Name', token: `given-${randomBytes(16).toString('hex')}` } });
    assert.equal(first.status, 201);
    assert.equal(first.body.generated, false);
    assert.equal((await call('POST', '/api/v1/console/tokens', { cookie, body: { name: 'dup-name' } })).status, 409);
    const taken = await call('POST', '/api/v1/console/tokens', { cookie, body: { name: 'other', token: first.body.token } });
    assert.equal(taken.status, 409);
    assert.doesNotMatch(taken.body.error, /exists|already|account/, 'a taken value is refused without saying where it is used');
    assert.equal((await call('GET', `/api/v1/console/tokens/${first.body.id}/value`, { cookie })).status, 410);
    const list = await call('GET', '/api/v1/console/tokens', { cookie });
    assert.ok(list.body.items.every((t: Record<string, unknown>) => !('token' in t)));
    assert.equal((await call('DELETE', `/api/v1/console/tokens/${first.body.id}`, { cookie })).status, 204);
    assert.equal((await call('DELETE', `/api/v1/console/tokens/${first.body.id}`, { cookie })).status, 404);
    assert.equal((await call('POST', '/api/v1/tasks', { token: first.body.token, body: { capability: 'echo', input: { message: 'x' } } })).status, 401);
  });
});
