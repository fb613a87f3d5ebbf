// The MCP endpoint's task, resource and protocol-routing logic with the real SDK clients (1.x and 2.x)
// over HTTP, against a task service and a session service kept in memory. The same behaviour against the
// real platform (Temporal workflows, containers, an API restart) is in test/e2e/mcp-tasks.test.ts.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { EventEmitter } from 'node:events';
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import { Client as Client1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as Transport1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client as Client2, StreamableHTTPClientTransport as Transport2 } from '@modelcontextprotocol/client';
import { z } from 'zod';
import { endWhenRevoked, mcpHandlers } from '../../api/mcp.js';
import { declaresTasks, mcpStatus, taskAsks, TASKS_EXTENSION } from '../../api/mcp-tasks.js';
import { fileUri, parseFileUri } from '../../api/mcp-resources.js';
import { workspaceRelative } from '../../api/mcp-events.js';
import type { AppDeps } from '../../api/context.js';
import type { TaskBody } from '../../control/task-service.js';

type Fake = { body: TaskBody; account: string };

/** A task service in memory: tasks end when the test says so. */
function fakeTasks() {
  const tasks = new Map<string, Fake>();
  const ended = new Map<string, () => void>();
  const endedP = new Map<string, Promise<void>>();
  let n = 0;
  return {
    tasks,
    finish(id: string, patch: Partial<TaskBody>) {
      const t = tasks.get(id)!;
      t.body = { ...t.body, ...patch, updated_at: new Date().toISOString(), completed_at: new Date().toISOString() };
      ended.get(id)!();
    },
    service: {
      async start(req: { accountId: string; capability: string; input: unknown }) {
        if ((req.input as { code?: string }).code === 'over quota') throw new (await import('../../contract/errors.js')).DuraboxError('quota_exceeded', 'the account runs 64 tasks, its limit');
        const id = `task_${(++n).toString(16).padStart(32, '0')}`;
        const now = new Date();
        tasks.set(id, { account: req.accountId, body: { task_id: id, request_id: null, capability: req.capability, status: 'running', created_at: now.toISOString(), updated_at: now.toISOString(), deadline_at: now.toISOString() } });
        endedP.set(id, new Promise((r) => ended.set(id, r)));
        return { handle: { workflowId: id }, createdAt: now, existing: false };
      },
      async get(id: string, accountId: string) {
        const t = tasks.get(id);
        return t && t.account === accountId ? t.body : undefined;
      },
      async final(id: string, accountId: string) {
        await endedP.get(id);
        return this.get(id, accountId);
      },
      async cancel(id: string, accountId: string) {
        const t = await this.get(id, accountId);
        if (!t) return undefined;
        if (t.status !== 'running') return { accepted: false, task: t };
        tasks.get(id)!.body = { ...t, status: 'canceled', error: { code: 'canceled', message: 'canceled' } };
        ended.get(id)!();
        return { accepted: true, task: t };
      },
      async list(accountId: string) {
        const items = [...tasks.values()].filter((t) => t.account === accountId).map((t) => t.body).reverse();
        return { items, total: items.length, page: 1, page_size: 50 };
      },
    },
  };
}

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cf00000301010018dd8db00000000049454e44ae426082', 'hex');

/** The announcements of db/output.ts within one process, as with the embedded database. */
function fakeOutput() {
  const bus = new EventEmitter();
  return {
    async announce(topic: string, event: unknown) { bus.emit(topic, event); },
    onAnnouncement(topic: string, fn: (e: unknown) => void) { bus.on(topic, fn); return () => bus.off(topic, fn); },
  };
}

