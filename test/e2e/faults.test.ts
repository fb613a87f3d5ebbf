// Faults under load: tasks and sessions keep running while a runtime worker, an API process and the
// Temporal server are each killed with -9 and started again, and then a host is lost for good. Every task
// succeeds exactly once; every session answers its next command with its files (restored ones say so);
// a paused session resumes with its files. (A second API process shares the database, so PostgreSQL only.)
import assert from 'node:assert/strict';
import type { ApiProcess } from '../../harness/platform.js';
import { freePort } from '../../harness/platform.js';
import { platform } from './support/hooks.js';
import { call, newToken } from './support/http.js';
import { eventually } from './support/docker.js';
import { onOwnHosts } from './support/own-hosts.js';

type Out = { session_id: string; stdout: string; code?: string; restored?: boolean; restored_note?: string };
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

  it('every task succeeds exactly once and every session answers with its files', async () => {
    // Three sessions with files: two through the in-process API, one through API B (it will pause).
    const sessions: Array<{ sid: string; file: string }> = [];
    for (const [i, base] of [[0, undefined], [1, undefined], [2, viaB()]] as const) {
      const r = await term({ command: `echo content-${i} > mine.txt; cat mine.txt` }, base);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      sessions.push({ sid: r.body.session_id, file: `content-${i}\n` });
    }
    const tasks = await startTasks(6, 'first', viaB());

    // 1. A runtime worker killed with -9 while tasks run, then started again with its id.
    await platform.workers.get('f-a')!.stop('SIGKILL');
    tasks.push(...(await startTasks(4, 'after-worker')));
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

    // Every session answers after all that, before any host is lost; the paused one resumes with its files.
    for (const s of sessions) {
      const r = await eventually('the session to answer', async () => {
        const x = await term({ command: 'cat mine.txt', session_id: s.sid });
        return x.status === 200 && x;
      }, 60_000);
      assert.equal(r.body.stdout, s.file);
      if (s === sessions[2]) {
        assert.equal(r.body.restored, true);
        assert.match(r.body.restored_note!, /paused/);
      }
    }

    // 4. A host lost for good: the holder of the first session, killed with -9, its containers removed.
    const holder = (await call('GET', `/api/v1/sessions/${sessions[0].sid}`, { token })).body.host as string;
    const holderName = hosts.find((h) => platform.workerId(h) === holder)!;
    await eventually('a checkpoint of the session', async () => (await call('GET', `/api/v1/sessions/${sessions[0].sid}`, { token })).body.checkpoint);
    await platform.loseHost(holderName);
    tasks.push(...(await startTasks(4, 'host-lost')));

    for (const s of sessions) {
      const r = await term({ command: 'cat mine.txt', session_id: s.sid });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.stdout, s.file, `session ${s.sid} kept its files`);
      const summary = (await call('GET', `/api/v1/sessions/${s.sid}`, { token })).body;
      assert.notEqual(summary.host, holder, 'no session is left on the lost host');
      if (r.body.restored) assert.match(r.body.restored_note!, /host was lost|paused/);
    }
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
    for (const s of sessions) await call('DELETE', `/api/v1/sessions/${s.sid}`, { token });
  });
});
