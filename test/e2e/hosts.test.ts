// Two execution hosts, each a runtime worker on its own Docker daemon (a second dockerd with its own
// socket, data root and bridge), serving one API and one Temporal: tasks spread over both, a session
// stays on the daemon that holds it, and neither daemon ever holds the other host's containers.
import assert from 'node:assert/strict';
import type Docker from 'dockerode';
import { LABEL_WORKER } from '../../sandbox/profile.js';
import { call } from './support/http.js';
import { platform } from './support/hooks.js';
import { SecondDocker } from './support/second-docker.js';

/** Which daemon holds the container whose id starts with `prefix` (a sandbox's hostname). */
async function daemonOf(prefix: string, daemons: Record<string, Docker>): Promise<string[]> {
  const found: string[] = [];
  for (const [name, d] of Object.entries(daemons)) {
    const all = await d.listContainers({ all: true });
    if (all.some((c) => c.Id.startsWith(prefix))) found.push(name);
  }
  return found;
}

describe('two execution hosts, each on its own Docker daemon', () => {
  const second = new SecondDocker();
  let daemons: Record<string, Docker>;
  let token: string;
  let a: string;
  let b: string;

  before(async function () {
    this.timeout(300_000);
    const config = platform.config;
    await second.start([config.worker.python.image, config.worker.terminal.image]);
    daemons = { first: platform.docker, second: second.docker };
    token = (await platform.otherAccount('hosts')).token;
    // w-main stands aside: the two hosts of this test are the only ones serving.
    await platform.workers.get('w-main')?.stop();
    a = (await platform.startWorker('host-a', { DURABOX_MAX_INFLIGHT: '2' })).id;
    b = (await platform.startWorker('host-b', { DURABOX_MAX_INFLIGHT: '2', DOCKER_HOST: second.host })).id;
  });

  after(async function () {
    this.timeout(120_000);
    await platform.workers.get('host-a')?.stop();
    await platform.workers.get('host-b')?.stop();
    await second.stop();
    if (!platform.workers.get('w-main')) await platform.startWorker('w-main');
  });

  it('tasks spread over both hosts, each running on its own host\'s daemon', async function () {
    this.timeout(120_000);
    // Each task sleeps a little so both hosts' slots fill; each prints its sandbox's hostname (its container id).
    const results = await Promise.all(Array.from({ length: 12 }, () => call('POST', '/api/v1/tasks', {
      token,
      body: { capability: 'pythonExec', input: { code: 'import socket, time\ntime.sleep(0.5)\nprint(socket.gethostname())' }, mode: 'sync' },
    })));
    const where: Record<string, number> = {};
    for (const r of results) {
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const hostname = r.body.result.output.trim();
      const found = await daemonOf(hostname, daemons);
      assert.equal(found.length, 1, `container ${hostname} is on exactly one daemon, found on ${found.join(', ') || 'none'}`);
      where[found[0]] = (where[found[0]] ?? 0) + 1;
    }
    assert.ok(where.first > 0 && where.second > 0, `tasks ran on both daemons: ${JSON.stringify(where)}`);
  });

  it('a session stays on the daemon that holds it, command after command', async function () {
    this.timeout(120_000);
    const sessions = await Promise.all(Array.from({ length: 4 }, () =>
      call('POST', '/api/v1/commands/terminal', { token, body: { command: 'hostname > /workspace/first; hostname', lease_ttl_sec: 120 } })));
    for (const s of sessions) assert.equal(s.status, 200, JSON.stringify(s.body));
    for (const s of sessions) {
      const id = s.body.session_id;
      const container = s.body.stdout.trim();
      const [daemon] = await daemonOf(container, daemons);
      const detail = await call('GET', `/api/v1/sessions/${id}`, { token });
      assert.equal(detail.body.host, daemon === 'first' ? a : b, 'the session\'s host is the worker on the daemon holding its container');
      for (let i = 0; i < 3; i++) {
        const next = await call('POST', '/api/v1/commands/terminal', { token, body: { session_id: id, command: 'hostname; cat /workspace/first' } });
        assert.equal(next.status, 200, JSON.stringify(next.body));
        assert.equal(next.body.stdout, `${container}\n${container}\n`);
      }
      assert.equal((await call('DELETE', `/api/v1/sessions/${id}`, { token })).status, 204);
    }
  });

  it('neither daemon holds a container of the other host', async () => {
    for (const [daemon, other] of [['first', b], ['second', a]] as const) {
      const foreign = await daemons[daemon].listContainers({ all: true, filters: { label: [`${LABEL_WORKER}=${other}`] } });
      assert.deepEqual(foreign.map((c) => c.Id), [], `the ${daemon} daemon holds containers of ${other}`);
    }
    const mine = await second.docker.listContainers({ all: true, filters: { label: [`${LABEL_WORKER}=${b}`] } });
    assert.ok(mine.length > 0, 'the second daemon holds its host\'s sandboxes');
  });
});
