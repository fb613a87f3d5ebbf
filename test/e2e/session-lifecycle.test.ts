// The session lifecycle calls (docs/sessions/durability.md, "Pause, resume and the lease on request"):
// POST /sessions/{id}/pause and /resume, PUT /sessions/{id}/lease, and the sessionPause and sessionResume
// MCP tools, against real Temporal, Docker and PostgreSQL. What a pause removes is looked for in Docker.
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LABEL_RUNTIME, LABEL_WORKER } from '../../sandbox/profile.js';
import { platform } from './support/hooks.js';
import { call, newToken } from './support/http.js';
import { eventually, sessionContainerId } from './support/docker.js';

type Out = { session_id: string; stdout: string; exit_code: number; lease_expires_unix_ms: number; restored?: boolean; code?: string };
type Summary = { session_id: string; status: string; host: string | null; lease_expires_unix_ms: number | null; ended_reason?: string; checkpoint?: { bytes: number }; code?: string; error?: string };

describe('session lifecycle: pause, resume and the lease, on request', function () {
  this.timeout(120_000);
  let token: string;
  let otherToken: string;
  before(async () => {
    token = await newToken();
    otherToken = (await platform.otherAccount('lifecycle')).token;
  });

  const term = (body: Record<string, unknown>) => call<Out>('POST', '/api/v1/commands/terminal', { token, body: { lease_ttl_sec: 300, ...body } });
  const pause = (sid: string, t = token) => call<Summary>('POST', `/api/v1/sessions/${sid}/pause`, { token: t });
  const resume = (sid: string, t = token) => call<Summary>('POST', `/api/v1/sessions/${sid}/resume`, { token: t });
  const setLease = (sid: string, body: unknown, t = token) => call<Summary>('PUT', `/api/v1/sessions/${sid}/lease`, { token: t, body });
  const get = (sid: string) => call<Summary>('GET', `/api/v1/sessions/${sid}`, { token });
  const end = (sid: string) => call('DELETE', `/api/v1/sessions/${sid}`, { token });

  /** The ids of the terminal containers the test worker holds, as `docker ps` lists them by their labels. */
  const terminalContainers = async () => (await platform.docker.listContainers({
    all: true, filters: { label: [`${LABEL_WORKER}=${platform.workerId('w-main')}`, `${LABEL_RUNTIME}=terminal`] },
  })).map((c) => c.Id);

  /** A new session with `notes.txt` written, and its container's id. */
  async function sessionWithFile(): Promise<{ sid: string; container: string }> {
    const a = await term({ command: 'echo kept-across-pause > notes.txt' });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const container = await sessionContainerId(token, a.body.session_id);
    assert.ok(container, 'a live session names its container');
    return { sid: a.body.session_id, container };
  }

  it('pause: the workspace is checkpointed, the container is gone from Docker, the session says paused; resume brings the file back', async () => {
    const { sid, container } = await sessionWithFile();
    assert.ok((await terminalContainers()).includes(container));

    const p = await pause(sid);
    assert.equal(p.status, 200, JSON.stringify(p.body));
    assert.equal(p.body.status, 'paused');
    assert.equal(p.body.host, null);
    assert.ok(p.body.checkpoint && p.body.checkpoint.bytes > 0, 'the pause stored a checkpoint');
    assert.ok(!(await terminalContainers()).includes(container), 'the paused session\'s container is still there');
    await assert.rejects(platform.docker.getContainer(container).inspect(), /no such container/i);
    assert.equal(await sessionContainerId(token, sid), undefined, 'no container named while paused');
    assert.equal((await get(sid)).body.status, 'paused');
    // Pausing a paused session changes nothing.
    assert.equal((await pause(sid)).body.status, 'paused');

    const r = await resume(sid);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'active');
    assert.ok(r.body.host, 'resumed on a host');
    const again = await sessionContainerId(token, sid);
    assert.ok(again && again !== container, 'a new container');
    assert.equal((await platform.docker.getContainer(again).inspect()).State.Running, true);
    const cat = await term({ command: 'cat notes.txt', session_id: sid });
    assert.equal(cat.status, 200, JSON.stringify(cat.body));
    assert.equal(cat.body.stdout, 'kept-across-pause\n');
    assert.equal(cat.body.restored, undefined, 'the resume restored it, not this command');
    // Resuming a live session leaves it as it is.
    assert.equal((await resume(sid)).body.status, 'active');
    assert.equal(await sessionContainerId(token, sid), again);
    await end(sid);
  });

  it('a command after a pause resumes the session itself (restored: true), with its files', async () => {
    const { sid } = await sessionWithFile();
    assert.equal((await pause(sid)).body.status, 'paused');
    const cat = await term({ command: 'cat notes.txt', session_id: sid });
    assert.equal(cat.status, 200, JSON.stringify(cat.body));
    assert.equal(cat.body.stdout, 'kept-across-pause\n');
    assert.equal(cat.body.restored, true);
    assert.equal((await get(sid)).body.status, 'active');
    await end(sid);
  });

  it('a pause (or resume) while a command runs answers at once (busy) and leaves the container under it', async () => {
    const { sid, container } = await sessionWithFile();
    const slow = term({ command: 'sleep 4; echo done', session_id: sid });
    await eventually('the command to run', async () => (await get(sid)).body.status === 'busy');
    const t0 = Date.now();
    const p = await pause(sid);
    assert.equal(p.status, 200, JSON.stringify(p.body));
    assert.equal(p.body.status, 'busy');
    assert.ok(Date.now() - t0 < 3_000, `the pause waited ${Date.now() - t0} ms for the command`);
    const t1 = Date.now();
    const r = await resume(sid);
    assert.equal(r.body.status, 'busy', 'a resume beside a running command answers at once');
    assert.ok(Date.now() - t1 < 3_000, `the resume waited ${Date.now() - t1} ms for the command`);
    const done = await slow;
    assert.equal(done.body.stdout, 'done\n');
    assert.ok((await terminalContainers()).includes(container), 'the container was removed under its command');
    assert.equal((await get(sid)).body.status, 'active');
    await end(sid);
  });

  it('a shortened lease ends the session soon after (lease_expired, container removed); a lengthened one keeps it past its old end', async () => {
    const { sid, container } = await sessionWithFile();
    const t0 = Date.now();
    const s = await setLease(sid, { ttl_sec: 2 });
    assert.equal(s.status, 200, JSON.stringify(s.body));
    assert.ok(Math.abs(s.body.lease_expires_unix_ms! - (t0 + 2_000)) < 1_500, `lease ends ${s.body.lease_expires_unix_ms! - t0} ms after the call, not 2 s`);
    const ended = await eventually('the session to end', async () => {
      const g = await get(sid);
      return g.body.status === 'ended' ? g.body : undefined;
    }, 20_000);
    assert.equal(ended.ended_reason, 'lease_expired');
    assert.ok(Date.now() - t0 < 15_000, 'ended long after its new lease');
    await eventually('its container to go', async () => !(await terminalContainers()).includes(container));

    const b = await term({ command: 'true', lease_ttl_sec: 3 });
    const sid2 = b.body.session_id;
    const longer = await setLease(sid2, { ttl_sec: 120 });
    assert.equal(longer.status, 200, JSON.stringify(longer.body));
    assert.ok(longer.body.lease_expires_unix_ms! > b.body.lease_expires_unix_ms + 60_000, 'the lease was not lengthened');
    await new Promise((r) => setTimeout(r, Math.max(0, b.body.lease_expires_unix_ms - Date.now()) + 2_000));
    assert.equal((await get(sid2)).body.status, 'active', 'ended at its old lease');
    await end(sid2);
  });

  it('another account cannot pause, resume or set the lease of a session (404 session_not_found), and the session is untouched', async () => {
    const { sid, container } = await sessionWithFile();
    const lease = (await get(sid)).body.lease_expires_unix_ms;
    for (const r of [await pause(sid, otherToken), await resume(sid, otherToken), await setLease(sid, { ttl_sec: 1 }, otherToken)]) {
      assert.equal(r.status, 404, JSON.stringify(r.body));
      assert.equal(r.body.code, 'session_not_found');
    }
    const s = (await get(sid)).body;
    assert.equal(s.status, 'active');
    assert.equal(s.lease_expires_unix_ms, lease);
    assert.equal(await sessionContainerId(token, sid), container);
    // Unknown ids answer the same.
    assert.equal((await pause('sess_00000000000000000000000000000000')).status, 404);
    assert.equal((await setLease('not-a-session', { ttl_sec: 5 })).status, 404);
    await end(sid);
    assert.equal((await pause(sid)).status, 404, 'an ended session cannot pause');
    assert.equal((await resume(sid)).body.code, 'session_not_found');
  });

  it('a bad ttl_sec is a 400 naming it (outside the lease bounds, not an integer, missing)', async () => {
    const { sid } = await sessionWithFile();
    const { leaseMinSec, leaseMaxSec } = platform.config.api.session;
    for (const body of [{ ttl_sec: leaseMaxSec + 1 }, { ttl_sec: 0 }, { ttl_sec: 1.5 }, { ttl_sec: '60' }, { ttl_sec: null }, {}]) {
      const r = await setLease(sid, body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error ?? '', /ttl_sec/, JSON.stringify(r.body));
    }
    const over = await setLease(sid, { ttl_sec: leaseMaxSec + 1 });
    assert.match(over.body.error!, new RegExp(`ttl_sec must be between ${leaseMinSec} and ${leaseMaxSec}`));
    const extra = await setLease(sid, { ttl_sec: 60, lease_ttl_sec: 60 });
    assert.equal(extra.status, 400);
    assert.match(extra.body.error ?? '', /lease_ttl_sec/);
    assert.equal((await get(sid)).body.status, 'active', 'refused calls left the session alone');
    await end(sid);
  });

  describe('through MCP (sessionPause, sessionResume)', () => {
    let client: Client;
    before(async () => {
      client = new Client({ name: 'durabox-test', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${platform.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    });
    after(async () => { await client.close(); });

    it('pauses and resumes a session, answering its summary; an unknown session is session_not_found', async () => {
      const { tools } = await client.listTools();
      for (const name of ['sessionPause', 'sessionResume']) {
        const t = tools.find((x) => x.name === name);
        assert.ok(t, name);
        assert.equal(t!.inputSchema.additionalProperties, false);
        assert.deepEqual(t!.inputSchema.required, ['session_id']);
        assert.ok(t!.outputSchema);
      }
      const { sid, container } = await sessionWithFile();
      const p = await client.callTool({ name: 'sessionPause', arguments: { session_id: sid } });
      assert.ok(!p.isError, JSON.stringify(p.content));
      assert.equal((p.structuredContent as Summary).status, 'paused');
      assert.ok(!(await terminalContainers()).includes(container));
      const r = await client.callTool({ name: 'sessionResume', arguments: { session_id: sid } });
      assert.ok(!r.isError, JSON.stringify(r.content));
      assert.equal((r.structuredContent as Summary).status, 'active');
      assert.equal((await term({ command: 'cat notes.txt', session_id: sid })).body.stdout, 'kept-across-pause\n');
      const unknown = await client.callTool({ name: 'sessionPause', arguments: { session_id: 'sess_never_made' } });
      assert.equal(unknown.isError, true);
      assert.match((unknown.content as Array<{ text: string }>)[0].text, /^session_not_found: /);
      await end(sid);
    });
  });
});
