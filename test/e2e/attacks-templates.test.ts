// Template builds are hostile code (a package's setup.py or install script runs during the build): each
// attack below was first seen to succeed on the code before builds were contained. A build step reaches
// nothing but the package indexes through the host's egress proxy (never the host or its networks), runs
// within limits and a time bound, stops when its template is deleted, and a deleted template's image goes.
// A host builds what it lacks beside its work, and templates cannot ask for more than the operator allows.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { templateBuildId } from '../../control/template-service.js';
import { bridgeAddress, eventually } from './support/docker.js';
import { platform } from './support/hooks.js';
import { call, login, newToken } from './support/http.js';
import { onOwnHosts } from './support/own-hosts.js';

const HOST = 'tpl-atk';

describe('attacks on template builds', function () {
  this.timeout(600_000);
  onOwnHosts([HOST]);
  let token: string;
  let bridgeIp: string;
  const listener = { server: createServer(), port: 0, hits: 0 };
  const tag = `${process.pid}`;
  const create = (body: Record<string, unknown>) => call('POST', '/api/v1/templates', { token, body });
  const settled = (name: string, timeoutMs = 240_000) => eventually(`template ${name} to finish building`, async () => {
    const r = await call('GET', `/api/v1/templates/${name}`, { token });
    return r.body.status !== 'building' && r.body;
  }, timeoutMs);
  const dockerfile = (...run: string[]) => `ARG BASE_IMAGE\nFROM \${BASE_IMAGE}\n${run.map((r) => `RUN ${r}`).join('\n')}\n`;
  /** Containers (any state) whose command names this marker: a build's step running it. */
  const stepsRunning = async (marker: string) => (await platform.docker.listContainers({ all: true })).filter((c) => c.Command.includes(marker));
  const imageOf = async (name: string): Promise<string> => (await platform.api.deps.db('templates').where({ name }).first()).image;
  const hasImage = (image: string) => platform.docker.getImage(image).inspect().then(() => true, () => false);

  before(async function () {
    this.timeout(120_000);
    token = await newToken(await login());
    // A listener of this test on the Docker bridge's host address: what a build must never reach.
    bridgeIp = bridgeAddress();
    listener.server.on('request', (_req, res) => { listener.hits++; res.end('reached the host\n'); });
    await new Promise<void>((resolve) => listener.server.listen(0, bridgeIp, resolve));
    listener.port = (listener.server.address() as AddressInfo).port;
    await platform.startWorker(HOST, { DURABOX_TEMPLATE_BUILD_TIMEOUT_SEC: '30' });
  });

  after(() => { listener.server.close(); });

  it('a build step cannot reach the host: not directly, not through the proxy; it runs as limited as its settings say', async () => {
    const url = `http://${bridgeIp}:${listener.port}/`;
    const name = `reach-${tag}`;
    const r = await create({
      name, base: 'python', dockerfile: dockerfile(
        // Around the proxy: a direct connection to the host's bridge address.
        `python3 -c "import urllib.request as u; print('direct:', u.build_opener(u.ProxyHandler({})).open('${url}', timeout=5).read())" 2>&1 | tail -n 1`,
        // Through the proxy the build is told of (its HTTP_PROXY), as pip and npm go.
        `python3 -c "import urllib.request as u; print('proxied:', u.urlopen('${url}', timeout=5).read())" 2>&1 | tail -n 1`,
        'sleep 1; echo "pids=$(cat /sys/fs/cgroup/pids/pids.max) memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes) user=$(id -u)"',
      ),
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const t = await settled(name);
    const log: string = t.hosts.map((h: { log: string }) => h.log).join('\n');
    assert.equal(t.status, 'ready', log);
    assert.equal(listener.hits, 0, `the host's listener was reached from a build:\n${log}`);
    // Direct: the build's network is internal and has no address on the host. Through the proxy: refused.
    assert.match(log, /(?:URLError|[Tt]imed out|unreachable).*\n/);
    assert.doesNotMatch(log, /reached the host/);
    assert.match(log, /HTTPError: HTTP Error 403/, log);
    assert.match(log, /pids=512 memory=2147483648 user=1000/);
    await call('DELETE', `/api/v1/templates/${name}`, { token });
  });

  it('a build past its time bound is aborted: its step container goes and the build fails saying so', async () => {
    const name = `slow-${tag}`;
    const marker = 'sleep 611';
    assert.equal((await create({ name, base: 'python', dockerfile: dockerfile(marker) })).status, 201);
    await eventually('the build step to run', async () => (await stepsRunning(marker)).length > 0, 60_000);
    const t = await settled(name, 120_000);
    assert.equal(t.status, 'failed');
    const [host] = t.hosts;
    assert.equal(host.status, 'failed');
    assert.match(host.log, /the build ran past its time bound of 30 s \(DURABOX_TEMPLATE_BUILD_TIMEOUT_SEC\) and was aborted/);
    await eventually('the step container to be gone', async () => (await stepsRunning(marker)).length === 0, 30_000);
    await call('DELETE', `/api/v1/templates/${name}`, { token });
  });

  it('deleting a template mid-build cancels the build: its step container goes and the workflow ends cancelled', async () => {
    await platform.workers.get(HOST)!.stop();
    await platform.startWorker(HOST);
    const name = `cancel-${tag}`;
    const marker = 'sleep 612';
    assert.equal((await create({ name, base: 'python', dockerfile: dockerfile(marker) })).status, 201);
    const id: string = (await platform.api.deps.db('templates').where({ name }).first()).id;
    await eventually('the build step to run', async () => (await stepsRunning(marker)).length > 0, 60_000);
    assert.equal((await call('DELETE', `/api/v1/templates/${name}`, { token })).status, 204);
    const handle = platform.api.deps.client.workflow.getHandle(templateBuildId(id));
    // The cancellation reaches the host with its build's next heartbeat; the workflow ends once the host stopped.
    await eventually('the build workflow to end', async () => (await handle.describe()).status.name !== 'RUNNING', 30_000);
    assert.equal((await handle.describe()).status.name, 'CANCELLED');
    await eventually('the step container to be gone', async () => (await stepsRunning(marker)).length === 0, 30_000);
    assert.equal((await call('GET', `/api/v1/templates/${name}`, { token })).status, 404);
  });

  it('a deleted template\'s image goes from the host, kept while another template names the same image; a second build answers as the first did', async () => {
    const df = dockerfile(`echo shared-${tag} > /tmp/marker`);
    const [a, b] = [`img-a-${tag}`, `img-b-${tag}`];
    assert.equal((await create({ name: a, base: 'python', dockerfile: df })).status, 201);
    const first = await settled(a);
    assert.equal(first.status, 'ready');
    assert.equal((await create({ name: b, base: 'python', dockerfile: df })).status, 201);
    const second = await settled(b);
    assert.equal(second.status, 'ready');
    // The same content is one image: the second template's host answers exactly as the first build did.
    assert.equal(second.hosts[0].log, first.hosts[0].log);
    assert.doesNotMatch(second.hosts[0].log, /already/);
    const image = await imageOf(a);
    assert.equal(await imageOf(b), image);
    assert.ok(await hasImage(image));
    assert.equal((await call('DELETE', `/api/v1/templates/${a}`, { token })).status, 204);
    await new Promise((r) => setTimeout(r, 3000));
    assert.ok(await hasImage(image), 'kept: another template names it');
    assert.equal((await call('DELETE', `/api/v1/templates/${b}`, { token })).status, 204);
    await eventually('the image to be removed', async () => !(await hasImage(image)), 60_000);
  });

  it('refuses limits above the operator\'s caps, naming the field', async () => {
    for (const [body, field] of [
      [{ name: `big-${tag}`, base: 'python', memory_mb: 8192 }, 'memory_mb'],
      [{ name: `big-${tag}`, base: 'python', cpus: 3 }, 'cpus'],
    ] as const) {
      const r = await create(body);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.ok(String(r.body.error).startsWith(field), `${r.body.error} names ${field}`);
    }
    assert.equal((await call('GET', `/api/v1/templates/big-${tag}`, { token })).status, 404);
  });

  it('a host that comes online while a template it lacks is slow to build serves at once, and builds it beside', async () => {
    const name = `late-${tag}`;
    const marker = 'sleep 25';
    assert.equal((await create({ name, base: 'python', dockerfile: dockerfile(marker) })).status, 201);
    assert.equal((await settled(name)).status, 'ready');
    const image = await imageOf(name);
    await platform.workers.get(HOST)!.stop();
    await platform.docker.getImage(image).remove({ force: true });
    const startedAt = Date.now();
    const w = await platform.startWorker(HOST);
    const r = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', mode: 'sync', input: { code: 'print("served")' } } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.result.output, 'served\n');
    assert.ok(Date.now() - startedAt < 25_000, 'served before the slow build could have ended');
    assert.ok((await stepsRunning(marker)).length > 0 || !(await hasImage(image)), 'the build was still going while it served');
    await eventually('the image to be built beside', async () => hasImage(image), 120_000);
    await eventually('the worker to say so', async () => /built a template this host lacked/.test(w.output()), 30_000);
    await call('DELETE', `/api/v1/templates/${name}`, { token });
  });
});
