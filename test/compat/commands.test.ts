// Reference API §6 (execution commands, bearer token), replayed against durabox.
import assert from 'node:assert/strict';
import { call, newToken } from '../e2e/support/http.js';
import { assertError, assertTerminalOutput, endSession, terminal, unique } from './support/reference.js';

describe('reference API §6 execution commands', function () {
  this.timeout(60_000);
  let token: string;
  before(async () => { token = await newToken(); });

  describe('§6.1 POST /api/v1/commands/echo', () => {
    const echo = (body: unknown, t = token) => call('POST', '/api/v1/commands/echo', { token: t, body });

    it('200 {message}', async () => {
      const r = await echo({ message: 'hello', timeout_ms: 5000 });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { message: 'hello' });
    });

    it('timeout_ms is optional and accepts its bounds\' upper end 60000', async () => {
      assert.deepEqual((await echo({ message: 'default timeout' })).body, { message: 'default timeout' });
      assert.deepEqual((await echo({ message: 'longest', timeout_ms: 60000 })).body, { message: 'longest' });
    });

    it('400 for a missing, empty or blank message', async () => {
      for (const body of [{}, { message: '' }, { message: '   ' }, { message: '\t\n' }]) assertError(await echo(body), 400, /message/);
    });

    it('400 for timeout_ms outside 1..60000', async () => {
      for (const timeout_ms of [0, 60001, -1]) assertError(await echo({ message: 'x', timeout_ms }), 400, /timeout_ms/);
    });

    it('400 for an invalid body', async () => {
      assertError(await call('POST', '/api/v1/commands/echo', { token, raw: '{"message": ' }), 400);
    });

    it('401 without a bearer token', async () => {
      assertError(await call('POST', '/api/v1/commands/echo', { body: { message: 'x' } }), 401);
      assertError(await call('POST', '/api/v1/commands/echo', { token: 'obx_not_a_token', body: { message: 'x' } }), 401);
    });
  });

  describe('§6.2 POST /api/v1/commands/terminal', () => {
    let sid: string;
    const made: string[] = [];
    before(async () => {
      const r = await terminal(token, { command: 'pwd', lease_ttl_sec: 120 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      sid = r.body.session_id;
      made.push(sid);
    });
    after(async () => { for (const s of made) await endSession(token, s); });

    it('200 with exactly session_id, created, stdout, stderr, exit_code, stdout_truncated, stderr_truncated, lease_expires_unix_ms', async () => {
      const r = await terminal(token, { command: 'echo out; echo err >&2; exit 3', lease_ttl_sec: 60, timeout_ms: 60000 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      made.push(r.body.session_id);
      assertTerminalOutput(r.body);
      assert.equal(r.body.created, true, 'no session_id: a new session');
      assert.equal(r.body.stdout, 'out\n');
      assert.equal(r.body.stderr, 'err\n');
      assert.equal(r.body.exit_code, 3);
      assert.equal(r.body.stdout_truncated, false);
      assert.equal(r.body.stderr_truncated, false);
    });

    it('the same session_id runs in the same session: created false, files kept', async () => {
      const w = await terminal(token, { command: 'echo kept > state.txt', session_id: sid });
      assert.equal(w.status, 200, JSON.stringify(w.body));
      assertTerminalOutput(w.body);
      assert.equal(w.body.session_id, sid);
      assert.equal(w.body.created, false);
      const r = await terminal(token, { command: 'cat state.txt', session_id: sid, create_if_missing: false });
      assert.equal(r.body.stdout, 'kept\n');
    });

    it('create_if_missing true creates a session with the given id, then joins it', async () => {
      const id = unique('my-session');
      const first = await terminal(token, { command: 'echo made', session_id: id, create_if_missing: true, lease_ttl_sec: 60 });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      made.push(id);
      assertTerminalOutput(first.body);
      assert.equal(first.body.session_id, id);
      assert.equal(first.body.created, true);
      const second = await terminal(token, { command: 'echo again', session_id: id, create_if_missing: true });
      assert.equal(second.body.created, false);
      assert.equal(second.body.stdout, 'again\n');
    });

    it('404 session_not_found for an unknown session_id without create_if_missing', async () => {
      const r = await terminal(token, { command: 'pwd', session_id: unique('missing'), create_if_missing: false });
      assertError(r, 404);
    });

    it('409 session_busy while a command runs in the session', async () => {
      const slow = terminal(token, { command: 'sleep 2; echo done', session_id: sid });
      await new Promise((r) => setTimeout(r, 700));
      assertError(await terminal(token, { command: 'echo second', session_id: sid }), 409);
      assert.equal((await slow).body.stdout, 'done\n');
    });

    it('400 for a missing, empty or blank command', async () => {
      for (const body of [{}, { command: '' }, { command: '   ' }, { command: ' \n\t' }]) assertError(await terminal(token, { ...body, session_id: sid }), 400, /command/);
    });

    it('timeout_ms: 400 outside 1..600000; 1 and 600000 are accepted', async () => {
      for (const timeout_ms of [0, 600001]) assertError(await terminal(token, { command: 'true', session_id: sid, timeout_ms }), 400, /timeout_ms/);
      const longest = await terminal(token, { command: 'echo ok', session_id: sid, timeout_ms: 600000 });
      assert.equal(longest.status, 200, JSON.stringify(longest.body));
      // 1 ms is inside the bounds: whatever the command makes of it (done or timed out), it is no 400.
      const shortest = await terminal(token, { command: 'true', timeout_ms: 1 });
      if (shortest.body?.session_id) made.push(shortest.body.session_id);
      assert.ok([200, 504].includes(shortest.status), `${shortest.status} ${JSON.stringify(shortest.body)}`);
    });

    it('request_id is an optional idempotency key: a retry gives the same answer', async () => {
      const request_id = unique('optional-idempotency-key');
      const body = { command: 'cat /proc/sys/kernel/random/uuid', session_id: sid, request_id };
      const a = await terminal(token, body);
      const b = await terminal(token, body);
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal(b.status, 200, JSON.stringify(b.body));
      assert.equal(b.body.stdout, a.body.stdout, 'the command ran once');
    });

    it('400 for an invalid body', async () => {
      assertError(await call('POST', '/api/v1/commands/terminal', { token, raw: '{"command": ' }), 400);
      assertError(await terminal(token, { command: 'true', create_if_missing: 'yes' }), 400, /create_if_missing/);
    });

    it('401 without a bearer token', async () => {
      assertError(await call('POST', '/api/v1/commands/terminal', { body: { command: 'pwd' } }), 401);
    });
  });
});
