// A session's checkpoint is hostile input: its workspace is the tenant's, and the store holds whatever a
// host put there. Sparse files cannot make a checkpoint stream terabytes; a crafted checkpoint cannot write
// outside /workspace, plant special files or links out, or fill the worker's memory with a gzip bomb;
// the worker survives each and serves the next session.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createGzip, gzipSync } from 'node:zlib';
import { platform } from './support/hooks.js';
import { call, newToken } from './support/http.js';
import { eventually, sessionContainerId } from './support/docker.js';
import { onOwnHosts } from './support/own-hosts.js';
import { keyedHash } from '../../control/security.js';
import { HASH_KEY } from '../../harness/platform.js';
import { header, pad, tarOf, type Member } from '../support/tar.js';

type Out = { session_id: string; stdout: string; stderr: string; exit_code: number; code?: string; error?: string; message?: string; restored?: boolean; restored_note?: string };
type Summary = { status: string; checkpoint?: { at: string; bytes: number; raw_bytes: number } };

const HOST = 'cp-a';

/** A gzipped tar of one file of `bytes` zeros, made as a stream (never whole in memory), and its tar's digest. */
async function gzipBomb(bytes: number): Promise<{ data: Buffer; digest: string; rawBytes: number }> {
  const gz = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gz.on('data', (c: Buffer) => out.push(c));
  const hash = createHash('sha256');
  const write = async (b: Buffer) => {
    hash.update(b);
    if (!gz.write(b)) await once(gz, 'drain');
  };
  await write(header({ name: './zeros' }, bytes));
  const chunk = Buffer.alloc(1 << 20);
  for (let left = bytes; left > 0; left -= chunk.length) await write(left >= chunk.length ? chunk : chunk.subarray(0, left));
  await write(pad(bytes));
  await write(Buffer.alloc(1024));
  gz.end();
  await once(gz, 'end');
  return { data: Buffer.concat(out), digest: hash.digest('hex'), rawBytes: bytes + 512 + pad(bytes).length + 1024 };
}

