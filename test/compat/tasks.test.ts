// Reference API §7 (tasks, bearer token), replayed against durabox.
import assert from 'node:assert/strict';
import { platform } from '../e2e/support/hooks.js';
import { call, newToken } from '../e2e/support/http.js';
import { eventually } from '../e2e/support/docker.js';
import { assertError, assertTime, unique } from './support/reference.js';

const TASK_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled', 'timeout'];

/** The task snapshot of reference §7.1: ids, status and times; `sent` is the capability as the request named it. */
function assertSnapshot(body: any, sent: string): void {
  assert.equal(typeof body.task_id, 'string');
  assert.ok(body.task_id.length > 0);
  // Deliberate difference: the answer names the capability in durabox's canonical case (`pythonExec`),
  // where the reference echoes a lower-cased `pythonexec`; both match the request without regard to case.
  assert.equal(typeof body.capability, 'string');
  assert.equal(body.capability.toLowerCase(), sent.toLowerCase());
  assert.ok(TASK_STATUSES.includes(body.status), `status ${body.status}`);
  for (const f of ['created_at', 'updated_at', 'deadline_at']) assertTime(body[f], f);
  if (body.completed_at !== undefined) assertTime(body.completed_at, 'completed_at');
  if (body.error !== undefined) {
    assert.equal(typeof body.error, 'object', 'a task\'s error is an object');
    assert.equal(typeof body.error.code, 'string');
    assert.equal(typeof body.error.message, 'string');
  }
}

