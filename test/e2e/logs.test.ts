// Logs (spec §11): every process writes JSON lines (level, time, msg, and the request, task, account and
// worker they concern); a user's timeout is an ordinary line at info without a stack; no secret ever
// appears in them, the first admin's generated password included.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { msToTs } from '@temporalio/common';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN, createTestDatabase, freePort, HASH_KEY, PAYLOAD_KEY } from '../../harness/platform.js';
import { repoRoot } from '../../config/paths.js';
import { call, login, newToken, startCommandOf } from './support/http.js';
import { platform } from './support/hooks.js';
import { eventually } from './support/docker.js';
import { PythonSandboxPool } from '../../sandbox/python-pool.js';
import { loadWorkerSettings } from '../../config/index.js';
import type { Pid1Runtime } from '../../sandbox/pid1-runtime.js';

type Line = Record<string, unknown> & { level: string; time: string; msg: string };

/** Every line of `text` as JSON with level, time and msg; fails naming the first line that is not. */
function jsonLines(text: string, where: string): Line[] {
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => {
    let parsed: Line;
    try {
      parsed = JSON.parse(l);
    } catch {
      throw new assert.AssertionError({ message: `a line of ${where} is not JSON: ${l}` });
    }
    assert.equal(typeof parsed.level, 'string', `${where}: no level in ${l}`);
    assert.ok(!Number.isNaN(Date.parse(parsed.time)), `${where}: no time in ${l}`);
    assert.equal(typeof parsed.msg, 'string', `${where}: no msg in ${l}`);
    return parsed;
  });
}

/** The worker's own secret, as the worker process was given it. */
function secretOf(pid: number): string {
  return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((e) => e.startsWith('DURABOX_WORKER_SECRET='))!.split('=')[1];
}

