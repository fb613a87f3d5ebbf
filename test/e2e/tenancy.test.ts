// Many accounts on one platform: each works within its limits, queued work is handed out fairly, one
// account's sessions cannot push another's steps past the host timeout, and however a session ends,
// its container goes. Real Temporal, PostgreSQL, Docker and runtime worker processes throughout.
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { platform } from './support/hooks.js';
import { call, login } from './support/http.js';
import { eventually } from './support/docker.js';
import { LABEL_RUNTIME, LABEL_WORKER } from '../../sandbox/profile.js';
import { SA_HOST } from '../../contract/search-attributes.js';

type Tenant = { id: string; token: string; username: string };

async function tenant(prefix: string): Promise<Tenant> {
  const t = await platform.otherAccount(prefix);
  return { id: t.account.id, token: t.token, username: t.account.username };
}

const term = (t: Tenant, body: Record<string, unknown>) => call('POST', '/api/v1/commands/terminal', { token: t.token, body: { lease_ttl_sec: 120, ...body } });
const python = (t: Tenant, code: string, extra: Record<string, unknown> = {}) =>
  call('POST', '/api/v1/tasks', { token: t.token, body: { capability: 'pythonExec', input: { code }, ...extra } });

const containerExists = (id: string) => platform.docker.getContainer(id).inspect().then(() => true, () => false);

/** The container a session's workflow names (its memo), while the workflow exists. */
async function containerOf(t: Tenant, sessionId: string): Promise<string> {
  const d = await platform.api.deps.client.workflow.getHandle(platform.api.deps.sessions.workflowId(t.id, sessionId)).describe();
  return (d.memo as { container_id: string }).container_id;
}

/** Terminal containers of a worker that no running session names: its warm pool, and whatever an ending left behind. */
async function unclaimedContainers(workerId: string): Promise<string[]> {
  const list = await platform.docker.listContainers({ all: true, filters: { label: [`${LABEL_WORKER}=${workerId}`, `${LABEL_RUNTIME}=terminal`] } });
  const live = new Set<string>();
  for await (const w of platform.api.deps.client.workflow.list({ query: `WorkflowType = 'sessionWorkflow' AND ${SA_HOST.name} = '${workerId}' AND ExecutionStatus = 'Running'` })) {
    const id = (w.memo as { container_id?: string } | undefined)?.container_id;
    if (id) live.add(id);
  }
  return list.map((c) => c.Id).filter((id) => !live.has(id));
}

/** The warm containers a harness worker keeps (DURABOX_MAX_INFLIGHT=2). */
const WARM = 2;

