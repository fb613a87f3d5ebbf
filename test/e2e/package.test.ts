// The package an execution host installs: `npm pack`, installed into an empty directory with no
// checkout beside it, whose `durabox worker` runs the start command of POST /workers and serves tasks.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../config/paths.js';
import { LABEL_RUNTIME, LABEL_WORKER } from '../../sandbox/profile.js';
import { call, login, newToken, startCommandOf } from './support/http.js';
import { platform } from './support/hooks.js';
import { eventually } from './support/docker.js';
import { packedPackage } from './support/pack.js';

const run = promisify(execFile);

/** An application of the client's users: its own types only from `durabox/client`. */
const CLIENT_APP = `
import { DuraboxApiError, DuraboxClient } from 'durabox/client';
declare const process: { env: Record<string, string | undefined> };

const durabox = new DuraboxClient({ baseUrl: process.env.DURABOX_URL, token: process.env.DURABOX_TOKEN, timeoutMs: 60_000 });
const first = await durabox.terminalCommand({ body: { command: 'echo hello from the client' } });
await durabox.writeSessionFile({ id: first.session_id, query: { path: '/workspace/data.csv' }, body: 'a,b\\n1,2\\n' });
const file = await durabox.readSessionFile({ id: first.session_id, query: { path: '/workspace/data.csv' } });
const dir = await durabox.readSessionFile({ id: first.session_id, query: { path: '/workspace' } });
const missing = await durabox.getSession({ id: 'sess_none' }).catch((e: unknown) => e);
await durabox.deleteSession({ id: first.session_id });
const after = await durabox.getSession({ id: first.session_id }).then((s) => s.status, (e: unknown) => (e instanceof DuraboxApiError ? e.code ?? e.error : String(e)));
console.log(JSON.stringify({
  said: first.stdout,
  read: file instanceof Response ? await file.text() : 'not a file',
  listed: !(dir instanceof Response) && dir.entries.some((e) => e.name === 'data.csv'),
  missing: missing instanceof DuraboxApiError ? [missing.status, missing.code ?? missing.error] : String(missing),
  ended: after,
}));
`;

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

  it('a TypeScript application imports durabox/client from the installed package, type-checks, and calls the API with it', async function () {
    this.timeout(120_000);
    const app = join(dir, 'host');
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { durabox: '*' } }));
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, types: [], outDir: 'out' }, files: ['app.ts'] }));
    writeFileSync(join(app, 'app.ts'), CLIENT_APP);
    // The checkout's compiler, the installed package's declarations (and its zod): what an application sees.
    await run(join(repoRoot, 'node_modules', '.bin', 'tsc'), ['-p', app], { cwd: app });
    const token = await newToken(await login());
    const { stdout } = await run(process.execPath, [join(app, 'out', 'app.js')], { cwd: app, env: { ...process.env, DURABOX_URL: platform.url, DURABOX_TOKEN: token } });
    const got = JSON.parse(stdout) as { said: string; read: string; listed: boolean; missing: [number, string]; ended: string };
    assert.deepEqual({ said: got.said, read: got.read, listed: got.listed }, { said: 'hello from the client\n', read: 'a,b\n1,2\n', listed: true }, stdout);
    assert.equal(got.missing[0], 404, stdout);
    assert.match(got.missing[1], /session.not.found/, stdout);
    // An ended session is either still shown as ended or already gone.
    assert.match(got.ended, /^ended$|session.not.found/, stdout);
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
