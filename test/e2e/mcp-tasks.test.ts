// MCP tasks end to end, with real clients: the TypeScript SDK 1.x (its experimental tasks API), the
// TypeScript 2.x client (2025-11-25 task requests through client.request, and the 2026-07-28 era) and the
// Python `mcp` SDK (2026-07-28 with the Tasks extension, through its ClientExtension/ResultClaim API) each
// run a 90 s pythonExec as a task past their own 20 s request timeout and poll it to its result. The three
// run at once (started in `before`, awaited by the last test) while the other tests run: cancelling a task
// removes its container; a task outlives the API process that started it (kill -9) and any API process
// answers for it; both eras list and call tools; a session's files are resources no other account reads.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateTaskResultSchema, ErrorCode, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import {
  Client as Client2, ProtocolError, SdkError, SdkErrorCode, StreamableHTTPClientTransport as StreamableHTTPClientTransport2, specTypeSchemas,
} from '@modelcontextprotocol/client';
import type { ApiProcess } from '../../harness/platform.js';
import { freePort } from '../../harness/platform.js';
import { LABEL_MANAGED, LABEL_RUNTIME } from '../../sandbox/profile.js';
import { platform } from './support/hooks.js';
import { call, newToken } from './support/http.js';
import { eventually } from './support/docker.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Each client's own request timeout: every request it sends must answer within it, the task runs far longer. */
const REQUEST_TIMEOUT_MS = 20_000;
const LONG_SECONDS = 90;
const LONG = { code: `import time; time.sleep(${LONG_SECONDS}); print("done")`, timeout_ms: 150_000 };
const LONG_OUTPUT = { output: 'done\n', stderr: '', exit_code: 0, stdout_truncated: false, stderr_truncated: false };
const RELATED_TASK = 'io.modelcontextprotocol/related-task';
const TASK_ID = /^task_[0-9a-f]{32}$/;
/** A worker of this suite's own, so the long tasks, the plain call and the short tasks all find a slot at once. */
const HOST = 'mcp-tasks';

// A 1x1 PNG, as a session writes it and resources/read must hand back byte for byte.
const PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };
/** A promise started now and awaited later, whose failure is not an unhandled rejection meanwhile. */
function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));
}
async function outcome<T>(s: Promise<Settled<T>>): Promise<T> {
  const r = await s;
  if (!r.ok) throw r.error;
  return r.value;
}

/** A 1.x client connected with a token; `fetch` lets a test rewrite what goes on the wire. */
async function connectV1(base: string, token: string, fetchImpl?: typeof fetch): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'durabox-tasks-v1', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
  await client.connect(transport);
  return { client, transport };
}

