// The attack suite, from inside a template: the programs durabox runs in a sandbox (PID 1, the one
// process that speaks to the worker) must never come from the template's image or its packages, and
// whatever a container writes on its PID 1's pipes ends that container at worst, never the worker and
// the other accounts' work on it. Nothing here touches a network.
import assert from 'node:assert/strict';
import { platform } from './support/hooks.js';
import { call, login, newToken } from './support/http.js';
import { onOwnHosts } from './support/own-hosts.js';
import { eventually } from './support/docker.js';
import { PythonSandboxPool, SandboxBroken } from '../../sandbox/python-pool.js';
import { loadWorkerSettings } from '../../config/index.js';
import { LABEL_WORKER } from '../../sandbox/profile.js';
import type { Pid1Runtime } from '../../sandbox/pid1-runtime.js';

/** A Dockerfile step that writes `text` to `path` (base64, so no quoting of Dockerfile, shell or Python is involved). */
const writeFile = (path: string, text: string, mode = '644') =>
  `RUN echo ${Buffer.from(text).toString('base64')} | base64 -d > ${path} && chmod ${mode} ${path}`;

// A frame whose length is honest and whose body is not JSON: `JSON.parse` threw out of the worker's
// stream handler. Written by a `.pth` file, which every interpreter that imports `site` runs at start.
const BAD_JSON_PTH = 'import os; os.write(1, bytes([0, 0, 0, 5]) + b"{bad!")\n';
// A length prefix of 4 GiB: the worker buffered, waiting for a frame that never ends.
const HUGE_FRAME_PYTHON = '#!/bin/sh\nprintf \'\\377\\377\\377\\377\'\nexec /usr/bin/python3.11 "$@"\n';

const HOSTILE: Record<string, string> = {
  pth: ['ARG BASE_IMAGE', 'FROM ${BASE_IMAGE}', 'USER root', writeFile('/usr/lib/python3/dist-packages/zz-hostile.pth', BAD_JSON_PTH), 'USER 1000:1000', ''].join('\n'),
  python: ['ARG BASE_IMAGE', 'FROM ${BASE_IMAGE}', 'USER root', 'RUN rm /usr/bin/python3', writeFile('/usr/bin/python3', HUGE_FRAME_PYTHON, '755'), 'USER 1000:1000', ''].join('\n'),
};

