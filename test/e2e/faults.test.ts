// Faults under load: tasks and sessions keep running while a runtime worker (down longer than the host
// timeout, then back), an API process and the Temporal server are each killed with -9 and started again,
// and then a host is lost for good. Sessions append a line per command the whole time and count the
// answered ones. Every task succeeds exactly once; every session holds every acknowledged line (zero
// loss); no session ran on two hosts; a paused session and a moved one answer with their files and their
// Python variables. (A second API process shares the database, so PostgreSQL only.)
import assert from 'node:assert/strict';
import type { ApiProcess } from '../../harness/platform.js';
import { freePort } from '../../harness/platform.js';
import { platform } from './support/hooks.js';
import { call, newToken } from './support/http.js';
import { eventually } from './support/docker.js';
import { onOwnHosts } from './support/own-hosts.js';

type Out = { session_id: string; stdout: string; code?: string; restored?: boolean; restored_note?: string };
type Cell = { results: Array<{ is_main_result?: boolean; text?: string }>; context_restored?: { variables: string[] } };
type Task = { task_id: string; status: string; result?: { output: string } };

describe('faults under load: kill -9 of a worker, an API process and Temporal, then a host lost for good', function () {
  this.timeout(400_000);
  let token: string;
  let apiB: ApiProcess | undefined;
  let addressB: string;
  const hosts = ['f-a', 'f-b', 'f-c'];

  onOwnHosts(hosts);
  before(async () => {
    token = await newToken();
    addressB = `127.0.0.1:${await freePort()}`;
    // Sessions made through API B pause after 4 idle seconds; the in-process API's never pause in this test.
    apiB = await platform.startApiProcess(addressB, { DURABOX_SESSION_PAUSE_AFTER_SEC: '4' });
    for (const h of hosts) await platform.startWorker(h, { DURABOX_RUNTIMES: 'python,terminal' });
  });
  after(async () => { await apiB?.stop(); });

  const viaB = () => `http://${addressB}`;
  const term = (body: Record<string, unknown>, base?: string) => call<Out>('POST', '/api/v1/commands/terminal', { token, base, body: { lease_ttl_sec: 600, ...body } });
  const startTasks = async (n: number, tag: string, base?: string) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await call<Task>('POST', '/api/v1/tasks', { token, base, body: { capability: 'pythonExec', input: { code: `import time\ntime.sleep(1.5)\nprint("${tag}-${i}")` }, mode: 'async' } });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      ids.push(r.body.task_id);
    }
    return ids.map((id, i) => ({ id, expect: `${tag}-${i}\n` }));
  };

  /**
   * A session appending a line per command, through `base`, until stopped: `acked` holds every line a 200
   * answered. Calls that fail (an API down, a step lost with its worker) may or may not have appended.
   */
  function appender(sid: string, base?: string) {
    const acked: string[] = [];
    let stop = false;
    let n = 0;
    const done = (async () => {
      while (!stop) {
        const line = `${sid.slice(-6)}-${++n}`;
        const r = await term({ command: `echo ${line} >> log.txt`, session_id: sid }, base).catch(() => undefined);
        if (r?.status === 200) acked.push(line);
        else await new Promise((res) => setTimeout(res, 200));
      }
    })();
    return { sid, acked, stop: async () => { stop = true; await done; } };
  }

  it('every task succeeds exactly once; every session holds every acknowledged line, on one host, with its files and variables', async () => {
    // Three sessions with files and a python variable: two through the in-process API, one through API B (it will pause).
    const sessions: Array<{ sid: string; file: string }> = [];
    for (const [i, base] of [[0, undefined], [1, undefined], [2, viaB()]] as const) {
      const r = await term({ command: `echo content-${i} > mine.txt; cat mine.txt` }, base);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      sessions.push({ sid: r.body.session_id, file: `content-${i}\n` });
      const v = await call('POST', '/api/v1/commands/code', { token, base, body: { session_id: r.body.session_id, code: `kept = ${i} * 10 + 1` } });
      assert.equal(v.status, 200, JSON.stringify(v.body));
    }
    // Four more that append a line per command through all that follows (two through each API).
    const appenders: Array<ReturnType<typeof appender>> = [];
    for (const base of [undefined, undefined, viaB(), viaB()]) {
      const r = await term({ command: 'touch log.txt' }, base);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      appenders.push(appender(r.body.session_id, base));
    }
    const tasks = await startTasks(6, 'first', viaB());

    // 1. A runtime worker killed with -9 while tasks run, down longer than the host timeout (2 s here),
    //    then started again with its id: its sessions wait for it and stay.
    await platform.workers.get('f-a')!.stop('SIGKILL');
    tasks.push(...(await startTasks(4, 'after-worker')));
    await new Promise((r) => setTimeout(r, 3000));
    await platform.startWorker('f-a', { DURABOX_RUNTIMES: 'python,terminal' });

    // 2. API process B killed with -9 while its tasks run, then started again.
    tasks.push(...(await startTasks(4, 'before-api', viaB())));
    await apiB!.stop('SIGKILL');
    tasks.push(...(await startTasks(4, 'api-down')));
    apiB = await platform.startApiProcess(addressB, { DURABOX_SESSION_PAUSE_AFTER_SEC: '4' });

    // 3. Temporal killed with -9 while tasks run, then started again on its SQLite file.
    tasks.push(...(await startTasks(4, 'before-temporal')));
    await platform.restartTemporal('SIGKILL');
    tasks.push(...(await eventually('Temporal to take tasks again', async () => startTasks(4, 'after-temporal').catch(() => undefined), 60_000)));

    // API B's session pauses once idle (its container removed).
    await eventually('the session made through API B to pause', async () => (await call('GET', `/api/v1/sessions/${sessions[2].sid}`, { token })).body.status === 'paused', 60_000);

    // Every session answers after all that, before any host is lost; the paused one resumes with its files and variable.
    for (const [i, s] of sessions.entries()) {
      const r = await eventually('the session to answer', async () => {
        const x = await term({ command: 'cat mine.txt', session_id: s.sid });
        return x.status === 200 && x;
      }, 60_000);
      assert.equal(r.body.stdout, s.file);
      if (s === sessions[2]) {
        assert.equal(r.body.restored, true);
        assert.match(r.body.restored_note!, /paused/);
      }
      const v = await call<Cell>('POST', '/api/v1/commands/code', { token, body: { session_id: s.sid, code: 'kept' } });
      assert.equal(v.body.results.find((x) => x.is_main_result)?.text, String(i * 10 + 1), `session ${s.sid} kept its variable`);
    }

    // 4. A host lost for good: the holder of the first session, killed with -9, its containers removed.
    const holder = (await call('GET', `/api/v1/sessions/${sessions[0].sid}`, { token })).body.host as string;
    const holderName = hosts.find((h) => platform.workerId(h) === holder)!;
    await platform.loseHost(holderName);
    tasks.push(...(await startTasks(4, 'host-lost')));

    for (const [i, s] of sessions.entries()) {
      const r = await term({ command: 'cat mine.txt', session_id: s.sid });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.stdout, s.file, `session ${s.sid} kept its files`);
      const summary = (await call('GET', `/api/v1/sessions/${s.sid}`, { token })).body;
      assert.notEqual(summary.host, holder, 'no session is left on the lost host');
      if (r.body.restored) assert.match(r.body.restored_note!, /host was lost|paused/);
      const v = await call<Cell>('POST', '/api/v1/commands/code', { token, body: { session_id: s.sid, code: 'kept' } });
      assert.equal(v.body.results.find((x) => x.is_main_result)?.text, String(i * 10 + 1), `session ${s.sid} kept its variable over the move`);
    }

    // Zero loss: every line a 200 answered is in its session's log, whatever was killed meanwhile.
    for (const a of appenders) await a.stop();
    for (const a of appenders) {
      assert.ok(a.acked.length >= 5, `session ${a.sid} kept appending through the faults (${a.acked.length} answered)`);
      const r = await term({ command: 'cat log.txt', session_id: a.sid });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const held = new Set(r.body.stdout.split('\n'));
      const missing = a.acked.filter((line) => !held.has(line));
      assert.deepEqual(missing, [], `session ${a.sid} holds every acknowledged line`);
    }

    // No session ran on two hosts: each session's log is in one running container only (stale ones are gone).
    await eventually('every session to be in one container', async () => {
      const seen = new Map<string, number>();
      for (const c of await platform.docker.listContainers({ filters: { label: ['io.durabox.runtime=terminal'] } })) {
        const out = await containerFile(c.Id, '/workspace/log.txt');
        const first = out.split('\n')[0]?.split('-')[0];
        if (first) seen.set(first, (seen.get(first) ?? 0) + 1);
      }
      return appenders.every((a) => (seen.get(a.sid.slice(-6)) ?? 0) <= 1);
    }, 30_000);

    for (const t of tasks) {
      const done = await eventually(`task ${t.id} to finish`, async () => {
        const g = await call<Task>('GET', `/api/v1/tasks/${t.id}`, { token });
        return ['succeeded', 'failed', 'timeout', 'canceled'].includes(g.body.status) && g.body;
      }, 120_000);
      assert.equal(done.status, 'succeeded', JSON.stringify(done));
      assert.equal(done.result!.output, t.expect);
      const events = (await platform.api.deps.client.workflow.getHandle(t.id).fetchHistory()).events!;
      assert.equal(events.filter((e) => e.activityTaskCompletedEventAttributes).length, 1, `task ${t.id} ran to completion once`);
    }
    for (const s of [...sessions.map((x) => x.sid), ...appenders.map((a) => a.sid)]) await call('DELETE', `/api/v1/sessions/${s}`, { token });
  });

  /** A file inside a running container, read as root (empty when it is not there). */
  async function containerFile(id: string, path: string): Promise<string> {
    let exec;
    try {
      exec = await platform.docker.getContainer(id).exec({ Cmd: ['cat', path], AttachStdout: true, AttachStderr: false, User: '0' });
    } catch (e) {
      // Listed a moment ago, stopped or removed since (a stale container going away): it holds nothing now.
      if ([404, 409].includes((e as { statusCode?: number }).statusCode ?? 0)) return '';
      throw e;
    }
    const stream = await exec.start({ hijack: true, stdin: false });
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve) => { stream.on('data', (c: Buffer) => chunks.push(c)); stream.on('end', () => resolve()); stream.on('error', () => resolve()); });
    // Docker multiplexes the stream: strip its 8-byte frame headers.
    const raw = Buffer.concat(chunks);
    const parts: Buffer[] = [];
    for (let i = 0; i + 8 <= raw.length;) {
      const n = raw.readUInt32BE(i + 4);
      if (raw[i] === 1) parts.push(raw.subarray(i + 8, i + 8 + n));
      i += 8 + n;
    }
    return Buffer.concat(parts).toString('utf8');
  }
});