/** A 2.x client: 'legacy' (its default) speaks 2025-11-25 after initialize, 'auto' negotiates 2026-07-28. */
async function connectV2(base: string, token: string, mode: 'legacy' | 'auto'): Promise<Client2> {
  const client = new Client2({ name: 'durabox-tasks-v2', version: '1.0.0' }, mode === 'auto' ? { versionNegotiation: { mode: 'auto' } } : {});
  await client.connect(new StreamableHTTPClientTransport2(new URL(`${base}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return client;
}

/** A tool result's structuredContent (the 1.x client types a result as either of two shapes). */
function structured(r: unknown): Record<string, unknown> {
  return (r as { structuredContent: Record<string, unknown> }).structuredContent;
}

/** Python sandboxes (by the labels the worker puts on them) running a process whose command line holds `marker`. */
async function containersRunning(marker: string): Promise<string[]> {
  const list = await platform.docker.listContainers({ filters: { label: [`${LABEL_MANAGED}=true`, `${LABEL_RUNTIME}=python`] } });
  const found: string[] = [];
  for (const c of list) {
    // A container gone between list and top runs nothing.
    const top = await platform.docker.getContainer(c.Id).top({ ps_args: '-o pid,args' }).catch(() => undefined);
    if ((top?.Processes ?? []).some((p: string[]) => p[1]?.includes(marker))) found.push(c.Id);
  }
  return found;
}

interface PyLine { event: string; at_s: number; [k: string]: any }

/** Runs test/peers/mcp/tasks_flow.py with the Python SDK; its JSON lines once it exits. */
function runPython(env: Record<string, string>, children: ChildProcess[]): Promise<PyLine[]> {
  const bin = join(process.env.DURABOX_PEER_VENV ?? '/opt/durabox/peer-venv', 'bin', 'python');
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [join(repoRoot, 'test', 'peers', 'mcp', 'tasks_flow.py')], { env: { ...process.env, ...env } });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = out.split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l) as PyLine);
      if (code !== 0) return reject(new Error(`tasks_flow.py exited ${code}: ${out.slice(-3000)} ${err.slice(-3000)}`));
      resolve(lines);
    });
  });
}

describe('MCP tasks: long executions past the clients\' request timeouts, cancel, API restarts, both eras, session files as resources', function () {
  this.timeout(240_000);
  let token: string;
  let otherToken: string;
  let v1: Client;
  let v2: Client2;
  let apiB: ApiProcess | undefined;
  let addressB: string;
  const clients: Array<{ close(): Promise<void> }> = [];
  const children: ChildProcess[] = [];
  let startedAt = 0;
  let long: {
    v1: Promise<Settled<{ taskId: string; statuses: string[]; result: CallToolResult; elapsedMs: number }>>;
    v2: Promise<Settled<{ taskId: string; statuses: string[]; result: Record<string, any>; elapsedMs: number }>>;
    py: Promise<Settled<PyLine[]>>;
    plain: Promise<Settled<{ error: unknown; elapsedMs: number }>>;
  };

  /** 1.x: callToolStream with a task, every request (create, each tasks/get, tasks/result) bounded by 20 s. */
  async function longV1() {
    const t0 = Date.now();
    let taskId = '';
    const statuses: string[] = [];
    let result: CallToolResult | undefined;
    const stream = v1.experimental.tasks.callToolStream({ name: 'pythonExec', arguments: LONG }, CallToolResultSchema, { task: { ttl: 60_000 }, timeout: REQUEST_TIMEOUT_MS });
    for await (const m of stream) {
      if (m.type === 'taskCreated') taskId = m.task.taskId;
      else if (m.type === 'taskStatus') statuses.push(m.task.status);
      else if (m.type === 'result') result = m.result as CallToolResult;
      else throw m.error;
    }
    assert.ok(result, 'the stream ended with a result');
    return { taskId, statuses, result, elapsedMs: Date.now() - t0 };
  }

  /** 2.x in its default (2025-11-25) mode: the task vocabulary through client.request and the spec's schemas. */
  async function longV2() {
    const t0 = Date.now();
    const opts = { timeout: REQUEST_TIMEOUT_MS };
    const created = await v2.request({ method: 'tools/call', params: { name: 'pythonExec', arguments: LONG, task: {} } }, specTypeSchemas.CreateTaskResult, opts);
    const taskId = created.task.taskId;
    const statuses: string[] = [created.task.status];
    for (;;) {
      await new Promise((r) => setTimeout(r, created.task.pollInterval ?? 1000));
      const t = await v2.request({ method: 'tasks/get', params: { taskId } }, specTypeSchemas.GetTaskResult, opts);
      if (statuses.at(-1) !== t.status) statuses.push(t.status);
      if (['completed', 'failed', 'cancelled'].includes(t.status)) break;
    }
    const result = await v2.request({ method: 'tasks/result', params: { taskId } }, specTypeSchemas.CallToolResult, opts);
    return { taskId, statuses, result: result as Record<string, any>, elapsedMs: Date.now() - t0 };
  }

  /** The same code as a plain call (no task) under the same 20 s timeout: the client gives up. */
  async function plainV1() {
    const t0 = Date.now();
    try {
      await v1.callTool({ name: 'pythonExec', arguments: LONG }, CallToolResultSchema, { timeout: REQUEST_TIMEOUT_MS });
    } catch (error) {
      return { error, elapsedMs: Date.now() - t0 };
    }
    throw new Error('a plain 90 s call answered within the 20 s request timeout');
  }

  before(async function () {
    this.timeout(150_000);
    // Python slots for four 90 s executions and the short tasks besides (w-main has two).
    await platform.startWorker(HOST, { DURABOX_RUNTIMES: 'python', DURABOX_MAX_INFLIGHT: '5' });
    token = await newToken();
    otherToken = (await platform.otherAccount('mcp-tasks')).token;
    v1 = (await connectV1(platform.url, token)).client;
    v2 = await connectV2(platform.url, token, 'legacy');
    clients.push(v1, v2);
    startedAt = Date.now();
    long = {
      v1: settle(longV1()),
      v2: settle(longV2()),
      py: settle(runPython({ MCP_URL: `${platform.url}/mcp`, MCP_TOKEN: token, CODE: LONG.code, TIMEOUT_MS: String(LONG.timeout_ms), REQUEST_TIMEOUT_S: String(REQUEST_TIMEOUT_MS / 1000) }, children)),
      plain: settle(plainV1()),
    };
    addressB = `127.0.0.1:${await freePort()}`;
    apiB = await platform.startApiProcess(addressB);
  });
  after(async function () {
    this.timeout(60_000);
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const c of clients) await c.close().catch(() => undefined);
    await apiB?.stop();
    await platform.workers.get(HOST)?.stop();
  });

  it('tools/list (1.x) marks pythonExec, terminalExec and runCode as optionally task-augmented, and says so; initialize offers tasks', async () => {
    assert.deepEqual(v1.getServerCapabilities()?.tasks, { list: {}, cancel: {}, requests: { tools: { call: {} } } });
    const { tools } = await v1.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const name of ['pythonExec', 'terminalExec', 'runCode']) {
      const t = byName.get(name);
      assert.ok(t, name);
      assert.equal(t!.execution?.taskSupport, 'optional', name);
      assert.match(t!.description ?? '', /\btasks?\b/i, `${name}'s description tells a host it may run it as a task`);
    }
    assert.notEqual(byName.get('echo')!.execution?.taskSupport ?? 'forbidden', 'optional', 'echo is no task tool');
  });

  it('a 2026-07-28 client (TS 2.x, auto) and a 2025-06-18 client (TS 1.x) both list the tools and call them', async () => {
    const modern = await connectV2(platform.url, token, 'auto');
    clients.push(modern);
    assert.equal(modern.getNegotiatedProtocolVersion(), '2026-07-28');
    assert.equal(modern.getProtocolEra(), 'modern');
    assert.deepEqual(modern.getDiscoverResult()?.capabilities.extensions?.['io.modelcontextprotocol/tasks'], {});
    const names = (await modern.listTools()).tools.map((t) => t.name);
    for (const n of ['echo', 'pythonExec', 'terminalExec', 'runCode']) assert.ok(names.includes(n), n);
    assert.deepEqual(structured(await modern.callTool({ name: 'echo', arguments: { message: 'modern' } })), { message: 'modern' });
    const py = await modern.callTool({ name: 'pythonExec', arguments: { code: 'print(6*7)' } });
    assert.equal(py.isError ?? false, false);
    assert.equal(structured(py).output, '42\n');

    // The 1.x client asks for its latest revision; this one asks for 2025-06-18, as an older client would.
    const versions: string[] = [];
    const fetch0618: typeof fetch = async (url, init) => {
      let body = init?.body;
      if (typeof body === 'string' && JSON.parse(body).method === 'initialize') {
        const msg = JSON.parse(body);
        msg.params.protocolVersion = '2025-06-18';
        body = JSON.stringify(msg);
      }
      const v = new Headers(init?.headers).get('mcp-protocol-version');
      if (v) versions.push(v);
      return fetch(url, { ...init, body });
    };
    const old = await connectV1(platform.url, token, fetch0618);
    clients.push(old.client);
    assert.equal(old.transport.protocolVersion, '2025-06-18', 'initialize answered the version asked for');
    const oldNames = (await old.client.listTools()).tools.map((t) => t.name);
    assert.deepEqual([...oldNames].sort(), [...names].sort(), 'the same tools on both eras');
    assert.deepEqual(structured(await old.client.callTool({ name: 'echo', arguments: { message: 'old' } })), { message: 'old' });
    const oldPy = await old.client.callTool({ name: 'pythonExec', arguments: { code: 'print(6*7)' } });
    assert.equal(structured(oldPy).output, '42\n');
    assert.ok(versions.length >= 3 && versions.every((v) => v === '2025-06-18'), versions.join(','));
  });

  it('session files are resources on both eras: listed under durabox://sessions/<id>/files/, read as text and as a PNG blob; not by another account', async () => {
    const made = await v1.callTool({
      name: 'terminalExec',
      arguments: { command: `mkdir -p /workspace/notes && printf 'hello resources\\n' > /workspace/notes/hello.txt && printf %s '${PNG_BASE64}' | base64 -d > /workspace/pixel.png && ls /workspace` },
    });
    assert.equal(made.isError ?? false, false, JSON.stringify(made.content));
    const sid = structured(made).session_id as string;
    assert.ok(sid, 'terminalExec made a session');
    const base = `durabox://sessions/${sid}/files/`;
    const textUri = `${base}notes/hello.txt`;
    const pngUri = `${base}pixel.png`;
    try {
      const modern = await connectV2(platform.url, token, 'auto');
      clients.push(modern);
      const eras: Array<[string, { listResources(): Promise<{ resources: Array<{ uri: string; name: string; mimeType?: string }> }>; readResource(p: { uri: string }): Promise<{ contents: Array<Record<string, any>> }> }]> = [
        ['1.x (2025-11-25)', v1],
        ['2.x (2026-07-28)', modern],
      ];
      for (const [era, c] of eras) {
        const { resources } = await c.listResources();
        const ours = new Map(resources.filter((r) => r.uri.startsWith(base)).map((r) => [r.uri, r]));
        assert.ok(ours.has(textUri), `${era}: ${[...ours.keys()].join(', ')}`);
        assert.ok(ours.has(pngUri), `${era}: ${[...ours.keys()].join(', ')}`);
        assert.ok(ours.get(textUri)!.name, `${era}: a resource has a name`);
        // A listing may leave mimeType out; one it gives must be the file's.
        assert.ok([undefined, 'image/png'].includes(ours.get(pngUri)!.mimeType), `${era}: ${ours.get(pngUri)!.mimeType}`);

        const text = await c.readResource({ uri: textUri });
        assert.equal(text.contents.length, 1, era);
        assert.equal(text.contents[0].uri, textUri, era);
        assert.equal(text.contents[0].text, 'hello resources\n', era);
        assert.match(text.contents[0].mimeType ?? '', /^text\//, era);

        const png = await c.readResource({ uri: pngUri });
        assert.equal(png.contents[0].mimeType, 'image/png', era);
        assert.equal(png.contents[0].text, undefined, `${era}: an image is a blob, not text`);
        assert.deepEqual(Buffer.from(png.contents[0].blob, 'base64'), Buffer.from(PNG_BASE64, 'base64'), era);
      }

      // A path that leaves /workspace is not a resource of the session.
      await assert.rejects(v1.readResource({ uri: `${base}../../etc/passwd` }), (e: unknown) => e instanceof McpError && e.code === -32602);

      // Another account sees none of it, on either era.
      const otherV1 = (await connectV1(platform.url, otherToken)).client;
      const otherV2 = await connectV2(platform.url, otherToken, 'auto');
      clients.push(otherV1, otherV2);
      assert.ok(!(await otherV1.listResources()).resources.some((r) => r.uri.startsWith(base)));
      assert.ok(!(await otherV2.listResources()).resources.some((r) => r.uri.startsWith(base)));
      for (const uri of [textUri, pngUri]) {
        await assert.rejects(otherV1.readResource({ uri }), (e: unknown) => e instanceof McpError && e.code === -32602, uri);
        await assert.rejects(otherV2.readResource({ uri }), (e: unknown) => e instanceof ProtocolError && e.code === -32602, uri);
      }
    } finally {
      await call('DELETE', `/api/v1/sessions/${sid}`, { token });
    }
  });

  it('a 2026-07-28 listener on API process B hears of a file written and a command run through the other process; another account hears nothing', async () => {
    const made = await v1.callTool({ name: 'terminalExec', arguments: { command: 'echo first > watched.txt', lease_ttl_sec: 600 } });
    const sessionId = structured(made).session_id as string;
    const uri = `durabox://sessions/${sessionId}/files/watched.txt`;
    const listener = await connectV2(`http://${addressB}`, token, 'auto');
    const stranger = await connectV2(`http://${addressB}`, otherToken, 'auto');
    clients.push(listener, stranger);
    const heard: string[] = [];
    const strangerHeard: string[] = [];
    listener.setNotificationHandler('notifications/resources/updated', (n) => { heard.push(`updated ${n.params.uri}`); });
    listener.setNotificationHandler('notifications/resources/list_changed', () => { heard.push('list_changed'); });
    stranger.setNotificationHandler('notifications/resources/updated', (n) => { strangerHeard.push(`updated ${n.params.uri}`); });
    stranger.setNotificationHandler('notifications/resources/list_changed', () => { strangerHeard.push('list_changed'); });
    const sub = await listener.listen({ resourceSubscriptions: [uri], resourcesListChanged: true });
    const strangerSub = await stranger.listen({ resourceSubscriptions: [uri], resourcesListChanged: true });

    // A file call through the in-process API: B's listener hears the file it wrote (PostgreSQL NOTIFY between processes).
    await v1.callTool({ name: 'writeFile', arguments: { session_id: sessionId, path: 'watched.txt', content: 'second\n' } });
    await eventually(`the listener to hear the write (heard: ${JSON.stringify(heard)})`, async () => heard.includes(`updated ${uri}`) || undefined, 15_000);
    // A command may change any file: the list is said to have changed.
    heard.length = 0;
    await v1.callTool({ name: 'terminalExec', arguments: { session_id: sessionId, command: 'touch another.txt' } });
    await eventually('the listener to hear the command', async () => heard.includes('list_changed') || undefined, 15_000);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(strangerHeard, [], 'another account\'s listener, subscribed to the same URI, hears nothing');
    await sub.close();
    await strangerSub.close();
  });

  it('tasks/cancel (1.x) ends the task as cancelled and removes its sandbox container', async () => {
    // The program sleeps in a child process with a command line of its own, to find its container by.
    const marker = 'sleep 299.7';
    const created = await v1.request(
      { method: 'tools/call', params: { name: 'pythonExec', arguments: { code: `import subprocess\nsubprocess.run(["sleep", "299.7"])`, timeout_ms: 600_000 } } },
      CreateTaskResultSchema,
      { task: { ttl: 60_000 }, timeout: REQUEST_TIMEOUT_MS },
    );
    const taskId = created.task.taskId;
    assert.match(taskId, TASK_ID);
    assert.equal(created.task.status, 'working');
    const [container] = await eventually('the task\'s code to run in a sandbox', async () => {
      const ids = await containersRunning(marker);
      return ids.length > 0 && ids;
    }, 60_000);

    const cancelled = await v1.experimental.tasks.cancelTask(taskId);
    assert.equal(cancelled.taskId, taskId);
    assert.equal(cancelled.status, 'cancelled');
    assert.equal((await v1.experimental.tasks.getTask(taskId)).status, 'cancelled');
    await eventually('the sandbox container to be gone', async () => !(await platform.docker.getContainer(container).inspect().catch(() => undefined)));
    assert.deepEqual(await containersRunning(marker), []);

    // The same id is the REST task's, canceled there too; tasks/list shows it among the account's tasks.
    const rest = await call('GET', `/api/v1/tasks/${taskId}`, { token });
    assert.equal(rest.status, 200);
    assert.equal(rest.body.status, 'canceled');
    const listed = await eventually('the task in tasks/list', async () => {
      const { tasks } = await v1.experimental.tasks.listTasks();
      return tasks.find((t) => t.taskId === taskId);
    });
    assert.equal(listed.status, 'cancelled');
  });

  it('a task is the account\'s: another account\'s client and an unknown id get -32602 task not found', async () => {
    const created = await v1.request(
      { method: 'tools/call', params: { name: 'pythonExec', arguments: { code: 'print("mine")' } } },
      CreateTaskResultSchema,
      { task: {}, timeout: REQUEST_TIMEOUT_MS },
    );
    const taskId = created.task.taskId;
    const other = (await connectV1(platform.url, otherToken)).client;
    clients.push(other);
    const notFound = (id: string) => (e: unknown) => e instanceof McpError && e.code === -32602 && e.message.includes(`task not found: ${id}`);
    await assert.rejects(other.experimental.tasks.getTask(taskId), notFound(taskId));
    await assert.rejects(other.experimental.tasks.getTaskResult(taskId, CallToolResultSchema), notFound(taskId));
    await assert.rejects(other.experimental.tasks.cancelTask(taskId), notFound(taskId));
    assert.ok(!(await other.experimental.tasks.listTasks()).tasks.some((t) => t.taskId === taskId));
    const unknown = 'task_00000000000000000000000000000000';
    await assert.rejects(v1.experimental.tasks.getTask(unknown), notFound(unknown));
    // Its owner reads it to its result.
    const r = await v1.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
    assert.equal(structured(r).output, 'mine\n');
  });

  it('a task started through API process B outlives B\'s kill -9: B started again answers tasks/get and tasks/result, and so does the other process', async () => {
    const b1 = (await connectV1(apiB!.url, token)).client;
    const created = await b1.request(
      { method: 'tools/call', params: { name: 'pythonExec', arguments: { code: 'import time; time.sleep(4); print("outlived")' } } },
      CreateTaskResultSchema,
      { task: { ttl: 60_000 }, timeout: REQUEST_TIMEOUT_MS },
    );
    const taskId = created.task.taskId;
    assert.match(taskId, TASK_ID);
    await b1.close();
    await apiB!.stop('SIGKILL');
    apiB = await platform.startApiProcess(addressB);

    const b2 = (await connectV1(apiB.url, token)).client;
    clients.push(b2);
    assert.ok(['working', 'completed'].includes((await b2.experimental.tasks.getTask(taskId)).status));
    const viaB = await b2.experimental.tasks.getTaskResult(taskId, CallToolResultSchema, { timeout: 60_000 });
    assert.equal(viaB.isError ?? false, false);
    assert.equal(structured(viaB).output, 'outlived\n');
    assert.deepEqual(viaB._meta?.[RELATED_TASK], { taskId });
    assert.equal((await b2.experimental.tasks.getTask(taskId)).status, 'completed');

    // The in-process API never saw this task start; it answers for it all the same.
    const viaA = await v1.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
    assert.deepEqual(viaA.structuredContent, viaB.structuredContent);
    assert.equal((await v1.experimental.tasks.getTask(taskId)).status, 'completed');
  });

  it('a plain call (no task) of the same 90 s code fails with the 1.x client\'s own request timeout', async () => {
    const { error, elapsedMs } = await outcome(long.plain);
    assert.ok(error instanceof McpError && error.code === ErrorCode.RequestTimeout, String(error));
    assert.ok(elapsedMs >= REQUEST_TIMEOUT_MS && elapsedMs < REQUEST_TIMEOUT_MS + 10_000, `${elapsedMs} ms`);
  });

  it('the 1.x, 2.x and Python clients each ran a 90 s task past their 20 s request timeout, at once, and polled it to its result', async function () {
    this.timeout(200_000);
    const [a, b, py] = await Promise.all([outcome(long.v1), outcome(long.v2), outcome(long.py)]);
    const wall = Date.now() - startedAt;

    // 1.x: callToolStream saw the task working, then completed, then its result.
    assert.match(a.taskId, TASK_ID);
    assert.equal(a.statuses[0], 'working');
    assert.equal(a.statuses.at(-1), 'completed');
    assert.deepEqual(a.result.structuredContent, LONG_OUTPUT);
    assert.deepEqual(a.result._meta?.[RELATED_TASK], { taskId: a.taskId });
    assert.ok(a.elapsedMs >= LONG_SECONDS * 1000, `${a.elapsedMs} ms`);

    // 2.x (2025-11-25 requests): the same, by hand.
    assert.match(b.taskId, TASK_ID);
    assert.deepEqual(b.statuses, ['working', 'completed']);
    assert.deepEqual(b.result.structuredContent, LONG_OUTPUT);
    assert.deepEqual(b.result._meta?.[RELATED_TASK], { taskId: b.taskId });
    assert.ok(b.elapsedMs >= LONG_SECONDS * 1000, `${b.elapsedMs} ms`);

    // Python (2026-07-28, Tasks extension): tools/call answered with a task, tasks/get polled to completed.
    const ev = (name: string) => {
      const l = py.find((x) => x.event === name);
      assert.ok(l, `${name} in ${JSON.stringify(py)}`);
      return l!;
    };
    assert.equal(ev('connected').protocol_version, '2026-07-28');
    assert.deepEqual(ev('connected').tasks_extension, {});
    const pyTask = ev('task');
    assert.match(pyTask.task_id, TASK_ID);
    assert.equal(pyTask.status, 'working');
    assert.equal(pyTask.poll_interval_ms, 1000);
    assert.equal(ev('terminal').status, 'completed');
    assert.deepEqual(ev('terminal').statuses, ['working', 'completed']);
    const pyResult = ev('result');
    assert.equal(pyResult.is_error, false);
    assert.deepEqual(pyResult.structured, LONG_OUTPUT);
    assert.equal(pyResult.request_timeout_s, REQUEST_TIMEOUT_MS / 1000);
    assert.ok(pyResult.elapsed_s >= LONG_SECONDS, `${pyResult.elapsed_s} s`);

    // Three different tasks, each the REST task of the same id, run side by side rather than one after another.
    const ids = [a.taskId, b.taskId, pyTask.task_id as string];
    assert.equal(new Set(ids).size, 3);
    for (const id of ids) {
      const rest = await call('GET', `/api/v1/tasks/${id}`, { token });
      assert.equal(rest.body.status, 'succeeded', id);
      assert.deepEqual(rest.body.result, LONG_OUTPUT, id);
    }
    assert.ok(wall < 2 * LONG_SECONDS * 1000, `the three 90 s tasks took ${wall} ms in all`);

    // A task started on the in-process API, read through the other process.
    const viaB = (await connectV1(apiB!.url, token)).client;
    clients.push(viaB);
    assert.equal((await viaB.experimental.tasks.getTask(b.taskId)).status, 'completed');
    assert.deepEqual((await viaB.experimental.tasks.getTaskResult(b.taskId, CallToolResultSchema)).structuredContent, LONG_OUTPUT);
  });
});
