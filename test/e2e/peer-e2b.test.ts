// E2B's SDKs (JS `e2b` + `@e2b/code-interpreter`, Python `e2b` + `e2b-code-interpreter`) driving durabox
// unchanged: E2B_API_URL=<durabox>/e2b, E2B_SANDBOX_URL=<durabox>/e2b/sandbox, the key a durabox token.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Sandbox as BaseSandbox, CommandExitError, FileType, NotFoundError } from 'e2b';
import { Sandbox } from '@e2b/code-interpreter';
import { platform } from './support/hooks.js';
import { call, login, newToken } from './support/http.js';
import { onOwnHosts } from './support/own-hosts.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const PREVIEW = 'e2b-preview.test';

/** A GET to the API with another Host header (a preview host): status and body. */
function getWithHost(url: string, host: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host, ...headers } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Waits (up to 15 s) until `ok` holds. */
async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 150 && !ok(); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(ok(), 'not seen in time');
}

/** Runs a script of test/peers/e2b with the Python SDKs, the E2B settings in its environment; its JSON. */
function python(script: string, env: Record<string, string>): Promise<Record<string, any>> {
  const bin = join(process.env.DURABOX_PEER_VENV ?? '/opt/durabox/peer-venv', 'bin', 'python');
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [join(repoRoot, 'test', 'peers', 'e2b', script)], { env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${script} exited ${code}: ${err.slice(-4000)}`));
      try { resolve(JSON.parse(out.trim().split('\n').at(-1)!)); } catch { reject(new Error(`${script} printed no JSON: ${out} ${err}`)); }
    });
  });
}

describe('the E2B SDKs on durabox (peer API at /e2b)', function () {
  this.timeout(300_000);
  let token: string;
  let other: string;
  let previewBefore: string | undefined;
  const env = () => ({ E2B_API_URL: `${platform.url}/e2b`, E2B_SANDBOX_URL: `${platform.url}/e2b/sandbox`, E2B_API_KEY: token });

  before(async () => {
    token = await newToken();
    other = (await platform.otherAccount('e2b')).token;
    previewBefore = platform.api.deps.api.previewDomain;
    platform.api.deps.api.previewDomain = PREVIEW;
    Object.assign(process.env, env());
  });
  after(() => {
    platform.api.deps.api.previewDomain = previewBefore;
    for (const k of ['E2B_API_URL', 'E2B_SANDBOX_URL', 'E2B_API_KEY']) delete process.env[k];
  });

  describe('JS SDK', () => {
    let sbx: Sandbox;
    before(async () => { sbx = await Sandbox.create({ metadata: { suite: 'peer-e2b-js' }, timeoutMs: 600_000 }); });
    after(async () => { await BaseSandbox.kill(sbx.sandboxId).catch(() => undefined); });

    it('creates a code-interpreter sandbox that get and list show, with its template and metadata', async () => {
      const info = await BaseSandbox.getInfo(sbx.sandboxId);
      assert.equal(info.templateId, 'code-interpreter-v1');
      assert.equal(info.state, 'running');
      assert.deepEqual(info.metadata, { suite: 'peer-e2b-js' });
      const listed = await BaseSandbox.list({ query: { metadata: { suite: 'peer-e2b-js' } } }).nextItems();
      assert.deepEqual(listed.map((s) => s.sandboxId), [sbx.sandboxId]);
    });

    it('streams a command: onStdout sees the first line before the command ends', async () => {
      const t0 = Date.now();
      const seen: Array<{ text: string; at: number }> = [];
      const r = await sbx.commands.run('echo first; sleep 3; echo second', { onStdout: (text) => { seen.push({ text, at: Date.now() - t0 }); } });
      const ended = Date.now() - t0;
      assert.equal(r.exitCode, 0);
      assert.equal(r.stdout, 'first\nsecond\n');
      assert.ok(seen.length >= 2, JSON.stringify(seen));
      assert.match(seen[0].text, /first/);
      assert.ok(ended - seen[0].at >= 2000, `first output at ${seen[0].at} ms, end at ${ended} ms`);
    });

    it('a non-zero exit is CommandExitError with its code and stderr; cwd, envs and the sandbox home work', async () => {
      await assert.rejects(sbx.commands.run('echo oops >&2; exit 3'), (e: unknown) => {
        assert.ok(e instanceof CommandExitError);
        assert.equal(e.exitCode, 3);
        assert.equal(e.stderr, 'oops\n');
        return true;
      });
      const r = await sbx.commands.run('pwd; echo $FROM_CALL', { envs: { FROM_CALL: 'yes' }, cwd: '/home/user' });
      assert.equal(r.stdout, '/home/user\nyes\n');
    });

    it('files: write, read, list, exists, stat, make dir, rename, remove', async () => {
      await sbx.files.write('/home/user/js/hello.txt', 'hello from js');
      assert.equal(await sbx.files.read('/home/user/js/hello.txt'), 'hello from js');
      const list = await sbx.files.list('/home/user/js');
      assert.deepEqual(list.map((e) => [e.name, e.type, e.path]), [['hello.txt', FileType.FILE, '/home/user/js/hello.txt']]);
      assert.equal(await sbx.files.exists('/home/user/js/hello.txt'), true);
      assert.equal(await sbx.files.exists('/home/user/js/nope.txt'), false);
      assert.equal(await sbx.files.makeDir('/home/user/js/sub'), true);
      assert.equal(await sbx.files.makeDir('/home/user/js/sub'), false);
      assert.equal((await sbx.files.getInfo('/home/user/js/sub')).type, FileType.DIR);
      await sbx.files.rename('/home/user/js/hello.txt', '/home/user/js/sub/moved.txt');
      assert.equal(await sbx.files.read('/home/user/js/sub/moved.txt'), 'hello from js');
      await sbx.files.remove('/home/user/js/sub/moved.txt');
      assert.equal(await sbx.files.exists('/home/user/js/sub/moved.txt'), false);
      await assert.rejects(sbx.files.read('/home/user/js/none.txt'), NotFoundError);
    });

    it('watches a directory: creates, writes and removes as they happen', async () => {
      await sbx.files.makeDir('/home/user/watched');
      const seen: Array<{ name: string; type: string }> = [];
      const handle = await sbx.files.watchDir('/home/user/watched', (e) => { seen.push({ name: e.name, type: e.type }); });
      try {
        await sbx.files.write('/home/user/watched/a.txt', 'one');
        await until(() => seen.some((e) => e.name === 'a.txt' && e.type === 'create'));
        await sbx.files.remove('/home/user/watched/a.txt');
        await until(() => seen.some((e) => e.name === 'a.txt' && e.type === 'remove'));
      } finally {
        await handle.stop();
      }
    });

    it('runs code: a context keeps a variable, a DataFrame as html, a figure as png, an error as the cell\'s', async () => {
      const ctx = await sbx.createCodeContext();
      await sbx.runCode('x = 41', { context: ctx });
      assert.equal((await sbx.runCode('x + 1', { context: ctx })).text, '42');
      assert.ok((await sbx.listCodeContexts()).some((c) => c.id === ctx.id));
      const seen: string[] = [];
      const t0 = Date.now();
      let firstAt = 0;
      const streamed = await sbx.runCode("import time\nprint('a', flush=True)\ntime.sleep(2)\nprint('b')", { onStdout: (m) => { if (!firstAt) firstAt = Date.now() - t0; seen.push(m.line); } });
      assert.equal(streamed.logs.stdout.join(''), 'a\nb\n');
      assert.ok(Date.now() - t0 - firstAt >= 1500, `first cell output at ${firstAt} ms`);
      const df = await sbx.runCode("import pandas as pd\npd.DataFrame({'a': [1, 2], 'b': [3, 4]})");
      assert.match(df.results[0].html ?? '', /<table/);
      const fig = await sbx.runCode('import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()');
      const png = fig.results.find((r) => r.png)?.png;
      assert.ok(png && Buffer.from(png, 'base64').subarray(1, 4).toString() === 'PNG');
      const err = await sbx.runCode('1/0');
      assert.equal(err.error?.name, 'ZeroDivisionError');
      await sbx.removeCodeContext(ctx);
      assert.ok(!(await sbx.listCodeContexts()).some((c) => c.id === ctx.id));
      await assert.rejects(sbx.runCode('1', { context: ctx }), NotFoundError);
    });

    it('reaches a port through the host getHost builds (durabox\'s preview host), with its traffic token or the key', async () => {
      await sbx.files.write('/home/user/site/index.html', 'served-js');
      const server = await sbx.commands.run('python3 -m http.server 8766', { background: true, cwd: '/home/user/site' });
      await sbx.commands.run('for i in $(seq 1 50); do (echo > /dev/tcp/127.0.0.1/8766) 2>/dev/null && exit 0; sleep 0.1; done; exit 1');
      const host = sbx.getHost(8766);
      assert.equal(host, `8766-${sbx.sandboxId}.${PREVIEW}`);
      const page = await getWithHost(`${platform.url}/index.html`, host, { authorization: `Bearer ${token}` });
      assert.equal(page.status, 200);
      assert.equal(page.body.trim(), 'served-js');
      assert.equal((await getWithHost(`${platform.url}/index.html`, host, { authorization: `Bearer ${other}` })).status, 404);
      // The sandbox's own traffic token opens its ports (and no other sandbox's); without a credential: 401.
      const traffic = await getWithHost(`${platform.url}/index.html`, host, { 'e2b-traffic-access-token': sbx.trafficAccessToken! });
      assert.equal(traffic.status, 200);
      assert.equal(traffic.body.trim(), 'served-js');
      assert.equal((await getWithHost(`${platform.url}/index.html`, `8766-sess_${'0'.repeat(32)}.${PREVIEW}`, { 'e2b-traffic-access-token': sbx.trafficAccessToken! })).status, 403);
      assert.equal((await getWithHost(`${platform.url}/index.html`, host)).status, 401);
      assert.equal(await server.kill(), true);
    });

    it('background commands run beside others; list, connect and kill them', async () => {
      const bg = await sbx.commands.run('echo started; sleep 30; echo never', { background: true });
      assert.equal((await sbx.commands.run('echo beside')).stdout, 'beside\n');
      // Started at the same moment, each takes its turn for the session's command slot: neither is refused.
      const both = await Promise.all([sbx.commands.run('echo one'), sbx.commands.run('echo two'), sbx.commands.run('echo three')]);
      assert.deepEqual(both.map((r) => r.stdout), ['one\n', 'two\n', 'three\n']);
      const listed = await sbx.commands.list();
      const mine = listed.find((p) => p.pid === bg.pid);
      assert.ok(mine, JSON.stringify(listed));
      assert.deepEqual(mine.args.slice(0, 2), ['-l', '-c']);
      const again = await sbx.commands.connect(bg.pid);
      assert.equal(await sbx.commands.kill(bg.pid), true);
      await assert.rejects(again.wait(), (e: unknown) => e instanceof CommandExitError && e.exitCode === 137 && e.stdout === 'started\n');
      assert.ok(!(await sbx.commands.list()).some((p) => p.pid === bg.pid));
      assert.equal(await sbx.commands.kill(bg.pid), false);
    });

    it('stdin: a process started with stdin reads what sendStdin sends, and its end when closeStdin closes it', async () => {
      const h = await sbx.commands.run('read line; echo "got $line"; cat', { background: true, stdin: true });
      await sbx.commands.sendStdin(h.pid, 'hello\n');
      await sbx.commands.sendStdin(h.pid, 'rest');
      await sbx.commands.closeStdin(h.pid);
      const r = await h.wait();
      assert.equal(r.stdout, 'got hello\nrest');
      const none = await sbx.commands.run('true', { background: true });
      await none.wait();
      await assert.rejects(sbx.commands.sendStdin(none.pid, 'x'), /not found, or started without stdin/);
    });

    it('unsupported calls answer the SDK\'s error naming the feature, without a hang', async () => {
      await assert.rejects(sbx.pty.create({ cols: 80, rows: 24, onData: () => undefined }), /a PTY \(sandbox.pty\) is not supported by durabox/);
      const ctx = await sbx.createCodeContext();
      await assert.rejects(sbx.restartCodeContext(ctx), /restarting a code context is not supported by durabox/);
      await assert.rejects(sbx.runCode('1', { language: 'r' }), /language: r is not supported by durabox/);
    });

    it('the v1 create answers 201 with what the SDKs read; v1 connect and list too', async () => {
      const headers = { 'x-api-key': token, 'content-type': 'application/json' };
      const made = await fetch(`${platform.url}/e2b/sandboxes`, { method: 'POST', headers, body: JSON.stringify({ templateID: 'base', timeout: 120 }) });
      assert.equal(made.status, 201);
      const body = await made.json() as Record<string, string>;
      for (const field of ['sandboxID', 'templateID', 'clientID', 'envdVersion', 'envdAccessToken']) assert.equal(typeof body[field], 'string', field);
      assert.equal(body.domain, PREVIEW);
      try {
        const joined = await fetch(`${platform.url}/e2b/sandboxes/${body.sandboxID}/connect`, { method: 'POST', headers, body: JSON.stringify({ timeout: 120 }) });
        assert.equal(joined.status, 200);
        assert.equal((await joined.json() as Record<string, string>).sandboxID, body.sandboxID);
        const listed = await fetch(`${platform.url}/e2b/sandboxes`, { headers });
        assert.ok((await listed.json() as Array<{ sandboxID: string; state: string }>).some((s) => s.sandboxID === body.sandboxID && s.state === 'running'));
      } finally {
        assert.equal((await fetch(`${platform.url}/e2b/sandboxes/${body.sandboxID}`, { method: 'DELETE', headers })).status, 204);
      }
    });

    it('bad input: an unknown template and a bad timeout are 4xx naming the field', async () => {
      await assert.rejects(Sandbox.create('no-such-template-xyz'), /templateID/);
      await assert.rejects(sbx.setTimeout(10 ** 12), /timeout: must be between/);
      const raw = await fetch(`${platform.url}/e2b/sandboxes`, { method: 'POST', headers: { 'x-api-key': token, 'content-type': 'application/json' }, body: JSON.stringify({ templateID: 5 }) });
      assert.equal(raw.status, 400);
      assert.match((await raw.json() as { message: string }).message, /^templateID:/);
    });

    it('a second account\'s key neither sees nor touches the sandbox, and a forged envd token is refused', async () => {
      await assert.rejects(BaseSandbox.getInfo(sbx.sandboxId, { apiKey: other }), /not found/);
      assert.equal(await BaseSandbox.kill(sbx.sandboxId, { apiKey: other }), false);
      await assert.rejects(BaseSandbox.connect(sbx.sandboxId, { apiKey: other }), /not found/);
      const listed = await BaseSandbox.list({ apiKey: other }).nextItems();
      assert.ok(!listed.some((s) => s.sandboxId === sbx.sandboxId));
      const forged = await fetch(`${platform.url}/e2b/sandbox/files?path=/home/user`, { headers: { 'e2b-sandbox-id': sbx.sandboxId, 'e2b-sandbox-port': '49983', 'x-access-token': 'e2b1.e30.AAAA' } });
      assert.equal(forged.status, 401);
      // The sandbox's own token names it: sent for another sandbox id it opens nothing.
      const joined = await fetch(`${platform.url}/e2b/v2/sandboxes/${sbx.sandboxId}/connect`, { method: 'POST', headers: { 'x-api-key': token, 'content-type': 'application/json' }, body: '{}' });
      const { envdAccessToken } = await joined.json() as { envdAccessToken: string };
      const elsewhere = await fetch(`${platform.url}/e2b/sandbox/files?path=/home/user/x`, { headers: { 'e2b-sandbox-id': `sess_${'0'.repeat(32)}`, 'e2b-sandbox-port': '49983', 'x-access-token': envdAccessToken } });
      assert.equal(elsewhere.status, 403);
      assert.equal((await BaseSandbox.getInfo(sbx.sandboxId)).state, 'running');
    });

    it('closes the sandbox tokens an API key was given when the key is deleted', async () => {
      const cookie = await login();
      const made = await call('POST', '/api/v1/console/tokens', { cookie, body: { name: `e2b-revoke-${process.pid}` } });
      assert.equal(made.status, 201);
      const viaKey = await BaseSandbox.connect(sbx.sandboxId, { apiKey: made.body.token });
      assert.equal((await viaKey.commands.run('echo via-key')).stdout, 'via-key\n');
      const host = viaKey.getHost(8767);
      assert.equal((await call('DELETE', `/api/v1/console/tokens/${made.body.id}`, { cookie })).status, 204);
      // Each SDK call says it its own way: the message, or the Connect code.
      await assert.rejects(viaKey.files.read('/home/user/keep.txt'), /API key this token was given for has been deleted|unauthenticated/);
      await assert.rejects(viaKey.commands.run('echo after'), /API key this token was given for has been deleted|unauthenticated/);
      assert.equal((await getWithHost(`${platform.url}/`, host, { 'e2b-traffic-access-token': viaKey.trafficAccessToken! })).status, 401);
      // The sandbox itself, and the tokens of keys still there, go on.
      assert.equal((await sbx.commands.run('echo still-mine')).stdout, 'still-mine\n');
    });

    it('answers hostile envd, interpreter and control requests with a 4xx (or 501), never a 500, and keeps serving', async () => {
      const joined = await fetch(`${platform.url}/e2b/v2/sandboxes/${sbx.sandboxId}/connect`, { method: 'POST', headers: { 'x-api-key': token, 'content-type': 'application/json' }, body: '{}' });
      const { envdAccessToken } = await joined.json() as { envdAccessToken: string };
      const envd = { 'e2b-sandbox-id': sbx.sandboxId, 'e2b-sandbox-port': '49983', 'x-access-token': envdAccessToken };
      const jupyter = { ...envd, 'e2b-sandbox-port': '49999' };
      const json = { 'content-type': 'application/json' };
      const stream = { 'content-type': 'application/connect+json' };
      const cases: Array<[string, string, RequestInit]> = [
        ['POST', '/filesystem.Filesystem/Stat', { body: 'not json', headers: { ...envd, ...json } }],
        ['POST', '/filesystem.Filesystem/Stat', { body: '{"path":"/etc/../../root/x"}', headers: { ...envd, ...json } }],
        ['POST', '/filesystem.Filesystem/ListDir', { body: '{"path":"/home/user","depth":-1}', headers: { ...envd, ...json } }],
        ['POST', '/filesystem.Filesystem/Remove', { body: '{"path":"/etc/passwd"}', headers: { ...envd, ...json } }],
        ['POST', '/filesystem.Filesystem/Nope', { body: '{}', headers: { ...envd, ...json } }],
        ['POST', '/filesystem.Filesystem/Stat', { body: '{"path":"/home/user"}', headers: { ...envd, 'content-type': 'text/plain' } }],
        ['POST', '/process.Process/SendSignal', { body: '{"process":{"pid":1},"signal":"SIGNAL_SIGHUP"}', headers: { ...envd, ...json } }],
        ['POST', '/process.Process/SendInput', { body: '{"process":{"pid":999999},"input":{"stdin":"aGk="}}', headers: { ...envd, ...json } }],
        ['GET', '/files?path=/workspace/../etc/shadow', { headers: envd }],
        ['GET', '/files', { headers: envd }],
        ['POST', '/files?path=/home/user/x', { body: '--x\r\nbroken', headers: { ...envd, 'content-type': 'multipart/form-data; boundary=x' } }],
        ['POST', '/execute', { body: '{"code": 5}', headers: { ...jupyter, ...json } }],
        ['POST', '/execute', { body: '{"code":"1","language":"cobol"}', headers: { ...jupyter, ...json } }],
        ['POST', '/contexts', { body: '{"language":"python","cwd":"/etc"}', headers: { ...jupyter, ...json } }],
        ['DELETE', '/contexts/%E0%A4%A', { headers: jupyter }],
        ['GET', '/health', { headers: { ...envd, 'e2b-sandbox-port': '8080' } }],
        ['GET', '/health', { headers: { ...envd, 'e2b-sandbox-id': '' } }],
      ];
      for (const [method, path, init] of cases) {
        const r = await fetch(`${platform.url}/e2b/sandbox${path}`, { method, ...init });
        const body = await r.text();
        assert.ok((r.status >= 400 && r.status < 500) || r.status === 501, `${method} ${path}: ${r.status} ${body}`);
        assert.equal(typeof JSON.parse(body).message, 'string', body);
      }
      // A broken Connect stream request: the stream's own end names what is wrong.
      for (const body of [Buffer.from([0, 0]), Buffer.from([1, 0, 0, 0, 2, 123, 125]), Buffer.concat([Buffer.from([0, 0, 0, 0, 2]), Buffer.from('{}')])]) {
        const r = await fetch(`${platform.url}/e2b/sandbox/process.Process/Start`, { method: 'POST', headers: { ...envd, ...stream }, body });
        const bytes = Buffer.from(await r.arrayBuffer());
        assert.equal(bytes.readUInt8(0), 2, bytes.toString());
        const end = JSON.parse(bytes.subarray(5).toString()) as { error: { code: string; message: string } };
        assert.equal(end.error.code, 'invalid_argument', JSON.stringify(end));
      }
      const key = { 'x-api-key': token, 'content-type': 'application/json' };
      for (const [method, path, body] of [['POST', '/v2/sandboxes', '[]'], ['POST', '/v2/sandboxes', '{"templateID":"base","envVars":{"BAD NAME":"x"}}'], ['POST', '/v2/sandboxes', '{"templateID":"base","timeout":-5}'], ['POST', `/sandboxes/${sbx.sandboxId}/timeout`, '{"timeout":"soon"}'], ['DELETE', '/sandboxes/%E0%A4%A', undefined], ['GET', '/sandboxes/..%2F..%2Fetc', undefined], ['POST', `/sandboxes/${sbx.sandboxId}/fork`, '{}']] as const) {
        const r = await fetch(`${platform.url}/e2b${path}`, { method, headers: key, ...(body ? { body } : {}) });
        const text = await r.text();
        assert.ok((r.status >= 400 && r.status < 500) || r.status === 501, `${method} ${path}: ${r.status} ${text}`);
        assert.deepEqual(Object.keys(JSON.parse(text)).sort(), ['code', 'message']);
      }
      assert.equal((await fetch(`${platform.url}/e2b/sandboxes`, { headers: { 'x-api-key': 'nope' } })).status, 401);
      assert.equal((await sbx.commands.run('echo still-here')).stdout, 'still-here\n');
    });

    it('pauses and resumes with its files kept; kill ends it', async () => {
      await sbx.files.write('/home/user/keep.txt', 'kept');
      assert.equal(await BaseSandbox.pause(sbx.sandboxId), true);
      assert.equal((await BaseSandbox.getInfo(sbx.sandboxId)).state, 'paused');
      const again = await Sandbox.connect(sbx.sandboxId);
      assert.equal((await BaseSandbox.getInfo(sbx.sandboxId)).state, 'running');
      assert.equal(await again.files.read('/home/user/keep.txt'), 'kept');
      assert.equal((await again.commands.run('cat /home/user/keep.txt')).stdout, 'kept');
      assert.equal(await BaseSandbox.kill(sbx.sandboxId), true);
      await assert.rejects(BaseSandbox.getInfo(sbx.sandboxId), /not found/);
    });
  });

  describe('Python SDK', () => {
    it('drives one sandbox through create, a streamed command, files, code, a port, refusals, pause, resume and kill', async () => {
      const r = await python('flow.py', { ...env(), OTHER_KEY: other, DURABOX_URL: platform.url });
      assert.equal(r.template, 'code-interpreter-v1');
      assert.equal(r.stream.stdout, 'first\nsecond\n');
      assert.ok(r.stream.ended_at - r.stream.first_at >= 2, JSON.stringify(r.stream));
      assert.deepEqual(r.nonzero, { raised: true, exit_code: 3, stderr: 'oops\n' });
      assert.equal(r.cwd, '/home/user\nyes\n');
      assert.equal(r.read, 'hello from python');
      assert.deepEqual(r.list, ['hello.txt']);
      assert.deepEqual(r.exists, [true, false]);
      assert.equal(r.moved, 'hello from python');
      assert.match(r.stat.type, /dir/i);
      assert.equal(r.removed, false);
      assert.equal(r.context, '42');
      assert.deepEqual(r.cell_stdout, ['a\n', 'b\n']);
      assert.equal(r.dataframe_html, true);
      assert.equal(r.png, true);
      assert.equal(r.cell_error, 'ZeroDivisionError');
      assert.equal(r.beside, 'beside\n');
      assert.equal(r.bg_listed, true);
      assert.equal(r.bg_killed, true);
      assert.deepEqual(r.bg_wait, { raised: true, exit_code: 137, stdout: 'started\n' });
      assert.equal(r.bg_after, false);
      assert.equal(r.stdin, 'got hello\nrest');
      assert.equal(r.host, `8765-${r.sandbox_id}.${PREVIEW}`);
      assert.equal(r.port, 'served-py');
      assert.deepEqual(r.watch, [['new.txt', 'create']]);
      assert.deepEqual(r.watch_removed, [['new.txt', 'remove']]);
      assert.match(r.restart_context.message, /501.*restarting a code context is not supported by durabox/);
      assert.match(r.bad_template.message, /templateID/);
      assert.match(r.bad_timeout.message, /timeout: must be between/);
      assert.match(r.other_account.message, /not found/);
      assert.deepEqual(r.other_kill, { ok: false });
      assert.equal(r.listed, true);
      assert.match(r.paused_state, /paused/i);
      assert.equal(r.after_resume, 'sub\n');
      assert.equal(r.killed, true);
      assert.match(r.after_kill.message, /not found/);
    });
  });

  describe('durability', () => {
    onOwnHosts(['e2b-a']);

    it('an E2B sandbox survives its worker\'s kill -9: files and a later command work once a new worker starts', async () => {
      await platform.startWorker('e2b-a', { DURABOX_RUNTIMES: 'terminal' });
      const sbx = await BaseSandbox.create('base', { timeoutMs: 600_000 });
      try {
        await sbx.files.write('/home/user/durable.txt', 'still here');
        assert.equal((await sbx.commands.run('echo before > /home/user/before.txt && cat /home/user/before.txt')).stdout, 'before\n');
        const ticking = await sbx.commands.run('for i in 1 2 3 4 5 6 7 8; do echo tick $i; sleep 1; done', { background: true });
        await platform.workers.get('e2b-a')!.stop('SIGKILL');
        await platform.startWorker('e2b-a', { DURABOX_RUNTIMES: 'terminal' });
        // The background process went on in the container: connected again, its whole output and its end.
        const done = await (await sbx.commands.connect(ticking.pid)).wait();
        assert.equal(done.exitCode, 0);
        assert.equal(done.stdout, [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `tick ${i}\n`).join(''));
        assert.equal(await sbx.files.read('/home/user/durable.txt'), 'still here');
        assert.equal((await sbx.commands.run('cat /home/user/before.txt /home/user/durable.txt')).stdout, 'before\nstill here');
        assert.equal((await BaseSandbox.getInfo(sbx.sandboxId)).state, 'running');
      } finally {
        await BaseSandbox.kill(sbx.sandboxId).catch(() => undefined);
      }
    });
  });
});
