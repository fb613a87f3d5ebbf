// The package an execution host installs: `npm pack`, installed into an empty directory with no
// checkout beside it, whose `durabox worker` runs the start command of POST /workers and serves tasks.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LABEL_RUNTIME, LABEL_WORKER } from '../../sandbox/profile.js';
import { call, login, newToken, startCommandOf } from './support/http.js';
import { platform } from './support/hooks.js';
import { eventually } from './support/docker.js';
import { packedPackage } from './support/pack.js';

const run = promisify(execFile);

describe('the installable package: a worker host without a checkout', () => {
  let dir: string;
  let bin: string;

  before(async function () {
    this.timeout(300_000);
    dir = mkdtempSync(join(tmpdir(), 'durabox-pkg-'));
    const tarball = await packedPackage();
    const host = join(dir, 'host');
    await run('mkdir', ['-p', host]);
    await run('npm', ['install', '--no-audit', '--no-fund', '--omit=dev', '--prefix', host, tarball], { cwd: host, maxBuffer: 16 << 20 });
    bin = join(host, 'node_modules', '.bin', 'durabox');
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('holds the built processes and sandbox programs, not the tests, the bench or the sources', () => {
    const pkg = join(dir, 'host', 'node_modules', 'durabox');
    const top = readdirSync(pkg).sort();
    assert.deepEqual(top, ['README.md', 'deploy', 'dist', 'package.json', 'sandbox']);
    const dist = readdirSync(join(pkg, 'dist'));
    for (const d of ['cli', 'workers', 'api', 'gateway', 'workflow-bundle.js', 'dashboard']) assert.ok(dist.includes(d), `dist/${d} is packed`);
    for (const d of ['test', 'bench', 'harness']) assert.ok(!dist.includes(d), `dist/${d} is not packed`);
    // Only the programs that run inside containers: the host's TypeScript beside them is packed as dist/.
    assert.deepEqual(readdirSync(join(pkg, 'sandbox')), ['inside']);
    assert.ok(readdirSync(join(pkg, 'sandbox', 'inside')).includes('session-agent.py'));
    assert.ok(readdirSync(join(pkg, 'sandbox', 'inside', 'kernels')).includes('javascript-kernel.js'));
  });

  it('`durabox --help` lists the commands; `durabox worker --help` the settings a worker reads, and no others', async () => {
    const top = (await run(bin, ['--help'])).stdout;
    for (const c of ['start', 'api', 'worker', 'gateway', 'images']) assert.match(top, new RegExp(`^  ${c} `, 'm'));
    const help = (await run(bin, ['worker', '--help'])).stdout;
    for (const s of ['DURABOX_API_URL', 'DURABOX_WORKER_ID', 'DURABOX_WORKER_SECRET', 'DURABOX_RUNTIMES', 'DURABOX_MAX_INFLIGHT', 'TEMPORAL_ADDRESS']) assert.match(help, new RegExp(`^  (.*, )?${s}\\b`, 'm'), s);
    for (const s of ['DURABOX_HASH_KEY', 'DATABASE_URL', 'DURABOX_GATEWAY_ADDR']) assert.doesNotMatch(help, new RegExp(s), s);
    const wrong = await run(bin, ['nonsense']).then(() => undefined, (e) => e);
    assert.equal(wrong?.code, 2);
    assert.match(wrong.stderr, /unknown command "nonsense"/);
    const args = await run(bin, ['worker', '--runtimes=python']).then(() => undefined, (e) => e);
    assert.equal(args?.code, 2);
    assert.match(args.stderr, /settings come from the environment/);
  });

  it('a worker started from the installed package with the start command of POST /workers serves tasks', async function () {
    this.timeout(180_000);
    const admin = await login();
    const created = await call('POST', '/api/v1/workers', { cookie: admin, body: {} });
    assert.equal(created.status, 201);
    const { env, program } = startCommandOf(created.body.command);
    assert.equal(program, 'durabox worker');
    // The only python worker is the packaged one while this runs.
    await platform.workers.get('w-main')?.stop();
    try {
      const worker = await platform.startWorker('packaged', { ...env, DURABOX_DATA_DIR: join(dir, 'host', 'data') }, [bin, 'worker']);
      assert.equal(worker.id, created.body.node_id);
      const token = await newToken(admin);
      const r = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', input: { code: 'import sys\nprint("from the package", sys.version_info[0])' }, mode: 'sync' } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.result.output, "from the package 3\n");
      // The sandboxes are the packaged worker's, labelled with its id.
      const mine = await platform.docker.listContainers({ filters: { label: [`${LABEL_WORKER}=${worker.id}`, `${LABEL_RUNTIME}=python`] } });
      assert.ok(mine.length > 0, 'the packaged worker keeps python sandboxes');
      const listed = await call('GET', `/api/v1/workers?status=online`, { cookie: admin });
      assert.ok(listed.body.items.some((w: { node_id: string }) => w.node_id === worker.id), JSON.stringify(listed.body));
      await worker.stop();
      await eventually('the packaged worker\'s containers to go', async () =>
        (await platform.docker.listContainers({ all: true, filters: { label: [`${LABEL_WORKER}=${worker.id}`] } })).length === 0, 30_000);
    } finally {
      await platform.workers.get('packaged')?.stop();
      if (!platform.workers.get('w-main')) await platform.startWorker('w-main');
    }
  });
});