describe('reference API §7 tasks', function () {
  this.timeout(60_000);
  let token: string;
  before(async () => { token = await newToken(); });

  const submit = (body: unknown, t = token) => call('POST', '/api/v1/tasks', { token: t, body });

  describe('§7.1 POST /api/v1/tasks', () => {
    it('200 completed: {task_id, capability, status:succeeded, result{output, stderr, exit_code}, created_at, updated_at, deadline_at, completed_at}', async () => {
      const r = await submit({ capability: 'pythonExec', input: { code: 'print(1)' }, mode: 'auto', wait_ms: 1500, timeout_ms: 60000 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assertSnapshot(r.body, 'pythonExec');
      assert.equal(r.body.status, 'succeeded');
      assert.equal(r.body.result.output, '1\n');
      assert.equal(r.body.result.stderr, '');
      assert.equal(r.body.result.exit_code, 0);
      assertTime(r.body.completed_at, 'completed_at');
      assert.equal(r.body.status_url, undefined, 'no status_url once completed');
      assert.equal(r.body.error, undefined);
    });

    it('mode, wait_ms, timeout_ms and input are optional (auto, 1500, 60000, {})', async () => {
      const r = await submit({ capability: 'echo', input: { message: 'defaults' } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.result, { message: 'defaults' });
      const deadline = Date.parse(r.body.deadline_at) - Date.parse(r.body.created_at);
      assert.ok(deadline > 55_000 && deadline <= 61_000, `deadline_at is created_at + 60 s, got ${deadline} ms`);
      // input omitted is {}: echo without a message is then refused as bad input, not as bad JSON.
      assertError(await submit({ capability: 'echo' }), 400, /message/);
    });

    it('a non-zero exit code is a succeeded task with the exit code in result', async () => {
      const r = await submit({ capability: 'pythonExec', input: { code: 'import sys; print("e", file=sys.stderr); sys.exit(3)' }, mode: 'sync' });
      assert.equal(r.status, 200);
      assert.equal(r.body.status, 'succeeded');
      assert.equal(r.body.result.exit_code, 3);
      assert.equal(r.body.result.stderr, 'e\n');
    });

    it('202 in async mode with status_url /api/v1/tasks/<task_id>; the status_url reads the task until it succeeds', async () => {
      const request_id = unique('req');
      const r = await submit({ capability: 'echo', input: { message: 'later' }, mode: 'async', request_id });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      assertSnapshot(r.body, 'echo');
      assert.ok(['queued', 'running'].includes(r.body.status));
      assert.equal(r.body.request_id, request_id);
      assert.equal(r.body.status_url, `/api/v1/tasks/${r.body.task_id}`);
      const done = await eventually('the task to succeed', async () => {
        const g = await call('GET', r.body.status_url, { token });
        assert.equal(g.status, 200);
        return g.body.status === 'succeeded' && g.body;
      });
      assertSnapshot(done, 'echo');
      assert.deepEqual(done.result, { message: 'later' });
      assertTime(done.completed_at, 'completed_at');
    });

    it('202 in auto mode once wait_ms passes; after a cancel the same request answers 409 canceled with error {code, message}', async () => {
      const body = { capability: 'pythonExec', input: { code: 'import time; time.sleep(20)' }, mode: 'auto', wait_ms: 300, request_id: unique('cancel-me') };
      const r = await submit(body);
      assert.equal(r.status, 202, JSON.stringify(r.body));
      assert.equal(r.body.status_url, `/api/v1/tasks/${r.body.task_id}`);
      assert.equal((await call('POST', `/api/v1/tasks/${r.body.task_id}/cancel`, { token })).status, 200);
      await eventually('the task to be canceled', async () => (await call('GET', r.body.status_url, { token })).body.status === 'canceled');
      const again = await submit(body);
      assert.equal(again.status, 409, JSON.stringify(again.body));
      assertSnapshot(again.body, 'pythonExec');
      assert.equal(again.body.task_id, r.body.task_id);
      assert.equal(again.body.status, 'canceled');
      assert.deepEqual(Object.keys(again.body.error).sort(), ['code', 'message']);
    });

    it('504 with status timeout and error {code, message} when the task times out', async () => {
      const r = await submit({ capability: 'pythonExec', input: { code: 'import time; time.sleep(30)' }, mode: 'sync', timeout_ms: 1000 });
      assert.equal(r.status, 504, JSON.stringify(r.body));
      assertSnapshot(r.body, 'pythonExec');
      assert.equal(r.body.status, 'timeout');
      assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'message']);
    });

    it('a failed task carries error {code, message} and no result', async () => {
      const r = await submit({ capability: 'terminalExec', input: { command: 'true', session_id: 'no-such-session' }, mode: 'sync' });
      assert.ok(r.status >= 400, `${r.status} ${JSON.stringify(r.body)}`);
      assertSnapshot(r.body, 'terminalExec');
      assert.equal(r.body.status, 'failed');
      assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'message']);
      assert.equal(r.body.error.code, 'session_not_found');
      assert.equal(r.body.result, undefined);
    });

    it('400 for a missing or empty capability, or an unknown one', async () => {
      for (const body of [{ input: {} }, { capability: '', input: {} }, { capability: 'rmRf', input: {} }]) assertError(await submit(body), 400, /capability/);
    });

    it('400 for an invalid mode', async () => {
      for (const mode of ['later', 'synchronous', 7]) assertError(await submit({ capability: 'echo', input: { message: 'x' }, mode }), 400, /mode/);
    });

    it('400 for wait_ms outside 1..60000', async () => {
      for (const wait_ms of [0, 60001]) assertError(await submit({ capability: 'echo', input: { message: 'x' }, wait_ms }), 400, /wait_ms/);
    });

    it('400 for timeout_ms outside 1..600000', async () => {
      for (const timeout_ms of [0, 600001]) assertError(await submit({ capability: 'echo', input: { message: 'x' }, timeout_ms }), 400, /timeout_ms/);
    });

    it('400 for an invalid body or input', async () => {
      assertError(await call('POST', '/api/v1/tasks', { token, raw: '{"capability": ' }), 400);
      assertError(await submit({ capability: 'pythonExec', input: 'print(1)' }), 400, /input/);
      assertError(await submit({ capability: 'pythonExec', input: {} }), 400, /code/);
    });

    it('request_id is a dedupe key per account: the same key gives the same task', async () => {
      const request_id = unique('req-1');
      const a = await submit({ capability: 'echo', input: { message: 'once' }, mode: 'sync', request_id });
      const b = await submit({ capability: 'echo', input: { message: 'once' }, mode: 'sync', request_id });
      assert.equal(a.status, 200);
      assert.equal(b.status, 200);
      assert.equal(b.body.task_id, a.body.task_id);
      assert.equal(a.body.request_id, request_id);
      const other = await platform.otherAccount('task-req');
      const theirs = await submit({ capability: 'echo', input: { message: 'theirs' }, mode: 'sync', request_id }, other.token);
      assert.notEqual(theirs.body.task_id, a.body.task_id, 'another account\'s key is its own');
      assert.deepEqual(theirs.body.result, { message: 'theirs' });
    });

    it('401 without a bearer token', async () => {
      assertError(await call('POST', '/api/v1/tasks', { body: { capability: 'echo', input: { message: 'x' } } }), 401);
    });
  });

  describe('§7.2 GET /api/v1/tasks/:task_id', () => {
    it('200 with the task snapshot', async () => {
      const r = await submit({ capability: 'echo', input: { message: 'read me' }, mode: 'sync' });
      const g = await call('GET', `/api/v1/tasks/${r.body.task_id}`, { token });
      assert.equal(g.status, 200);
      assertSnapshot(g.body, 'echo');
      assert.equal(g.body.task_id, r.body.task_id);
      assert.equal(g.body.status, 'succeeded');
      assert.deepEqual(g.body.result, { message: 'read me' });
    });

    it('404 {error} for an unknown task and for another account\'s task', async () => {
      const r = await submit({ capability: 'echo', input: { message: 'private' }, mode: 'sync' });
      const other = await platform.otherAccount('task-get');
      assertError(await call('GET', `/api/v1/tasks/${r.body.task_id}`, { token: other.token }), 404);
      assertError(await call('GET', '/api/v1/tasks/task_xxx', { token }), 404);
    });

    it('401 without a bearer token', async () => {
      assertError(await call('GET', '/api/v1/tasks/task_xxx'), 401);
    });
  });

  describe('§7.3 POST /api/v1/tasks/:task_id/cancel', () => {
    it('200 for a running task, with its snapshot', async () => {
      const r = await submit({ capability: 'pythonExec', input: { code: 'import time; time.sleep(20)' }, mode: 'async' });
      const c = await call('POST', `/api/v1/tasks/${r.body.task_id}/cancel`, { token });
      assert.equal(c.status, 200, JSON.stringify(c.body));
      assertSnapshot(c.body, 'pythonExec');
      assert.equal(c.body.task_id, r.body.task_id);
      await eventually('the task to end', async () => (await call('GET', `/api/v1/tasks/${r.body.task_id}`, { token })).body.status === 'canceled');
    });

    it('409 for a task already terminal, returning the task snapshot', async () => {
      const r = await submit({ capability: 'echo', input: { message: 'done' }, mode: 'sync' });
      const c = await call('POST', `/api/v1/tasks/${r.body.task_id}/cancel`, { token });
      assert.equal(c.status, 409, JSON.stringify(c.body));
      assertSnapshot(c.body, 'echo');
      assert.equal(c.body.task_id, r.body.task_id);
      assert.equal(c.body.status, 'succeeded');
      assert.deepEqual(c.body.result, { message: 'done' });
    });

    it('404 {error} for an unknown task and for another account\'s task', async () => {
      const r = await submit({ capability: 'pythonExec', input: { code: 'import time; time.sleep(5)' }, mode: 'async' });
      const other = await platform.otherAccount('task-cancel');
      assertError(await call('POST', `/api/v1/tasks/${r.body.task_id}/cancel`, { token: other.token }), 404);
      assertError(await call('POST', '/api/v1/tasks/task_xxx/cancel', { token }), 404);
      assert.equal((await call('POST', `/api/v1/tasks/${r.body.task_id}/cancel`, { token })).status, 200, 'the owner still can');
    });

    it('401 without a bearer token', async () => {
      assertError(await call('POST', '/api/v1/tasks/task_xxx/cancel'), 401);
    });
  });
});
