// Zero loss of acknowledged work (spec §6): a command, cell or file call answered as done is already in
// the snapshot store, so a host lost the instant after the answer costs nothing acknowledged; a worker
// that restarts keeps its sessions in place; a host that comes back after its session moved is fenced.
// Real Docker, Temporal, PostgreSQL and runtime workers; hosts are lost with kill -9.
import assert from 'node:assert/strict';
import { platform } from './support/hooks.js';
import { call, newToken } from './support/http.js';
import { eventually, sessionContainerId } from './support/docker.js';
import { onOwnHosts } from './support/own-hosts.js';
import { keyedHash } from '../../control/security.js';
import { HASH_KEY } from '../../harness/platform.js';
import { Fenced } from '../../db/snapshots.js';

type Out = { session_id: string; stdout: string; stderr: string; exit_code: number; code?: string; message?: string; restored?: boolean; restored_note?: string };
type Summary = { status: string; host: string | null; checkpoint?: { at: string; bytes: number; raw_bytes: number } };

describe('zero loss of acknowledged work: checkpoint chains, no rollback, fencing', function () {
  this.timeout(240_000);
  let token: string;
  let accountId: string;
  const hosts = ['z-a', 'z-b'];
  onOwnHosts(hosts);
  before(async () => {
    token = await newToken();
    accountId = (await platform.api.deps.accounts.byTokenHash(keyedHash(HASH_KEY, token)))!.id;
    for (const h of hosts) if (!platform.workers.get(h)) await platform.startWorker(h, { DURABOX_RUNTIMES: 'terminal' });
  });

  const term = (body: Record<string, unknown>) => call<Out>('POST', '/api/v1/commands/terminal', { token, body: { lease_ttl_sec: 300, ...body } });
  const summary = async (sid: string) => (await call<Summary>('GET', `/api/v1/sessions/${sid}`, { token })).body;
  const nameOf = (workerId: string | null) => hosts.find((h) => platform.workerId(h) === workerId)!;
  const ensureHosts = async () => { for (const h of hosts) if (!platform.workers.get(h)) await platform.startWorker(h, { DURABOX_RUNTIMES: 'terminal' }); };
  const chain = async (sid: string) => platform.api.deps.snapshots.chain(accountId, sid);
  /** Appends lines 1..n to log.txt, one command each, every one answered 200 (acknowledged). */
  const appendLines = async (sid: string, from: number, to: number) => {
    for (let i = from; i <= to; i++) {
      const r = await term({ session_id: sid, command: `echo line-${i} >> log.txt` });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
  };
  const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => `line-${from + k}\n`).join('');
  const withDurability = async <T>(durability: 'zero' | 'interval', checkpointSec: number, work: () => Promise<T>): Promise<T> => {
    const policy = platform.api.deps.api.session;
    const before = { durability: policy.durability, checkpointSec: policy.checkpointSec };
    Object.assign(policy, { durability, checkpointSec });
    try {
      return await work();
    } finally {
      Object.assign(policy, before);
    }
  };

  it('interval checkpoints lose the work acknowledged since the last one when the host is lost (the failure zero loss removes)', async () => {
    await ensureHosts();
    await withDurability('interval', 120, async () => {
      const a = await term({ command: 'echo line-1 >> log.txt' });
      assert.equal(a.status, 200, JSON.stringify(a.body));
      const sid = a.body.session_id;
      await appendLines(sid, 2, 5);
      const holder = nameOf((await summary(sid)).host);
      await platform.loseHost(holder);
      const b = await term({ session_id: sid, command: 'cat log.txt 2>/dev/null | wc -l' });
      // With interval checkpoints and none taken yet the session is lost, or restored without the last lines.
      assert.ok(b.status !== 200 || Number(b.body.stdout.trim()) < 5, `acknowledged lines survived without zero loss: ${JSON.stringify(b.body)}`);
      await call('DELETE', `/api/v1/sessions/${sid}`, { token });
    });
  });

  it('every acknowledged command, cell and file call is in the store before its answer: a host lost right after restores all of it elsewhere', async () => {
    await ensureHosts();
    const a = await term({ command: 'echo line-1 >> log.txt' });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const sid = a.body.session_id;
    await appendLines(sid, 2, 12);
    const put = await call('PUT', `/api/v1/sessions/${sid}/files?path=uploaded.txt`, { token, raw: 'uploaded-bytes', headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const mk = await term({ session_id: sid, command: 'echo doomed > doomed.txt && mkdir -p d/e && echo deep > d/e/f.txt' });
    assert.equal(mk.status, 200);
    const del = await call('DELETE', `/api/v1/sessions/${sid}/files?path=doomed.txt`, { token });
    assert.equal(del.status, 204, JSON.stringify(del.body));
    const cell = await call<{ results: unknown[] }>('POST', '/api/v1/commands/code', { token, body: { session_id: sid, code: 'open("from-cell.txt", "w").write("cell-wrote")' } });
    assert.equal(cell.status, 200, JSON.stringify(cell.body));
    // What was answered is stored as a chain of deltas, not a full tar per step.
    const parts = await chain(sid);
    assert.ok(parts.filter((p) => p.kind === 'delta').length >= 12, `a delta per changing step: ${JSON.stringify(parts.map((p) => p.kind))}`);

    // Lost the instant after the last answer: no checkpoint period has passed.
    const holder = nameOf((await summary(sid)).host);
    await platform.loseHost(holder);
    const b = await term({ session_id: sid, command: 'cat log.txt; cat uploaded.txt; echo; ls doomed.txt 2>&1 | grep -c "No such"; cat d/e/f.txt from-cell.txt' });
    assert.equal(b.status, 200, JSON.stringify(b.body));
    assert.equal(b.body.stdout, `${lines(1, 12)}uploaded-bytes\n1\ndeep\ncell-wrote`);
    assert.equal(b.body.restored, true);
    assert.match(b.body.restored_note!, /host was lost/);
    assert.notEqual(nameOf((await summary(sid)).host), holder);
    await call('DELETE', `/api/v1/sessions/${sid}`, { token });
    await eventually('the chain to be dropped with its session', async () => (await chain(sid)).length === 0, 20_000);
  });

  it('a step that changed nothing stores nothing; a long chain is compacted into one full part while the session idles', async () => {
    await ensureHosts();
    const a = await term({ command: 'mkdir many && cd many && seq 1 2000 | xargs touch && echo made' });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const sid = a.body.session_id;
    const before = await chain(sid);
    const r = await term({ session_id: sid, command: 'ls many | wc -l' });
    assert.equal(r.body.stdout, '2000\n');
    assert.deepEqual(await chain(sid), before, 'a read-only command added no part');
    // One changed file in a 2,000-file workspace travels alone.
    await term({ session_id: sid, command: 'echo x >> many/7' });
    const last = (await chain(sid)).at(-1)!;
    assert.equal(last.kind, 'delta');
    // A tar's smallest record is 10 KiB; the workspace's would be about a megabyte of headers.
    assert.ok(last.raw_bytes <= 10240 && last.bytes < 2048, `the delta holds the one file, not the workspace: ${JSON.stringify(last)}`);
    // Past 32 deltas, and idle a checkpoint period (1 s here): one full part.
    await appendLines(sid, 1, 33);
    await eventually('the chain to be compacted', async () => {
      const parts = await chain(sid);
      return parts.length === 1 && parts[0].kind === 'full';
    }, 30_000);
    const holder = nameOf((await summary(sid)).host);
    await platform.loseHost(holder);
    const b = await term({ session_id: sid, command: 'cat log.txt; ls many | wc -l; cat many/7' });
    assert.equal(b.status, 200, JSON.stringify(b.body));
    assert.equal(b.body.stdout, `${lines(1, 33)}2000\nx\n`);
    await call('DELETE', `/api/v1/sessions/${sid}`, { token });
  });

  it('a worker down longer than the host timeout that comes back keeps its sessions: a step waits for it, nothing rolls back', async () => {
    await ensureHosts();
    const a = await term({ command: 'echo line-1 >> log.txt; (sleep 600 & echo $! > bg.pid)' });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const sid = a.body.session_id;
    await appendLines(sid, 2, 6);
    const holder = nameOf((await summary(sid)).host);
    const container = await sessionContainerId(token, sid);
    await platform.workers.get(holder)!.stop('SIGKILL');
    // A step sent while the host is down waits past DURABOX_SESSION_HOST_TIMEOUT_MS (2 s here) for it.
    const waiting = term({ session_id: sid, command: 'echo line-7 >> log.txt; cat log.txt; kill -0 $(cat bg.pid) && echo same-container' });
    await new Promise((r) => setTimeout(r, 3500));
    await platform.startWorker(holder, { DURABOX_RUNTIMES: 'terminal' });
    const b = await waiting;
    assert.equal(b.status, 200, JSON.stringify(b.body));
    assert.equal(b.body.stdout, `${lines(1, 7)}same-container\n`);
    assert.equal(b.body.restored, undefined, 'not restored: the session never left its container');
    assert.equal(nameOf((await summary(sid)).host), holder);
    assert.equal(await sessionContainerId(token, sid), container);
    await call('DELETE', `/api/v1/sessions/${sid}`, { token });
  });

  it('a host that comes back after its session moved is fenced: its stale container goes, and it can no longer write the chain', async () => {
    await ensureHosts();
    const a = await term({ command: 'echo line-1 >> log.txt' });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const sid = a.body.session_id;
    await appendLines(sid, 2, 4);
    const holder = nameOf((await summary(sid)).host);
    const stale = (await sessionContainerId(token, sid))!;
    // Killed, its containers left running (a partition, not a lost machine), and silent past DURABOX_SESSION_HOST_GONE_SEC.
    await platform.workers.get(holder)!.stop('SIGKILL');
    const b = await term({ session_id: sid, command: 'echo line-5 >> log.txt; cat log.txt' });
    assert.equal(b.status, 200, JSON.stringify(b.body));
    assert.equal(b.body.stdout, lines(1, 5));
    assert.equal(b.body.restored, true);
    const moved = (await summary(sid)).host;
    assert.notEqual(nameOf(moved), holder);

    // The chain now belongs to the new container's generation: a part from the old one is refused.
    await assert.rejects(
      platform.api.deps.snapshots.append(accountId, sid, 1, 'delta', { digest: '0'.repeat(64), rawBytes: 1024, data: Buffer.alloc(20) }),
      (e: unknown) => e instanceof Fenced,
    );
    await assert.rejects(platform.api.deps.snapshots.claim(accountId, sid, 1), (e: unknown) => e instanceof Fenced);

    // The old host returns: its reaper removes the stale container, and the session stays where it moved.
    await platform.startWorker(holder, { DURABOX_RUNTIMES: 'terminal' });
    await eventually('the stale container to be removed', async () => (await platform.docker.listContainers({ all: true })).every((c) => c.Id !== stale), 30_000);
    const c = await term({ session_id: sid, command: 'echo line-6 >> log.txt; cat log.txt' });
    assert.equal(c.body.stdout, lines(1, 6));
    assert.equal((await summary(sid)).host, moved);
    await call('DELETE', `/api/v1/sessions/${sid}`, { token });
  });
  it('python variables come back over a pause and a move (saved with the checkpoint); what cannot be pickled is named', async () => {
    await ensureHosts();
    type Cell = { results: Array<{ is_main_result?: boolean; text?: string }>; context_restarted?: boolean; context_restored?: { variables: string[]; not_restored: string[] }; restored?: boolean; restored_note?: string; error?: unknown };
    const cell = (body: Record<string, unknown>) => call<Cell>('POST', '/api/v1/commands/code', { token, body });
    const main = (c: Cell) => c.results.find((r) => r.is_main_result)?.text;
    const a = await term({ command: 'echo start' });
    const sid = a.body.session_id;
    const defined = await cell({ session_id: sid, code: 'import math\nx = 41\ndef f(a):\n    return a + x\nrows = {"k": [1, 2]}\nsquare = lambda v: v * v\nstream = (i for i in range(3))' });
    assert.equal(defined.status, 200, JSON.stringify(defined.body));
    assert.equal(defined.body.error, undefined, JSON.stringify(defined.body));

    // A move: the host lost, the next cell runs on another one.
    const holder = nameOf((await summary(sid)).host);
    await platform.loseHost(holder);
    const resumed = await cell({ session_id: sid, code: 'x = f(1)\n(x, rows["k"][1], square(3), round(math.pi, 2))' });
    assert.equal(resumed.status, 200, JSON.stringify(resumed.body));
    assert.equal(main(resumed.body), '(42, 2, 9, 3.14)');
    assert.equal(resumed.body.restored, true);
    assert.match(resumed.body.restored_note!, /host was lost.*python contexts come back with their saved variables.*default-python: .*f.*\(not saved: stream\)/);
    assert.equal(resumed.body.context_restarted, false);
    assert.deepEqual(resumed.body.context_restored, { variables: ['f', 'math', 'rows', 'square', 'x'], not_restored: ['stream'] });

    // A paused session: its container removed once idle, its variables back at the next cell.
    const policy = platform.api.deps.api.session;
    const pauseBefore = policy.pauseAfterSec;
    policy.pauseAfterSec = 2;
    try {
      const b = await term({ command: 'echo second' });
      const sid2 = b.body.session_id;
      const set = await cell({ session_id: sid2, code: 'kept = [1, 2, 3]\ntotal = sum(kept)' });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      await eventually('the session to pause', async () => (await summary(sid2)).status === 'paused', 30_000);
      const back = await cell({ session_id: sid2, code: 'total * 2' });
      assert.equal(back.status, 200, JSON.stringify(back.body));
      assert.equal(main(back.body), '12');
      assert.match(back.body.restored_note!, /paused/);
      assert.deepEqual(back.body.context_restored, { variables: ['kept', 'total'], not_restored: [] });
      await call('DELETE', `/api/v1/sessions/${sid2}`, { token });
    } finally {
      policy.pauseAfterSec = pauseBefore;
    }
    await call('DELETE', `/api/v1/sessions/${sid}`, { token });
  });
});