describe('attacks: a template does not run PID 1', function () {
  this.timeout(300_000);
  const HOST = 'pid1-a';
  onOwnHosts([HOST]);
  let adminToken: string;
  let other: { token: string };
  const names: Record<string, string> = {};
  const task = (token: string, code: string, template?: string) =>
    call('POST', '/api/v1/tasks', { token, body: { mode: 'sync', capability: 'pythonExec', input: { code, ...(template ? { template } : {}) } } });

  before(async function () {
    this.timeout(300_000);
    adminToken = await newToken(await login());
    other = await platform.otherAccount('pid1-other');
    await platform.startWorker(HOST);
    // Only an admin may give a Dockerfile; what it puts in the image is what a hostile package could.
    for (const [kind, dockerfile] of Object.entries(HOSTILE)) {
      names[kind] = `hostile-${kind}-${process.pid}`;
      const r = await call('POST', '/api/v1/templates', { token: adminToken, body: { name: names[kind], base: 'python', dockerfile } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    for (const name of Object.values(names)) {
      const built = await eventually(`template ${name} to build`, async () => {
        const r = await call('GET', `/api/v1/templates/${name}`, { token: adminToken });
        return r.body.status !== 'building' && r.body;
      }, 240_000);
      assert.equal(built.status, 'ready', JSON.stringify(built));
    }
  });

  after(async () => {
    for (const name of Object.values(names)) await call('DELETE', `/api/v1/templates/${name}`, { token: adminToken });
  });

  it('a template\'s .pth file and its own python3 reach only its users\' programs; the worker and another account\'s pythonExec go on', async () => {
    const worker = platform.workers.get(HOST)!;
    const pid = worker.child.pid;
    // Another account's work on the same host, beside and after the hostile templates' tasks.
    const [pth, python, beside] = await Promise.all([
      task(adminToken, 'print(6 * 7)', names.pth),
      task(adminToken, 'print(6 * 7)', names.python),
      task(other.token, 'print(2 + 2)'),
    ]);
    assert.equal(beside.status, 200, JSON.stringify(beside.body));
    assert.equal(beside.body.result.output, '4\n');
    // The user's program runs on the template's interpreter, packages and all: it prints what they print.
    assert.equal(pth.status, 200, JSON.stringify(pth.body));
    assert.ok(pth.body.result.output.endsWith('42\n'), JSON.stringify(pth.body.result));
    assert.ok(pth.body.result.output.includes('{bad!'), 'the .pth file ran in the user\'s interpreter');
    assert.equal(python.status, 200, JSON.stringify(python.body));
    assert.ok(python.body.result.output.endsWith('42\n'), JSON.stringify(python.body.result));
    // PID 1 is the base runtime's interpreter from the read-only mount, isolated from site and PYTHON*.
    const ps = await task(adminToken, 'print(open("/proc/1/cmdline").read().split("\\0")[:3])', names.python);
    assert.match(ps.body.result.output, /\['\/opt\/durabox-pid1\/rt\/bin\/python3', '-I', '-S'\]/);
    const write = await task(adminToken, 'import os\ntry:\n    open("/opt/durabox-pid1/rt/bin/python3", "ab")\n    print("wrote")\nexcept OSError as e:\n    print(type(e).__name__)', names.pth);
    assert.ok(write.body.result.output.endsWith('OSError\n') || write.body.result.output.endsWith('PermissionError\n'), JSON.stringify(write.body.result));
    const after = await task(other.token, 'print(3 + 3)');
    assert.equal(after.body.result.output, '6\n');
    assert.equal(worker.child.pid, pid);
    assert.equal(worker.child.exitCode, null, 'the worker is still running');
    assert.doesNotMatch(worker.output(), /unexpected exception|unhandled promise rejection/);
  });
});

describe('attacks: a container that breaks the frame protocol ends itself, not the worker', function () {
  this.timeout(120_000);
  const workerId = `frames-${process.pid}`;
  /** A pool whose sandboxes' PID 1 is `script` (a shell program) instead of the keeper. */
  const poolWith = (script: string) => {
    const settings = loadWorkerSettings({ ...process.env, DURABOX_WORKER_ID: workerId });
    const pid1 = async (): Promise<Pid1Runtime> => ({ mount: { Type: 'tmpfs', Source: '', Target: '/opt/none' }, command: () => ['sh', '-c', script] });
    return new PythonSandboxPool({ docker: platform.docker, workerId, limits: settings.python, warm: 0, maxUses: 1, outputLimitBytes: 1024, pid1 });
  };
  const containers = () => platform.docker.listContainers({ all: true, filters: { label: [`${LABEL_WORKER}=${workerId}`] } });

  for (const [what, script] of [
    ['a frame that is not JSON', "printf '\\000\\000\\000\\005{bad!'; sleep 60"],
    ['a frame that is JSON but not an object', "printf '\\000\\000\\000\\004null'; sleep 60"],
    ['a 4 GiB length prefix', "printf '\\377\\377\\377\\377'; head -c 1000000 /dev/zero; sleep 60"],
    ['a flood of frames and stderr', "while :; do printf '\\000\\000\\000\\002{}'; printf 'noise %0999d\\n' 1 >&2; done"],
  ] as const) {
    it(`${what}: the execution fails as sandbox_broken and the container is gone`, async () => {
      const pool = poolWith(script);
      try {
        await assert.rejects(pool.run('print(1)', 20_000), (e: Error) => e instanceof SandboxBroken || /first reset|exited|frame/.test(e.message));
        await eventually('the container to be gone', async () => (await containers()).length === 0, 20_000);
      } finally {
        await pool.close();
      }
    });
  }
});
