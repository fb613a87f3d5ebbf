// The OpenSandbox SDKs drive durabox unchanged (docs/peers/opensandbox.md): the JS SDK here, the Python
// SDKs (opensandbox, opensandbox-code-interpreter) through test/peers/opensandbox/flow.py, both against
// the platform's /opensandbox with a durabox access token as the API key.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConnectionConfig, Sandbox, SandboxManager } from '@alibaba-group/opensandbox';
import { platform } from './support/hooks.js';
import { call, login, newToken } from './support/http.js';

const PYTHON = `${process.env.DURABOX_PEER_VENV ?? '/opt/durabox/peer-venv'}/bin/python`;
const FLOW = fileURLToPath(new URL('../../../test/peers/opensandbox/flow.py', import.meta.url));

/** Runs a Python script of the SDK test clients; its last stdout line is the JSON it saw. */
function python(script: string, args: string[]): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    const p = spawn(PYTHON, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('error', reject);
    p.on('close', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`${script} exited ${code}: ${out.slice(-2000)}\n${err.slice(-4000)}`));
      }
    });
  });
}

async function refused(p: Promise<unknown>): Promise<{ statusCode?: number; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as { statusCode?: number; message: string };
  }
  assert.fail('the call was not refused');
}

describe('peer: the OpenSandbox SDKs drive durabox unchanged', function () {
  this.timeout(300_000);
  let token: string;
  let otherToken: string;
  let domain: string;
  const conn = (over: Record<string, unknown> = {}) => ({ domain, apiKey: token, requestTimeoutSeconds: 120, disableMetrics: true, ...over });

  before(async () => {
    token = await newToken();
    otherToken = (await platform.otherAccount('ospeer')).token;
    domain = `${platform.url}/opensandbox`;
  });

  describe('the JS SDK (@alibaba-group/opensandbox)', () => {
    let sbx: Sandbox;
    before(async () => {
      sbx = await Sandbox.create({ connectionConfig: conn(), image: 'terminal', metadata: { suite: 'js', run: 'one' }, env: { FROM_CREATE: 'yes' }, timeoutSeconds: 600 });
    });
    after(async () => { await sbx?.kill().catch(() => undefined); });

    it('creates a running sandbox that get and list (paged, filtered by metadata) show', async () => {
      const info = await sbx.getInfo();
      assert.equal(info.status.state, 'Running');
      assert.deepEqual(info.metadata, { suite: 'js', run: 'one' });
      const manager = SandboxManager.create({ connectionConfig: conn() });
      const mine = await manager.listSandboxInfos({ metadata: { suite: 'js' }, pageSize: 10 });
      assert.deepEqual(mine.items.map((s) => s.id), [sbx.id]);
      assert.equal(mine.pagination?.totalItems, 1);
      const none = await manager.listSandboxInfos({ metadata: { suite: 'nothing-has-this' } });
      assert.equal(none.items.length, 0);
      const paged = await manager.listSandboxInfos({ page: 1, pageSize: 1, states: ['Running'] });
      assert.equal(paged.items.length, 1);
    });

    it('streams a command\'s output to its callbacks while it runs, with its exit code, cwd and environment', async () => {
      const seen: Array<{ text: string; at: number }> = [];
      const t0 = Date.now();
      const ex = await sbx.commands.run('echo first; sleep 2; echo second; echo "$FROM_CREATE $X"; pwd', { workingDirectory: '/tmp', envs: { X: 'from-call' } }, {
        onStdout: (m) => { seen.push({ text: m.text, at: Date.now() }); },
      });
      const t1 = Date.now();
      assert.equal(ex.exitCode, 0);
      assert.match(seen[0]!.text, /first/);
      assert.ok(t1 - seen[0]!.at > 1200, `the first line came ${t1 - seen[0]!.at} ms before the end: not streamed`);
      const all = seen.map((s) => s.text).join('');
      assert.match(all, /second/);
      assert.match(all, /yes from-call/);
      assert.match(all, /^\/tmp$/m);
      const bg = await sbx.commands.run('sleep 1; echo later > /tmp/bg.txt', { background: true });
      assert.ok(Date.now() - t1 < 900, 'a background command answers at once');
      assert.equal(bg.error, undefined);
      const bad = await sbx.commands.run('echo oops >&2; exit 3');
      assert.equal(bad.exitCode, 3);
      assert.match(bad.logs.stderr.map((m) => m.text).join(''), /oops/);
    });

    it('writes, reads, lists and describes files', async () => {
      await sbx.files.writeFiles([{ path: '/workspace/js/one.txt', data: 'one' }, { path: '/workspace/js/two.txt', data: new TextEncoder().encode('two!'), mode: 600 }]);
      assert.equal(await sbx.files.readFile('/workspace/js/one.txt'), 'one');
      const listed = await sbx.files.listDirectory({ path: '/workspace/js', depth: 1 });
      assert.deepEqual(listed.map((f) => f.path), ['/workspace/js/one.txt', '/workspace/js/two.txt']);
      const info = await sbx.files.getFileInfo(['/workspace/js/two.txt']);
      assert.equal(info['/workspace/js/two.txt']!.size, 4);
      assert.equal(info['/workspace/js/two.txt']!.mode, 600);
      // The peer home, /home/user, is the workspace: asked by that name, answered by that name.
      const home = await sbx.files.getFileInfo(['/home/user/js/two.txt']);
      assert.equal(home['/home/user/js/two.txt']!.size, 4);
      await sbx.files.createDirectories([{ path: '/workspace/js/sub/deeper', mode: 755 }]);
      await sbx.files.moveFiles([{ src: '/workspace/js/one.txt', dest: '/workspace/js/sub/one.txt' }]);
      const deep = await sbx.files.listDirectory({ path: '/workspace/js', depth: 3 });
      assert.ok(deep.some((f) => f.path === '/workspace/js/sub/one.txt' && f.type === 'file'), JSON.stringify(deep));
      assert.ok(deep.some((f) => f.path === '/workspace/js/sub/deeper' && f.type === 'directory'), JSON.stringify(deep));
      const replaced = await sbx.files.replaceContentsDetailed([{ path: '/workspace/js/sub/one.txt', oldContent: 'one', newContent: 'uno' }]);
      assert.deepEqual(replaced, [{ path: '/workspace/js/sub/one.txt', replacedCount: 1 }]);
      assert.equal(await sbx.files.readFile('/workspace/js/sub/one.txt'), 'uno');
      assert.equal(await sbx.files.readFile('/workspace/js/two.txt', { range: 'bytes=1-2' }), 'wo');
      await sbx.files.deleteFiles(['/workspace/js/two.txt']);
      await sbx.files.deleteDirectories(['/workspace/js/sub']);
      assert.deepEqual((await sbx.files.listDirectory({ path: '/workspace/js' })).map((f) => f.path), []);
      const missing = await refused(sbx.files.readFile('/workspace/js/nope.txt'));
      assert.equal(missing.statusCode, 404);
    });

    it('answers a metrics sample and a ping', async () => {
      assert.equal(await sbx.isHealthy(), true);
      const m = await sbx.getMetrics();
      assert.ok(m.cpuCount >= 1 && m.memoryTotalMiB > 0, JSON.stringify(m));
    });

    it('reaches a server in the sandbox through the port\'s endpoint, with and without the server proxy', async () => {
      await sbx.commands.run('mkdir -p /workspace/site && echo served-from-sandbox > /workspace/site/index.html && (nohup python3 -m http.server 8765 --directory /workspace/site >/tmp/http.log 2>&1 &) ; sleep 1');
      for (const useServerProxy of [false, true]) {
        const s = await Sandbox.connect({ sandboxId: sbx.id, connectionConfig: conn({ useServerProxy }) });
        const url = await s.getEndpointUrl(8765);
        const res = await fetch(`${url}/index.html`);
        assert.equal(res.status, 200, url);
        assert.match(await res.text(), /served-from-sandbox/);
        // The execd endpoint works both ways too (the SDK's own calls go through it).
        assert.equal((await s.commands.run('echo via-endpoint')).logs.stdout.map((m) => m.text).join('').trim(), 'via-endpoint');
      }
    });

    it('refuses another account\'s key: it cannot see, use or kill the sandbox', async () => {
      const other = SandboxManager.create({ connectionConfig: conn({ apiKey: otherToken }) });
      assert.equal((await refused(other.getSandboxInfo(sbx.id))).statusCode, 404);
      assert.equal((await refused(other.killSandbox(sbx.id))).statusCode, 404);
      assert.equal((await other.listSandboxInfos({})).items.some((s) => s.id === sbx.id), false);
      // Its key on the sandbox's execd endpoint (no token) is refused too.
      const ep = await sbx.getEndpoint(44772);
      const r = await fetch(`http://${ep.endpoint}/ping`, { headers: { 'OPEN-SANDBOX-API-KEY': otherToken } });
      assert.equal(r.status, 404);
      // The sandbox's own token opens that sandbox only.
      assert.equal((await fetch(`http://${ep.endpoint}/ping`, { headers: ep.headers })).status, 200);
      const elsewhere = await fetch(`http://${ep.endpoint.replace(sbx.id, 'sess_0123456789abcdef0123456789abcdef')}/ping`, { headers: ep.headers });
      assert.equal(elsewhere.status, 401);
      const noKey = await call('GET', '/opensandbox/v1/sandboxes', {});
      assert.equal(noKey.status, 401);
      assert.equal(noKey.body.code, 'MISSING_API_KEY');
      assert.equal((await sbx.getInfo()).status.state, 'Running');
    });

    it('closes the execd endpoint\'s token when the API key it was issued for is deleted', async () => {
      const cookie = await login();
      const made = await call('POST', '/api/v1/console/tokens', { cookie, body: { name: `os-revoke-${process.pid}` } });
      assert.equal(made.status, 201);
      const viaKey = await Sandbox.connect({ sandboxId: sbx.id, connectionConfig: conn({ apiKey: made.body.token, endpointCacheDisabled: true }) });
      const ep = await viaKey.getEndpoint(44772);
      const ping = () => fetch(`http://${ep.endpoint}/ping`, { headers: ep.headers });
      assert.equal((await ping()).status, 200);
      assert.equal((await call('DELETE', `/api/v1/console/tokens/${made.body.id}`, { cookie })).status, 204);
      assert.equal((await ping()).status, 401, 'a deleted key\'s execd token still opened the sandbox');
    });

    it('answers hostile execd and lifecycle requests with a 4xx, never a 500, and keeps serving', async () => {
      const ep = await sbx.getEndpoint(44772);
      const base = `http://${ep.endpoint}`;
      const headers = ep.headers as Record<string, string>;
      const cases: Array<[string, string, RequestInit]> = [
        ['POST', '/command', { body: 'not json', headers: { ...headers, 'content-type': 'application/json' } }],
        ['POST', '/command', { body: JSON.stringify({ command: 'true', envs: { 'A;rm -rf /': 'x' } }), headers }],
        ['POST', '/command', { body: JSON.stringify({ command: '   ' }), headers }],
        ['POST', '/command', { body: JSON.stringify({ command: 'id', uid: 0 }), headers }],
        ['POST', '/files/upload', { body: '--x\r\nbroken', headers: { ...headers, 'content-type': 'multipart/form-data; boundary=x' } }],
        ['POST', '/files/upload', { body: 'a', headers: { ...headers, 'content-type': 'text/plain' } }],
        ['GET', '/files/info?path=%00', { headers }],
        ['GET', '/files/download?path=/workspace/../etc/passwd', { headers }],
        ['GET', '/directories/list?path=/workspace&depth=-1', { headers }],
        ['POST', '/directories', { body: JSON.stringify({ '/workspace/x': { mode: 999 } }), headers }],
        ['POST', '/code/context', { body: JSON.stringify({ language: 'cobol' }), headers }],
        ['GET', '/code/contexts/%E0%A4%A', { headers }],
        ['POST', '/files/mv', { body: JSON.stringify([{ src: '/workspace/nope', dest: '/workspace/x' }]), headers }],
      ];
      for (const [method, path, init] of cases) {
        const r = await fetch(`${base}${path}`, { method, ...init });
        const body = await r.text();
        assert.ok((r.status >= 400 && r.status < 500) || r.status === 501, `${method} ${path}: ${r.status} ${body}`);
        assert.ok(typeof JSON.parse(body).message === 'string', body);
      }
      const key = { 'OPEN-SANDBOX-API-KEY': token, 'content-type': 'application/json' };
      for (const [method, path, body] of [['POST', '/v1/sandboxes', '[]'], ['POST', '/v1/sandboxes', '{"image":{"uri":"terminal"},"env":{"BAD NAME":"x"}}'], ['GET', '/v1/sandboxes?page=0', undefined], ['GET', '/v1/sandboxes?metadata=%25zz', undefined], ['POST', `/v1/sandboxes/${sbx.id}/renew-expiration`, '{"expiresAt":"yesterday"}'], ['DELETE', '/v1/sandboxes/%E0%A4%A', undefined], ['GET', '/sandboxes/%E0%A4%A/execd/ping', undefined]] as const) {
        const r = await fetch(`${domain}${path}`, { method, headers: key, ...(body ? { body } : {}) });
        const text = await r.text();
        assert.ok(r.status >= 400 && r.status < 500, `${method} ${path}: ${r.status} ${text}`);
        assert.deepEqual(Object.keys(JSON.parse(text)).sort(), ['code', 'message']);
      }
      assert.equal((await sbx.commands.run('echo still-here')).logs.stdout.map((m) => m.text).join('').trim(), 'still-here');
    });

    it('pauses and resumes, the files kept; renews; kills', async () => {
      await sbx.files.writeFiles([{ path: '/workspace/kept.txt', data: 'kept across pause' }]);
      await sbx.renew(500);
      const info = await sbx.getInfo();
      assert.ok(info.expiresAt && info.expiresAt.getTime() > Date.now() + 400_000, String(info.expiresAt));
      await sbx.pause();
      assert.equal((await sbx.getInfo()).status.state, 'Paused');
      const back = await Sandbox.resume({ sandboxId: sbx.id, connectionConfig: conn() });
      assert.equal((await back.getInfo()).status.state, 'Running');
      assert.equal(await back.files.readFile('/workspace/kept.txt'), 'kept across pause');
      await back.kill();
      assert.equal((await refused(back.getInfo())).statusCode, 404);
    });

    it('answers bad input with a 4xx naming the field, and an unsupported call by name', async () => {
      const unknown = await refused(Sandbox.create({ connectionConfig: conn(), image: 'no-such-image', timeoutSeconds: 600 }));
      assert.equal(unknown.statusCode, 400);
      assert.match(unknown.message, /image: durabox has no template "no-such-image"/);
      const r = await call('POST', '/opensandbox/v1/sandboxes', { headers: { 'OPEN-SANDBOX-API-KEY': token }, body: { image: { uri: 'terminal' }, timeout: 'soon' } });
      assert.equal(r.status, 400);
      assert.match(r.body.message, /^timeout: /);
      const port = await call('GET', '/opensandbox/v1/sandboxes/sess_x/endpoints/99999', { headers: { 'OPEN-SANDBOX-API-KEY': token } });
      assert.equal(port.status, 400);
      assert.match(port.body.message, /^port: /);
      const manager = SandboxManager.create({ connectionConfig: conn() });
      const patch = await refused(manager.patchSandboxMetadata('sess_x', { a: 'b' }));
      assert.equal(patch.statusCode, 501);
      assert.match(patch.message, /not supported by durabox/);
    });
  });

  it('the Python SDKs: create, streamed and failing commands, files, code contexts with rich results, a port\'s endpoint, metrics, renew, pause/resume, kill, bad input, another account', async () => {
    const r = await python(FLOW, [domain, token, otherToken]);
    assert.equal(r.info.state, 'Running');
    assert.deepEqual(r.info.metadata, { suite: 'py' });
    assert.equal(r.info.image, 'python');
    assert.equal(r.stream.texts.join(''), 'first\nsecond\nhi from env\n', JSON.stringify(r));
    assert.match(r.stream.texts[0], /^first/);
    assert.ok(r.stream.total_s - r.stream.first_after_s > 1.2, `first line ${r.stream.first_after_s}s of ${r.stream.total_s}s: not streamed`);
    assert.equal(r.stream.exit_code, 0);
    assert.deepEqual(r.nonzero, { exit_code: 7, stderr: 'oops\n', error: 'CommandExecError' });
    assert.equal(r.cwd, '/tmp\nfrom call\n');
    assert.equal(r.read, 'hello file');
    assert.deepEqual(r.search, ['/workspace/notes/a.txt', '/workspace/notes/b.bin']);
    assert.equal(r.info_b.size, 3);
    assert.equal(r.info_b.mode, 600);
    assert.equal(r.missing.status, 404);
    assert.deepEqual(r.context.text, ['42']);
    assert.match(r.dataframe_text.join(''), /a\s*\n0\s+1\s*\n1\s+2/);
    assert.equal(r.code_error.name, 'ZeroDivisionError');
    assert.equal(r.bash_context, 'from-bash-42\n');
    assert.deepEqual(r.contexts, ['python', 'bash']);
    assert.deepEqual(r.sync, { stdout: 'sync-2\n', exit_code: 4, state: 'Running' });
    assert.equal(r.rich.status, 200);
    assert.ok(r.rich.kinds.includes('image/png') && r.rich.kinds.includes('text/html'), JSON.stringify(r.rich));
    assert.equal(r.rich.png_magic, 'iVBORw0K');
    assert.equal(r.anon_ping, 401);
    assert.equal(r.forged_ping, 401);
    assert.deepEqual(r.port, { status: 200, body: 'py-served\n' });
    assert.ok(r.metrics.cpu_count >= 1 && r.metrics.mem_total > 0);
    assert.ok(Date.parse(r.renewed) > Date.now() + 7 * 60_000);
    assert.equal(r.paused_state, 'Paused');
    assert.equal(r.resumed_state, 'Running');
    assert.equal(r.after_resume, 'hello file');
    assert.equal(r.unsupported.status, 501);
    assert.match(r.unsupported.message, /not supported by durabox/);
    assert.equal(r.other.status, 404);
    assert.equal(r.after_kill.status, 404);
    assert.equal(r.unknown_image.status, 400);
    assert.match(r.unknown_image.message, /image: durabox has no template/);
    assert.equal(r.bad_timeout.status, 400);
    assert.match(r.bad_timeout.message, /timeout: must be between/);
  });
});

// The connection settings class is the SDK's own; referenced so its import is the one the SDK users write.
void ConnectionConfig;