function fakeSessions() {
  const listeners = new Set<(c: { accountId: string; sessionId: string; paths: string[] }) => void>();
  const files: Record<string, { mime: string; bytes: Buffer }> = { 'notes.txt': { mime: 'text/plain', bytes: Buffer.from('hello\n') }, 'out/plot.png': { mime: 'image/png', bytes: PNG } };
  return {
    onChange(l: (c: { accountId: string; sessionId: string; paths: string[] }) => void) { listeners.add(l); return () => listeners.delete(l); },
    async get(accountId: string, sessionId: string) {
      return accountId === 'acc-a' && sessionId === 'ses_1' ? { session_id: 'ses_1', status: 'active' } : undefined;
    },
    async list(accountId: string) {
      return { items: accountId === 'acc-a' ? [{ session_id: 'ses_1', status: 'active' }, { session_id: 'ses_2', status: 'paused' }] : [], total: 2, page: 1, page_size: 20 };
    },
    async file(accountId: string, sessionId: string, op: { op: string; path: string }) {
      if (accountId !== 'acc-a' || sessionId !== 'ses_1') throw Object.assign(new (await import('../../contract/errors.js')).DuraboxError('session_not_found', `no session ${sessionId}`));
      if (op.op === 'write') {
        const c = op as unknown as { path: string; contentBase64: string };
        files[c.path] = { mime: 'text/plain', bytes: Buffer.from(c.contentBase64, 'base64') };
        // As the session answers a write: the path as the call named it.
        for (const l of listeners) l({ accountId, sessionId, paths: [c.path] });
        return { op: 'write', path: c.path, size: files[c.path].bytes.length };
      }
      if (op.op === 'glob') return { op: 'glob', path: '/workspace', matches: ['/workspace/notes.txt', '/workspace/out', '/workspace/out/plot.png'], truncated: false };
      const f = files[op.path];
      if (!f) throw new (await import('../../contract/errors.js')).DuraboxError('file_not_found', `no file ${op.path}`);
      return { op: 'read', path: `/workspace/${op.path}`, size: f.bytes.length, contentBase64: f.bytes.toString('base64'), mime: f.mime };
    },
  };
}

