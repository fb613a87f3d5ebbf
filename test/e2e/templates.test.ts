// Templates (spec §3.2) for real: the built-in images carry the stack agents reach for, in pythonExec and
// in a session; an account's template is built by a workflow on every host (real Docker builds, pip from
// the package index), used by pythonExec and runCode, kept from other accounts, and built by a host that
// comes online later before it serves.
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { bridgeAddress, eventually, sessionContainer } from './support/docker.js';
import { platform } from './support/hooks.js';
import { call, login, newToken } from './support/http.js';
import { onOwnHosts } from './support/own-hosts.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { templateImage } from '../../control/template-service.js';
import { LABEL_EGRESS } from '../../sandbox/egress.js';
import { LABEL_WORKER } from '../../sandbox/profile.js';

const STACK = ['numpy', 'pandas', 'matplotlib', 'scipy', 'sklearn', 'PIL', 'openpyxl', 'sympy', 'requests'];

describe('templates: the built-in stack', function () {
  this.timeout(120_000);
  let token: string;
  before(async () => { token = await newToken(); });

  it('pythonExec imports the analysis stack and computes with it', async () => {
    const code = [
      `import ${STACK.join(', ')}`,
      'import pandas as pd, numpy as np',
      'from scipy import stats',
      'from sklearn.linear_model import LinearRegression',
      'import matplotlib; matplotlib.use("agg"); import matplotlib.pyplot as plt',
      'df = pd.DataFrame({"x": [0, 1, 2, 3], "y": [1, 3, 5, 7]})',
      'fit = LinearRegression().fit(df[["x"]], df["y"])',
      'plt.plot(df.x, df.y); plt.savefig("/tmp/p.png")',
      'print(round(float(fit.coef_[0]), 6), round(float(stats.norm.cdf(0)), 3), int(sympy.diff(sympy.Symbol("t") ** 3).subs("t", 2)))',
    ].join('\n');
    const r = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', input: { code }, mode: 'sync' } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.result.stderr, '');
    assert.equal(r.body.result.output, '2.0 0.5 12\n');
  });

  it('a terminal session has the same Python stack, and Node.js with npm', async () => {
    const r = await call('POST', '/api/v1/commands/terminal', {
      token,
      body: { command: `python3 -c 'import ${STACK.join(', ')}; print("stack ok")' && node -e 'console.log(6 * 7)' && npm --version` },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const [stack, node, npm] = r.body.stdout.trim().split('\n');
    assert.equal(stack, 'stack ok', r.body.stderr);
    assert.equal(node, '42');
    assert.match(npm, /^\d+\.\d+\.\d+$/);
    await call('DELETE', `/api/v1/sessions/${r.body.session_id}`, { token });
  });
});

describe('templates: an account\'s own, built as a workflow on every host', function () {
  this.timeout(300_000);
  const hosts = ['tpl-a', 'tpl-b', 'tpl-late'];
  onOwnHosts(hosts);
  let token: string;
  let adminCookie: string;
  const NAME = `tab-${process.pid}`;
  const PACKAGES = { pip: ['tabulate==0.9.0'], npm: [], apt: [] };
  const task = (body: Record<string, unknown>, t = token) => call('POST', '/api/v1/tasks', { token: t, body: { mode: 'sync', ...body } });
  const ready = (name: string, t = token) => eventually(`template ${name} to finish building`, async () => {
    const r = await call('GET', `/api/v1/templates/${name}`, { token: t });
    return r.body.status !== 'building' && r.body;
  }, 240_000);

  before(async function () {
    this.timeout(120_000);
    adminCookie = await login();
    token = await newToken(adminCookie);
    // Built by this run, not found from an earlier one on this Docker.
    await platform.docker.getImage(templateImage({ base: 'python', packages: PACKAGES })).remove({ force: true }).catch(() => undefined);
    await platform.startWorker('tpl-a');
    await platform.startWorker('tpl-b');
  });

  it('builds an extra pip package on both hosts, records each host\'s log, and pythonExec and runCode use it; the built-in image has no such package', async () => {
    const created = await call('POST', '/api/v1/templates', { token, body: { name: NAME, base: 'python', packages: { pip: ['tabulate==0.9.0'] }, memory_mb: 384 } });
    assert.deepEqual(created.body.packages, PACKAGES);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.status, 'building');
    const t = await ready(NAME);
    assert.equal(t.status, 'ready', JSON.stringify(t));
    const ids = [platform.workerId('tpl-a'), platform.workerId('tpl-b')];
    assert.deepEqual(t.hosts.map((h: { node_id: string }) => h.node_id).sort(), ids.sort());
    for (const h of t.hosts) assert.equal(h.status, 'ready', h.log);
    assert.ok(t.hosts.some((h: { log: string }) => /tabulate/.test(h.log)), 'a host\'s log shows the install');
    const listed = await call('GET', '/api/v1/templates', { token });
    assert.deepEqual(listed.body.items.map((i: { name: string }) => i.name), ['python', 'terminal', 'browser', NAME]);

    const code = 'import tabulate, resource\nprint(tabulate.__version__)';
    const used = await task({ capability: 'pythonExec', input: { code, template: NAME } });
    assert.equal(used.status, 200, JSON.stringify(used.body));
    assert.equal(used.body.result.output, '0.9.0\n', used.body.result.stderr);
    const plain = await task({ capability: 'pythonExec', input: { code } });
    assert.equal(plain.status, 200);
    assert.match(plain.body.result.stderr, /No module named 'tabulate'/);
    const cell = await call('POST', '/api/v1/commands/code', { token, body: { code: 'import tabulate\ntabulate.tabulate([[1, 2]])', template: NAME } });
    assert.equal(cell.status, 200, JSON.stringify(cell.body));
    assert.match(cell.body.results.find((r: { is_main_result: boolean }) => r.is_main_result).text, /1 {2}2/);
    // Its sandboxes get the template's limits: 384 MB of memory.
    const image: string = (await platform.api.deps.db('templates').where({ name: NAME }).first()).image;
    const sandboxes = await platform.docker.listContainers({ filters: { ancestor: [image] } });
    assert.ok(sandboxes.length > 0, 'a sandbox of the template kept warm');
    for (const c of sandboxes) assert.equal((await platform.docker.getContainer(c.Id).inspect()).HostConfig.Memory, 384 * 1024 * 1024);
  });

  it('an agent names it in the MCP pythonExec tool, through the MCP SDK\'s client', async () => {
    const client = new Client({ name: 'durabox-templates-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${platform.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    try {
      const tool = (await client.listTools()).tools.find((t) => t.name === 'pythonExec')!;
      assert.ok((tool.inputSchema.properties as Record<string, unknown>).template, 'pythonExec takes template');
      const r = await client.callTool({ name: 'pythonExec', arguments: { code: 'import tabulate; print(tabulate.__version__)', template: NAME } });
      assert.equal((r.structuredContent as { output: string }).output, '0.9.0\n', JSON.stringify(r));
      const missing = await client.callTool({ name: 'pythonExec', arguments: { code: 'print(1)', template: 'no-such-template' } });
      assert.equal(missing.isError, true);
      assert.match(JSON.stringify(missing.content), /template_not_found/);
    } finally {
      await client.close();
    }
  });

  it('another account can neither see nor use it', async () => {
    const other = await platform.otherAccount('tpl');
    assert.equal((await call('GET', `/api/v1/templates/${NAME}`, { token: other.token })).status, 404);
    const listed = await call('GET', '/api/v1/templates', { token: other.token });
    assert.deepEqual(listed.body.items.map((i: { name: string }) => i.name), ['python', 'terminal', 'browser']);
    // Every list says what this platform lets an account ask of a template (the operator's settings).
    const { templateNetworks, templateMax } = platform.api.deps.api;
    assert.deepEqual(listed.body.offered, { networks: templateNetworks, max_memory_mb: templateMax.memoryMb, max_cpus: templateMax.cpus });
    const r = await task({ capability: 'pythonExec', input: { code: 'print(1)', template: NAME } }, other.token);
    assert.equal(r.status, 404, JSON.stringify(r.body));
    assert.match(r.body.error, /template/);
    assert.equal((await call('DELETE', `/api/v1/templates/${NAME}`, { token: other.token })).status, 404);
  });

  it('only an admin may give a Dockerfile; an admin\'s builds from the base image', async () => {
    const other = await platform.otherAccount('tpl-docker');
    const dockerfile = 'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nUSER root\nRUN echo built-by-dockerfile > /opt/marker\nUSER 1000:1000\n';
    const refused = await call('POST', '/api/v1/templates', { token: other.token, body: { name: 'mine', base: 'python', dockerfile } });
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.match(refused.body.error, /dockerfile/);
    const name = `df-${process.pid}`;
    const created = await call('POST', '/api/v1/templates', { token, body: { name, base: 'python', dockerfile } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal((await ready(name)).status, 'ready');
    const r = await task({ capability: 'pythonExec', input: { code: 'print(open("/opt/marker").read().strip())', template: name } });
    assert.equal(r.body.result.output, 'built-by-dockerfile\n');
    assert.equal((await call('DELETE', `/api/v1/templates/${name}`, { token })).status, 204);
  });

  it('refuses bad input naming the field, and a package that does not exist fails its build with the log while other work goes on', async () => {
    for (const [body, field] of [
      [{ name: 'x', base: 'ruby' }, 'base'],
      [{ name: 'a'.repeat(64), base: 'python' }, 'name'],
      [{ name: 'Bad Name!', base: 'python' }, 'name'],
      [{ name: 'python', base: 'python' }, 'name'],
      [{ name: 'x', base: 'python', packages: { pip: ['-e http://127.0.0.1/x'] } }, 'packages.pip'],
      [{ name: 'x', base: 'python', packages: { apt: ['curl; rm -rf /'] } }, 'packages.apt'],
      [{ name: 'x', base: 'python', packages: { cargo: ['x'] } }, 'packages'],
      [{ name: 'x', base: 'python', network: 'some' }, 'network'],
      [{ name: 'x', base: 'python', memory_mb: 1 }, 'memory_mb'],
    ] as const) {
      const r = await call('POST', '/api/v1/templates', { token, body });
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.ok(r.body.error.includes(field), `${r.body.error} names ${field}`);
    }
    const bad = `nopkg-${process.pid}`;
    assert.equal((await call('POST', '/api/v1/templates', { token, body: { name: bad, base: 'python', packages: { pip: ['durabox-no-such-package-exists-here==1.0'] } } })).status, 201);
    const meanwhile = await task({ capability: 'pythonExec', input: { code: 'print("undisturbed")' } });
    assert.equal(meanwhile.body.result.output, 'undisturbed\n');
    const t = await ready(bad);
    assert.equal(t.status, 'failed');
    assert.match(t.error, /failed on/);
    assert.ok(t.hosts.every((h: { status: string; log: string }) => h.status === 'failed' && /durabox-no-such-package-exists-here/.test(h.log)), JSON.stringify(t.hosts));
    const r = await task({ capability: 'pythonExec', input: { code: 'print(1)', template: bad } });
    assert.equal(r.status, 409, JSON.stringify(r.body));
    assert.match(r.body.error, /failed to build/);
    assert.equal((await call('POST', '/api/v1/templates', { token, body: { name: bad, base: 'python' } })).status, 409, 'a taken name');
    assert.equal((await call('DELETE', `/api/v1/templates/${bad}`, { token })).status, 204);
    assert.equal((await call('DELETE', '/api/v1/templates/python', { token })).status, 403);
    const wrongBase = await task({ capability: 'pythonExec', input: { code: 'print(1)', template: 'terminal' } });
    assert.equal(wrongBase.status, 400);
    assert.match(wrongBase.body.error, /template/);
  });

  it('a host that comes online later builds the template beside its work, and serves it alone', async () => {
    const image: string = (await platform.api.deps.db('templates').where({ name: NAME }).first()).image;
    await platform.workers.get('tpl-a')!.stop();
    await platform.workers.get('tpl-b')!.stop();
    // Its image gone from this Docker (the first hosts' copy), as on a new machine.
    await platform.docker.getImage(image).remove({ force: true });
    const late = await platform.startWorker('tpl-late');
    await eventually('the late host to build the template it lacked', async () => /built a template this host lacked/.test(late.output()), 240_000);
    assert.ok(await platform.docker.getImage(image).inspect(), 'built');
    await eventually('the late host\'s build to be recorded', async () => {
      const t = (await call('GET', `/api/v1/templates/${NAME}`, { token })).body;
      return t.hosts.find((h: { node_id: string }) => h.node_id === late.id)?.status === 'ready';
    }, 30_000);
    const r = await task({ capability: 'pythonExec', input: { code: 'import tabulate; print("late", tabulate.__version__)', template: NAME } });
    assert.equal(r.body.result.output, 'late 0.9.0\n');
  });

  it('a template deleted while a task uses it: the task ends as it would have, new calls are not found', async () => {
    const started = await task({ capability: 'pythonExec', mode: 'async', input: { code: 'import time, tabulate\ntime.sleep(2)\nprint("finished", tabulate.__version__)', template: NAME } });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.equal((await call('DELETE', `/api/v1/templates/${NAME}`, { token })).status, 204);
    const done = await eventually('the task to end', async () => {
      const r = await call('GET', `/api/v1/tasks/${started.body.task_id}`, { token });
      return r.body.status !== 'running' && r.body.status !== 'queued' && r.body;
    }, 60_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.equal(done.result.output, 'finished 0.9.0\n');
    const after = await task({ capability: 'pythonExec', input: { code: 'print(1)', template: NAME } });
    assert.equal(after.status, 404);
  });
});

describe('templates: sessions on a template, and allow-list egress through the host\'s proxy', function () {
  this.timeout(300_000);
  onOwnHosts(['tpl-net']);
  let token: string;
  let bridgeIp: string;
  const listeners: Array<{ server: Server; port: number; hits: number }> = [];
  const SESS = `sess-${process.pid}`;
  const PYNET = `pynet-${process.pid}`;
  const term = (body: Record<string, unknown>) => call('POST', '/api/v1/commands/terminal', { token, body });
  const ready = (name: string) => eventually(`template ${name} to finish building`, async () => {
    const r = await call('GET', `/api/v1/templates/${name}`, { token });
    return r.body.status !== 'building' && r.body;
  }, 240_000);
  // This machine's bridge is private: the operator opens just the listeners' address, and names it.
  const egressEnv = () => ({ DURABOX_EGRESS_PRIVATE_CIDRS: `${bridgeIp}/32`, DURABOX_EGRESS_HOSTS: `allowed.durabox.test=${bridgeIp}` });
  const egressNetworks = async () => platform.docker.listNetworks({ filters: { label: [LABEL_EGRESS, `${LABEL_WORKER}=${platform.workerId('tpl-net')}`] } });

  before(async function () {
    this.timeout(240_000);
    token = await newToken();
    // Two listeners of this test on the Docker bridge's address: the first is allowed, the second never.
    bridgeIp = bridgeAddress();
    for (const name of ['listener-a', 'listener-b']) {
      const l = { server: createServer(), port: 0, hits: 0 };
      l.server.on('request', (_req, res) => { l.hits++; res.end(`${name}\n`); });
      await new Promise<void>((resolve) => l.server.listen(0, bridgeIp, resolve));
      l.port = (l.server.address() as AddressInfo).port;
      listeners.push(l);
    }
    await platform.startWorker('tpl-net', egressEnv());
    const [a] = listeners;
    for (const body of [
      { name: SESS, base: 'terminal', packages: { pip: ['tabulate==0.9.0'] }, network: 'allowlist', allow: [`allowed.durabox.test:${a.port}`], memory_mb: 640 },
      { name: PYNET, base: 'python', network: 'allowlist', allow: [`${bridgeIp}:${a.port}`] },
    ]) {
      const r = await call('POST', '/api/v1/templates', { token, body });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    for (const name of [SESS, PYNET]) assert.equal((await ready(name)).status, 'ready', name);
  });

  after(async () => {
    for (const l of listeners) l.server.close();
  });

  it('a session created on a terminal template has its package and limits, over REST and MCP; the built-in one does not', async () => {
    const check = 'python3 -c "import tabulate; print(tabulate.__version__)"';
    const r = await term({ command: check, template: SESS });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.stdout, '0.9.0\n', r.body.stderr);
    const sid = r.body.session_id;
    assert.equal((await sessionContainer(token, sid))!.HostConfig.Memory, 640 * 1024 * 1024);

    const plain = await term({ command: check });
    assert.equal(plain.status, 200);
    assert.match(plain.body.stderr, /No module named 'tabulate'/);
    // A template names what a new session is made from: never a live one's.
    const late = await term({ command: 'true', session_id: plain.body.session_id, template: SESS });
    assert.equal(late.status, 400, JSON.stringify(late.body));
    // A session call's error body is the reference's: {error, code, message}.
    assert.equal(late.body.code, 'invalid_input');
    assert.match(late.body.message, /^template: only when the call creates the session/);
    const joined = await term({ command: 'true', session_id: plain.body.session_id, create_if_missing: true, template: SESS });
    assert.equal(joined.status, 400, JSON.stringify(joined.body));
    assert.match(joined.body.message, /^template: .* runs in template terminal/);
    const same = await term({ command: check, session_id: sid, create_if_missing: true, template: SESS });
    assert.equal(same.body.stdout, '0.9.0\n', 'create_if_missing with its own template joins it');
    await call('DELETE', `/api/v1/sessions/${plain.body.session_id}`, { token });

    const client = new Client({ name: 'durabox-templates-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${platform.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    try {
      const m = await client.callTool({ name: 'terminalExec', arguments: { command: check, template: SESS } });
      const out = m.structuredContent as { stdout: string; session_id: string };
      assert.equal(out.stdout, '0.9.0\n', JSON.stringify(m));
      await call('DELETE', `/api/v1/sessions/${out.session_id}`, { token });
      const wrong = await client.callTool({ name: 'terminalExec', arguments: { command: 'true', template: PYNET } });
      assert.equal(wrong.isError, true);
      assert.match(JSON.stringify(wrong.content), /built on python/);
    } finally {
      await client.close();
    }
    await call('DELETE', `/api/v1/sessions/${sid}`, { token });
  });

  it('a paused session comes back on its template, with its allow-list, after continue-as-new', async () => {
    const policy = platform.api.deps.api.session;
    const before = policy.pauseAfterSec;
    policy.pauseAfterSec = 3;
    try {
      const r = await term({ command: 'echo kept > f.txt', template: SESS });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const sid = r.body.session_id;
      // More commands than a run holds (DURABOX_SESSION_COMMANDS_PER_RUN=5 here): the template goes on with the session.
      for (let i = 0; i < 5; i++) assert.equal((await term({ command: 'true', session_id: sid })).status, 200);
      await eventually('the session to pause', async () => (await call('GET', `/api/v1/sessions/${sid}`, { token })).body.status === 'paused', 60_000);
      const back = await term({ command: `cat f.txt; python3 -c "import tabulate; print(tabulate.__version__)"; curl -sS --max-time 10 http://allowed.durabox.test:${listeners[0].port}/`, session_id: sid });
      assert.equal(back.status, 200, JSON.stringify(back.body));
      assert.equal(back.body.restored, true);
      assert.equal(back.body.stdout, 'kept\n0.9.0\nlistener-a\n', back.body.stderr);
      await call('DELETE', `/api/v1/sessions/${sid}`, { token });
    } finally {
      policy.pauseAfterSec = before;
    }
  });

  it('an allow-listed listener is reachable from the sandbox, by name and by address; the second listener, other names, the host\'s services and other sandboxes are refused', async () => {
    const [a, b] = listeners;
    const hitsB = b.hits;
    const apiPort = new URL(platform.url).port;
    // A second allow-list session: a sandbox the first must not reach, though it serves on a port.
    const other = await term({ command: 'nohup python3 -m http.server 8000 >/dev/null 2>&1 & sleep 1; hostname -i', template: SESS });
    assert.equal(other.status, 200, JSON.stringify(other.body));
    const otherIp = other.body.stdout.trim();
    assert.match(otherIp, /^\d+\.\d+\.\d+\.\d+$/);
    const code = (url: string, extra = '') => `curl -sS -o /dev/null -w '%{http_code}' --max-time 5 ${extra} ${url}; echo " exit=$?"`;
    const r = await term({
      template: SESS,
      command: [
        `curl -sS --max-time 10 http://allowed.durabox.test:${a.port}/`,
        code(`http://${bridgeIp}:${b.port}/`),
        code(`http://allowed.durabox.test:${b.port}/`),
        code(`http://${bridgeIp}:${apiPort}/api/v1/health`),
        code(`http://${otherIp}:8000/`),
        code(`http://${bridgeIp}:${a.port}/`, "--noproxy '*'"),
        code(`http://${otherIp}:8000/`, "--noproxy '*'"),
        'getent hosts allowed.durabox.test | cut -d" " -f1',
        'getent hosts denied.durabox.test; echo "dns exit=$?"',
      ].join('; '),
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const lines: string[] = r.body.stdout.trim().split('\n');
    assert.equal(lines.length, 9, r.body.stdout + r.body.stderr);
    assert.equal(lines[0], 'listener-a', r.body.stderr);
    // Through the proxy, refused: the second listener (by address and by the allowed name), the host's own
    // API, another sandbox.
    assert.deepEqual(lines.slice(1, 5), ['403 exit=0', '403 exit=0', '403 exit=0', '403 exit=0'], r.body.stderr);
    // Around the proxy: no connection at all (the sandbox's network is internal and has no address on the host).
    for (const direct of lines.slice(5, 7)) assert.match(direct, /^000 exit=(7|28)$/, r.body.stderr);
    // DNS answers allowed names only.
    assert.deepEqual(lines.slice(7), [bridgeIp, 'dns exit=2']);
    assert.equal(b.hits, hitsB, 'the second listener got no request');
    assert.ok(a.hits >= 1);

    // pythonExec on an allow-list python template: the standard library honours the proxy variables.
    const py = [
      'import urllib.request, urllib.error',
      `print(urllib.request.urlopen("http://${bridgeIp}:${a.port}/", timeout=10).read().decode().strip())`,
      'try:',
      `    urllib.request.urlopen("http://${bridgeIp}:${b.port}/", timeout=10)`,
      'except urllib.error.HTTPError as e:',
      '    print("refused", e.code)',
    ].join('\n');
    const t = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', mode: 'sync', input: { code: py, template: PYNET } } });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.equal(t.body.result.output, 'listener-a\nrefused 403\n', t.body.result.stderr);
    assert.equal(b.hits, hitsB);
    // A template without a network has none at all.
    const none = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', mode: 'sync', input: { code: `import socket\ns = socket.socket()\ns.settimeout(3)\ntry:\n    s.connect(("${bridgeIp}", ${a.port})); print("connected")\nexcept OSError as e:\n    print("no network")` } } });
    assert.equal(none.body.result.output, 'no network\n');

    await call('DELETE', `/api/v1/sessions/${other.body.session_id}`, { token });
    await call('DELETE', `/api/v1/sessions/${r.body.session_id}`, { token });
  });

  it('a session on an allow-list keeps its egress across a kill -9 of its worker: the restarted worker attaches a new proxy to its network', async () => {
    const url = `http://allowed.durabox.test:${listeners[0].port}/`;
    const r = await term({ command: `curl -sS --max-time 10 ${url}`, template: SESS });
    assert.equal(r.body.stdout, 'listener-a\n', JSON.stringify(r.body));
    const [before] = await platform.docker.listContainers({ filters: { label: [`${LABEL_EGRESS}=proxy`, `${LABEL_WORKER}=${platform.workerId('tpl-net')}`] } });
    await platform.workers.get('tpl-net')!.stop('SIGKILL');
    await platform.startWorker('tpl-net', egressEnv());
    const again = await term({ command: `curl -sS --max-time 10 ${url}`, session_id: r.body.session_id });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.restored, undefined, 'the same container, kept by the restarted worker');
    assert.equal(again.body.stdout, 'listener-a\n', again.body.stderr);
    const [after] = await platform.docker.listContainers({ filters: { label: [`${LABEL_EGRESS}=proxy`, `${LABEL_WORKER}=${platform.workerId('tpl-net')}`] } });
    assert.notEqual(after.Id, before.Id, 'a new proxy');
    await call('DELETE', `/api/v1/sessions/${r.body.session_id}`, { token });
  });

  it('refuses allow-lists that are not host:port patterns, naming the field', async () => {
    for (const [body, field] of [
      [{ name: 'n1', base: 'python', network: 'allowlist' }, 'allow'],
      [{ name: 'n2', base: 'python', network: 'allowlist', allow: [] }, 'allow'],
      [{ name: 'n3', base: 'python', network: 'allowlist', allow: ['http://pypi.org/simple'] }, 'allow.0'],
      [{ name: 'n4', base: 'python', network: 'allowlist', allow: ['pypi.org'] }, 'allow.0'],
      [{ name: 'n5', base: 'python', network: 'allowlist', allow: ['pypi.org:443', 'pypi.org:70000'] }, 'allow.1'],
      [{ name: 'n6', base: 'python', network: 'allowlist', allow: ['*:443'] }, 'allow.0'],
      [{ name: 'n7', base: 'python', network: 'none', allow: ['pypi.org:443'] }, 'allow'],
    ] as const) {
      const r = await call('POST', '/api/v1/templates', { token, body });
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.ok(r.body.error.includes(field), `${r.body.error} names ${field}`);
    }
    const t = (await call('GET', `/api/v1/templates/${SESS}`, { token })).body;
    assert.equal(t.network, 'allowlist');
    assert.deepEqual(t.allow, [`allowed.durabox.test:${listeners[0].port}`]);
  });

  it('a sandbox\'s network goes with it: the networks left are those of live sandboxes', async () => {
    const r = await term({ command: 'true', template: SESS });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const [own] = Object.keys((await sessionContainer(token, r.body.session_id))!.NetworkSettings.Networks);
    assert.match(own, /^durabox-egress-/, 'the session is alone on a network of its own');
    assert.deepEqual(Object.keys((await platform.docker.getNetwork(own).inspect()).Containers ?? {}).length, 2, 'the session and the proxy');
    await call('DELETE', `/api/v1/sessions/${r.body.session_id}`, { token });
    const sandboxNetworks = async () => {
      const live = await platform.docker.listContainers({ filters: { label: [`${LABEL_WORKER}=${platform.workerId('tpl-net')}`] } });
      return live.filter((c) => c.Labels[LABEL_EGRESS] === undefined).flatMap((c) => Object.keys(c.NetworkSettings.Networks)).filter((n) => n.startsWith('durabox-egress-')).sort();
    };
    await eventually('only live sandboxes\' networks to be left', async () => {
      const nets = (await egressNetworks()).map((n) => n.Name).sort();
      return !nets.includes(own) && JSON.stringify(nets) === JSON.stringify(await sandboxNetworks());
    }, 60_000);
  });
});