describe('tenancy: limits, fair queues and shared hosts', function () {
  this.timeout(180_000);
  let adminCookie: string;
  before(async () => { adminCookie = await login(); });

  const setLimits = (accountId: string, body: Record<string, unknown>, cookie = adminCookie) =>
    call('PUT', `/api/v1/console/accounts/${accountId}/limits`, { cookie, body });

  describe('per-account limits, answered 429 naming the limit', () => {
    it('an admin sets an account\'s limits; bad values are 400 naming the field; others get 403/404', async () => {
      const t = await tenant('limits-admin');
      const r = await setLimits(t.id, { max_sessions: 2, max_running_tasks: 3 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.limits.max_sessions, 2);
      assert.equal(r.body.limits.max_running_tasks, 3);
      assert.equal(r.body.overrides.max_tokens, null, 'untouched limits keep their default');
      assert.equal(r.body.limits.max_tokens, platform.config.api.accountLimits.max_tokens);
      const back = await setLimits(t.id, { max_sessions: null });
      assert.equal(back.body.limits.max_sessions, platform.config.api.accountLimits.max_sessions, 'null restores the default');
      assert.equal(back.body.limits.max_running_tasks, 3, 'other overrides stay');

      for (const [body, field] of [[{ max_sessions: -1 }, 'max_sessions'], [{ max_sessions: 1.5 }, 'max_sessions'], [{ max_tokens: '9' }, 'max_tokens'], [{ max_cpus: 2 }, 'max_cpus'], [{}, 'limit']] as const) {
        const bad = await setLimits(t.id, body);
        assert.equal(bad.status, 400, JSON.stringify(body));
        assert.match(bad.body.error, new RegExp(field), JSON.stringify(bad.body));
      }
      assert.equal((await setLimits('acc_doesnotexist', { max_sessions: 1 })).status, 404);
      const own = await login(t.username, 'pw');
      assert.equal((await setLimits(t.id, { max_sessions: 1000 }, own)).status, 403, 'an account cannot raise its own limits');
    });

    it('live sessions: the one over max_sessions is refused before any container is made, and ending one makes room', async () => {
      const t = await tenant('limits-sessions');
      await setLimits(t.id, { max_sessions: 2 });
      const a = await term(t, { command: 'echo a' });
      const b = await term(t, { command: 'echo b' });
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal(b.status, 200, JSON.stringify(b.body));
      const third = await term(t, { command: 'echo c' });
      assert.equal(third.status, 429, JSON.stringify(third.body));
      assert.equal(third.body.code, 'quota_exceeded');
      assert.equal(third.body.limit, 'max_sessions');
      assert.equal(third.body.max, 2);
      assert.match(third.body.message, /max_sessions is 2 .*DURABOX_ACCOUNT_MAX_SESSIONS/);
      // Commands in the sessions it holds, and joining one by create_if_missing, are never refused.
      assert.equal((await term(t, { command: 'echo again', session_id: a.body.session_id })).status, 200);
      assert.equal((await term(t, { command: 'echo join', session_id: b.body.session_id, create_if_missing: true })).status, 200);
      // Over MCP, the same refusal as a tool error naming the limit.
      const client = new Client({ name: 'tenancy-test', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${platform.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${t.token}` } } }));
      const viaMcp = await client.callTool({ name: 'terminalExec', arguments: { command: 'echo mcp' } });
      await client.close();
      assert.equal(viaMcp.isError, true);
      assert.match((viaMcp.content as Array<{ text: string }>)[0].text, /^quota_exceeded: account limit reached: max_sessions is 2/);

      const usage = await call('GET', '/api/v1/console/limits', { cookie: await login(t.username, 'pw') });
      assert.equal(usage.status, 200, JSON.stringify(usage.body));
      assert.equal(usage.body.usage.max_sessions, 2);
      assert.equal(usage.body.limits.max_sessions, 2);

      assert.equal((await call('DELETE', `/api/v1/sessions/${a.body.session_id}`, { token: t.token })).status, 204);
      const next = await eventually('room for a new session', async () => {
        const r = await term(t, { command: 'echo room' });
        return r.status === 200 && r;
      }, 20_000);
      assert.equal(next.body.stdout, 'room\n');
      for (const sid of [b.body.session_id, next.body.session_id]) await call('DELETE', `/api/v1/sessions/${sid}`, { token: t.token });
    });

    it('running tasks: over max_running_tasks is refused with no task made, a retried request_id still joins, and a finished task makes room', async () => {
      const t = await tenant('limits-tasks');
      await setLimits(t.id, { max_running_tasks: 2 });
      const slow = 'import time\ntime.sleep(4)\nprint("done")';
      const first = await python(t, slow, { mode: 'async', request_id: 'slow-1' });
      const second = await python(t, slow, { mode: 'async' });
      assert.equal(first.status, 202, JSON.stringify(first.body));
      assert.equal(second.status, 202, JSON.stringify(second.body));
      const third = await python(t, 'print(3)', { mode: 'sync' });
      assert.equal(third.status, 429, JSON.stringify(third.body));
      assert.deepEqual({ code: third.body.code, limit: third.body.limit, max: third.body.max }, { code: 'quota_exceeded', limit: 'max_running_tasks', max: 2 });
      assert.equal((await call('GET', '/api/v1/tasks?status=running', { token: t.token })).body.total, 2, 'the refused task was never made');
      const retried = await python(t, slow, { mode: 'async', request_id: 'slow-1' });
      assert.equal(retried.status, 202, 'a retry of a running request joins it, limit or not');
      assert.equal(retried.body.task_id, first.body.task_id);
      // The sync wait of a later task is admitted once one of the two has ended.
      const later = await eventually('room for another task', async () => {
        const r = await python(t, 'print(4)', { mode: 'sync' });
        return r.status === 200 && r;
      }, 30_000);
      assert.equal(later.body.result.output, '4\n');
    });

    it('running tasks: clients that keep exactly max_running_tasks sync tasks going are never refused (an ended task frees its place at once)', async () => {
      const t = await tenant('limits-steady');
      await setLimits(t.id, { max_running_tasks: 3 });
      const client = async (c: number) => {
        for (let i = 0; i < 6; i++) {
          const r = await python(t, `print(${c * 10 + i})`, { mode: 'sync' });
          assert.equal(r.status, 200, `client ${c}, task ${i}: ${JSON.stringify(r.body)}`);
        }
      };
      await Promise.all([0, 1, 2].map(client));
    });

    it('tokens: the one over max_tokens is refused, naming the limit', async () => {
      const t = await tenant('limits-tokens');
      await setLimits(t.id, { max_tokens: 2 });
      const cookie = await login(t.username, 'pw');
      assert.equal((await call('POST', '/api/v1/console/tokens', { cookie, body: { name: 'second' } })).status, 201);
      const over = await call('POST', '/api/v1/console/tokens', { cookie, body: { name: 'third' } });
      assert.equal(over.status, 429, JSON.stringify(over.body));
      assert.equal(over.body.limit, 'max_tokens');
      assert.equal((await call('GET', '/api/v1/console/tokens', { cookie })).body.total, 2);
    });
  });

  describe('fair queues', () => {
    it('one account\'s backlog on the python queue does not make another account wait behind all of it', async () => {
      const flood = await tenant('fair-flood');
      const quiet = await tenant('fair-quiet');
      // The worker runs 2 at a time: 10 tasks of 2 s are about 10 s of backlog.
      const floodDone: number[] = [];
      const floods = Array.from({ length: 10 }, (_, i) =>
        python(flood, `import time\ntime.sleep(2)\nprint(${i})`, { mode: 'sync', timeout_ms: 60_000 }).then((r) => {
          assert.equal(r.status, 200, JSON.stringify(r.body));
          floodDone.push(Date.now());
        }));
      await eventually('the flood to queue up', async () => (await call('GET', '/api/v1/tasks?status=running', { token: flood.token })).body.total >= 10, 20_000);
      const quietStarted = Date.now();
      const q = await python(quiet, 'print("quiet")', { mode: 'sync', timeout_ms: 60_000 });
      const quietDone = Date.now();
      assert.equal(q.status, 200, JSON.stringify(q.body));
      await Promise.all(floods);
      const ahead = floodDone.filter((t) => t < quietDone).length;
      // First in, first out would put all ten ahead of it; handed out fairly, it goes at the next free slot.
      assert.ok(ahead <= 5, `${ahead} of the flood's tasks finished before the other account's one (waited ${quietDone - quietStarted} ms)`);
    });
  });

  describe('a host shared by accounts', () => {
    before(async () => { await platform.workers.get('w-main')?.stop(); });
    after(async () => {
      await platform.workers.get('h-small')?.stop();
      if (!platform.workers.get('w-main')) await platform.startWorker('w-main');
    });

    it('a full host refuses a new session at once (429 no_capacity), and the sessions it holds keep their steps: many long commands and file calls of one account never push another\'s step past the host timeout', async () => {
      await platform.startWorker('h-small', { DURABOX_RUNTIMES: 'terminal', DURABOX_HOST_MAX_SESSIONS: '3' });
      const busy = await tenant('host-busy');
      const other = await tenant('host-other');
      const mine = await term(other, { command: 'echo mine' });
      assert.equal(mine.status, 200, JSON.stringify(mine.body));
      const s2 = await term(busy, { command: 'echo 2' });
      const s3 = await term(busy, { command: 'echo 3' });
      assert.equal(s2.status, 200, JSON.stringify(s2.body));
      assert.equal(s3.status, 200, JSON.stringify(s3.body));
      const refusedAt = Date.now();
      const full = await term(busy, { command: 'echo 4' });
      assert.equal(full.status, 429, JSON.stringify(full.body));
      assert.equal(full.body.code, 'no_capacity');
      assert.match(full.body.message, /DURABOX_HOST_MAX_SESSIONS/);
      assert.ok(Date.now() - refusedAt < 10_000, 'refused promptly, not after a queue timeout');

      // The busy account keeps both its sessions and its host slots as busy as it can.
      const blob = Buffer.alloc(256 * 1024, 7).toString('base64');
      const load = [
        term(busy, { command: 'sleep 6; echo slept', session_id: s2.body.session_id, timeout_ms: 30_000 }),
        term(busy, { command: 'sleep 6; echo slept', session_id: s3.body.session_id, timeout_ms: 30_000 }),
        ...Array.from({ length: 30 }, (_, i) => call('PUT', `/api/v1/sessions/${(i % 2 ? s2 : s3).body.session_id}/files?path=f${i}`, { token: busy.token, raw: blob, headers: { 'content-type': 'application/octet-stream' } })),
      ];
      await new Promise((r) => setTimeout(r, 500));
      const stepAt = Date.now();
      const step = await term(other, { command: 'echo still mine', session_id: mine.body.session_id });
      assert.equal(step.status, 200, JSON.stringify(step.body));
      assert.equal(step.body.stdout, 'still mine\n');
      assert.ok(Date.now() - stepAt < 5_000, `the other account's step waited ${Date.now() - stepAt} ms`);
      const results = await Promise.all(load);
      for (const r of results) assert.ok([200, 201].includes(r.status), JSON.stringify(r.body).slice(0, 300));

      // A FIFO where a file call expects a file is refused at once, and the session goes on.
      assert.equal((await term(other, { command: 'mkfifo /workspace/pipe', session_id: mine.body.session_id })).status, 200);
      const fifoAt = Date.now();
      const write = await call('PUT', `/api/v1/sessions/${mine.body.session_id}/files?path=pipe`, { token: other.token, raw: 'x', headers: { 'content-type': 'application/octet-stream' } });
      assert.equal(write.status, 400, JSON.stringify(write.body));
      assert.match(write.body.message, /not a regular file/);
      const read = await call('GET', `/api/v1/sessions/${mine.body.session_id}/files?path=pipe`, { token: other.token });
      assert.equal(read.status, 400, JSON.stringify(read.body));
      assert.ok(Date.now() - fifoAt < 5_000);
      assert.equal((await term(other, { command: 'echo after', session_id: mine.body.session_id })).body.stdout, 'after\n');

      for (const [t, sid] of [[other, mine.body.session_id], [busy, s2.body.session_id], [busy, s3.body.session_id]] as const) {
        assert.equal((await call('DELETE', `/api/v1/sessions/${sid}`, { token: t.token })).status, 204);
      }
    });

    it('every way a session ends removes its container: closed, lease expired, max lifetime, lost host', async () => {
      const t = await tenant('endings');
      const worker = platform.workers.get('h-small') ?? (await platform.startWorker('h-small', { DURABOX_RUNTIMES: 'terminal', DURABOX_HOST_MAX_SESSIONS: '3' }));

      // Closed.
      const closed = await term(t, { command: 'echo x > /workspace/f' });
      const closedContainer = await containerOf(t, closed.body.session_id);
      await call('DELETE', `/api/v1/sessions/${closed.body.session_id}`, { token: t.token });
      await eventually('the closed session\'s container to go', async () => !(await containerExists(closedContainer)), 20_000);

      // Lease expired.
      const leased = await term(t, { command: 'echo x', lease_ttl_sec: 1 });
      const leasedContainer = await containerOf(t, leased.body.session_id);
      await eventually('the expired session\'s container to go', async () => !(await containerExists(leasedContainer)), 20_000);
      assert.equal((await call('GET', `/api/v1/sessions/${leased.body.session_id}`, { token: t.token })).body.ended_reason, 'lease_expired');

      // Max lifetime: as if the API ran with DURABOX_SESSION_MAX_LIFETIME_SEC=2 (new sessions take the setting as they start).
      const policy = platform.api.deps.api.session;
      const lifetime = policy.maxLifetimeSec;
      policy.maxLifetimeSec = 2;
      let aged;
      try {
        aged = await term(t, { command: 'echo x', lease_ttl_sec: 600 });
      } finally {
        policy.maxLifetimeSec = lifetime;
      }
      const agedContainer = await containerOf(t, aged.body.session_id);
      await eventually('the aged session\'s container to go', async () => !(await containerExists(agedContainer)), 20_000);
      assert.equal((await call('GET', `/api/v1/sessions/${aged.body.session_id}`, { token: t.token })).body.ended_reason, 'max_lifetime');

      // Lost: the host stops answering (its worker frozen past the host-gone time), and the session, started
      // with checkpoints off, has nothing to restore from: it ends as session_lost; when the host comes
      // back it removes the container nobody owns any more.
      const saved = { checkpointSec: policy.checkpointSec, pauseAfterSec: policy.pauseAfterSec };
      Object.assign(policy, { checkpointSec: 0, pauseAfterSec: 0 });
      const lost = await term(t, { command: 'echo x' }).finally(() => Object.assign(policy, saved));
      const lostContainer = await containerOf(t, lost.body.session_id);
      worker.child.kill('SIGSTOP');
      let gone;
      try {
        // Silent past DURABOX_SESSION_HOST_GONE_SEC (6 s here): the host is gone, not restarting.
        await new Promise((r) => setTimeout(r, 7000));
        gone = await term(t, { command: 'echo never', session_id: lost.body.session_id });
      } finally {
        worker.child.kill('SIGCONT');
      }
      assert.equal(gone.body.code, 'session_lost', JSON.stringify(gone.body));
      assert.ok(await containerExists(lostContainer), 'the container outlived the session while its host was silent');
      await eventually('the lost session\'s container to go', async () => !(await containerExists(lostContainer)), 30_000);

      // Nothing of any ending is left on the host.
      await eventually('no container without a session on the host but the warm ones', async () => (await unclaimedContainers(worker.id)).length <= WARM, 30_000);
    });
  });
});
