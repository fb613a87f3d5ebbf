import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { LABEL_RUNTIME, LABEL_WORKER } from '../../sandbox/profile.js';
import { platform } from './support/hooks.js';
import { call, newToken } from './support/http.js';

describe('python sandbox: isolation between executions and the security baseline', function () {
  this.timeout(90_000);
  let token: string;
  before(async () => { token = await newToken(); });

  const run = async (code: string, timeout_ms = 20_000) => {
    const r = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', input: { code }, mode: 'sync', timeout_ms } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.result as { output: string; stderr: string; exit_code: number; stdout_truncated: boolean; stderr_truncated: boolean };
  };

  it('no files, processes or environment leak from one pythonExec to the next', async () => {
    const plant = await run([
      'import os, socket, subprocess',
      'open("/workspace/secret", "w").write("s1")',
      'open("/tmp/secret", "w").write("s2")',
      'os.makedirs("/workspace/deep/er", exist_ok=True); os.chmod("/workspace/deep", 0)',
      'os.environ["DURABOX_LEAK"] = "1"',
      'subprocess.Popen(["sleep", "300"], start_new_session=True)',
      'print(socket.gethostname())',
    ].join('\n'));
    const host = plant.output.trim();
    let sameContainer = 0;
    for (let i = 0; i < 6; i++) {
      const check = await run([
        'import os, socket',
        'procs = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())]',
        'cmds = [open(f"/proc/{p}/cmdline","rb").read() for p in procs]',
        'print(socket.gethostname())',
        'print(sorted(os.listdir("/workspace")), sorted(os.listdir("/tmp")), "DURABOX_LEAK" in os.environ, [c for c in cmds if b"sleep" in c])',
      ].join('\n'));
      const [h, state] = check.output.trim().split('\n');
      if (h === host) sameContainer++;
      assert.equal(state, '[] [] False []', `run ${i} saw state: ${state}`);
    }
    assert.ok(sameContainer > 0, 'the check ran in the very container that was planted at least once');
  });

  it('keeps none of a sandbox\'s output on the host\'s disk: 10 MB printed leave no log behind', async () => {
    const printed = await run('import sys\nfor _ in range(100): sys.stdout.write("x" * 100_000)');
    assert.equal(printed.stdout_truncated, true, 'the output cap applied, and the 10 MB went through the sandbox\'s stdout');
    const session = await call('POST', '/api/v1/commands/terminal', { token, body: { command: 'head -c 10000000 /dev/zero | tr "\\0" y; echo' } });
    assert.equal(session.status, 200, JSON.stringify(session.body).slice(0, 300));
    const ours = await platform.docker.listContainers({ filters: { label: [`${LABEL_WORKER}=${platform.workerId('w-main')}`] } });
    assert.ok(ours.some((c) => c.Labels[LABEL_RUNTIME] === 'python') && ours.some((c) => c.Labels[LABEL_RUNTIME] === 'terminal'));
    for (const c of ours) {
      const info = await platform.docker.getContainer(c.Id).inspect();
      assert.equal(info.HostConfig.LogConfig?.Type, 'none', `${c.Labels[LABEL_RUNTIME]} container ${c.Id.slice(0, 12)} logs to ${info.HostConfig.LogConfig?.Type}`);
      assert.equal(info.LogPath, '', 'no log file on the host');
    }
    await call('DELETE', `/api/v1/sessions/${session.body.session_id}`, { token });
  });

  it('runs as a non-root user with no capabilities and a read-only root filesystem', async () => {
    const r = await run([
      'import os',
      'print(os.getuid(), os.getgid())',
      'print([l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0])',
      'for p in ("/x", "/etc/x", "/usr/x"):',
      '    try:',
      '        open(p, "w"); print("wrote", p)',
      '    except OSError as e:',
      '        print("refused", p)',
    ].join('\n'));
    assert.deepEqual(r.output.trim().split('\n'), ['1000 1000', '0000000000000000', 'refused /x', 'refused /etc/x', 'refused /usr/x']);
  });

  describe('network', () => {
    let server: Server;
    let port: number;
    before(async () => {
      server = createServer((s) => s.end('reached'));
      await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
      port = (server.address() as { port: number }).port;
    });
    after(() => server.close());

    it('has no route to the host: a listener on this machine is unreachable', async () => {
      // 172.17.0.1 is this machine's own Docker bridge address, where the listener above accepts.
      const r = await run([
        'import socket',
        `for host in ("172.17.0.1", "127.0.0.1"):`,
        '    s = socket.socket(); s.settimeout(2)',
        '    try:',
        `        s.connect((host, ${port})); print(host, "connected")`,
        '    except OSError as e:',
        '        print(host, "blocked")',
      ].join('\n'));
      assert.deepEqual(r.output.trim().split('\n'), ['172.17.0.1 blocked', '127.0.0.1 blocked']);
    });
  });

  it('caps each output stream and says so', async () => {
    const r = await run('import sys\nsys.stdout.write("x" * (3 * 1024 * 1024))\nsys.stderr.write("e" * 10)');
    assert.equal(r.stdout_truncated, true);
    assert.equal(r.output.length, 1024 * 1024);
    assert.equal(r.stderr_truncated, false);
    assert.equal(r.stderr, 'e'.repeat(10));
  });

  it('a memory bomb ends with a result and the next execution works', async () => {
    const r = await run('x = bytearray(2 * 1024 * 1024 * 1024)\nprint("allocated")');
    assert.notEqual(r.exit_code, 0);
    assert.doesNotMatch(r.output, /allocated/);
    assert.equal((await run('print("fine")')).output, 'fine\n');
  });

  it('code with NUL bytes and lone surrogates is handed to Python as is, and answered', async () => {
    const r = await run('print(1)\0\n');
    assert.ok(r.exit_code !== 0 ? /null bytes/.test(r.stderr) : r.output === '1\n', JSON.stringify(r));
    const s = await run('print("\\ud800" == "\\ud800")\n# \ud800');
    assert.equal(typeof s.exit_code, 'number');
    assert.equal((await run('print("fine")')).output, 'fine\n');
  });
});
