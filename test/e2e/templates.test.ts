// Templates (spec §3.2) for real: the built-in images carry the stack agents reach for, in pythonExec and
// in a session; an account's template is built by a workflow on every host (real Docker builds, pip from
// the package index), used by pythonExec and runCode, kept from other accounts, and built by a host that
// comes online later before it serves.
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { eventually } from './support/docker.js';
import { platform } from './support/hooks.js';
import { call, login, newToken } from './support/http.js';
import { onOwnHosts } from './support/own-hosts.js';
import { templateImage } from '../../control/template-service.js';

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
    assert.deepEqual(listed.body.items.map((i: { name: string }) => i.name), ['python', 'terminal', NAME]);

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
    assert.deepEqual(listed.body.items.map((i: { name: string }) => i.name), ['python', 'terminal']);
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

  it('a host that comes online later builds the template before it serves, and serves it alone', async () => {
    const image: string = (await platform.api.deps.db('templates').where({ name: NAME }).first()).image;
    await platform.workers.get('tpl-a')!.stop();
    await platform.workers.get('tpl-b')!.stop();
    // Its image gone from this Docker (the first hosts' copy), as on a new machine.
    await platform.docker.getImage(image).remove({ force: true });
    const late = await platform.startWorker('tpl-late');
    assert.ok(await platform.docker.getImage(image).inspect(), 'built before it served');
    assert.match(late.output(), /built a template this host lacked/);
    const t = (await call('GET', `/api/v1/templates/${NAME}`, { token })).body;
    assert.equal(t.hosts.find((h: { node_id: string }) => h.node_id === late.id)?.status, 'ready', JSON.stringify(t.hosts));
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
