import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import proto from '@temporalio/proto';
import { call, login, newToken, startCommandOf } from './support/http.js';
import { platform } from './support/hooks.js';
import { eventually } from './support/docker.js';
import { HASH_KEY } from '../../harness/platform.js';
import { PRODUCT_VERSION } from '../../config/paths.js';
import { generateWorkerSecret, hashPassword, keyedHash, newId } from '../../control/security.js';
import { runtimeTaskQueue } from '../../contract/queues.js';

const { temporal } = proto;

/** The variables of a start command (`K=V \` lines, then `durabox worker`). */
function envOf(command: string): Record<string, string> {
  const { env, program } = startCommandOf(command);
  assert.equal(program, 'durabox worker');
  return env;
}

async function pollers(runtime: string): Promise<string[]> {
  const res = await platform.api.deps.connection.workflowService.describeTaskQueue({
    namespace: platform.config.temporal.namespace,
    taskQueue: { name: runtimeTaskQueue(runtime) },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  return (res.pollers ?? []).map((p) => p.identity ?? '');
}

describe('workers REST contract: credentials and the host registry (spec §4.3)', () => {
  let admin: string;
  before(async () => { admin = await login(); });

  it('POST /workers answers 201 {node_id, command} with the whole start command; the secret is kept only as a keyed hash', async () => {
    const r = await call('POST', '/api/v1/workers', { cookie: admin, body: {} });
    assert.equal(r.status, 201);
    assert.match(r.body.node_id, /^wrk_[0-9a-f]{32}$/);
    const env = envOf(r.body.command);
    // Behind a host gateway the host learns its Temporal address from its start report; else the command names it.
    const temporalAddress = platform.gateway ? [] : ['TEMPORAL_ADDRESS'];
    assert.deepEqual(Object.keys(env), ['DURABOX_API_URL', 'DURABOX_WORKER_ID', 'DURABOX_WORKER_SECRET', ...temporalAddress]);
    assert.equal(env.DURABOX_API_URL, platform.url);
    assert.equal(env.DURABOX_WORKER_ID, r.body.node_id);
    assert.equal(env.TEMPORAL_ADDRESS, platform.gateway ? undefined : platform.devServer.address);
    assert.match(env.DURABOX_WORKER_SECRET, /^dbxw_[0-9a-f]{48}$/);
    const row = await platform.api.deps.db('workers').where({ node_id: r.body.node_id }).first();
    assert.equal(row.secret_hash, keyedHash(HASH_KEY, env.DURABOX_WORKER_SECRET));
    assert.ok(!JSON.stringify(row).includes(env.DURABOX_WORKER_SECRET));
    // Without a body, as some clients send it, and with the reference's {type: "normal"}.
    assert.equal((await call('POST', '/api/v1/workers', { cookie: admin })).status, 201);
    assert.equal((await call('POST', '/api/v1/workers', { cookie: admin, body: { type: 'normal' } })).status, 201);
    const bad = await call('POST', '/api/v1/workers', { cookie: admin, body: { type: 'gpu' } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /type/);
  });

  it('GET /workers/:node_id/startup-command always answers 410', async () => {
    const r = await call('POST', '/api/v1/workers', { cookie: admin });
    const g = await call('GET', `/api/v1/workers/${r.body.node_id}/startup-command`, { cookie: admin });
    assert.equal(g.status, 410);
    assert.match(g.body.error, /only once/);
    assert.equal((await call('GET', '/api/v1/workers/nope/startup-command', { cookie: admin })).status, 410);
  });

  it('worker management needs an admin login: 401 without one, 403 for a non-admin', async () => {
    const username = `plain-${Date.now()}`;
    await platform.api.deps.accounts.create({ id: newId('acc'), username, passwordHash: await hashPassword('pw'), isAdmin: false });
    const user = await login(username, 'pw');
    for (const [method, path] of [['GET', '/api/v1/workers'], ['GET', '/api/v1/workers/stats'], ['GET', '/api/v1/workers/inflight'], ['POST', '/api/v1/workers'], ['DELETE', '/api/v1/workers/x']]) {
      assert.equal((await call(method, path)).status, 401, `${method} ${path}`);
      assert.equal((await call(method, path, { cookie: user })).status, 403, `${method} ${path}`);
    }
    // An access token is not a dashboard login.
    assert.equal((await call('GET', '/api/v1/workers', { token: await newToken(admin) })).status, 401);
  });

  it('GET /workers lists each worker as it reported itself, filters by status and pages', async () => {
    const fresh = (await call('POST', '/api/v1/workers', { cookie: admin })).body.node_id;
    const r = await call('GET', '/api/v1/workers?page_size=100', { cookie: admin });
    assert.equal(r.status, 200);
    assert.equal(r.body.page, 1);
    assert.equal(r.body.page_size, 100);
    assert.ok(r.body.total >= 2);
    const main = r.body.items.find((w: { node_id: string }) => w.node_id === platform.workerId('w-main'));
    assert.deepEqual(Object.keys(main).sort(), ['capabilities', 'executor_kind', 'labels', 'last_seen_at', 'node_id', 'node_name', 'registered_at', 'status', 'version'].sort());
    assert.equal(main.status, 'online');
    assert.equal(main.node_name, hostname());
    assert.equal(main.executor_kind, 'docker');
    assert.equal(main.version, PRODUCT_VERSION, 'the version from package.json');
    assert.deepEqual(main.capabilities, [{ name: 'python', max_inflight: 2 }, { name: 'terminal', max_inflight: 2 }]);
    assert.equal(main.labels.os, 'linux');
    assert.ok(Date.parse(main.last_seen_at) >= Date.parse(main.registered_at));
    const unused = r.body.items.find((w: { node_id: string }) => w.node_id === fresh);
    assert.equal(unused.status, 'offline');
    assert.equal(unused.last_seen_at, null);

    const online = await call('GET', '/api/v1/workers?status=online&page_size=100', { cookie: admin });
    assert.ok(online.body.items.every((w: { status: string }) => w.status === 'online'));
    assert.ok(online.body.items.some((w: { node_id: string }) => w.node_id === main.node_id));
    const offline = await call('GET', '/api/v1/workers?status=offline&page_size=100', { cookie: admin });
    assert.ok(offline.body.items.some((w: { node_id: string }) => w.node_id === fresh));
    assert.equal(online.body.total + offline.body.total, r.body.total);

    const first = await call('GET', '/api/v1/workers?page=1&page_size=1', { cookie: admin });
    const second = await call('GET', '/api/v1/workers?page=2&page_size=1', { cookie: admin });
    assert.equal(first.body.items.length, 1);
    assert.notEqual(first.body.items[0].node_id, second.body.items[0].node_id);
    for (const q of ['page_size=101', 'page=0', 'status=busy', 'page_size=abc']) {
      const bad = await call('GET', `/api/v1/workers?${q}`, { cookie: admin });
      assert.equal(bad.status, 400, q);
      assert.match(bad.body.error, new RegExp(q.split('=')[0]));
    }
  });

  it('GET /workers/stats counts online, offline and stale workers', async () => {
    await call('POST', '/api/v1/workers', { cookie: admin });
    const r = await call('GET', '/api/v1/workers/stats', { cookie: admin });
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body).sort(), ['generated_at', 'offline', 'online', 'stale', 'stale_after_sec', 'total']);
    assert.equal(r.body.stale_after_sec, 30);
    assert.equal(r.body.online + r.body.offline, r.body.total);
    assert.ok(r.body.online >= 1 && r.body.offline >= 1);
    await new Promise((res) => setTimeout(res, 1100));
    const strict = await call('GET', '/api/v1/workers/stats?stale_after_sec=1', { cookie: admin });
    assert.equal(strict.body.stale_after_sec, 1);
    assert.ok(strict.body.stale >= strict.body.offline, 'never-seen credentials are stale after a second');
    assert.equal((await call('GET', '/api/v1/workers/stats?stale_after_sec=0', { cookie: admin })).status, 400);
  });

  it('GET /workers/inflight shows a running execution on its worker', async function () {
    this.timeout(30_000);
    const token = await newToken(admin);
    const t = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', input: { code: 'import time; time.sleep(30)' }, mode: 'async' } });
    try {
      const seen = await eventually('w-main to report one python execution in flight', async () => {
        const r = await call('GET', '/api/v1/workers/inflight', { cookie: admin });
        assert.equal(r.status, 200);
        assert.ok(!Number.isNaN(Date.parse(r.body.generated_at)));
        const w = r.body.workers.find((x: { node_id: string }) => x.node_id === platform.workerId('w-main'));
        const py = w?.capabilities.find((c: { name: string }) => c.name === 'python');
        return py?.inflight >= 1 && py;
      }, 20_000);
      assert.equal(seen.max_inflight, 2);
    } finally {
      await call('POST', `/api/v1/tasks/${t.body.task_id}/cancel`, { token });
    }
  });

  it('the registry refuses a heartbeat without a credential, with a wrong secret or for an unknown worker (401)', async () => {
    const created = await call('POST', '/api/v1/workers', { cookie: admin });
    const env = envOf(created.body.command);
    const report = { event: 'start', node_name: 'h', executor_kind: 'docker', version: '0', labels: {}, capabilities: [], heartbeat_interval_sec: 5 };
    for (const headers of [{}, { authorization: `Bearer ${env.DURABOX_WORKER_ID}:wrong` }, { authorization: `Bearer wrk_unknown:${env.DURABOX_WORKER_SECRET}` }, { authorization: `Bearer ${env.DURABOX_WORKER_SECRET}` }] as Array<Record<string, string>>) {
      const r = await call('POST', '/api/v1/registry/heartbeat', { headers, body: report });
      assert.equal(r.status, 401, JSON.stringify(headers));
    }
    const ok = await call('POST', '/api/v1/registry/heartbeat', { headers: { authorization: `Bearer ${env.DURABOX_WORKER_ID}:${env.DURABOX_WORKER_SECRET}` }, body: report });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.offline_after_ms, 15_000);
    const bad = await call('POST', '/api/v1/registry/heartbeat', { headers: { authorization: `Bearer ${env.DURABOX_WORKER_ID}:${env.DURABOX_WORKER_SECRET}` }, body: { ...report, heartbeat_interval_sec: 0 } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /heartbeat_interval_sec/);
    await call('DELETE', `/api/v1/workers/${env.DURABOX_WORKER_ID}`, { cookie: admin });
  });

  it('DELETE /workers/:node_id answers 204, then 404', async () => {
    const { node_id } = (await call('POST', '/api/v1/workers', { cookie: admin })).body;
    assert.equal((await call('DELETE', `/api/v1/workers/${node_id}`, { cookie: admin })).status, 204);
    assert.equal((await call('DELETE', `/api/v1/workers/${node_id}`, { cookie: admin })).status, 404);
    const list = await call('GET', '/api/v1/workers?page_size=100', { cookie: admin });
    assert.ok(!list.body.items.some((w: { node_id: string }) => w.node_id === node_id));
  });
});

describe('runtime workers and their credentials', function () {
  this.timeout(120_000);
  let admin: string;
  before(async () => { admin = await login(); });

  it('a worker with a wrong secret refuses to start and never polls', async () => {
    const id = platform.workerId('w-wrong');
    await platform.api.deps.workers.putCredential({ nodeId: id, secretHash: keyedHash(HASH_KEY, generateWorkerSecret()) });
    await assert.rejects(platform.startWorker('w-wrong', { DURABOX_WORKER_SECRET: 'dbxw_not-the-secret', DURABOX_RUNTIMES: 'python' }), /exited: .*rejected the credential/s);
    const w = platform.workers.get('w-wrong')!;
    assert.notEqual(w.child.exitCode, 0);
    assert.ok(!(await pollers('python')).includes(id));
    await w.stop();
  });

  it('a worker without DURABOX_WORKER_SECRET refuses to start and says where to get one', async () => {
    await assert.rejects(platform.startWorker('w-nosecret', { DURABOX_WORKER_SECRET: '', DURABOX_RUNTIMES: 'python' }), /DURABOX_WORKER_SECRET is not set/);
    await platform.workers.get('w-nosecret')?.stop();
  });

  describe('with w-main stopped', () => {
    before(async () => { await platform.workers.get('w-main')?.stop(); });
    after(async () => {
      for (const name of ['w-cred']) await platform.workers.get(name)?.stop();
      await platform.startWorker('w-main');
    });

    it('a stopped worker goes offline at once (it says goodbye)', async () => {
      const r = await call('GET', '/api/v1/workers?status=online&page_size=100', { cookie: admin });
      assert.ok(!r.body.items.some((w: { node_id: string }) => w.node_id === platform.workerId('w-main')));
    });

    it('a deleted credential stops its worker within a heartbeat: it drains its running task, exits, and then tasks answer 503 no_worker', async () => {
      const created = await call('POST', '/api/v1/workers', { cookie: admin });
      const env = envOf(created.body.command);
      const w = await platform.startWorker('w-cred', {
        DURABOX_WORKER_ID: env.DURABOX_WORKER_ID, DURABOX_WORKER_SECRET: env.DURABOX_WORKER_SECRET, DURABOX_RUNTIMES: 'python', DURABOX_HEARTBEAT_INTERVAL_SEC: '1',
      });
      const listed = await call('GET', '/api/v1/workers?status=online&page_size=100', { cookie: admin });
      assert.ok(listed.body.items.some((x: { node_id: string }) => x.node_id === env.DURABOX_WORKER_ID), 'online after its start report');

      const token = await newToken(admin);
      const task = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', input: { code: 'import time\ntime.sleep(3)\nprint("drained")' }, mode: 'async' } });
      assert.equal(task.status, 202);
      const handle = platform.api.deps.client.workflow.getHandle(task.body.task_id);
      await eventually('the task to start on w-cred', async () => {
        const act = (await handle.describe()).raw.pendingActivities?.[0];
        return act?.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED && act.lastWorkerIdentity === env.DURABOX_WORKER_ID;
      });

      const deletedAt = Date.now();
      assert.equal((await call('DELETE', `/api/v1/workers/${env.DURABOX_WORKER_ID}`, { cookie: admin })).status, 204);
      await eventually('w-cred to exit', async () => w.child.exitCode !== null, 20_000);
      assert.match(w.output(), /rejected the credential/);
      assert.equal(w.child.exitCode, 0, 'a deliberate stop, not a failure');
      assert.ok(Date.now() - deletedAt < 15_000, 'heartbeat (≤ 1.2 s) plus the drain of a 3 s task');

      const done = await eventually('the task to finish', async () => {
        const g = await call('GET', `/api/v1/tasks/${task.body.task_id}`, { token });
        return g.body.status !== 'running' && g.body.status !== 'queued' && g.body;
      });
      assert.equal(done.status, 'succeeded', JSON.stringify(done));
      assert.equal(done.result.output, 'drained\n');
      const completed = (await handle.fetchHistory()).events!.filter((e) => e.activityTaskCompletedEventAttributes);
      assert.equal(completed[0].activityTaskCompletedEventAttributes!.identity, env.DURABOX_WORKER_ID, 'the deleted worker finished what it had started');

      // No online worker serves python any more: the registry says so once the API's 2 s cache lapses.
      await new Promise((r) => setTimeout(r, 2100));
      const refused = await call('POST', '/api/v1/tasks', { token, body: { capability: 'echo', input: { message: 'anyone?' }, mode: 'sync' } });
      assert.equal(refused.status, 503);
      assert.equal(refused.body.error.code, 'no_worker');
    });
  });
});
