// Checkpoints in an S3-compatible store (DURABOX_SNAPSHOT_URL), against a real one: SeaweedFS's `weed
// server -s3`, started here on loopback ports with its data in a temp dir. A platform of its own (the
// shared one keeps the default PostgreSQL store) whose hosts report to a second API process, so that the
// memory of the API that carries every checkpoint is measured apart from this test's own.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gzipSync } from 'node:zlib';
import { Fenced } from '../../db/snapshots.js';
import { CheckpointTooLarge, DigestMismatch } from '../../sandbox/checkpoint-stream.js';
import { freePort, PlatformHarness, type ApiProcess } from '../../harness/platform.js';
import { SeaweedS3 } from '../../harness/seaweedfs.js';
import { eventually } from './support/docker.js';
import { call } from './support/http.js';

type Out = { session_id: string; stdout: string; stderr: string; exit_code: number; restored?: boolean; restored_note?: string; message?: string };

const MB = 1024 * 1024;
/** Room for a workspace of 1 GiB: its tmpfs, the container memory that tmpfs is charged to, and the checkpoint cap. */
const LARGE_WORKSPACE = { DURABOX_TERMINAL_TMPFS_MB: '1200', DURABOX_TERMINAL_MEMORY_MB: '2600', DURABOX_SESSION_CHECKPOINT_MAX_BYTES: String(1200 * MB) };

