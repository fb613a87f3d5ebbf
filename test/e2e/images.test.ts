// The platform image (deploy/platform.Dockerfile, built by deploy/build-platform-image.sh from the packed
// package): its API serves this platform's database and Temporal, its worker drives the host's Docker
// through the socket and serves tasks, and the systemd unit for a worker host is valid.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../config/paths.js';
import { LABEL_RUNTIME, LABEL_WORKER } from '../../sandbox/profile.js';
import { ADMIN, HASH_KEY, PAYLOAD_KEY, freePort } from '../../harness/platform.js';
import { call, login, newToken, startCommandOf } from './support/http.js';
import { platform } from './support/hooks.js';
import { eventually } from './support/docker.js';
import { packedPackage } from './support/pack.js';

const run = promisify(execFile);
const IMAGE = `durabox/platform:test-${process.pid}`;

const envArgs = (env: Record<string, string>) => Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);

describe('the platform image and the worker host\'s systemd unit', () => {
  const containers: string[] = [];

  before(async function () {
    this.timeout(600_000);
    const tarball = await packedPackage();
    // No registry here: the image's base is made from this host's Debian sandbox image and Node.js.
    await run('bash', [join(repoRoot, 'deploy', 'build-platform-image.sh'), tarball, '--local-base'], { env: { ...process.env, DURABOX_PLATFORM_IMAGE: IMAGE }, maxBuffer: 16 << 20 });
  });

  after(async function () {
    this.timeout(120_000);
    for (const c of containers) await platform.docker.getContainer(c).remove({ force: true }).catch(() => undefined);
    await platform.docker.getImage(IMAGE).remove({ force: true }).catch(() => undefined);
    if (!platform.workers.get('w-main')) await platform.startWorker('w-main');
  });

  it('runs as an unprivileged user and answers `durabox worker --help`', async () => {
    const help = (await run('docker', ['run', '--rm', IMAGE, 'worker', '--help'])).stdout;
    assert.match(help, /^durabox worker: /);
    assert.match(help, /DURABOX_WORKER_SECRET/);
    assert.equal((await run('docker', ['run', '--rm', '--entrypoint', 'id', IMAGE, '-u'])).stdout.trim(), '1000');
  });

  it('its API serves the platform\'s database and Temporal: ready, a login, a task', async function () {
    this.timeout(120_000);
    const port = await freePort();
    const { stdout } = await run('docker', ['run', '-d', '--network', 'host', ...envArgs({
      DURABOX_HTTP_ADDR: `127.0.0.1:${port}`,
      DATABASE_URL: platform.database!.url!,
      TEMPORAL_ADDRESS: platform.devServer.address,
      DURABOX_HASH_KEY: HASH_KEY,
      DURABOX_PAYLOAD_KEY: PAYLOAD_KEY,
    }), IMAGE, 'api']);
    containers.push(stdout.trim());
    const url = `http://127.0.0.1:${port}`;
    await eventually('the API in its container to be ready', async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.ok, 60_000);
    const logged = await fetch(`${url}/api/v1/console/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN) });
    assert.equal(logged.status, 200);
    const token = await newToken(await login());
    const task = await fetch(`${url}/api/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ capability: 'pythonExec', input: { code: 'print(6 * 7)' }, mode: 'sync' }),
    });
    assert.equal(task.status, 200);
    assert.equal((await task.json()).result.output, '42\n');
  });

  it('its worker, given the start command and the host\'s Docker socket, serves tasks and removes its sandboxes when stopped', async function () {
    this.timeout(180_000);
    const created = await call('POST', '/api/v1/workers', { cookie: await login(), body: {} });
    const { env, program } = startCommandOf(created.body.command);
    assert.equal(program, 'durabox worker');
    await platform.workers.get('w-main')?.stop();
    const { stdout } = await run('docker', ['run', '-d', '--network', 'host', '--user', 'root', '-v', '/var/run/docker.sock:/var/run/docker.sock', ...envArgs(env), IMAGE, 'worker']);
    const container = stdout.trim();
    containers.push(container);
    const sandboxes = () => platform.docker.listContainers({ all: true, filters: { label: [`${LABEL_WORKER}=${env.DURABOX_WORKER_ID}`, `${LABEL_RUNTIME}=python`] } });
    await eventually('the containerised worker to keep python sandboxes', async () => (await sandboxes()).length > 0, 90_000);
    await platform.waitForPoller(env.DURABOX_WORKER_ID, 'python');
    const token = await newToken(await login());
    const r = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', input: { code: 'print("from the image")' }, mode: 'sync' } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.result.output, 'from the image\n');
    await run('docker', ['stop', '-t', '60', container]);
    assert.deepEqual((await sandboxes()).map((c) => c.Id), [], 'a stopped worker leaves no sandbox behind');
  });

  it('the worker host\'s systemd unit is valid', async () => {
    const r = await run('systemd-analyze', ['verify', join(repoRoot, 'deploy', 'durabox-worker.service')]).then((x) => x, (e) => e);
    assert.equal(r.code ?? 0, 0, `${r.stdout}${r.stderr}`);
    assert.equal(`${r.stderr}`.trim(), '', 'systemd-analyze has nothing to say about the unit');
  });
});
