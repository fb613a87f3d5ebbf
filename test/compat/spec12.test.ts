// SPEC §12: where the reference platform and durabox could answer the same input differently, durabox
// follows the reference. Each case here is one of §12's list, over REST and over MCP.
import assert from 'node:assert/strict';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { platform } from '../e2e/support/hooks.js';
import { call, newToken } from '../e2e/support/http.js';
import {
  assertError, assertInvalidParams, assertTerminalOutput, assertTime, assertToolError, endSession, lettersOnly, mcpClient, terminal, unique,
} from './support/reference.js';

const LEASE_BOUNDS = /lease_ttl_sec must be between 1 and 600/;
const BLANKS = ['', '   ', '\t\n '];

describe('SPEC §12 wire compatibility with the reference platform', function () {
  this.timeout(60_000);
  let token: string;
  let client: Client;
  let sid: string;
  const sessions: string[] = [];
  before(async () => {
    token = await newToken();
    client = await mcpClient(token);
    const r = await terminal(token, { command: 'true', lease_ttl_sec: 120 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    sid = r.body.session_id;
    sessions.push(sid);
  });
  after(async () => {
    for (const s of sessions) await endSession(token, s);
    await client?.close();
  });

  const submit = (body: unknown, t = token) => call('POST', '/api/v1/tasks', { token: t, body });

  describe('blank (whitespace-only) code, command, message and readImage ids are refused', () => {
    it('POST /tasks: blank pythonExec code → 400 naming code', async () => {
      for (const code of BLANKS) assertError(await submit({ capability: 'pythonExec', input: { code } }), 400, /code/);
    });

    it('POST /tasks: blank terminalExec command and blank echo message → 400 naming the field', async () => {
      for (const b of BLANKS) {
        assertError(await submit({ capability: 'terminalExec', input: { command: b } }), 400, /command/);
        assertError(await submit({ capability: 'echo', input: { message: b } }), 400, /message/);
      }
    });

    it('POST /commands/terminal: blank command → 400 naming command', async () => {
      for (const command of BLANKS) assertError(await terminal(token, { command }), 400, /command/);
    });

    it('POST /commands/echo: blank message → 400 naming message', async () => {
      for (const message of BLANKS) assertError(await call('POST', '/api/v1/commands/echo', { token, body: { message } }), 400, /message/);
    });

    it('MCP pythonExec, terminalExec and echo: blank code, command, message → -32602 naming the field', async () => {
      for (const b of BLANKS) {
        await assertInvalidParams(client.callTool({ name: 'pythonExec', arguments: { code: b } }), /code/);
        await assertInvalidParams(client.callTool({ name: 'terminalExec', arguments: { command: b } }), /command/);
        await assertInvalidParams(client.callTool({ name: 'echo', arguments: { message: b } }), /message/);
      }
    });

    it('MCP readImage: blank session_id or file_path → -32602 naming the field', async () => {
      for (const b of BLANKS) {
        await assertInvalidParams(client.callTool({ name: 'readImage', arguments: { session_id: b, file_path: 'a.png' } }), /session_id/);
        await assertInvalidParams(client.callTool({ name: 'readImage', arguments: { session_id: sid, file_path: b } }), /file_path/);
      }
    });
  });

  describe('empty or whitespace-only optional ids mean absent', () => {
    it('POST /commands/terminal: session_id "" or "   " creates a new session', async () => {
      for (const session_id of ['', '   ']) {
        const r = await terminal(token, { command: 'echo fresh', session_id, lease_ttl_sec: 30 });
        assert.equal(r.status, 200, `${JSON.stringify(session_id)}: ${JSON.stringify(r.body)}`);
        sessions.push(r.body.session_id);
        assertTerminalOutput(r.body);
        assert.equal(r.body.created, true);
        assert.ok(r.body.session_id.trim().length > 0, 'a real id is made');
        assert.equal(r.body.stdout, 'fresh\n');
      }
    });

    it('POST /commands/terminal: request_id "" or "   " is no idempotency key; the command runs each time', async () => {
      const outputs = new Set<string>();
      for (const request_id of ['', '   ', '']) {
        const r = await terminal(token, { command: 'cat /proc/sys/kernel/random/uuid', session_id: sid, request_id });
        assert.equal(r.status, 200, `${JSON.stringify(request_id)}: ${JSON.stringify(r.body)}`);
        outputs.add(r.body.stdout);
      }
      assert.equal(outputs.size, 3, 'three runs, three different outputs');
    });

    it('POST /commands/terminal: session_id "" together with request_id "" creates a session and runs', async () => {
      const r = await terminal(token, { command: 'echo both', session_id: '', request_id: '', lease_ttl_sec: 30 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      sessions.push(r.body.session_id);
      assert.equal(r.body.created, true);
    });

    it('POST /tasks: request_id "" or "   " runs a task; two such submits are two tasks', async () => {
      const ids = new Set<string>();
      for (const request_id of ['', '   ', '']) {
        const r = await submit({ capability: 'echo', input: { message: 'no key' }, mode: 'sync', request_id });
        assert.equal(r.status, 200, `${JSON.stringify(request_id)}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.status, 'succeeded');
        ids.add(r.body.task_id);
      }
      assert.equal(ids.size, 3);
    });

    it('MCP terminalExec: session_id "" or "   " creates a new session', async () => {
      for (const session_id of ['', '   ']) {
        const r = await client.callTool({ name: 'terminalExec', arguments: { command: 'echo mcp', session_id, lease_ttl_sec: 30 } });
        assert.ok(!r.isError, `${JSON.stringify(session_id)}: ${JSON.stringify(r.content)}`);
        const out = r.structuredContent as Record<string, unknown>;
        sessions.push(out.session_id as string);
        assert.equal(out.created, true);
        assert.equal(out.stdout, 'mcp\n');
      }
    });
  });

  describe('lease_ttl_sec outside the configured bounds (1..600 here) is refused, naming the bounds', () => {
    it('POST /commands/terminal: 0, 601 and 86400 → 400 "lease_ttl_sec must be between 1 and 600"', async () => {
      const wrong: string[] = [];
      for (const lease_ttl_sec of [0, 601, 86400]) {
        for (const body of [{ command: 'true', session_id: sid, lease_ttl_sec }, { command: 'true', lease_ttl_sec }]) {
          const r = await terminal(token, body);
          if (r.body?.session_id && r.body.session_id !== sid) sessions.push(r.body.session_id);
          if (r.status !== 400 || !LEASE_BOUNDS.test(r.body?.error ?? '')) wrong.push(`${JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.body?.error ?? r.body)}`);
        }
      }
      assert.deepEqual(wrong, [], 'each answers 400 naming the bounds');
    });

    it('POST /commands/terminal: 1 and 600 are accepted', async () => {
      for (const lease_ttl_sec of [1, 600]) {
        const r = await terminal(token, { command: 'true', session_id: sid, lease_ttl_sec });
        assert.equal(r.status, 200, `${lease_ttl_sec}: ${JSON.stringify(r.body)}`);
      }
    });

    it('MCP terminalExec: 0 and 601 → -32602 with the bounds; 600 works', async () => {
      for (const lease_ttl_sec of [0, 601]) {
        await assertInvalidParams(client.callTool({ name: 'terminalExec', arguments: { command: 'true', session_id: sid, lease_ttl_sec } }), LEASE_BOUNDS);
      }
      const ok = await client.callTool({ name: 'terminalExec', arguments: { command: 'true', session_id: sid, lease_ttl_sec: 600 } });
      assert.ok(!ok.isError, JSON.stringify(ok.content));
    });
  });

  describe('capability and mode are matched without regard to case', () => {
    it('capability "PYTHONEXEC" and "pythonexec" run pythonExec', async () => {
      for (const capability of ['PYTHONEXEC', 'pythonexec']) {
        const r = await submit({ capability, input: { code: 'print(1)' }, mode: 'sync' });
        assert.equal(r.status, 200, `${capability}: ${JSON.stringify(r.body)}`);
        // Deliberate difference: the answer names durabox's canonical `pythonExec`.
        assert.equal(r.body.capability.toLowerCase(), capability.toLowerCase());
        assert.equal(r.body.result.output, '1\n');
      }
    });

    it('capability "Echo" with mode "SYNC" answers 200; mode "Async" answers 202', async () => {
      const sync = await submit({ capability: 'Echo', input: { message: 'cased' }, mode: 'SYNC' });
      assert.equal(sync.status, 200, JSON.stringify(sync.body));
      assert.equal(sync.body.capability.toLowerCase(), 'echo');
      assert.deepEqual(sync.body.result, { message: 'cased' });
      const async_ = await submit({ capability: 'echo', input: { message: 'later' }, mode: 'Async' });
      assert.equal(async_.status, 202, JSON.stringify(async_.body));
      assert.equal(async_.body.status_url, `/api/v1/tasks/${async_.body.task_id}`);
      const auto = await submit({ capability: 'ECHO', input: { message: 'auto' }, mode: 'AUTO' });
      assert.equal(auto.status, 200, JSON.stringify(auto.body));
    });
  });

  describe('session errors keep the reference\'s messages and add a code', () => {
    it('unknown session_id → 404 {error: "session not found", code: "session_not_found"}', async () => {
      const r = await terminal(token, { command: 'pwd', session_id: unique('nowhere'), create_if_missing: false });
      assertError(r, 404, 'session not found');
      assert.equal(r.body.code, 'session_not_found');
    });

    it('a second command while one runs → 409 {error: "session is busy", code: "session_busy"}; MCP says session_busy: …', async () => {
      const slow = terminal(token, { command: 'sleep 2; echo done', session_id: sid });
      await new Promise((r) => setTimeout(r, 700));
      const busy = await terminal(token, { command: 'echo second', session_id: sid });
      assertError(busy, 409, 'session is busy');
      assert.equal(busy.body.code, 'session_busy');
      assertToolError(await client.callTool({ name: 'terminalExec', arguments: { command: 'echo third', session_id: sid } }), 'session_busy');
      assert.equal((await slow).body.stdout, 'done\n');
    });
  });

  describe('cancel of a finished task answers 409 with the bare snapshot', () => {
    it('409: the snapshot itself (task_id, status, capability, created_at, …), no top-level error string', async () => {
      const r = await submit({ capability: 'echo', input: { message: 'finished' }, mode: 'sync' });
      assert.equal(r.status, 200);
      const c = await call('POST', `/api/v1/tasks/${r.body.task_id}/cancel`, { token });
      assert.equal(c.status, 409, JSON.stringify(c.body));
      assert.notEqual(typeof c.body.error, 'string', `no error message beside the snapshot: ${JSON.stringify(c.body)}`);
      assert.equal(c.body.error, undefined, 'a succeeded task has no error');
      assert.equal(c.body.task_id, r.body.task_id);
      assert.equal(c.body.status, 'succeeded');
      assert.equal(c.body.capability, r.body.capability);
      assertTime(c.body.created_at, 'created_at');
      assertTime(c.body.completed_at, 'completed_at');
      assert.deepEqual(c.body.result, { message: 'finished' });
    });

    it('a canceled task canceled again: 409 with the snapshot, whose error is the {code, message} object', async () => {
      const r = await submit({ capability: 'pythonExec', input: { code: 'import time; time.sleep(20)' }, mode: 'async' });
      const first = await call('POST', `/api/v1/tasks/${r.body.task_id}/cancel`, { token });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.task_id, r.body.task_id);
      assert.notEqual(typeof first.body.error, 'string');
      let again = first;
      const until = Date.now() + 15_000;
      while (again.status !== 409 && Date.now() < until) {
        await new Promise((res) => setTimeout(res, 200));
        again = await call('POST', `/api/v1/tasks/${r.body.task_id}/cancel`, { token });
      }
      assert.equal(again.status, 409, JSON.stringify(again.body));
      assert.equal(again.body.status, 'canceled');
      assert.equal(typeof again.body.error, 'object', JSON.stringify(again.body));
      assert.deepEqual(Object.keys(again.body.error).sort(), ['code', 'message']);
    });

    it('unknown or another account\'s task → 404 {error}', async () => {
      const r = await submit({ capability: 'echo', input: { message: 'mine' }, mode: 'sync' });
      const other = await platform.otherAccount('s12-cancel');
      assertError(await call('POST', `/api/v1/tasks/${r.body.task_id}/cancel`, { token: other.token }), 404);
      assertError(await call('POST', '/api/v1/tasks/task_00000000000000000000000000000000/cancel', { token }), 404);
    });
  });

  describe('wait_ms is capped at timeout_ms', () => {
    it('auto mode, timeout_ms 1500, wait_ms 60000: 504 status timeout long before wait_ms', async () => {
      const started = Date.now();
      const r = await submit({ capability: 'pythonExec', input: { code: 'import time; time.sleep(30)' }, mode: 'auto', wait_ms: 60000, timeout_ms: 1500 });
      const took = Date.now() - started;
      assert.equal(r.status, 504, JSON.stringify(r.body));
      assert.equal(r.body.status, 'timeout');
      assert.equal(r.body.error.code, 'timeout');
      assert.ok(took < 15_000, `answered after ${took} ms`);
    });
  });

  describe('a retried request_id gives the same answer, never a second run', () => {
    it('POST /commands/terminal without session_id: the same session_id and the very same output', async () => {
      const body = { command: 'cat /proc/sys/kernel/random/uuid', request_id: unique('term-retry'), lease_ttl_sec: 30 };
      const a = await terminal(token, body);
      assert.equal(a.status, 200, JSON.stringify(a.body));
      sessions.push(a.body.session_id);
      const b = await terminal(token, body);
      assert.equal(b.status, 200, JSON.stringify(b.body));
      sessions.push(b.body.session_id);
      assert.equal(b.body.session_id, a.body.session_id, 'the same session');
      assert.equal(b.body.stdout, a.body.stdout, 'the same run');
      assert.equal(b.body.created, a.body.created);
    });

    it('POST /tasks terminalExec with a request_id: the same task_id and result', async () => {
      const body = { capability: 'terminalExec', input: { command: 'cat /proc/sys/kernel/random/uuid', lease_ttl_sec: 30 }, mode: 'sync', request_id: unique('task-term') };
      const a = await submit(body);
      assert.equal(a.status, 200, JSON.stringify(a.body));
      sessions.push(a.body.result.session_id);
      const b = await submit(body);
      assert.equal(b.status, 200, JSON.stringify(b.body));
      assert.equal(b.body.task_id, a.body.task_id);
      assert.deepEqual(b.body.result, a.body.result);
    });

    it('POST /tasks pythonExec with a request_id: the same task_id and output', async () => {
      const body = { capability: 'pythonExec', input: { code: 'import uuid; print(uuid.uuid4())' }, mode: 'sync', request_id: unique('task-py') };
      const a = await submit(body);
      const b = await submit(body);
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal(b.body.task_id, a.body.task_id);
      assert.equal(b.body.result.output, a.body.result.output);
    });
  });

  describe('MCP tools say what they do, and their errors read <code>: <message>', () => {
    it('annotations: pythonExec and terminalExec are destructive and open-world; echo is read-only', async () => {
      const tools = new Map((await client.listTools()).tools.map((t) => [t.name, t]));
      for (const name of ['pythonExec', 'terminalExec']) {
        assert.equal(tools.get(name)!.annotations?.destructiveHint, true, `${name} destructiveHint`);
        assert.equal(tools.get(name)!.annotations?.openWorldHint, true, `${name} openWorldHint`);
      }
      assert.equal(tools.get('echo')!.annotations?.readOnlyHint, true);
    });

    it('session_not_found: … for an unknown session, never an HTTP status', async () => {
      const text = assertToolError(await client.callTool({ name: 'terminalExec', arguments: { command: 'pwd', session_id: lettersOnly('ghost') } }), 'session_not_found');
      assert.ok(text.length > 'session_not_found: '.length, 'a message follows the code');
    });

    it('timeout: … for pythonExec past its timeout_ms', async () => {
      assertToolError(await client.callTool({ name: 'pythonExec', arguments: { code: 'while True: pass', timeout_ms: 1000 } }), 'timeout');
    });
  });
});
