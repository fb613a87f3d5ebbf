// What a session survives, each row of the table in docs/sessions/terminal-sessions.md proven by killing the real thing.
import assert from 'node:assert/strict';
import { platform } from './support/hooks.js';
import { call, newToken } from './support/http.js';
import { eventually, sessionContainerId } from './support/docker.js';
import { onOwnHosts } from './support/own-hosts.js';
import { LABEL_WORKER } from '../../sandbox/profile.js';
import { keyedHash } from '../../control/security.js';
import { HASH_KEY } from '../../harness/platform.js';

type Out = { session_id: string; stdout: string; stderr: string; exit_code: number; code?: string; restored?: boolean; restored_note?: string };
type Cell = { results: Array<{ is_main_result?: boolean; text?: string }>; code?: string; context_restarted?: boolean; restored?: boolean };
type Summary = { status: string; host: string | null; checkpoint?: { at: string; bytes: number; raw_bytes: number } };

describe('what a session survives', function () {
  this.timeout(180_000);
  let token: string;
  onOwnHosts(['s-a', 's-b']);
  before(async () => { token = await newToken(); });

  const term = (body: Record<string, unknown>) => call<Out>('POST', '/api/v1/commands/terminal', { token, body: { lease_ttl_sec: 300, ...body } });
  const cell = (body: Record<string, unknown>) => call<Cell>('POST', '/api/v1/commands/code', { token, body });
  const main = (c: Cell) => c.results.find((r) => r.is_main_result)?.text;

  it('a worker killed with -9 and started again with its id finds its sessions alive: files, interpreter variables, background processes', async () => {
    await platform.startWorker('s-a', { DURABOX_RUNTIMES: 'terminal' });
    const a = await term({ command: 'echo kept > f.txt; (sleep 600 & echo $! > bg.pid)' });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const sid = a.body.session_id;
    const x = await cell({ session_id: sid, code: 'x = 41' });
    assert.equal(x.status, 200, JSON.stringify(x.body));

    await platform.workers.get('s-a')!.stop('SIGKILL');
    await platform.startWorker('s-a', { DURABOX_RUNTIMES: 'terminal' });

    const b = await term({ command: 'cat f.txt; kill -0 $(cat bg.pid) && echo bg-alive', session_id: sid });
    assert.equal(b.status, 200, JSON.stringify(b.body));
    assert.equal(b.body.stdout, 'kept\nbg-alive\n');
    const y = await cell({ session_id: sid, code: 'x + 1' });
    assert.equal(y.status, 200, JSON.stringify(y.body));
    assert.equal(main(y.body), '42');
    assert.equal(y.body.context_restarted, false);
    await call('DELETE', `/api/v1/sessions/${sid}`, { token });
  });

  const summary = async (sid: string) => (await call<Summary>('GET', `/api/v1/sessions/${sid}`, { token })).body;
  /** Waits for a checkpoint taken after `after` (ISO time), and answers it. */
  const checkpointAfter = (sid: string, after = '') => eventually('a checkpoint of the workspace', async () => {
    const c = (await summary(sid)).checkpoint;
    return c && c.at > after && c;
  }, 30_000);

  it('a host lost for good (worker -9, its containers gone): the next command restores the session on another host from its checkpoint', async () => {
    if (!platform.workers.get('s-a')) await platform.startWorker('s-a', { DURABOX_RUNTIMES: 'terminal' });
    await platform.startWorker('s-b', { DURABOX_RUNTIMES: 'terminal' });
    // 2 MB of incompressible data and a tree of small files.
    const a = await term({ command: 'mkdir -p data/sub && head -c 2000000 /dev/urandom > data/blob && for i in $(seq 1 200); do echo $i > data/sub/$i.txt; done; sha256sum data/blob | cut -c1-64; (sleep 600 &)' });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const sid = a.body.session_id;
    const digest = a.body.stdout.trim();
    const w = await cell({ session_id: sid, code: 'y = 7' });
    assert.equal(w.status, 200, JSON.stringify(w.body));
    const cp = await checkpointAfter(sid);
    assert.ok(cp.raw_bytes > 2_000_000, `the checkpoint holds the workspace: ${JSON.stringify(cp)}`);

    const holder = (await summary(sid)).host!;
    const holderName = holder === platform.workerId('s-a') ? 's-a' : 's-b';
    const other = holderName === 's-a' ? 's-b' : 's-a';
    await platform.loseHost(holderName);

    const b = await term({ command: 'sha256sum data/blob | cut -c1-64; ls data/sub | wc -l; cat data/sub/200.txt; pgrep -c sleep || true', session_id: sid });
    assert.equal(b.status, 200, JSON.stringify(b.body));
    assert.equal(b.body.stdout, `${digest}\n200\n200\n0\n`, 'files as checkpointed; the background process did not come back');
    assert.equal(b.body.restored, true);
    assert.match(b.body.restored_note!, /host was lost/);
    assert.equal((await summary(sid)).host, platform.workerId(other));
    // Its interpreter context starts in a new process and loads the variables it saved.
    const y = await cell({ session_id: sid, code: 'y' });
    assert.equal(y.status, 200, JSON.stringify(y.body));
    assert.equal(main(y.body), '7');
    assert.equal(y.body.context_restarted, false);
    const c = await term({ command: 'cat data/sub/1.txt', session_id: sid });
    assert.equal(c.body.restored, undefined, 'only the call that restored it says so');
    assert.equal(c.body.stdout, '1\n');
    await call('DELETE', `/api/v1/sessions/${sid}`, { token });
    await platform.workers.get(other)!.stop();
  });

  it('a session whose container is gone (removed, as a Docker daemon restart leaves it) is restored from its checkpoint on its next command', async () => {
    if (!platform.workers.get('s-a')) await platform.startWorker('s-a', { DURABOX_RUNTIMES: 'terminal' });
    const a = await term({ command: 'echo survives > f.txt' });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const sid = a.body.session_id;
    await checkpointAfter(sid);
    await platform.docker.getContainer((await sessionContainerId(token, sid))!).remove({ force: true });

    const b = await term({ command: 'cat f.txt', session_id: sid });
    assert.equal(b.status, 200, JSON.stringify(b.body));
    assert.equal(b.body.stdout, 'survives\n');
    assert.equal(b.body.restored, true);
    assert.match(b.body.restored_note!, /container was gone/);
    await call('DELETE', `/api/v1/sessions/${sid}`, { token });
  });

  it('an idle session pauses (checkpointed, its container removed) and its next call resumes it with its files', async () => {
    const policy = platform.api.deps.api.session;
    const before = policy.pauseAfterSec;
    policy.pauseAfterSec = 3;
    try {
      if (!platform.workers.get('s-a')) await platform.startWorker('s-a', { DURABOX_RUNTIMES: 'terminal' });
      const a = await term({ command: 'echo paused-but-kept > keep.txt' });
      assert.equal(a.status, 200, JSON.stringify(a.body));
      const sid = a.body.session_id;
      const s = await eventually('the session to pause', async () => {
        const v = await summary(sid);
        return v.status === 'paused' && v;
      }, 30_000);
      assert.equal(s.host, null);
      const listed = (await call<{ items: Array<{ session_id: string; status: string; host: string | null }> }>('GET', '/api/v1/sessions', { token })).body.items.find((i) => i.session_id === sid);
      assert.equal(listed?.status, 'paused', 'the list says so too');
      assert.equal(listed?.host, null);
      const held = await platform.docker.listContainers({ filters: { label: [`${LABEL_WORKER}=${platform.workerId('s-a')}`, 'io.durabox.runtime=terminal'] } });
      const account = (await platform.api.deps.accounts.byTokenHash(keyedHash(HASH_KEY, token)))!;
      assert.equal(await sessionContainerId(token, sid), undefined, 'no container named');
      assert.ok(held.length <= 2, 'only warm containers are left on the host');

      const b = await term({ command: 'cat keep.txt', session_id: sid });
      assert.equal(b.status, 200, JSON.stringify(b.body));
      assert.equal(b.body.stdout, 'paused-but-kept\n');
      assert.equal(b.body.restored, true);
      assert.match(b.body.restored_note!, /paused/);
      assert.equal((await summary(sid)).status, 'active');
      await call('DELETE', `/api/v1/sessions/${sid}`, { token });
      // The ended session's checkpoint is gone from the store.
      await eventually('the checkpoint to be dropped', async () => (await platform.api.deps.snapshots.chain(account.id, sid)).length === 0, 20_000);
    } finally {
      policy.pauseAfterSec = before;
    }
  });
});