/** The worker's peak resident memory so far, from the kernel's view of its process. */
function workerPeakRssKb(): number {
  const pid = platform.workers.get(HOST)!.child.pid!;
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

const workerAlive = () => {
  const c = platform.workers.get(HOST)?.child;
  return c !== undefined && c.exitCode === null && c.signalCode === null;
};

/** Every way a member can try to leave /workspace or plant what a workspace must not hold. */
const HOSTILE: Member[] = [
  { name: './', type: '5', mode: 0o755 },
  { name: './keep.txt', data: 'kept\n' },
  { name: './hl-good', type: '1', linkname: './keep.txt' },
  { name: './rel-link', type: '2', linkname: 'keep.txt' },
  // Out through a symlink to another writable place, and through one to a system file.
  { name: './out', type: '2', linkname: '/tmp' },
  { name: './out/through-symlink', data: 'planted\n' },
  { name: './passwd', type: '2', linkname: '/etc/passwd' },
  { name: './passwd', data: 'replaced, not written through\n' },
  // Out by name.
  { name: '../tmp/dotdot', data: 'planted\n' },
  { name: './sub/../../tmp/dotdot2', data: 'planted\n' },
  { name: '/tmp/absolute', data: 'planted\n' },
  // Hard links out of the archive's own members.
  { name: './hl-out', type: '1', linkname: '/etc/passwd' },
  { name: './hl-up', type: '1', linkname: '../tmp/x' },
  { name: './hl-unknown', type: '1', linkname: 'not-in-archive' },
  // Special files and privileged bits.
  { name: './fifo', type: '6', mode: 0o644 },
  { name: './null', type: '3', mode: 0o666, dev: [1, 3] },
  { name: './suid', data: '#!/bin/sh\n', mode: 0o6755 },
];
const REFUSED_NAMES = ['./out/through-symlink', '../tmp/dotdot', './sub/../../tmp/dotdot2', '/tmp/absolute', './hl-out', './hl-up', './hl-unknown', './fifo', './null'];

describe('attacks: checkpoints', function () {
  this.timeout(300_000);
  let token: string;
  let accountId: string;
  onOwnHosts([HOST]);
  before(async () => {
    token = await newToken();
    accountId = (await platform.api.deps.accounts.byTokenHash(keyedHash(HASH_KEY, token)))!.id;
    await platform.startWorker(HOST, { DURABOX_RUNTIMES: 'terminal' });
  });

  const term = (body: Record<string, unknown>) => call<Out>('POST', '/api/v1/commands/terminal', { token, body: { lease_ttl_sec: 300, ...body } });
  const summary = async (sid: string) => (await call<Summary>('GET', `/api/v1/sessions/${sid}`, { token })).body;
  const checkpointAfter = (sid: string, after: string, timeoutMs = 30_000) => eventually('a checkpoint of the workspace', async () => {
    const c = (await summary(sid)).checkpoint;
    return c && c.at > after && c;
  }, timeoutMs);
  const removeContainer = async (sid: string) => platform.docker.getContainer((await sessionContainerId(token, sid))!).remove({ force: true });

  /** A session with a checkpoint, whose stored checkpoint is then replaced by `data`, and whose container is removed: its next command restores `data`. */
  async function sessionRestoring(data: { data: Buffer; digest: string; rawBytes: number }): Promise<string> {
    const started = new Date().toISOString();
    const a = await term({ command: 'echo first > first.txt' });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const sid = a.body.session_id;
    await checkpointAfter(sid, started);
    assert.ok((await platform.api.deps.snapshots.chain(accountId, sid)).length > 0, 'the session\'s checkpoint is in the store');
    // As a compromised host (or the session's own workspace) could leave it in the store: under the grant of
    // the session's current container, as a full part that replaces the chain.
    const head = await platform.api.deps.db('session_snapshot_heads').where({ account_id: accountId, session_id: sid }).first();
    await platform.api.deps.snapshots.append(accountId, sid, Number(head?.generation ?? 0), 'full', data);
    await removeContainer(sid);
    return sid;
  }

  const stored = (tar: Buffer) => ({ data: gzipSync(tar), digest: createHash('sha256').update(tar).digest('hex'), rawBytes: tar.length });

  it('sparse files of terabytes: the checkpoint stays small and the session restores with them, still sparse', async () => {
    const started = new Date().toISOString();
    const a = await term({ command: 'truncate -s 2T big && truncate -s 1T big2 && mkdir sub && truncate -s 3T sub/big3 && printf abc | dd of=holey bs=1 seek=5000000 conv=notrunc 2>/dev/null && echo data > f.txt && echo ok' });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.body.stdout, 'ok\n');
    const sid = a.body.session_id;
    const cp = await checkpointAfter(sid, started, 40_000);
    assert.ok(cp.raw_bytes < 1024 * 1024, `the checkpoint holds the sparse files' data, not their holes: ${JSON.stringify(cp)}`);
    assert.ok(workerAlive(), 'the worker lives');

    await removeContainer(sid);
    const b = await term({ command: 'stat -c "%n %s" big big2 sub/big3 holey; du -k big sub/big3 | cut -f1 | tr "\\n" " "; echo; tail -c 3 holey; echo; cat f.txt', session_id: sid });
    assert.equal(b.status, 200, JSON.stringify(b.body));
    assert.equal(b.body.restored, true);
    assert.equal(b.body.stdout, `big ${2 ** 41}\nbig2 ${2 ** 40}\nsub/big3 ${3 * 2 ** 40}\nholey 5000003\n0 0 \nabc\ndata\n`);
    // The next session on this worker is served as any.
    const c = await term({ command: 'echo next' });
    assert.equal(c.body.stdout, 'next\n', JSON.stringify(c.body));
    await call('DELETE', `/api/v1/sessions/${sid}`, { token });
    await call('DELETE', `/api/v1/sessions/${c.body.session_id}`, { token });
  });

  it('a workspace over the checkpoint cap: the host reads no more than the cap, nothing is left running, the older checkpoint stays', async () => {
    const started = new Date().toISOString();
    const a = await term({ command: 'echo small > f.txt' });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const sid = a.body.session_id;
    const first = await checkpointAfter(sid, started);
    const cap = platform.api.deps.api.session.checkpointMaxBytes;
    const big = await term({ command: `head -c ${cap + 4 * 1024 * 1024} /dev/urandom > big && echo ok`, session_id: sid });
    assert.equal(big.body.stdout, 'ok\n', JSON.stringify(big.body));
    const container = platform.docker.getContainer((await sessionContainerId(token, sid))!);
    // Two checkpoint periods: each try reads at most the cap, and its tar ends with it.
    await new Promise((r) => setTimeout(r, 25_000));
    const top = await container.top({ ps_args: '-o pid,args' });
    const procs = (top.Processes as string[][]).map((p) => p[1]);
    assert.ok(!procs.some((p) => /^(tar|head) /.test(p)), `no checkpoint left running: ${procs.join(' | ')}`);
    assert.equal((await summary(sid)).checkpoint?.at, first.at, 'the older checkpoint stays');
    assert.ok(workerAlive(), 'the worker lives');
    await call('DELETE', `/api/v1/sessions/${sid}`, { token });
  });

  // Small checkpoints are unpacked by the session's agent, larger ones by `docker exec`: the same rules for both.
  for (const [path, filler] of [['the session agent', 0], ['docker exec', 9 * 1024 * 1024]] as const) {
    it(`a crafted checkpoint restored by ${path}: links out, '..', absolute names and special files are refused and named; nothing lands outside /workspace`, async () => {
      const members = filler ? [...HOSTILE, { name: './filler', data: createHash('sha512').update('x').digest().toString('hex').repeat(filler / 128) }] : HOSTILE;
      const sid = await sessionRestoring(stored(tarOf(members)));
      const b = await term({
        command: 'ls -A /tmp | tr "\\n" " "; echo "|"; cat keep.txt passwd; head -c 5 /etc/passwd; echo; stat -c "%n %F %a %h" keep.txt hl-good suid passwd; readlink rel-link out; ls -A | sort | tr "\\n" " "',
        session_id: sid,
      });
      assert.equal(b.status, 200, JSON.stringify(b.body));
      assert.equal(b.body.restored, true);
      const lines = b.body.stdout.split('\n');
      assert.equal(lines[0], '|', `nothing was written to /tmp: ${lines[0]}`);
      assert.equal(lines[1], 'kept');
      assert.equal(lines[2], 'replaced, not written through');
      assert.equal(lines[3], 'root:', '/etc/passwd is untouched');
      assert.deepEqual(lines.slice(4, 8), ['keep.txt regular file 644 2', 'hl-good regular file 644 2', 'suid regular file 755 1', 'passwd regular file 644 1']);
      assert.deepEqual(lines.slice(8, 10), ['keep.txt', '/tmp'], 'symlinks come back as they were, never followed by the restore');
      const listed = lines[10].trim().split(' ');
      for (const gone of ['fifo', 'null', 'hl-out', 'hl-up', 'hl-unknown']) assert.ok(!listed.includes(gone), `${gone} was not made: ${lines[10]}`);
      const note = b.body.restored_note!;
      for (const name of REFUSED_NAMES) assert.ok(note.includes(name), `the note names ${name}: ${note}`);
      assert.match(note, /9 entries of the checkpoint were refused/);
      assert.ok(workerAlive(), 'the worker lives');
      await call('DELETE', `/api/v1/sessions/${sid}`, { token });
    });
  }

  it('a gzip bomb (1 GiB of zeros in ~1 MiB) is refused with a clear error, in bounded memory; the worker serves the next session', async () => {
    const bomb = await gzipBomb(1024 ** 3);
    assert.ok(bomb.data.length < 2 * 1024 * 1024, `a small checkpoint: ${bomb.data.length}`);
    const peakBefore = workerPeakRssKb();
    const sid = await sessionRestoring(bomb);
    const b = await term({ command: 'echo restored', session_id: sid });
    assert.ok(workerAlive(), 'the worker lives');
    const grew = workerPeakRssKb() - peakBefore;
    assert.ok(grew < 200 * 1024, `the worker's peak memory grew by ${grew} kB`);
    assert.equal(b.status, 502, JSON.stringify(b.body));
    assert.match(b.body.message ?? '', /could not be restored from its checkpoint: the checkpoint inflates to more than \d+ bytes/);
    const c = await term({ command: 'echo next' });
    assert.equal(c.body.stdout, 'next\n', JSON.stringify(c.body));
    await call('DELETE', `/api/v1/sessions/${sid}`, { token });
    await call('DELETE', `/api/v1/sessions/${c.body.session_id}`, { token });
  });
});