/** A process's peak resident memory so far (VmHWM), in MiB. */
function peakRssMb(pid: number): number {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

describe('checkpoints in an S3-compatible store (SeaweedFS)', function () {
  this.timeout(600_000);
  const s3 = new SeaweedS3();
  const p = new PlatformHarness();
  const prefix = `run-${process.pid}`;
  let api: ApiProcess;
  let token: string;
  let accountId: string;

  before(async function () {
    this.timeout(240_000);
    await s3.start();
    await p.start({ settings: { ...s3.settings(prefix), DURABOX_SESSION_CHECKPOINT_MAX_BYTES: LARGE_WORKSPACE.DURABOX_SESSION_CHECKPOINT_MAX_BYTES } });
    api = await p.startApiProcess(`127.0.0.1:${await freePort()}`);
    await startHost('s3-a');
    const other = await p.otherAccount('s3');
    token = other.token;
    accountId = other.account.id;
  });

  after(async function () {
    this.timeout(120_000);
    await p.stop();
    await api?.stop();
    await s3.stop();
  });

  /** A terminal host whose checkpoints go through the API process. */
  const startHost = (name: string) => p.startWorker(name, { DURABOX_API_URL: api.url, DURABOX_RUNTIMES: 'terminal', ...LARGE_WORKSPACE });
  const term = (body: Record<string, unknown>, timeout_ms = 120_000) =>
    call<Out>('POST', '/api/v1/commands/terminal', { token, base: p.url, body: { lease_ttl_sec: 600, timeout_ms, ...body } });
  const sessionPrefix = (sid: string) => `${prefix}/${accountId}/${sid}/`;
  const holderOf = async (sid: string) => {
    const host = (await call<{ host: string }>('GET', `/api/v1/sessions/${sid}`, { token, base: p.url })).body.host;
    return [...p.workers.keys()].find((n) => p.workerId(n) === host)!;
  };
  /** Loses the session's host for good, with another host ready to take the session. */
  const loseHolder = async (sid: string) => {
    const holder = await holderOf(sid);
    const other = holder === 's3-a' ? 's3-b' : 's3-a';
    if (!p.workers.get(other)) await startHost(other);
    await p.loseHost(holder);
    return other;
  };

  it('stores each acknowledged step as an object under its account and session; a host lost for good restores from them', async () => {
    const a = await term({ command: 'mkdir -p d && head -c 3000000 /dev/urandom > d/blob && echo hello > d/hi.txt && sha256sum d/blob | cut -c1-64' });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const sid = a.body.session_id;
    const digest = a.body.stdout.trim();
    const b = await term({ session_id: sid, command: 'echo second >> d/hi.txt' });
    assert.equal(b.status, 200, JSON.stringify(b.body));

    const chain = await p.api.deps.snapshots.chain(accountId, sid);
    assert.ok(chain.length >= 1, 'the steps are in the chain');
    const objects = await s3.list(sessionPrefix(sid));
    for (const part of chain) {
      const o = objects.find((x) => x.key === `${sessionPrefix(sid)}${part.seq}`);
      assert.ok(o, `part ${part.seq} is an object in the bucket: ${JSON.stringify(objects)}`);
      assert.equal(o.size, part.bytes, 'of the size the chain records');
    }
    assert.ok(chain.reduce((n, c) => n + c.raw_bytes, 0) > 3_000_000, 'the blob is in the chain');
    const inRows = await p.api.deps.db('session_snapshot_deltas').where({ session_id: sid }).whereNotNull('data').count('* as n').first();
    assert.equal(Number(inRows?.n), 0, 'no part\'s bytes are in the database');

    const moved = await loseHolder(sid);
    const c = await term({ session_id: sid, command: 'sha256sum d/blob | cut -c1-64; cat d/hi.txt' });
    assert.equal(c.status, 200, JSON.stringify(c.body));
    assert.equal(c.body.restored, true);
    assert.equal(c.body.stdout, `${digest}\nhello\nsecond\n`);
    assert.equal(await holderOf(sid), moved);
  });

  it('a session\'s end deletes its objects, and only its own', async () => {
    const keep = await term({ command: 'echo keep > k.txt' });
    const gone = await term({ command: 'echo gone > g.txt' });
    assert.equal(gone.status, 200, JSON.stringify(gone.body));
    const sid = gone.body.session_id;
    assert.ok((await s3.list(sessionPrefix(sid))).length > 0, 'the session has objects');
    assert.equal((await call('DELETE', `/api/v1/sessions/${sid}`, { token, base: p.url })).status, 204);
    await eventually('the session\'s objects to be deleted', async () => (await s3.list(sessionPrefix(sid))).length === 0, 30_000);
    assert.deepEqual(await p.api.deps.snapshots.chain(accountId, sid), [], 'and its chain');
    assert.ok((await s3.list(sessionPrefix(keep.body.session_id))).length > 0, 'another session keeps its objects');
  });

  it('a fork and a named snapshot copy their parts within the bucket: each restores, and each copy goes with its owner', async () => {
    const a = await term({ command: 'mkdir -p src && echo v1 > src/app.txt && head -c 200000 /dev/urandom > blob && sha256sum blob | cut -c1-64' });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const sid = a.body.session_id;
    const digest = a.body.stdout.trim();
    const sourceObjects = (await s3.list(sessionPrefix(sid))).length;
    assert.ok(sourceObjects > 0);

    const forked = await call<{ session_id: string }>('POST', `/api/v1/sessions/${sid}/fork`, { token, base: p.url, body: {} });
    assert.equal(forked.status, 201, JSON.stringify(forked.body));
    const fid = forked.body.session_id;
    const forkChain = await p.api.deps.snapshots.chain(accountId, fid);
    assert.deepEqual((await s3.list(sessionPrefix(fid))).map((o) => o.key).sort(), forkChain.map((c) => `${sessionPrefix(fid)}${c.seq}`).sort(), 'the fork\'s parts are objects of its own');
    const f = await term({ session_id: fid, command: 'cat src/app.txt; sha256sum blob | cut -c1-64' });
    assert.equal(f.body.stdout, `v1\n${digest}\n`);

    const snap = await call('POST', `/api/v1/sessions/${sid}/snapshots`, { token, base: p.url, body: { name: 'release-1' } });
    assert.equal(snap.status, 201, JSON.stringify(snap.body));
    const named = `${prefix}/${accountId}/snapshots/release-1/`;
    assert.ok((await s3.list(named)).length > 0, 'the snapshot\'s parts are objects under its name');
    assert.equal((await call('DELETE', `/api/v1/sessions/${sid}`, { token, base: p.url })).status, 204);
    await eventually('the source\'s objects to be deleted', async () => (await s3.list(sessionPrefix(sid))).length === 0, 30_000);

    const b = await term({ from_snapshot: 'release-1', command: 'cat src/app.txt; sha256sum blob | cut -c1-64' });
    assert.equal(b.status, 200, JSON.stringify(b.body));
    assert.equal(b.body.stdout, `v1\n${digest}\n`, 'a session from the snapshot restores from its objects, its source gone');
    assert.equal((await call('DELETE', '/api/v1/snapshots/release-1', { token, base: p.url })).status, 204);
    assert.deepEqual(await s3.list(named), [], 'a deleted snapshot\'s objects go with it');
    assert.ok((await s3.list(sessionPrefix(b.body.session_id))).length > 0, 'the session made from it keeps its own');
  });

  it('a part cut off, too large when inflated, or not matching its digest is never listed and leaves no object; a full part deletes the objects it replaced; a part copies within the bucket', async () => {
    const sid = `ses_cut_${process.pid}`;
    const store = p.api.deps.snapshots;
    const ok = gzipSync(Buffer.alloc(10240, 'a'));
    const first = await store.appendStream(accountId, sid, 1, 'full', Readable.from([ok]), { maxBytes: 1 << 20, rawMaxBytes: 1 << 20 });
    assert.equal(first.raw_bytes, 10240, 'the store measures the tar itself');
    const cutOff = new Readable({ read() {} });
    cutOff.push(randomBytes(10 * MB));
    setTimeout(() => cutOff.destroy(new Error('the host went away')), 200);
    await assert.rejects(store.appendStream(accountId, sid, 1, 'delta', cutOff, { maxBytes: 64 * MB, rawMaxBytes: 64 * MB }));
    await assert.rejects(store.appendStream(accountId, sid, 1, 'delta', Readable.from([gzipSync(Buffer.alloc(32 * MB))]), { maxBytes: 64 * MB, rawMaxBytes: MB }), CheckpointTooLarge);
    await assert.rejects(store.appendStream(accountId, sid, 1, 'delta', Readable.from([ok]), { maxBytes: MB, rawMaxBytes: MB, digest: '0'.repeat(64) }), DigestMismatch);
    assert.deepEqual((await store.chain(accountId, sid)).map((c) => c.seq), [first.seq], 'only the whole part is listed');
    assert.deepEqual((await s3.list(sessionPrefix(sid))).map((o) => o.key), [`${sessionPrefix(sid)}${first.seq}`], 'and only its object is kept');
    await assert.rejects(store.appendStream(accountId, sid, 0, 'delta', Readable.from([ok]), { maxBytes: MB, rawMaxBytes: MB }), Fenced);
    // A copy (what a chain kept beyond its session takes of each part) is made in the bucket itself.
    const copyKey = { accountId, sessionId: `${sid}_copy`, seq: first.seq };
    await store.blobs.copy({ accountId, sessionId: sid, seq: first.seq }, copyKey);
    const copied = await store.blobs.get(copyKey);
    assert.deepEqual(copied && (await buffer(copied)), ok, 'the copy holds the same bytes');
    await store.blobs.deletePrefix(accountId, copyKey.sessionId);
    assert.equal(await store.blobs.get(copyKey), undefined);
    // A full part replaces the chain: the objects of the parts it replaced go.
    const delta = await store.appendStream(accountId, sid, 1, 'delta', Readable.from([ok]), { maxBytes: MB, rawMaxBytes: MB });
    assert.equal((await s3.list(sessionPrefix(sid))).length, 2);
    const base = await store.appendStream(accountId, sid, 1, 'full', Readable.from([ok]), { maxBytes: MB, rawMaxBytes: MB });
    assert.ok(base.seq > delta.seq);
    assert.deepEqual((await store.chain(accountId, sid)).map((c) => c.seq), [base.seq]);
    assert.deepEqual((await s3.list(sessionPrefix(sid))).map((o) => o.key), [`${sessionPrefix(sid)}${base.seq}`]);
    assert.equal(await store.drop(accountId, sid), true);
    assert.deepEqual(await s3.list(sessionPrefix(sid)), []);
  });

  it('a workspace of 1 GiB is checkpointed and restored elsewhere in parts: neither the API nor a host holds it in memory', async () => {
    const hosts = () => [...p.workers.values()];
    const before = { api: peakRssMb(api.child.pid!), hosts: Object.fromEntries(hosts().map((w) => [w.id, peakRssMb(w.child.pid!)])) };
    const started = Date.now();
    const a = await term({ command: 'head -c 1073741824 /dev/urandom > big && sha256sum big | cut -c1-64' }, 300_000);
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const stored = Date.now() - started;
    const sid = a.body.session_id;
    const digest = a.body.stdout.trim();
    const chain = await p.api.deps.snapshots.chain(accountId, sid);
    assert.equal(chain[0]?.kind, 'full', `the step stored the workspace whole: ${JSON.stringify(chain)}`);
    assert.ok(chain[0].raw_bytes > 1024 * MB, `of more than 1 GiB: ${chain[0].raw_bytes}`);
    const objects = await s3.list(sessionPrefix(sid));
    assert.ok(objects.some((o) => o.size > 1024 * MB), `as one object in the bucket: ${JSON.stringify(objects)}`);

    const holder = await holderOf(sid);
    const holderPeak = peakRssMb(p.workers.get(holder)!.child.pid!);
    const moved = await loseHolder(sid);
    const restoredAt = Date.now();
    const b = await term({ session_id: sid, command: 'sha256sum big | cut -c1-64' }, 300_000);
    assert.equal(b.status, 200, JSON.stringify(b.body));
    const restored = Date.now() - restoredAt;
    assert.equal(b.body.restored, true);
    assert.equal(b.body.stdout, `${digest}\n`, 'the same gigabyte, byte for byte');

    const after = { api: peakRssMb(api.child.pid!), restoring: peakRssMb(p.workers.get(moved)!.child.pid!) };
    const report = { stored_ms: stored, restored_ms: restored, peak_rss_mb: { api_before: before.api, api_after: after.api, storing_host: holderPeak, restoring_host: after.restoring }, hosts_before: before.hosts };
    console.log(`      1 GiB workspace: ${JSON.stringify(report)}`);
    // Far below the gigabyte that crossed them: a few upload parts and stream buffers, beside the process itself.
    for (const [who, mb] of [['the API', after.api], ['the storing host', holderPeak], ['the restoring host', after.restoring]] as const) {
      assert.ok(mb < 400, `${who}'s peak RSS was ${mb.toFixed(0)} MiB`);
    }
    assert.equal((await call('DELETE', `/api/v1/sessions/${sid}`, { token, base: p.url })).status, 204);
    await eventually('the gigabyte to be deleted', async () => (await s3.list(sessionPrefix(sid))).length === 0, 60_000);
  });
});
