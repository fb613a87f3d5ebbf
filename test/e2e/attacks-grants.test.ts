// The attack suite, from a host's credential: a credential says which host calls, not what it holds.
// A host reads or writes a session's checkpoint, and posts to an output stream, only with the grant of a
// step it was given for that work (control/host-grants.ts), signed for that session or stream, that host
// (or any, on a shared queue) and a short time. Every call goes to the API this test started.
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { platform } from './support/hooks.js';
import { call, newToken } from './support/http.js';
import { eventually } from './support/docker.js';
import { HASH_KEY } from '../../harness/platform.js';
import { generateWorkerSecret, keyedHash } from '../../control/security.js';
import { ANY_HOST, signGrant } from '../../control/host-grants.js';

type Summary = { checkpoint?: { at: string } };

describe('attack suite: a host credential reaches only the work its steps were given', function () {
  this.timeout(120_000);
  let token: string;
  let accountId: string;
  let sessionId: string;
  const hosts: Array<{ id: string; secret: string }> = [];

  /** A host's credential, fresh: this host never held any session or task. */
  const newHost = async (name: string) => {
    const h = { id: platform.workerId(name), secret: generateWorkerSecret() };
    await platform.api.deps.workers.putCredential({ nodeId: h.id, secretHash: keyedHash(HASH_KEY, h.secret) });
    hosts.push(h);
    return h;
  };
  const asHost = (h: { id: string; secret: string }, grant?: string) => ({ authorization: `Bearer ${h.id}:${h.secret}`, ...(grant ? { 'x-durabox-grant': grant } : {}) });
  const snapshotPath = (sid = sessionId, extra: Record<string, string> = {}) => `/api/v1/registry/snapshots?${new URLSearchParams({ account_id: accountId, session_id: sid, ...extra })}`;
  /** The first part of the session's checkpoint chain, as a restoring host reads it. */
  let firstSeq = 0;
  const partPath = () => snapshotPath(sessionId, { seq: String(firstSeq) });
  const snapshotGrant = (host: string, opts: { sid?: string; expiresInMs?: number } = {}) =>
    signGrant(HASH_KEY, { k: 'snapshot', a: accountId, s: opts.sid ?? sessionId, h: host, x: Date.now() + (opts.expiresInMs ?? 60_000) });

  before(async () => {
    token = await newToken();
    const r = await call('POST', '/api/v1/commands/terminal', { token, body: { command: 'echo secret-of-the-account > notes.txt', lease_ttl_sec: 300 } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    sessionId = r.body.session_id;
    accountId = (await platform.api.deps.accounts.byTokenHash(keyedHash(HASH_KEY, token)))!.id;
    await eventually('the session\'s first checkpoint', async () => (await call<Summary>('GET', `/api/v1/sessions/${sessionId}`, { token })).body.checkpoint, 30_000);
    firstSeq = (await platform.api.deps.snapshots.chain(accountId, sessionId))[0].seq;
  });
  after(async () => {
    await call('DELETE', `/api/v1/sessions/${sessionId}`, { token });
    for (const h of hosts) await platform.api.deps.workers.delete(h.id);
  });

  it('a host that never held the session reads none of its checkpoint, and writes none', async () => {
    const stranger = await newHost('stranger');
    const read = await call('GET', partPath(), { headers: asHost(stranger) });
    assert.equal(read.status, 403, `the checkpoint was handed out: ${read.status}`);
    assert.match(read.body.error, /x-durabox-grant: no grant/);
    const tar = gzipSync(Buffer.from('not a checkpoint'));
    const write = await call('PUT', snapshotPath(sessionId, { digest: 'a'.repeat(64), raw_bytes: '16' }), { headers: { ...asHost(stranger), 'content-type': 'application/gzip' }, raw: tar.toString('latin1') });
    assert.equal(write.status, 403, `a checkpoint was replaced: ${write.status}`);
    // The session's own checkpoint is untouched: the session still answers from its files.
    const still = await call('POST', '/api/v1/commands/terminal', { token, body: { command: 'cat notes.txt', session_id: sessionId } });
    assert.equal(still.body.stdout, 'secret-of-the-account\n');
  });

  it('a grant opens only its session, for its host, until it expires; a forged one opens nothing', async () => {
    const a = await newHost('grant-a');
    const b = await newHost('grant-b');
    assert.equal((await call('GET', partPath(), { headers: asHost(a, snapshotGrant(a.id)) })).status, 200, 'the host the step went to reads it');
    assert.equal((await call('GET', partPath(), { headers: asHost(b, snapshotGrant(ANY_HOST)) })).status, 200, 'a shared-queue step\'s grant: whichever host took it');
    for (const [what, grant, expected] of [
      ['a grant given to another host', snapshotGrant(a.id), /another host/],
      ['a grant for another session', snapshotGrant(b.id, { sid: 'sess_0123456789abcdef0123456789abcdef' }), /other work/],
      ['an expired grant', snapshotGrant(b.id, { expiresInMs: -1 }), /expired/],
      ['a grant signed with another key', signGrant('not-the-platform-key', { k: 'snapshot', a: accountId, s: sessionId, h: b.id, x: Date.now() + 60_000 }), /signature/],
      ['an output grant', signGrant(HASH_KEY, { k: 'output', s: sessionId, h: b.id, x: Date.now() + 60_000 }), /for output/],
      ['not a grant at all', 'g1.e30.AAAA', /signature|not a grant/],
    ] as const) {
      const r = await call('GET', partPath(), { headers: asHost(b, grant) });
      assert.equal(r.status, 403, `${what}: ${r.status}`);
      assert.match(r.body.error, expected, what);
    }
  });

  it('output goes to a stream only under its grant: a host cannot write into another\'s task', async () => {
    const stranger = await newHost('output');
    // A running task of the account, streaming: its id is its stream.
    const started = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', mode: 'async', input: { code: 'import time\nfor i in range(3):\n    print(i, flush=True); time.sleep(1)' } } });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const taskId = started.body.task_id;
    const chunks = [{ seq: 999, stream: 'stdout', text: 'forged output\n' }];
    const none = await call('POST', '/api/v1/registry/output', { headers: asHost(stranger), body: { streams: [{ stream_id: taskId, chunks }] } });
    assert.equal(none.status, 400, `no grant: ${none.status}`);
    assert.match(none.body.error, /streams\.0\.grant/);
    const otherStream = signGrant(HASH_KEY, { k: 'output', s: 'task_0123456789abcdef0123456789abcdef', h: ANY_HOST, x: Date.now() + 60_000 });
    const wrong = await call('POST', '/api/v1/registry/output', { headers: asHost(stranger), body: { streams: [{ stream_id: taskId, grant: otherStream, chunks }] } });
    assert.equal(wrong.status, 403, `another stream's grant: ${wrong.status}`);
    assert.match(wrong.body.error, /streams\.0\.grant: a grant for other work/);
    const done = await eventually('the task to finish', async () => {
      const t = await call('GET', `/api/v1/tasks/${taskId}`, { token });
      return t.body.status === 'succeeded' && t.body;
    }, 30_000);
    assert.equal(done.result.output, '0\n1\n2\n');
  });
});