describe('MCP tasks, resources and protocol revisions (real SDK clients, services in memory)', function () {
  this.timeout(20_000);
  const tasks = fakeTasks();
  let server: Server;
  let url: URL;
  const tokens: Record<string, string> = { 'token-a': 'acc-a', 'token-b': 'acc-b' };

  before(async () => {
    const deps = {
      api: { session: { fileMaxBytes: 1 << 20, leaseMinSec: 10, leaseMaxSec: 86_400 } },
      temporal: { retentionDays: 30 },
      tasks: tasks.service,
      sessions: fakeSessions(),
      output: fakeOutput(),
    } as unknown as AppDeps;
    const { mcp } = mcpHandlers(deps);
    const app = new Koa();
    app.use(bodyParser({ enableTypes: ['json'] }));
    app.use(async (ctx) => {
      const token = /^Bearer (.+)$/.exec(ctx.get('authorization'))?.[1] ?? '';
      if (!tokens[token]) { ctx.status = 401; return; }
      if (ctx.method !== 'POST') { ctx.status = 405; ctx.set('Allow', 'POST'); return; }
      Object.assign(ctx.state, { token, account: { id: tokens[token] } });
      await (mcp as (c: unknown) => Promise<void>)(ctx);
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`);
  });
  after(() => server.close());

  const client1 = async (token = 'token-a') => {
    const c = new Client1({ name: 't', version: '1' });
    await c.connect(new Transport1(url, { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    return c;
  };
  const client2 = async (token = 'token-a', tasksExtension = true) => {
    const c = new Client2({ name: 't', version: '2' }, { versionNegotiation: { mode: 'auto' }, capabilities: tasksExtension ? { extensions: { [TASKS_EXTENSION]: {} } } : {} });
    await c.connect(new Transport2(url, { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    return c;
  };

  it('2025-11-25: advertises tasks, lists the execution tools as task-capable, and runs a call as a task to its result', async () => {
    const c = await client1();
    assert.ok(c.getServerCapabilities()?.tasks?.requests?.tools?.call);
    const { tools } = await c.listTools();
    const support = Object.fromEntries(tools.map((t) => [t.name, t.execution?.taskSupport]));
    assert.equal(support.pythonExec, 'optional');
    assert.equal(support.runCode, 'optional');
    assert.equal(support.terminalExec, 'optional');
    assert.notEqual(support.echo, 'optional');
    assert.match(tools.find((t) => t.name === 'pythonExec')!.description!, /Supports MCP tasks/);

    const seen: string[] = [];
    let result: unknown;
    const stream = c.experimental.tasks.callToolStream({ name: 'pythonExec', arguments: { code: 'print(1)' } }, CallToolResultSchema, { task: { ttl: 1000 } });
    for await (const m of stream) {
      seen.push(m.type);
      if (m.type === 'taskCreated') {
        assert.match(m.task.taskId, /^task_[0-9a-f]{32}$/);
        assert.equal(m.task.ttl, 30 * 86_400_000, 'the retention, not the asked ttl');
        tasks.finish(m.task.taskId, { status: 'succeeded', result: { output: '1\n', stderr: '', exit_code: 0, stdout_truncated: false, stderr_truncated: false } });
      }
      if (m.type === 'result') result = m.result;
      if (m.type === 'error') throw m.error;
    }
    assert.deepEqual(seen.slice(0, 1), ['taskCreated']);
    assert.equal(seen.at(-1), 'result');
    assert.deepEqual((result as { structuredContent: unknown }).structuredContent, { output: '1\n', stderr: '', exit_code: 0, stdout_truncated: false, stderr_truncated: false });
    const listed = await c.experimental.tasks.listTasks();
    assert.ok(listed.tasks.length >= 1);
    await c.close();
  });

  it('2025-11-25: a failed execution is a completed task whose result is an error; cancel answers cancelled; another account sees no task', async () => {
    const c = await client1();
    const made = await c.request({ method: 'tools/call', params: { name: 'runCode', arguments: { code: 'x' }, task: {} } }, z.object({ task: z.object({ taskId: z.string(), status: z.string() }) }));
    tasks.finish(made.task.taskId, { status: 'timeout', error: { code: 'timeout', message: 'task timed out' } });
    assert.equal((await c.experimental.tasks.getTask(made.task.taskId)).status, 'completed');
    const r = await c.experimental.tasks.getTaskResult(made.task.taskId, CallToolResultSchema);
    assert.equal(r.isError, true);
    assert.match((r.content[0] as { text: string }).text, /^timeout: /);
    assert.equal((r._meta as Record<string, { taskId: string }>)['io.modelcontextprotocol/related-task'].taskId, made.task.taskId);

    const other = await c.request({ method: 'tools/call', params: { name: 'pythonExec', arguments: { code: 'x' }, task: {} } }, z.object({ task: z.object({ taskId: z.string() }) }));
    assert.equal((await c.experimental.tasks.cancelTask(other.task.taskId)).status, 'cancelled');

    const b = await client1('token-b');
    await assert.rejects(b.experimental.tasks.getTask(made.task.taskId), (e: { code?: number; message: string }) => e.code === -32602 && /task not found/.test(e.message));
    await c.close();
    await b.close();
  });

  it('2025-11-25: a task that cannot be made is a JSON-RPC error with its code; a finished task cannot be cancelled', async () => {
    const c = await client1();
    await assert.rejects(
      c.request({ method: 'tools/call', params: { name: 'pythonExec', arguments: { code: 'over quota' }, task: {} } }, z.object({ task: z.object({ taskId: z.string() }) })),
      (e: { code?: number; message: string }) => e.code === -32600 && /task not created: quota_exceeded: the account runs 64 tasks/.test(e.message),
    );
    const made = await c.request({ method: 'tools/call', params: { name: 'pythonExec', arguments: { code: 'x' }, task: {} } }, z.object({ task: z.object({ taskId: z.string() }) }));
    tasks.finish(made.task.taskId, { status: 'succeeded', result: { output: '', stderr: '', exit_code: 0, stdout_truncated: false, stderr_truncated: false } });
    await assert.rejects(c.experimental.tasks.cancelTask(made.task.taskId), (e: { code?: number; message: string }) => e.code === -32602 && /already completed/.test(e.message));
    await c.close();
  });

  it('a resource URI is held to the file calls\' rules: traversal, NUL, an absolute path or a bad session id is -32602 naming the uri', async () => {
    const c = await client1();
    for (const uri of ['durabox://sessions/ses_1/files/..%2F..%2Fetc%2Fpasswd', 'durabox://sessions/ses_1/files/a%00b', 'durabox://sessions/ses_1/files//tmp/secret', 'durabox://sessions/ses%2F..%2Fx/files/a']) {
      await assert.rejects(c.readResource({ uri }), (e: { code?: number; message: string }) => e.code === -32602 && /invalid_input: uri: /.test(e.message), uri);
    }
    await assert.rejects(c.readResource({ uri: 'file:///etc/passwd' }), /not found/i, 'a URI of no template of ours');
    await c.close();
  });

  it('a call that asks for no task is answered as before', async () => {
    const c = await client1();
    const r = await c.callTool({ name: 'readFile', arguments: { session_id: 'ses_1', path: 'notes.txt' } });
    assert.equal((r.structuredContent as { content: string }).content, 'hello\n');
    await c.close();
  });

  it('2026-07-28: negotiated without initialize; the Tasks extension answers a task and tasks/get carries the result', async () => {
    const c = await client2();
    assert.equal(c.getNegotiatedProtocolVersion(), '2026-07-28');
    assert.ok(c.getServerCapabilities()?.extensions?.[TASKS_EXTENSION]);
    const { tools } = await c.listTools();
    assert.ok(tools.some((t) => t.name === 'pythonExec'));
    const Task = z.looseObject({ taskId: z.string(), status: z.string(), result: z.any().optional(), ttlMs: z.number().optional() });
    // The 2.x client has no runtime for a task answer to tools/call: the call goes as the wire has it.
    const made = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: 'Bearer token-a', 'content-type': 'application/json', accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'pythonExec',
      },
      body: JSON.stringify({
        jsonrpc: '2.0', id: 9, method: 'tools/call', params: {
          name: 'pythonExec', arguments: { code: 'print(2)' }, _meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
            'io.modelcontextprotocol/clientCapabilities': { extensions: { [TASKS_EXTENSION]: {} } },
          },
        },
      }),
    }).then((r) => r.json()) as { result: { resultType: string; taskId: string; status: string; ttlMs: number; pollIntervalMs: number } };
    assert.equal(made.result.resultType, 'task', JSON.stringify(made));
    assert.equal(made.result.status, 'working');
    assert.equal(made.result.ttlMs, 30 * 86_400_000);
    assert.equal((await c.request({ method: 'tasks/get', params: { taskId: made.result.taskId } }, Task)).status, 'working');
    tasks.finish(made.result.taskId, { status: 'succeeded', result: { output: '2\n', stderr: '', exit_code: 0, stdout_truncated: false, stderr_truncated: false } });
    const done = await c.request({ method: 'tasks/get', params: { taskId: made.result.taskId } }, Task);
    assert.equal(done.status, 'completed');
    assert.equal(done.result.structuredContent.output, '2\n');
    const ack = await c.request({ method: 'tasks/cancel', params: { taskId: made.result.taskId } }, z.looseObject({}));
    assert.deepEqual(Object.keys(ack).filter((k) => k !== '_meta'), [], 'an empty acknowledgement');
    const plain = await c.callTool({ name: 'readFile', arguments: { session_id: 'ses_1', path: 'notes.txt' } }).catch((e: Error) => e);
    assert.ok(!(plain instanceof Error), 'a tool that does not run as a task answers normally');
    await assert.rejects(c.request({ method: 'tasks/get', params: { taskId: 'task_nope' } }, Task), /task not found/);
    await c.close();

    const without = await client2('token-a', false);
    await assert.rejects(without.request({ method: 'tasks/get', params: { taskId: [...tasks.tasks.keys()][0] } }, Task), /Missing required client capability/);
    await without.close();
  });

  it('session files are resources on both revisions: listed for live sessions, read as text or a blob; not for another account', async () => {
    for (const make of [() => client1(), () => client2()]) {
      const c = await make();
      const { resources } = await c.listResources();
      assert.deepEqual(resources.map((r) => r.uri).sort(), [fileUri('ses_1', 'notes.txt'), fileUri('ses_1', 'out/plot.png')]);
      const text = await c.readResource({ uri: fileUri('ses_1', 'notes.txt') });
      assert.deepEqual(text.contents[0], { uri: fileUri('ses_1', 'notes.txt'), mimeType: 'text/plain', text: 'hello\n' });
      const png = await c.readResource({ uri: fileUri('ses_1', 'out/plot.png') });
      assert.equal((png.contents[0] as { blob: string }).blob, PNG.toString('base64'));
      assert.equal(png.contents[0].mimeType, 'image/png');
      await c.close();
    }
    const b = await client1('token-b');
    await assert.rejects(b.readResource({ uri: fileUri('ses_1', 'notes.txt') }), /session_not_found/);
    await b.close();
  });

  it('2026-07-28: a listener hears of a file written through a file call, and only its own account\'s', async () => {
    const c = await client2();
    const other = await client2('token-b');
    const heard: string[] = [];
    const heardByOther: string[] = [];
    c.setNotificationHandler('notifications/resources/updated', (n: { params: { uri: string } }) => { heard.push(n.params.uri); });
    other.setNotificationHandler('notifications/resources/updated', (n: { params: { uri: string } }) => { heardByOther.push(n.params.uri); });
    const uri = fileUri('ses_1', 'notes.txt');
    const sub = await c.listen({ resourceSubscriptions: [uri], resourcesListChanged: true });
    const subOther = await other.listen({ resourceSubscriptions: [uri] });
    await c.callTool({ name: 'writeFile', arguments: { session_id: 'ses_1', path: 'notes.txt', content: 'changed\n' } });
    for (let i = 0; i < 50 && heard.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(heard, [uri]);
    assert.deepEqual(heardByOther, [], 'another account hears nothing');
    await sub.close();
    await subOther.close();
    await c.close();
    await other.close();
  });
});

describe('MCP task helpers', () => {
  it('tells which calls asked for a task, and in which shape', () => {
    const asks = taskAsks([
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'pythonExec', task: { ttl: 5 } } },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'pythonExec', _meta: { 'io.modelcontextprotocol/clientCapabilities': { extensions: { [TASKS_EXTENSION]: {} } } } } },
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'pythonExec' } },
      { jsonrpc: '2.0', id: 4, method: 'tools/list', params: { task: {} } },
    ]);
    assert.deepEqual([...asks], [[1, ['2025']], [2, ['ext']]]);
    const both = taskAsks({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'pythonExec', task: {}, _meta: { 'io.modelcontextprotocol/clientCapabilities': { extensions: { [TASKS_EXTENSION]: {} } } } } });
    assert.deepEqual([...both], [[5, ['2025', 'ext']]], 'the revision serving it decides which counts');
    assert.equal(declaresTasks({ 'io.modelcontextprotocol/clientCapabilities': { extensions: {} } }), false);
  });

  it('maps durabox task statuses onto MCP task statuses', () => {
    assert.deepEqual(['queued', 'running', 'succeeded', 'failed', 'timeout', 'canceled'].map((s) => mcpStatus(s as TaskBody['status'])),
      ['working', 'working', 'completed', 'completed', 'completed', 'cancelled']);
  });

  it('names a written path as its resource path, relative or absolute, and none outside /workspace', () => {
    assert.equal(workspaceRelative('notes.txt'), 'notes.txt');
    assert.equal(workspaceRelative('./a/../b/c.txt'), 'b/c.txt');
    assert.equal(workspaceRelative('/workspace/x/y.png'), 'x/y.png');
    assert.equal(workspaceRelative('/tmp/scratch'), undefined);
    assert.equal(workspaceRelative('../etc/passwd'), undefined);
  });

  it('reads resource URIs back, spaces and nested paths included, and refuses others', () => {
    assert.deepEqual(parseFileUri(fileUri('ses_1', 'a dir/b c.txt')), { sessionId: 'ses_1', path: 'a dir/b c.txt' });
    assert.equal(parseFileUri('file:///etc/passwd'), undefined);
    assert.equal(parseFileUri('durabox://sessions/x/files/%E0%A4%A'), undefined);
  });
});

describe('an open MCP event stream and its token', () => {
  it('ends once the token that opened it no longer authenticates, and stops checking when it closes', async () => {
    let valid = true;
    let checks = 0;
    const deps = { hashKey: 'k', accounts: { byTokenHash: async () => { checks++; return valid ? { id: 'acc-a' } : undefined; } } } as never;
    const emitter = new EventEmitter();
    const res = Object.assign(emitter, { destroyed: false, destroy() { res.destroyed = true; emitter.emit('close'); } });
    endWhenRevoked(deps, 'Bearer tok', res, 20);
    await new Promise((r) => setTimeout(r, 70));
    assert.equal(res.destroyed, false, 'kept while the token is valid');
    valid = false;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(res.destroyed, true, 'ended once the token was deleted');
    const after = checks;
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(checks, after, 'no checks after the stream closed');
  });
});
