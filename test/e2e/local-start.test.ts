// `npm start` leaves nothing behind, however it ends: the real `node dist/local/start.js` (its own data
// dir, embedded database, dev server on free ports, its own worker id) runs a task and a session, is
// killed with -9, and within seconds neither its Temporal dev server nor a container of its worker remains.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort } from '../../harness/platform.js';
import { repoRoot } from '../../config/paths.js';
import { LABEL_WORKER } from '../../sandbox/profile.js';
import { platform } from './support/hooks.js';
import { eventually } from './support/docker.js';

/** The processes whose command line names `needle` (this test's own dirs and ids are unique to it). */
function processesNaming(needle: string): { pid: number; cmdline: string }[] {
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue; // it ended while we looked
    }
    if (cmdline.includes(needle)) found.push({ pid: Number(entry), cmdline });
  }
  return found;
}

/** A process that still runs: a zombie (ended, not yet reaped by its new parent) does not. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('npm start leaves nothing behind', function () {
  this.timeout(90_000);
  let dir: string;
  let child: ChildProcess | undefined;
  let out = '';
  const workerId = `wrk_local_${randomBytes(4).toString('hex')}`;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'durabox-local-'));
  });

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    // Whatever a failed run left: the test's own processes and containers only.
    for (const p of processesNaming(dir)) {
      try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    for (const c of await platform.docker.listContainers({ all: true, filters: { label: [`${LABEL_WORKER}=${workerId}`] } })) {
      await platform.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('on a kill -9 of its process: the Temporal dev server and every container of its worker are gone within seconds', async () => {
    const http = `127.0.0.1:${await freePort()}`;
    child = spawn(process.execPath, [join(repoRoot, 'dist', 'local', 'start.js')], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: dir,
        ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
        ...(process.env.DURABOX_TEMPORAL_CLI ? { DURABOX_TEMPORAL_CLI: process.env.DURABOX_TEMPORAL_CLI } : {}),
        DURABOX_DATA_DIR: join(dir, 'data'),
        DURABOX_HTTP_ADDR: http,
        DURABOX_TEMPORAL_DEV_PORT: String(await freePort()),
        DURABOX_TEMPORAL_DEV_UI_PORT: String(await freePort()),
        DURABOX_WORKER_ID: workerId,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => { out += d; });
    child.stderr!.on('data', (d) => { out += d; });
    await eventually('durabox is running', async () => {
      if (child!.exitCode !== null) throw new Error(`npm start exited: ${out}`);
      return out.includes('durabox is running');
    }, 60_000);

    // Something of each kind its worker holds: a python sandbox (kept warm) and a session's container.
    const token = readFileSync(join(dir, 'data', 'first-token'), 'utf8').trim();
    const post = async (path: string, body: unknown) => {
      const r = await fetch(`http://${http}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: r.status, body: await r.json() as Record<string, unknown> };
    };
    const task = await post('/api/v1/tasks', { capability: 'pythonExec', input: { code: 'print(6 * 7)' }, mode: 'sync' });
    assert.equal(task.status, 200, JSON.stringify(task.body));
    const session = await post('/api/v1/commands/terminal', { command: 'echo here', lease_ttl_sec: 300 });
    assert.equal(session.status, 200, JSON.stringify(session.body));
    const containers = () => platform.docker.listContainers({ all: true, filters: { label: [`${LABEL_WORKER}=${workerId}`] } });
    assert.ok((await containers()).length >= 2, 'its worker holds a python sandbox and a session container');
    const server = processesNaming(join(dir, 'data', 'temporal.sqlite')).filter((p) => !p.cmdline.startsWith('/bin/sh'));
    assert.equal(server.length, 1, `one Temporal dev server runs: ${JSON.stringify(server)}`);

    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    const killedAt = Date.now();
    await eventually('no process of its dev server left', async () => processesNaming(dir).length === 0, 15_000);
    await eventually('no container of its worker left', async () => (await containers()).length === 0, 15_000);
    assert.ok(!running(server[0].pid), `the dev server (pid ${server[0].pid}) is gone`);
    await eventually('the reaper says what it removed', async () => new RegExp(`npm start ended: removed what its worker ${workerId} left`).test(out));
    assert.deepEqual(processesNaming(`reaper.js ${workerId}`), [], 'the reaper ended with its work');
    assert.ok(Date.now() - killedAt < 15_000);
  });
});