describe('logs: JSON lines from every process, and no secret in them (spec §11)', function () {
  this.timeout(180_000);

  it('a request\'s line carries the X-Request-Id the client sent, echoed in the answer; without one the API makes one', async () => {
    const token = await newToken();
    const from = platform.apiLog.length;
    const requestId = `logs-test-${process.pid}`;
    const given = await call('GET', '/api/v1/tasks?page_size=1', { token, headers: { 'x-request-id': requestId } });
    assert.equal(given.status, 200);
    assert.equal(given.headers.get('x-request-id'), requestId);
    const made = await call('GET', '/api/v1/tasks', { token, headers: { 'x-request-id': 'not a usable id\u00e9' } });
    const madeId = made.headers.get('x-request-id')!;
    assert.match(madeId, /^[0-9a-f-]{36}$/, 'an unusable id is replaced by a fresh one');

    const lines = await eventually('the request lines', async () => {
      const ls = jsonLines(platform.apiLog.slice(from).join(''), 'the API');
      return ls.some((l) => l.request_id === madeId) && ls;
    });
    const line = lines.find((l) => l.request_id === requestId && l.msg === 'request')!;
    assert.ok(line, 'a line with the client\'s request id');
    assert.equal(line.level, 'info');
    assert.equal(line.component, 'api');
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/api/v1/tasks', 'the path, never the query');
    assert.equal(line.status, 200);
    assert.equal(line.operation, 'listTasks');
    assert.match(String(line.account_id), /^acc_/);
    assert.equal(typeof line.duration_ms, 'number');
  });

  it('a run (a worker credential, a token, tasks, a session, a timeout, a wrong password) leaves only JSON lines, a timeout at info without a stack, and no secret', async () => {
    const admin = await login();
    const apiFrom = platform.apiLog.length;
    const main = platform.workers.get('w-main')!;
    const mainFrom = main.output().length;

    // A credential as an admin makes one: its start command carries the secret.
    const created = await call('POST', '/api/v1/workers', { cookie: admin, body: {} });
    assert.equal(created.status, 201);
    const { env } = startCommandOf(created.body.command);
    const worker = await platform.startWorker('w-logs', {
      DURABOX_WORKER_ID: env.DURABOX_WORKER_ID, DURABOX_WORKER_SECRET: env.DURABOX_WORKER_SECRET, DURABOX_MAX_INFLIGHT: '1',
    });
    let token = '';
    let timedOutTask = '';
    const wrongPassword = `wrong-${Math.random().toString(36).slice(2)}-password`;
    try {
      token = await newToken(admin);
      const ok = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', input: { code: 'print("logs-marker")' }, mode: 'sync' } });
      assert.equal(ok.status, 200);
      const slow = await call('POST', '/api/v1/tasks', { token, headers: { 'x-request-id': `slow-${process.pid}` }, body: { capability: 'pythonExec', input: { code: 'while True: pass' }, mode: 'sync', timeout_ms: 1500 } });
      assert.equal(slow.status, 504);
      timedOutTask = slow.body.task_id;
      const t = await call('POST', '/api/v1/commands/terminal', { token, body: { command: 'echo in-a-session', lease_ttl_sec: 60 } });
      assert.equal(t.status, 200);
      assert.equal((await call('DELETE', `/api/v1/sessions/${t.body.session_id}`, { token })).status, 204);
      const refused = await call('POST', '/api/v1/console/login', { body: { username: ADMIN.username, password: wrongPassword } });
      assert.equal(refused.status, 401);
      platform.api.deps.loginLimiter.reset();

      // The SDK's lines reach the log a moment later (Core's are buffered for 100 ms).
      await eventually('the timed-out task\'s lines', async () => {
        const all = platform.apiLog.slice(apiFrom).join('') + main.output().slice(mainFrom) + worker.output();
        return all.includes('"msg":"Workflow failed"') && all.includes('"msg":"Activity failed"') && all.includes(timedOutTask);
      });
    } finally {
      await worker.stop();
    }

    const places: Record<string, Line[]> = {
      'the API': jsonLines(platform.apiLog.slice(apiFrom).join(''), 'the API'),
      'worker w-main': jsonLines(main.output().slice(mainFrom), 'worker w-main'),
      'worker w-logs': jsonLines(worker.output(), 'worker w-logs'),
    };
    const workerLines = [...places['worker w-main'], ...places['worker w-logs']];
    const serving = places['worker w-logs'].find((l) => l.worker_id === worker.id && /serving/.test(l.msg));
    assert.ok(serving, 'the worker says it serves, with its id');
    // ... and names the Temporal it really connects to: the host gateway when there is one, not TEMPORAL_ADDRESS.
    const reached = platform.gateway ? platform.gateway.address : platform.devServer.address;
    assert.equal(serving.temporal, reached, serving.msg);
    assert.ok(serving.msg.includes(`on ${reached}`), serving.msg);
    assert.ok(places['worker w-logs'].some((l) => /SIGTERM/.test(l.msg)), 'and that it stops');

    // The user's timeout: info lines with its code and no stack, from the API (its workflow) and the worker (its activity).
    const aboutTimeout = Object.values(places).flat().filter((l) => JSON.stringify(l).includes(timedOutTask));
    const request = aboutTimeout.find((l) => l.msg === 'request' && l.request_id === `slow-${process.pid}`);
    assert.equal(request?.status, 504);
    assert.equal(request?.error_code, 'timeout');
    assert.equal(request?.level, 'info');
    const workflowLine = places['the API'].find((l) => l.msg === 'Workflow failed' && l.workflow_id === timedOutTask);
    assert.deepEqual([workflowLine?.level, workflowLine?.error_code], ['info', 'timeout'], JSON.stringify(workflowLine));
    const activityLine = workerLines.find((l) => l.msg === 'Activity failed' && l.workflow_id === timedOutTask);
    assert.deepEqual([activityLine?.level, activityLine?.error_code], ['info', 'timeout'], JSON.stringify(activityLine));
    assert.equal(activityLine?.worker_id !== undefined, true, 'the worker\'s SDK lines carry its id');
    for (const l of aboutTimeout) {
      assert.ok(l.level === 'info' || l.level === 'debug', `a user's timeout is no warning: ${JSON.stringify(l)}`);
      assert.ok(!/\n\s+at /.test(JSON.stringify(l)) && !JSON.stringify(l).includes('\\n    at '), `no stack: ${JSON.stringify(l)}`);
    }

    const secrets: Record<string, string> = {
      'access token': token,
      'the new worker\'s secret': env.DURABOX_WORKER_SECRET,
      'w-main\'s secret': secretOf(main.child.pid!),
      'admin password': ADMIN.password,
      'wrong password': wrongPassword,
      'login cookie': admin.split('=')[1],
      DURABOX_HASH_KEY: HASH_KEY,
      DURABOX_PAYLOAD_KEY: PAYLOAD_KEY,
    };
    for (const [what, secret] of Object.entries(secrets)) {
      assert.ok(secret.length >= 8, what);
      for (const [where, lines] of Object.entries(places)) {
        assert.ok(!lines.some((l) => JSON.stringify(l).includes(secret)), `the ${what} appears in the lines of ${where}`);
      }
    }
  });

  it("a sandbox container's stderr (a PID 1's traceback) is one JSON line per line, at warn, naming the container", async () => {
    // A sandbox whose PID 1 writes a Python traceback to its stderr, as a keeper dying under a fork bomb does, and ends.
    const workerId = `logs-stderr-${process.pid}`;
    const traceback = ['Traceback (most recent call last):', '  File "<string>", line 1, in <module>', 'RuntimeError: can\'t start new thread'];
    const script = `printf '%s\\n' ${traceback.map((l) => `'${l.replace(/'/g, "'\\''")}'`).join(' ')} >&2; sleep 1`;
    const pid1 = async (): Promise<Pid1Runtime> => ({ mount: { Type: 'tmpfs', Source: '', Target: '/opt/none' }, command: () => ['sh', '-c', script] });
    const settings = loadWorkerSettings({ ...process.env, DURABOX_WORKER_ID: workerId });
    const pool = new PythonSandboxPool({ docker: platform.docker, workerId, limits: settings.python, warm: 0, maxUses: 1, outputLimitBytes: 1024, pid1 });
    const from = platform.apiLog.length;
    try {
      await assert.rejects(pool.run('print(1)', 20_000));
    } finally {
      await pool.close();
    }
    const said = await eventually('the traceback\'s lines', async () => {
      const ls = jsonLines(platform.apiLog.slice(from).join(''), 'the worker').filter((l) => l.stderr !== undefined);
      return ls.length >= traceback.length && ls;
    });
    assert.deepEqual(said.map((l) => l.stderr), traceback, 'each line its own JSON line, whole');
    for (const l of said) {
      assert.equal(l.level, 'warn');
      assert.equal(l.program, 'keeper');
      assert.match(String(l.container_id), /^[0-9a-f]{12}$/);
    }
  });

  it('`npm run api` writes only JSON lines; a generated first admin password goes to a 0600 file in the data dir, and the log names only the file', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'durabox-logs-'));
    const database = await createTestDatabase();
    const port = await freePort();
    let out = '';
    // Its own namespace: its control worker never takes the main platform's workflow tasks. Made here
    // and waited for: a namespace just registered is not found by every service for a few seconds.
    const namespace = `logs-${process.pid}`;
    const service = platform.api.deps.connection;
    await service.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(86_400_000) }).catch(() => undefined);
    await eventually('the namespace to be known', async () => service.operatorService.listSearchAttributes({ namespace }).then(() => true, () => false), 30_000);
    const child = spawn(process.execPath, [join(repoRoot, 'dist', 'api', 'main.js')], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        DURABOX_HTTP_ADDR: `127.0.0.1:${port}`,
        DURABOX_DATA_DIR: dataDir,
        DATABASE_URL: database.url,
        TEMPORAL_ADDRESS: platform.devServer.address,
        TEMPORAL_NAMESPACE: namespace,
        DURABOX_HASH_KEY: HASH_KEY,
        DURABOX_PAYLOAD_KEY: PAYLOAD_KEY,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => { out += d; });
    child.stderr!.on('data', (d) => { out += d; });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await eventually('the API to start', async () => {
        if (child.exitCode !== null) throw new Error(`the API exited: ${out}`);
        // The first admin's line follows the start line; the pipe may hand over one before the other.
        return out.includes('durabox API') && out.includes('"password_file"');
      }, 60_000);
      const file = join(dataDir, 'first-admin-password');
      assert.equal(statSync(file).mode & 0o777, 0o600, 'only its owner reads it');
      const password = readFileSync(file, 'utf8').trim();
      assert.ok(password.length >= 12);
      const adminLine = jsonLines(out, 'the API process').find((l) => l.password_file !== undefined);
      assert.equal(adminLine?.password_file, file);
      assert.equal(adminLine?.username, 'admin');

      const r = await fetch(`http://127.0.0.1:${port}/api/v1/console/login`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': `login-${process.pid}` }, body: JSON.stringify({ username: 'admin', password }),
      });
      assert.equal(r.status, 200, 'the password in the file logs the admin in');
      assert.equal(r.headers.get('x-request-id'), `login-${process.pid}`);
      await eventually('the login\'s line', async () => out.includes(`login-${process.pid}`));

      child.kill('SIGTERM');
      await exited;
      const lines = jsonLines(out, 'the API process');
      assert.ok(lines.some((l) => l.request_id === `login-${process.pid}` && l.status === 200 && l.operation === 'login'));
      assert.ok(lines.some((l) => /SIGTERM: shutting down/.test(l.msg)));
      assert.ok(!out.includes(password), 'the generated password never reaches the log');
      assert.ok(!out.includes(HASH_KEY) && !out.includes(PAYLOAD_KEY));
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
