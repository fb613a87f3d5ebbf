// Forks and named snapshots (spec §6): a fork starts a new session from its source's latest stored state
// and the two go on apart; a named snapshot outlives its session, a new session starts from it, within the
// account's quota, seen by its own account only. Over REST and through the MCP SDK's own client. Real
// Docker, Temporal, PostgreSQL and runtime workers.
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { platform } from './support/hooks.js';
import { call, login, newToken } from './support/http.js';
import { eventually } from './support/docker.js';
import { onOwnHosts } from './support/own-hosts.js';
import { keyedHash } from '../../control/security.js';
import { HASH_KEY } from '../../harness/platform.js';

type Out = { session_id: string; created: boolean; stdout: string; stderr: string; exit_code: number; code?: string; error?: string; message?: string; limit?: string };
type Forked = { session_id: string; created: boolean; forked_from: string; host: string | null; status: string; checkpoint?: { bytes: number } };
type Snap = { name: string; session_id: string; template: string | null; parts: number; bytes: number; raw_bytes: number; created_at: string };
type Summary = { status: string; host: string | null; commands: number };

describe('fork and named snapshots', function () {
  this.timeout(180_000);
  let token: string;
  let accountId: string;
  before(async () => {
    token = await newToken();
    accountId = (await platform.api.deps.accounts.byTokenHash(keyedHash(HASH_KEY, token)))!.id;
  });

  const term = (body: Record<string, unknown>, as = token) => call<Out>('POST', '/api/v1/commands/terminal', { token: as, body: { lease_ttl_sec: 300, ...body } });
  const fork = (sid: string, body: Record<string, unknown> = {}, as = token) => call<Forked>('POST', `/api/v1/sessions/${sid}/fork`, { token: as, body });
  const snapshot = (sid: string, name: unknown, as = token) => call<Snap & Out>('POST', `/api/v1/sessions/${sid}/snapshots`, { token: as, body: { name } });
  const summary = async (sid: string) => (await call<Summary>('GET', `/api/v1/sessions/${sid}`, { token })).body;
  const end = (sid: string, as = token) => call('DELETE', `/api/v1/sessions/${sid}`, { token: as });
  const ok = <T extends { status: number; body: unknown }>(r: T, status = 200): T => {
    assert.equal(r.status, status, JSON.stringify(r.body));
    return r;
  };

  describe('fork', () => {
    it('a fork has the source\'s files, runs on its own, and a write in one is not in the other', async () => {
      const a = ok(await term({ command: 'echo base > f.txt && mkdir -p d/e && echo deep > d/e/g.txt && echo gone > gone.txt' }));
      const sid = a.body.session_id;
      ok(await call('PUT', `/api/v1/sessions/${sid}/files?path=uploaded.txt`, { token, raw: 'uploaded-bytes', headers: { 'content-type': 'application/octet-stream' } }), 201);
      ok(await call('DELETE', `/api/v1/sessions/${sid}/files?path=gone.txt`, { token }), 204);
      const commandsBefore = (await summary(sid)).commands;

      const f = ok(await fork(sid), 201);
      const fid = f.body.session_id;
      assert.notEqual(fid, sid);
      assert.equal(f.body.created, true);
      assert.equal(f.body.forked_from, sid);
      assert.equal(f.body.status, 'active');
      assert.ok(f.body.host, 'the fork answers the host it started on');
      assert.ok(f.body.checkpoint, 'the fork starts with the copied chain as its checkpoint');

      const seen = ok(await term({ session_id: fid, command: 'cat f.txt d/e/g.txt uploaded.txt; echo; ls gone.txt 2>&1 | grep -c "No such"' }));
      assert.equal(seen.body.stdout, 'base\ndeep\nuploaded-bytes\n1\n');
      assert.equal(seen.body.created, false);

      ok(await term({ session_id: fid, command: 'echo fork-only > only.txt && echo changed-in-fork > f.txt' }));
      ok(await term({ session_id: sid, command: 'echo source-only > src.txt' }));
      const inSource = ok(await term({ session_id: sid, command: 'cat f.txt; ls only.txt 2>&1 | grep -c "No such"' }));
      assert.equal(inSource.body.stdout, 'base\n1\n', 'the fork\'s writes are not in the source');
      const inFork = ok(await term({ session_id: fid, command: 'cat f.txt; ls src.txt 2>&1 | grep -c "No such"' }));
      assert.equal(inFork.body.stdout, 'changed-in-fork\n1\n', 'the source\'s writes are not in the fork');
      // The source went on as if nothing happened: its own commands, its own chain.
      assert.equal((await summary(sid)).commands, commandsBefore + 2);
      assert.equal((await summary(sid)).status, 'active');

      // Ending one leaves the other: the fork's chain is its own.
      ok(await end(sid), 204);
      const after = ok(await term({ session_id: fid, command: 'cat d/e/g.txt' }));
      assert.equal(after.body.stdout, 'deep\n');
      ok(await end(fid), 204);
      await eventually('both chains to be dropped', async () =>
        (await platform.api.deps.snapshots.chain(accountId, sid)).length === 0 && (await platform.api.deps.snapshots.chain(accountId, fid)).length === 0, 20_000);
    });

    it('the fork\'s chain is the source\'s, part for part, claimed by the fork\'s first container; a copy never goes over a session that has a chain', async () => {
      const store = platform.api.deps.snapshots;
      const a = ok(await term({ command: 'echo one > a.txt' }));
      const sid = a.body.session_id;
      ok(await term({ session_id: sid, command: 'echo two > b.txt' }));
      const source = (await store.chain(accountId, sid)).map((p) => [p.seq, p.kind, p.digest, p.bytes]);
      assert.ok(source.length >= 2, JSON.stringify(source));
      const f = ok(await fork(sid), 201);
      const copy = (await store.chain(accountId, f.body.session_id)).map((p) => [p.seq, p.kind, p.digest, p.bytes]);
      assert.deepEqual(copy, source);
      const head = await platform.api.deps.db('session_snapshot_heads').where({ account_id: accountId, session_id: f.body.session_id }).first();
      assert.equal(Number(head.generation), 1, 'the fork\'s first container claimed the copied chain');
      // The source's container (generation 1 of its own chain) still writes; the fork's own chain is claimed by its container.
      ok(await term({ session_id: f.body.session_id, command: 'echo three > c.txt' }));
      assert.equal((await store.chain(accountId, f.body.session_id)).length, source.length + 1);
      assert.equal((await store.chain(accountId, sid)).length, source.length, 'the fork wrote nothing to the source\'s chain');
      await assert.rejects(store.copyChain(accountId, sid, f.body.session_id), /already has a checkpoint/);
      assert.equal((await store.chain(accountId, f.body.session_id)).length, source.length + 1, 'the refused copy changed nothing');
      await end(sid);
      await end(f.body.session_id);
    });

    it('what the fork\'s restore refuses of the copy (a FIFO) is named in its answer, as a move names it', async () => {
      const a = ok(await term({ command: 'mkfifo pipe && echo kept > k.txt' }));
      const f = ok(await fork(a.body.session_id), 201);
      assert.match((f.body as Forked & { restored_note?: string }).restored_note ?? '', /1 entries of the checkpoint were refused and not restored: .*pipe/);
      assert.equal(ok(await term({ session_id: f.body.session_id, command: 'cat k.txt; ls pipe 2>&1 | grep -c "No such"' })).body.stdout, 'kept\n1\n');
      await end(a.body.session_id);
      await end(f.body.session_id);
    });

    it('python variables saved in the source\'s checkpoint come along: the fork\'s default context starts with them, and each goes on apart', async () => {
      type Cell = { results: Array<{ is_main_result?: boolean; text?: string }>; context_restarted?: boolean; context_restored?: { variables: string[] } };
      const cell = (sid: string, code: string) => call<Cell>('POST', '/api/v1/commands/code', { token, body: { session_id: sid, code } });
      const main = (c: Cell) => c.results.find((r) => r.is_main_result)?.text;
      const a = ok(await term({ command: 'true' }));
      const sid = a.body.session_id;
      ok(await cell(sid, 'x = 41'));
      const f = ok(await fork(sid), 201);
      const y = ok(await cell(f.body.session_id, 'x + 1'));
      assert.equal(main(y.body), '42');
      assert.equal(y.body.context_restarted, false);
      assert.deepEqual(y.body.context_restored?.variables, ['x']);
      ok(await cell(f.body.session_id, 'x = 100'));
      assert.equal(main(ok(await cell(sid, 'x')).body), '41', 'the fork\'s cell did not change the source');
      await end(sid);
      await end(f.body.session_id);
    });

    it('a paused session forks from its chain, and stays paused', async () => {
      const policy = platform.api.deps.api.session;
      const before = policy.pauseAfterSec;
      policy.pauseAfterSec = 2;
      try {
        const a = ok(await term({ command: 'echo paused-state > p.txt' }));
        const sid = a.body.session_id;
        await eventually('the session to pause', async () => (await summary(sid)).status === 'paused', 30_000);
        policy.pauseAfterSec = before;
        const f = ok(await fork(sid), 201);
        const r = ok(await term({ session_id: f.body.session_id, command: 'cat p.txt' }));
        assert.equal(r.body.stdout, 'paused-state\n');
        assert.equal((await summary(sid)).status, 'paused', 'forking did not resume the source');
        const back = ok(await term({ session_id: sid, command: 'cat p.txt' }));
        assert.equal(back.body.stdout, 'paused-state\n');
        await end(sid);
        await end(f.body.session_id);
      } finally {
        policy.pauseAfterSec = before;
      }
    });

    it('with interval checkpoints, a session with none yet is refused (409), not forked empty', async () => {
      const policy = platform.api.deps.api.session;
      const before = { durability: policy.durability, checkpointSec: policy.checkpointSec };
      Object.assign(policy, { durability: 'interval', checkpointSec: 120 });
      try {
        const a = ok(await term({ command: 'echo not-yet-stored > f.txt' }));
        const r = await fork(a.body.session_id);
        assert.equal(r.status, 409, JSON.stringify(r.body));
        assert.match((r.body as unknown as Out).message!, /no checkpoint yet/);
        await end(a.body.session_id);
      } finally {
        Object.assign(policy, before);
      }
    });

    it('terminalExec fork_from forks and runs the first command in the fork in one call; misplaced, it is 400 naming the field', async () => {
      const a = ok(await term({ command: 'echo from-source > s.txt' }));
      const sid = a.body.session_id;
      const f = ok(await term({ fork_from: sid, command: 'cat s.txt; echo fork-only > f.txt' }));
      assert.notEqual(f.body.session_id, sid);
      assert.equal(f.body.created, true);
      assert.equal(f.body.stdout, 'from-source\n');
      assert.equal(ok(await term({ session_id: sid, command: 'ls f.txt 2>&1 | grep -c "No such"' })).body.stdout, '1\n', 'the fork\'s write is its own');
      assert.equal(ok(await term({ session_id: f.body.session_id, command: 'cat f.txt' })).body.stdout, 'fork-only\n');
      for (const [body, field] of [
        [{ session_id: sid, fork_from: sid }, 'fork_from'],
        [{ fork_from: sid, from_snapshot: 'x' }, 'fork_from'],
        [{ fork_from: sid, template: 'terminal' }, 'template'],
        // Joining a live session that is not a fork of it.
        [{ session_id: sid, create_if_missing: true, fork_from: f.body.session_id }, 'fork_from'],
      ] as const) {
        const r = await term({ command: 'true', ...body });
        assert.equal(r.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
        assert.match(r.body.message ?? r.body.error!, new RegExp(`^${field}: `));
      }
      const unknown = await term({ fork_from: 'sess_never_made', command: 'true' });
      assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
      assert.match(unknown.body.message!, /^fork_from: no session/);
      await end(sid);
      await end(f.body.session_id);
    });

    it('bad input: an unknown session is 404, unknown fields and out-of-bounds leases 400 naming the field', async () => {
      const unknown = await fork('sess_never_made');
      assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
      assert.equal((unknown.body as unknown as Out).code, 'session_not_found');
      const a = ok(await term({ command: 'true' }));
      const extra = await fork(a.body.session_id, { shell: true });
      assert.equal(extra.status, 400);
      assert.match((extra.body as unknown as Out).error!, /shell: unknown field/);
      const lease = await fork(a.body.session_id, { lease_ttl_sec: 999_999 });
      assert.equal(lease.status, 400);
      assert.match((lease.body as unknown as Out).error!, /lease_ttl_sec/);
      await end(a.body.session_id);
    });
  });

  describe('on hosts of their own', () => {
    onOwnHosts(['f-a', 'f-b']);

    it('a session whose host is lost for good still forks, on the host that is left, with every acknowledged write', async () => {
      await platform.startWorker('f-a', { DURABOX_RUNTIMES: 'terminal' });
      const a = ok(await term({ command: 'echo line-1 >> log.txt' }));
      const sid = a.body.session_id;
      for (const i of [2, 3, 4]) ok(await term({ session_id: sid, command: `echo line-${i} >> log.txt` }));
      await platform.startWorker('f-b', { DURABOX_RUNTIMES: 'terminal' });
      // Lost the instant after the last answer: the fork comes from the store, not from the host.
      await platform.loseHost('f-a');
      const f = ok(await fork(sid), 201);
      assert.equal(f.body.host, platform.workerId('f-b'));
      assert.equal(ok(await term({ session_id: f.body.session_id, command: 'cat log.txt' })).body.stdout, 'line-1\nline-2\nline-3\nline-4\n');
      await end(f.body.session_id);
      await end(sid);
    });
  });

  describe('named snapshots', () => {
    it('outlive their session; a new session from_snapshot has its files; each session from it starts from the same files', async () => {
      const a = ok(await term({ command: 'mkdir -p src && echo v1 > src/app.txt && head -c 100000 /dev/urandom > blob && sha256sum blob | cut -c1-64' }));
      const sid = a.body.session_id;
      const digest = a.body.stdout.trim();
      const s = ok(await snapshot(sid, 'release-1.0'), 201);
      assert.equal(s.body.name, 'release-1.0');
      assert.equal(s.body.session_id, sid);
      assert.equal(s.body.template, null);
      assert.ok(s.body.parts >= 1 && s.body.bytes > 0, JSON.stringify(s.body));
      // Later writes in the session are not in the snapshot.
      ok(await term({ session_id: sid, command: 'echo v2 > src/app.txt' }));

      const listed = ok(await call<{ items: Snap[]; total: number }>('GET', '/api/v1/snapshots', { token }));
      assert.ok(listed.body.items.some((x) => x.name === 'release-1.0'));
      assert.deepEqual(ok(await call<Snap>('GET', '/api/v1/snapshots/release-1.0', { token })).body, s.body);
      const again = await snapshot(sid, 'release-1.0');
      assert.equal(again.status, 409, 'a name is kept once per account');
      assert.match(again.body.error!, /name/);

      ok(await end(sid), 204);
      await eventually('the session\'s chain to be dropped', async () => (await platform.api.deps.snapshots.chain(accountId, sid)).length === 0, 20_000);

      const b = ok(await term({ from_snapshot: 'release-1.0', command: 'cat src/app.txt; sha256sum blob | cut -c1-64; echo b-only > b.txt' }));
      assert.equal(b.body.created, true);
      assert.equal(b.body.stdout, `v1\n${digest}\n`);
      // A retried request (same request_id) gets the same session and result, not a second copy.
      const keyed = ok(await term({ from_snapshot: 'release-1.0', command: 'cat src/app.txt', request_id: `snap-retry-${sid}` }));
      const retried = ok(await term({ from_snapshot: 'release-1.0', command: 'cat src/app.txt', request_id: `snap-retry-${sid}` }));
      assert.equal(retried.body.session_id, keyed.body.session_id);
      assert.equal(retried.body.stdout, 'v1\n');
      await end(keyed.body.session_id);
      const c = ok(await term({ from_snapshot: 'release-1.0', command: 'cat src/app.txt; ls b.txt 2>&1 | grep -c "No such"' }));
      assert.equal(c.body.stdout, 'v1\n1\n', 'a session from a snapshot writes to its own copy');
      // The snapshot session goes on like any other: a later command sees its own earlier write.
      assert.equal(ok(await term({ session_id: b.body.session_id, command: 'cat b.txt' })).body.stdout, 'b-only\n');

      ok(await call('DELETE', '/api/v1/snapshots/release-1.0', { token }), 204);
      assert.equal((await call('DELETE', '/api/v1/snapshots/release-1.0', { token })).status, 404);
      assert.equal((await call('GET', '/api/v1/snapshots/release-1.0', { token })).status, 404);
      // Sessions started from it keep their files.
      assert.equal(ok(await term({ session_id: c.body.session_id, command: 'cat src/app.txt' })).body.stdout, 'v1\n');
      const gone = await term({ from_snapshot: 'release-1.0', command: 'true' });
      assert.equal(gone.status, 404, JSON.stringify(gone.body));
      assert.equal(gone.body.code, 'snapshot_not_found');
      assert.match(gone.body.message!, /from_snapshot: .*release-1\.0/);
      await end(b.body.session_id);
      await end(c.body.session_id);
    });

    it('bad names and misplaced from_snapshot are 400 naming the field', async () => {
      const a = ok(await term({ command: 'echo x > x.txt' }));
      const sid = a.body.session_id;
      for (const name of ['has space', '../up', '', '   ', '-lead', 'x'.repeat(65), 42]) {
        const r = await snapshot(sid, name);
        assert.equal(r.status, 400, `${JSON.stringify(name)}: ${JSON.stringify(r.body)}`);
        assert.match(r.body.error!, /name/);
      }
      const extra = await call('POST', `/api/v1/sessions/${sid}/snapshots`, { token, body: { name: 'ok', keep: true } });
      assert.equal(extra.status, 400);
      assert.match(extra.body.error, /keep: unknown field/);
      const bad = await term({ from_snapshot: 'no/slash', command: 'true' });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error!, /from_snapshot/);
      // On a call that joins a session, from_snapshot is refused: it would not be what the session holds.
      ok(await snapshot(sid, 'join-test'), 201);
      const joins = await term({ session_id: sid, from_snapshot: 'join-test', command: 'true' });
      assert.equal(joins.status, 400, JSON.stringify(joins.body));
      assert.match(joins.body.message!, /^from_snapshot: /);
      const joinsLive = await term({ session_id: sid, create_if_missing: true, from_snapshot: 'join-test', command: 'true' });
      assert.equal(joinsLive.status, 400, JSON.stringify(joinsLive.body));
      assert.match(joinsLive.body.message!, /^from_snapshot: /);
      assert.equal(ok(await term({ session_id: sid, command: 'cat x.txt' })).body.stdout, 'x\n', 'the session is untouched');
      assert.equal((await snapshot('sess_never_made', 'fine-name')).status, 404);
      assert.equal((await call('GET', '/api/v1/snapshots/no%20such', { token })).status, 404);
      ok(await call('DELETE', '/api/v1/snapshots/join-test', { token }), 204);
      await end(sid);
    });

    it('the account\'s quota: max_snapshots and max_snapshot_mb refuse with 429 naming the limit', async () => {
      const other = await platform.otherAccount('snapquota');
      const cookie = await login();
      const setLimits = (body: Record<string, unknown>) => call('PUT', `/api/v1/console/accounts/${other.account.id}/limits`, { cookie, body });
      ok(await setLimits({ max_snapshots: 1 }));
      const a = ok(await term({ command: 'echo q > q.txt' }, other.token));
      const sid = a.body.session_id;
      ok(await snapshot(sid, 'first', other.token), 201);
      const second = await snapshot(sid, 'second', other.token);
      assert.equal(second.status, 429, JSON.stringify(second.body));
      assert.equal(second.body.code, 'quota_exceeded');
      assert.equal(second.body.limit, 'max_snapshots');
      // Deleting one frees its place; creations at once at the limit: exactly one gets it.
      ok(await call('DELETE', '/api/v1/snapshots/first', { token: other.token }), 204);
      const racing = await Promise.all(['r1', 'r2', 'r3', 'r4'].map((n) => snapshot(sid, n, other.token)));
      assert.deepEqual(racing.map((r) => r.status).sort(), [201, 429, 429, 429], JSON.stringify(racing.map((r) => r.body)));
      const won = racing.find((r) => r.status === 201)!.body.name;
      ok(await call('DELETE', `/api/v1/snapshots/${won}`, { token: other.token }), 204);
      const set = ok(await setLimits({ max_snapshots: 10, max_snapshot_mb: 0 }));
      assert.equal((set.body as { limits: Record<string, number> }).limits.max_snapshot_mb, 0);
      const big = await snapshot(sid, 'second', other.token);
      assert.equal(big.status, 429, JSON.stringify(big.body));
      assert.equal(big.body.limit, 'max_snapshot_mb');
      await end(sid, other.token);
    });

    it('another account cannot see, use, fork or snapshot what is not its own; the same name is its own there', async () => {
      const a = ok(await term({ command: 'echo secret > s.txt' }));
      const sid = a.body.session_id;
      ok(await snapshot(sid, 'mine'), 201);
      const other = await platform.otherAccount('snapiso');
      const t = other.token;
      assert.equal((await call('GET', '/api/v1/snapshots/mine', { token: t })).status, 404);
      assert.deepEqual(ok(await call('GET', '/api/v1/snapshots', { token: t })).body, { items: [], total: 0 });
      assert.equal((await call('DELETE', '/api/v1/snapshots/mine', { token: t })).status, 404);
      const use = await term({ from_snapshot: 'mine', command: 'cat s.txt' }, t);
      assert.equal(use.status, 404, JSON.stringify(use.body));
      assert.equal(use.body.code, 'snapshot_not_found');
      const f = await fork(sid, {}, t);
      assert.equal(f.status, 404, JSON.stringify(f.body));
      const viaExec = await term({ fork_from: sid, command: 'cat s.txt' }, t);
      assert.equal(viaExec.status, 404, JSON.stringify(viaExec.body));
      assert.equal((await snapshot(sid, 'theirs', t)).status, 404);
      // Their own session may use the name; each account reads its own.
      const b = ok(await term({ command: 'echo their-own > s.txt' }, t));
      ok(await snapshot(b.body.session_id, 'mine', t), 201);
      assert.equal(ok(await term({ from_snapshot: 'mine', command: 'cat s.txt' }, t)).body.stdout, 'their-own\n');
      assert.equal(ok(await term({ from_snapshot: 'mine', command: 'cat s.txt' })).body.stdout, 'secret\n');
      ok(await call('DELETE', '/api/v1/snapshots/mine', { token }), 204);
      ok(await call('GET', '/api/v1/snapshots/mine', { token: t }));
      await end(sid);
    });
  });

  describe('through MCP (the SDK\'s own client)', () => {
    let client: Client;
    before(async () => {
      client = new Client({ name: 'durabox-test', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${platform.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    });
    after(async () => { await client.close(); });

    const tool = async <T>(name: string, args: Record<string, unknown>): Promise<T> => {
      const r = await client.callTool({ name, arguments: args });
      assert.ok(!r.isError, JSON.stringify(r.content));
      return r.structuredContent as T;
    };

    it('lists sessionFork, snapshotCreate, snapshotList and snapshotDelete with strict inputs and output schemas', async () => {
      const { tools } = await client.listTools();
      for (const name of ['sessionFork', 'snapshotCreate', 'snapshotList', 'snapshotDelete']) {
        const t = tools.find((x) => x.name === name);
        assert.ok(t, name);
        assert.ok((t!.description ?? '').length > 60, `${name} explains when to use it`);
        assert.equal(t!.inputSchema.additionalProperties, false);
        assert.ok(t!.outputSchema);
      }
      assert.ok('from_snapshot' in (tools.find((x) => x.name === 'terminalExec')!.inputSchema.properties ?? {}));
    });

    it('forks, snapshots, starts from a snapshot, lists and deletes', async () => {
      const a = await tool<Out>('terminalExec', { command: 'echo from-mcp > m.txt' });
      const f = await tool<Forked>('sessionFork', { session_id: a.session_id });
      assert.equal(f.forked_from, a.session_id);
      const viaExec = await tool<Out>('terminalExec', { fork_from: a.session_id, command: 'cat m.txt' });
      assert.equal(viaExec.stdout, 'from-mcp\n');
      await end(viaExec.session_id);
      assert.equal((await tool<Out>('terminalExec', { session_id: f.session_id, command: 'cat m.txt' })).stdout, 'from-mcp\n');
      const s = await tool<Snap>('snapshotCreate', { session_id: f.session_id, name: 'mcp-snap' });
      assert.equal(s.name, 'mcp-snap');
      const listed = await tool<{ items: Snap[] }>('snapshotList', {});
      assert.ok(listed.items.some((x) => x.name === 'mcp-snap'));
      const b = await tool<Out>('terminalExec', { from_snapshot: 'mcp-snap', command: 'cat m.txt' });
      assert.equal(b.stdout, 'from-mcp\n');
      assert.equal(b.created, true);
      assert.deepEqual(await tool('snapshotDelete', { name: 'mcp-snap' }), { name: 'mcp-snap', deleted: true });
      const again = await client.callTool({ name: 'snapshotDelete', arguments: { name: 'mcp-snap' } });
      assert.equal(again.isError, true);
      assert.match((again.content as Array<{ text: string }>)[0].text, /^snapshot_not_found: /);
      const missing = await client.callTool({ name: 'terminalExec', arguments: { from_snapshot: 'mcp-snap', command: 'true' } });
      assert.equal(missing.isError, true);
      assert.match((missing.content as Array<{ text: string }>)[0].text, /^snapshot_not_found: from_snapshot/);
      const unknown = await client.callTool({ name: 'sessionFork', arguments: { session_id: 'sess_never_made' } });
      assert.equal(unknown.isError, true);
      assert.match((unknown.content as Array<{ text: string }>)[0].text, /^session_not_found: /);
      for (const sid of [a.session_id, f.session_id, b.session_id]) await end(sid);
    });

    it('bad names and unknown arguments are -32602 naming the field', async () => {
      await assert.rejects(client.callTool({ name: 'snapshotCreate', arguments: { session_id: 'sess_x', name: 'bad name' } }),
        (e: unknown) => e instanceof McpError && e.code === -32602 && /name/.test(e.message));
      await assert.rejects(client.callTool({ name: 'sessionFork', arguments: { session_id: 'sess_x', deep: true } }),
        (e: unknown) => e instanceof McpError && e.code === -32602 && /deep/.test(e.message));
      await assert.rejects(client.callTool({ name: 'snapshotList', arguments: { page: 2 } }),
        (e: unknown) => e instanceof McpError && e.code === -32602 && /page/.test(e.message));
    });
  });
});
