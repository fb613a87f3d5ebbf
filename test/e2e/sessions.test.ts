import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { platform } from './support/hooks.js';
import { call, newToken } from './support/http.js';
import { eventually, sessionContainer } from './support/docker.js';
import { onOwnHosts } from './support/own-hosts.js';
import { keyedHash } from '../../control/security.js';
import { HASH_KEY } from '../../harness/platform.js';

type Out = { session_id: string; created: boolean; stdout: string; stderr: string; exit_code: number; stdout_truncated: boolean; stderr_truncated: boolean; lease_expires_unix_ms: number; code?: string };

// A 2×1 PNG written by Python's standard library alone.
const MAKE_PNG = `python3 - <<'PY'
import struct, zlib
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
raw = b'\\x00\\xff\\x00\\x00\\x00\\x00\\xff'
png = b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 2, 1, 8, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b'')
open('chart.png', 'wb').write(png)
PY`;

describe('terminal sessions (a session is a workflow)', function () {
  this.timeout(120_000);
  let token: string;
  before(async () => { token = await newToken(); });

  const term = (body: Record<string, unknown>, t = token) => call<Out & { error?: string }>('POST', '/api/v1/commands/terminal', { token: t, body: { lease_ttl_sec: 120, ...body } });

  it('keeps files between commands in the same container, and never shortens the lease', async () => {
    const a = await term({ command: 'echo hello > notes.txt && pwd && id -u' });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.body.created, true);
    assert.match(a.body.session_id, /^sess_[0-9a-f]{32}$/);
    assert.equal(a.body.stdout, '/workspace\n1000\n');
    const b = await term({ command: 'cat notes.txt; echo err >&2; exit 3', session_id: a.body.session_id, lease_ttl_sec: 1 });
    assert.equal(b.status, 200);
    assert.equal(b.body.created, false);
    assert.equal(b.body.stdout, 'hello\n');
    assert.equal(b.body.stderr, 'err\n');
    assert.equal(b.body.exit_code, 3);
    assert.ok(b.body.lease_expires_unix_ms >= a.body.lease_expires_unix_ms, 'a shorter lease_ttl_sec never shortens the lease');
    const s = await call('GET', `/api/v1/sessions/${a.body.session_id}`, { token });
    assert.equal(s.status, 200);
    assert.equal(s.body.status, 'active');
    assert.equal(s.body.commands, 2);
    await call('DELETE', `/api/v1/sessions/${a.body.session_id}`, { token });
  });

  it('carries the session across continue-as-new: state, lease and count survive a new run', async () => {
    const a = await term({ command: 'echo 0 > n' });
    const sid = a.body.session_id;
    for (let i = 1; i <= 12; i++) {
      const r = await term({ command: `echo ${i} >> n`, session_id: sid });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    const all = await term({ command: 'wc -l < n', session_id: sid });
    assert.equal(all.body.stdout.trim(), '13');
    const s = await call('GET', `/api/v1/sessions/${sid}`, { token });
    assert.equal(s.body.commands, 14);
    const acc = (await platform.api.deps.accounts.byTokenHash(keyedHash(HASH_KEY, token)))!;
    const runs = await platform.api.deps.client.workflow.count(`WorkflowId = '${platform.api.deps.sessions.workflowId(acc.id, sid)}'`);
    assert.ok(runs.count >= 3, `expected several runs, got ${runs.count}`);
    await call('DELETE', `/api/v1/sessions/${sid}`, { token });
  });

  it('a request_id retried after the session continued as new gets its first answer, and its command ran once', async () => {
    const acc = (await platform.api.deps.accounts.byTokenHash(keyedHash(HASH_KEY, token)))!;
    const runsOf = async (sid: string) => (await platform.api.deps.client.workflow.count(`WorkflowId = '${platform.api.deps.sessions.workflowId(acc.id, sid)}'`)).count;
    // A new session made by a keyed call (named after its key), then a keyed command in it: each counts its runs in a file.
    const made = { command: 'echo ran >> made; wc -l < made', request_id: `make-${Date.now()}` };
    const a = await term(made);
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.body.created, true);
    const sid = a.body.session_id;
    const keyed = { command: 'echo ran >> runs; wc -l < runs', session_id: sid, request_id: `cmd-${Date.now()}` };
    const first = await term(keyed);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.stdout, '1\n');
    // More commands than a run holds (DURABOX_SESSION_COMMANDS_PER_RUN=5 here): the session continues as new, twice.
    for (let i = 0; i < 8; i++) assert.equal((await term({ command: 'true', session_id: sid })).status, 200);
    await eventually('the session to continue as new twice', async () => (await runsOf(sid)) >= 3);

    const retried = await term(keyed);
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    assert.deepEqual(retried.body, first.body);
    const remade = await term(made);
    assert.equal(remade.status, 200, JSON.stringify(remade.body));
    assert.deepEqual(remade.body, a.body);
    const counts = await term({ command: 'wc -l < runs; wc -l < made', session_id: sid });
    assert.equal(counts.body.stdout, '1\n1\n', 'a retried command ran again');
    const s = await call('GET', `/api/v1/sessions/${sid}`, { token });
    assert.equal(s.body.commands, 11, 'the retries answered from the session are not commands');
    await call('DELETE', `/api/v1/sessions/${sid}`, { token });
  });

  it('files: a directory holding a file whose name contains a newline or a tab still lists, names whole', async () => {
    const a = await term({ command: `mkdir odd && touch "odd/$(printf 'two\\nlines')" "odd/$(printf 'a\\tb')" odd/plain` });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const list = await call('GET', `/api/v1/sessions/${a.body.session_id}/files?path=odd`, { token });
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.deepEqual(list.body.entries.map((e: { name: string }) => e.name).sort(), ['a\tb', 'plain', 'two\nlines'].sort());
    await call('DELETE', `/api/v1/sessions/${a.body.session_id}`, { token });
  });

  it('answers 409 session_busy while a command runs', async () => {
    const a = await term({ command: 'true' });
    const slow = term({ command: 'sleep 2; echo done', session_id: a.body.session_id });
    await new Promise((r) => setTimeout(r, 500));
    const busy = await term({ command: 'echo second', session_id: a.body.session_id });
    assert.equal(busy.status, 409);
    assert.equal(busy.body.code, 'session_busy');
    assert.equal(busy.body.error, 'session is busy', 'the reference platform\'s message');
    assert.equal((await slow).body.stdout, 'done\n');
    await call('DELETE', `/api/v1/sessions/${a.body.session_id}`, { token });
  });

  it('an unknown id answers 404 session_not_found, or creates the session with create_if_missing', async () => {
    const id = `mine-${Date.now()}`;
    const missing = await term({ command: 'true', session_id: id });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'session_not_found');
    assert.equal(missing.body.error, 'session not found', 'the reference platform\'s message');
    const made = await term({ command: 'echo made', session_id: id, create_if_missing: true });
    assert.equal(made.status, 200);
    assert.equal(made.body.session_id, id);
    assert.equal(made.body.created, true);
    const joined = await term({ command: 'echo again', session_id: id, create_if_missing: true });
    assert.equal(joined.body.created, false);
    await call('DELETE', `/api/v1/sessions/${id}`, { token });
    assert.equal((await term({ command: 'true', session_id: id })).status, 404, 'a closed session is gone');
  });

  it('an expired lease ends the session and removes its container', async () => {
    const a = await term({ command: 'true', lease_ttl_sec: 1 });
    assert.ok(await sessionContainer(token, a.body.session_id));
    await eventually('the container to be removed', async () => !(await sessionContainer(token, a.body.session_id)), 20_000);
    const s = await call('GET', `/api/v1/sessions/${a.body.session_id}`, { token });
    assert.equal(s.body.status, 'ended');
    assert.equal(s.body.ended_reason, 'lease_expired');
    assert.equal((await term({ command: 'true', session_id: a.body.session_id })).status, 404);
  });

  it('a command past its timeout is killed and the session is kept', async () => {
    const a = await term({ command: 'echo keep > k' });
    const t = await term({ command: 'echo started; sleep 30', session_id: a.body.session_id, timeout_ms: 1000 });
    assert.equal(t.status, 504);
    assert.equal(t.body.code, 'timeout');
    assert.equal((t.body as unknown as { stdout: string }).stdout, 'started\n');
    const after = await term({ command: 'cat k; ps -eo args | grep -c "[s]leep 30"', session_id: a.body.session_id });
    assert.equal(after.body.stdout, 'keep\n0\n');
    await call('DELETE', `/api/v1/sessions/${a.body.session_id}`, { token });
  });

  it('files: upload and download a binary file, list, delete; traversal and symlink escapes are refused', async () => {
    const a = await term({ command: 'mkdir -p sub && ln -s /etc/passwd sub/link && ln -s /etc sub/etc' });
    const sid = a.body.session_id;
    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37) % 256));
    const put = await fetch(`${platform.url}/api/v1/sessions/${sid}/files?path=data/blob.bin`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: bytes });
    assert.equal(put.status, 201);
    const get = await fetch(`${platform.url}/api/v1/sessions/${sid}/files?path=data/blob.bin`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(get.status, 200);
    assert.ok(Buffer.from(await get.arrayBuffer()).equals(bytes));
    const sum = await term({ command: 'sha256sum data/blob.bin | cut -c1-16', session_id: sid });
    assert.equal(sum.body.stdout.trim().length, 16);
    const list = await call('GET', `/api/v1/sessions/${sid}/files?path=/workspace`, { token });
    assert.deepEqual(list.body.entries.map((e: { name: string }) => e.name), ['data', 'sub']);
    for (const path of ['../etc/passwd', '/workspace/../etc/passwd', 'sub/link', 'sub/etc/hostname', '/etc/passwd', '/proc/self/environ']) {
      const r = await call('GET', `/api/v1/sessions/${sid}/files?path=${encodeURIComponent(path)}`, { token });
      assert.equal(r.status, 400, `${path}: ${JSON.stringify(r.body)}`);
    }
    const esc = await fetch(`${platform.url}/api/v1/sessions/${sid}/files?path=sub/etc/evil`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: 'x' });
    assert.equal(esc.status, 400);
    const big = await fetch(`${platform.url}/api/v1/sessions/${sid}/files?path=big`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: Buffer.alloc(platform.config.api.session.fileMaxBytes + 1) });
    assert.equal(big.status, 413);
    assert.equal((await call('DELETE', `/api/v1/sessions/${sid}/files?path=data`, { token })).status, 204);
    assert.equal((await call('GET', `/api/v1/sessions/${sid}/files?path=data/blob.bin`, { token })).status, 404);
    await call('DELETE', `/api/v1/sessions/${sid}`, { token });
  });

  it('another account\'s session answers 404 everywhere', async () => {
    const a = await term({ command: 'echo private > p' });
    const { token: otherToken } = await platform.otherAccount('s-other');
    const sid = a.body.session_id;
    assert.equal((await term({ command: 'cat p', session_id: sid }, otherToken)).status, 404);
    assert.equal((await call('GET', `/api/v1/sessions/${sid}`, { token: otherToken })).status, 404);
    assert.equal((await call('GET', `/api/v1/sessions/${sid}/files?path=p`, { token: otherToken })).status, 404);
    assert.equal((await call('DELETE', `/api/v1/sessions/${sid}`, { token: otherToken })).status, 404);
    assert.equal((await call('GET', '/api/v1/sessions', { token: otherToken })).body.items.length, 0);
    const mine = await eventually('session listed', async () => {
      const l = await call('GET', '/api/v1/sessions?status=active', { token });
      return l.body.items.some((s: { session_id: string }) => s.session_id === sid) && l;
    });
    assert.equal(mine.status, 200);
    await call('DELETE', `/api/v1/sessions/${sid}`, { token });
  });

  it('terminalExec runs as a REST task too', async () => {
    const t = await call('POST', '/api/v1/tasks', { token, body: { capability: 'terminalExec', input: { command: 'echo via-task' }, mode: 'sync' } });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.equal(t.body.result.stdout, 'via-task\n');
    const again = await call('POST', '/api/v1/tasks', { token, body: { capability: 'terminalExec', input: { command: 'echo $((1+1))', session_id: t.body.result.session_id }, mode: 'sync' } });
    assert.equal(again.body.result.stdout, '2\n');
    const missing = await call('POST', '/api/v1/tasks', { token, body: { capability: 'terminalExec', input: { command: 'true', session_id: 'nope' }, mode: 'sync' } });
    assert.equal(missing.body.status, 'failed');
    assert.equal(missing.body.error.code, 'session_not_found');
    assert.equal(missing.status, 404, 'the error table\'s status, as /commands/terminal answers it');
    await call('DELETE', `/api/v1/sessions/${t.body.result.session_id}`, { token });
  });

  describe('through MCP', () => {
    let client: Client;
    before(async () => {
      client = new Client({ name: 'durabox-test', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${platform.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    });
    after(async () => { await client.close(); });

    it('terminalExec, writeFile, readFile, listFiles and readImage work on one session', async () => {
      const first = await client.callTool({ name: 'terminalExec', arguments: { command: MAKE_PNG, lease_ttl_sec: 120 } });
      assert.ok(!first.isError, JSON.stringify(first.content));
      const sid = (first.structuredContent as Out).session_id;
      const w = await client.callTool({ name: 'writeFile', arguments: { session_id: sid, path: 'notes/a.txt', content: 'plain text\n' } });
      assert.ok(!w.isError, JSON.stringify(w.content));
      const r = await client.callTool({ name: 'readFile', arguments: { session_id: sid, path: 'notes/a.txt' } });
      assert.equal((r.structuredContent as { content: string }).content, 'plain text\n');
      const l = await client.callTool({ name: 'listFiles', arguments: { session_id: sid } });
      assert.deepEqual((l.structuredContent as { entries: Array<{ name: string }> }).entries.map((e) => e.name), ['chart.png', 'notes']);
      const img = await client.callTool({ name: 'readImage', arguments: { session_id: sid, file_path: 'chart.png' } });
      const item = (img.content as Array<{ type: string; mimeType?: string; data?: string }>)[0];
      assert.equal(item.type, 'image');
      assert.equal(item.mimeType, 'image/png');
      assert.equal(Buffer.from(item.data!, 'base64').subarray(1, 4).toString(), 'PNG');
      const txt = await client.callTool({ name: 'readImage', arguments: { session_id: sid, file_path: 'notes/a.txt' } });
      assert.deepEqual(txt.content, [{ type: 'text', text: 'unsupported mime type: text/plain; expected image/*' }]);
      const bad = await client.callTool({ name: 'terminalExec', arguments: { command: 'true', session_id: 'does-not-exist' } });
      assert.equal(bad.isError, true);
      assert.match((bad.content as Array<{ text: string }>)[0].text, /session_not_found/);
      await call('DELETE', `/api/v1/sessions/${sid}`, { token });
    });
  });
});

describe('sessions across hosts and restarts', function () {
  this.timeout(180_000);
  let token: string;
  onOwnHosts(['h-a', 'h-b']);
  before(async () => { token = await newToken(); });

  const term = (body: Record<string, unknown>) => call<Out & { error?: string }>('POST', '/api/v1/commands/terminal', { token, body: { lease_ttl_sec: 300, ...body } });

  it('with two hosts, every step of a session lands on the host that holds it; losing that host gives session_lost when it has no checkpoint', async () => {
    await platform.startWorker('h-a', { DURABOX_RUNTIMES: 'terminal' });
    await platform.startWorker('h-b', { DURABOX_RUNTIMES: 'terminal' });
    // A session started with checkpoints off (DURABOX_SESSION_CHECKPOINT_SEC=0) has nothing to restore from.
    const policy = platform.api.deps.api.session;
    const saved = { checkpointSec: policy.checkpointSec, pauseAfterSec: policy.pauseAfterSec };
    Object.assign(policy, { checkpointSec: 0, pauseAfterSec: 0 });
    const a = await term({ command: 'hostname' }).finally(() => Object.assign(policy, saved));
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const sid = a.body.session_id;
    const c = await sessionContainer(token, sid);
    const holder = c!.Config.Labels['io.durabox.worker'];
    for (let i = 0; i < 6; i++) {
      const r = await term({ command: `echo ${i} >> log; hostname`, session_id: sid });
      assert.equal(r.body.stdout, a.body.stdout, 'same container every time');
    }
    const handle = platform.api.deps.client.workflow.getHandle(platform.api.deps.sessions.workflowId((await platform.api.deps.accounts.byTokenHash(keyedHash(HASH_KEY, token)))!.id, sid));
    const events = (await handle.fetchHistory()).events!;
    const identities = new Set(events.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.identity));
    assert.deepEqual([...identities], [holder], 'every activity of the session ran on its host');

    const holderName = holder === platform.workerId('h-a') ? 'h-a' : 'h-b';
    await platform.workers.get(holderName)!.stop('SIGKILL');
    const started = Date.now();
    const lost = await term({ command: 'cat log', session_id: sid });
    assert.equal(lost.status, 502, JSON.stringify(lost.body));
    assert.equal(lost.body.code, 'session_lost');
    assert.ok(Date.now() - started < 15_000, 'fails fast, no hang');
    const rec = await eventually('the session record to say lost', async () => {
      const s = await call('GET', `/api/v1/sessions/${sid}`, { token });
      return s.body.status === 'ended' && s.body;
    });
    assert.equal(rec.ended_reason, 'session_lost');
    assert.equal((await term({ command: 'true', session_id: sid })).body.code, 'session_lost');

    // The lost host's worker, started again, removes the container of the ended session.
    assert.ok(await sessionContainer(token, sid), 'the container outlived its worker');
    await platform.startWorker(holderName, { DURABOX_RUNTIMES: 'terminal' });
    await eventually('the leftover container to be removed', async () => !(await sessionContainer(token, sid)), 20_000);
  });

  it('a Temporal dev server restart, then a worker restart, in the middle of a session leave it usable', async () => {
    if (!platform.workers.get('h-a')) await platform.startWorker('h-a', { DURABOX_RUNTIMES: 'terminal' });
    const a = await term({ command: 'echo before > state' });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    await platform.restartTemporal();
    const after = await eventually('the session to answer again', async () => {
      const r = await term({ command: 'cat state; echo after >> state; cat state', session_id: a.body.session_id });
      return r.status === 200 && r;
    }, 60_000);
    assert.equal(after.body.stdout, 'before\nbefore\nafter\n');

    // A graceful restart of the host's worker keeps the container; the new process attaches again.
    const host = (await call('GET', `/api/v1/sessions/${a.body.session_id}`, { token })).body.host as string;
    const holder = ['h-a', 'h-b'].find((n) => platform.workerId(n) === host)!;
    await platform.workers.get(holder)!.stop('SIGTERM');
    await platform.startWorker(holder, { DURABOX_RUNTIMES: 'terminal' });
    const again = await term({ command: 'cat state', session_id: a.body.session_id });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.stdout, 'before\nafter\n');
    await call('DELETE', `/api/v1/sessions/${a.body.session_id}`, { token });
  });
});
