// Hostile code against the real sandboxes (spec §7): every attack ends with a clear result within its
// time bound, and afterwards the platform still answers, a fresh execution works and no sandbox of the
// worker still runs the attacker's code. Network attacks aim only at listeners this test starts on this
// machine's own addresses (loopback and the Docker bridge address); nothing is sent anywhere else.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { platform } from './support/hooks.js';
import { call, login, newToken, type Res } from './support/http.js';
import { bridgeAddress, containersRunningUserCode, eventually } from './support/docker.js';
import { ADMIN, HASH_KEY, PAYLOAD_KEY } from '../../harness/platform.js';
import { EncryptionCodec } from '../../temporal/codec.js';
import { payloadsIn } from './support/history.js';

type PyResult = { output: string; stderr: string; exit_code: number; stdout_truncated: boolean; stderr_truncated: boolean };
type TermOut = { session_id: string; stdout: string; stderr: string; exit_code: number; stdout_truncated: boolean; stderr_truncated: boolean; error?: string };


/** The runtime worker's resident memory, from the kernel's view of the child process. */
function workerRssKb(): number {
  const pid = platform.workers.get('w-main')!.child.pid!;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]);
}

/** The worker's own secret, as the worker process was given it. */
function workerSecret(): string {
  const pid = platform.workers.get('w-main')!.child.pid!;
  const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  return env.find((e) => e.startsWith('DURABOX_WORKER_SECRET='))!.split('=')[1];
}

/** Python sandboxes of the main worker that run anything besides their keeper. */
const pythonSandboxesRunningUserCode = () => containersRunningUserCode(platform.workers.get('w-main')!.id);

const containerExists = (id: string) => platform.docker.getContainer(id).inspect().then(() => true, () => false);

describe('attack suite: hostile code in real sandboxes', function () {
  this.timeout(120_000);
  let token: string;
  const hosts = ['127.0.0.1', bridgeAddress()];

  before(async () => { token = await newToken(); });

  const task = (code: string, timeout_ms = 20_000): Promise<Res> =>
    call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', input: { code }, mode: 'sync', timeout_ms } });

  const run = async (code: string, timeout_ms = 20_000): Promise<PyResult> => {
    const r = await task(code, timeout_ms);
    assert.equal(r.status, 200, JSON.stringify(r.body).slice(0, 2000));
    return r.body.result as PyResult;
  };

  const hostname = async (): Promise<string> => (await run('import socket\nprint(socket.gethostname())')).output.trim();

  /** Runs `code` until it lands in the container named `host` (the warm pool rotates); stops early when that container is gone. */
  const runIn = async (host: string, code: string, withinMs = 20_000): Promise<{ same: boolean; out: string }> => {
    const until = Date.now() + withinMs;
    let out = '';
    while (Date.now() < until) {
      const r = await run(`import socket\nprint(socket.gethostname())\n${code}`);
      const [h, ...rest] = r.output.split('\n');
      out = rest.join('\n');
      if (h === host) return { same: true, out };
      if (!(await containerExists(host))) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    return { same: false, out };
  };

  /**
   * Runs `plant`, then `check` in the very same warm sandbox, as the next user of that sandbox would. A
   * sandbox replaced in between (it reached DURABOX_SANDBOX_MAX_USES) cannot show anything: try again.
   */
  const plantThenCheck = async (plant: string, check: string, waitMs = 0): Promise<{ planted: string; checked: string }> => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const host = await hostname();
      const planted = await runIn(host, plant);
      if (!planted.same) continue;
      if (waitMs) await new Promise((res) => setTimeout(res, waitMs));
      const checked = await runIn(host, check);
      if (checked.same) return { planted: planted.out, checked: checked.out };
    }
    throw new Error('the check never ran in the sandbox that ran the attack: that sandbox was replaced each time');
  };

  /** What every attack must leave behind: a platform that answers, works, and runs no leftover user code. */
  const untouched = async () => {
    assert.equal((await call('GET', '/healthz')).status, 200, 'the API still answers');
    const fresh = await run('print(1)');
    assert.equal(fresh.output, '1\n', 'a fresh pythonExec still works');
    await eventually('no python sandbox still runs user code', async () => (await pythonSandboxesRunningUserCode()).length === 0, 20_000)
      .catch(async (e) => { throw new Error(`${(e as Error).message}: ${(await pythonSandboxesRunningUserCode()).join('; ')}`); });
  };

  /** An attack: its own time bound, then the platform checks. */
  const attack = (name: string, bound: number, body: () => Promise<void>) =>
    it(name, async function () {
      this.timeout(bound + 45_000);
      const started = Date.now();
      await body();
      assert.ok(Date.now() - started < bound, `ended within ${bound} ms (took ${Date.now() - started} ms)`);
      await untouched();
    });

  describe('network: the sandbox reaches nothing, not even this machine', () => {
    let tcp: Server[] = [];
    let udp: UdpSocket[] = [];
    let dns: UdpSocket;
    let tcpPort = 0;
    let udpPort = 0;
    let dnsPort = 0;
    const seen: string[] = [];

    before(async () => {
      // One port for every address: listen on the first with port 0, then the same port on the rest.
      for (const h of hosts) {
        const s = createServer((c: Socket) => { seen.push(`tcp ${h}`); c.end('reached'); });
        await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(tcpPort, h, () => resolve()); });
        tcpPort = (s.address() as { port: number }).port;
        tcp.push(s);
      }
      for (const h of hosts) {
        const u = createSocket('udp4');
        u.on('message', () => seen.push(`udp ${h}`));
        await new Promise<void>((resolve, reject) => { u.once('error', reject); u.bind(udpPort, h, () => resolve()); });
        udpPort = u.address().port;
        udp.push(u);
      }
      // A resolver on the bridge address: port 53 when free, else any port.
      for (const port of [53, 0]) {
        const d = createSocket('udp4');
        d.on('message', () => seen.push('dns'));
        const ok = await new Promise<boolean>((resolve) => { d.once('error', () => resolve(false)); d.bind(port, bridgeAddress(), () => resolve(true)); });
        if (ok) { dns = d; dnsPort = d.address().port; break; }
        d.close();
      }
    });
    after(() => {
      for (const s of tcp) s.close();
      for (const u of udp) u.close();
      dns?.close();
      tcp = [];
      udp = [];
    });

    const probe = () => [
      'import socket, os, struct, json',
      `hosts = ${JSON.stringify(hosts)}`,
      `TCP, UDP, DNS = ${tcpPort}, ${udpPort}, ${dnsPort}`,
      'res = {}',
      'def attempt(key, f):',
      '    try:',
      '        res[key] = f()',
      '    except OSError as e:',
      '        res[key] = "refused: " + (os.strerror(e.errno) if e.errno else type(e).__name__)',
      'def tcp(h):',
      '    s = socket.socket(); s.settimeout(2); s.connect((h, TCP)); return "connected: " + s.recv(16).decode()',
      'def udp(h, port, payload):',
      '    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); s.sendto(payload, (h, port)); return "sent"',
      // A standard DNS query (id, RD flag, one question: durabox-probe.test A IN), as a resolver sends it.
      'query = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"".join(bytes([len(p)]) + p for p in b"durabox-probe.test".split(b".")) + b"\\0" + struct.pack(">HH", 1, 1)',
      'for h in hosts:',
      '    attempt("tcp " + h, lambda: tcp(h))',
      '    attempt("udp " + h, lambda: udp(h, UDP, b"hello"))',
      'attempt("dns " + hosts[1], lambda: udp(hosts[1], DNS, query))',
      'res["interfaces"] = sorted(os.listdir("/sys/class/net"))',
      'res["routes"] = len(open("/proc/net/route").read().splitlines()) - 1',
      'print(json.dumps(res))',
    ].join('\n');

    const expectBlocked = (res: Record<string, unknown>) => {
      for (const h of hosts) assert.match(String(res[`tcp ${h}`]), /^refused/, `TCP to ${h}: ${res[`tcp ${h}`]}`);
      // The sandbox's 127.0.0.1 is its own loopback: a datagram there leaves nothing (the listener check below).
      assert.match(String(res[`udp ${hosts[1]}`]), /^refused/, `UDP to ${hosts[1]}: ${res[`udp ${hosts[1]}`]}`);
      assert.match(String(res[`dns ${hosts[1]}`]), /^refused/, `DNS query: ${res[`dns ${hosts[1]}`]}`);
      assert.deepEqual(res.interfaces, ['lo'], 'only a loopback interface');
      assert.equal(res.routes, 0, 'no route anywhere');
    };

    attack('pythonExec: outbound TCP, UDP and a DNS query to listeners on this machine all fail, and none receives a byte', 30_000, async () => {
      const r = await run(probe());
      expectBlocked(JSON.parse(r.output));
      await new Promise((res) => setTimeout(res, 300));
      assert.deepEqual(seen, [], 'no listener saw a connection or a datagram');
    });

    attack('terminal session: bash /dev/tcp, python sockets and a DNS query reach nothing', 40_000, async () => {
      const a = await call<TermOut>('POST', '/api/v1/commands/terminal', {
        token,
        body: {
          command: `for h in ${hosts.join(' ')}; do (exec 3<>/dev/tcp/$h/${tcpPort}) 2>/dev/null && echo "tcp $h connected" || echo "tcp $h refused"; done
python3 - <<'PY'\n${probe()}\nPY`,
          lease_ttl_sec: 60,
        },
      });
      assert.equal(a.status, 200, JSON.stringify(a.body));
      const [bash1, bash2, json] = a.body.stdout.trim().split('\n');
      assert.deepEqual([bash1, bash2], hosts.map((h) => `tcp ${h} refused`));
      expectBlocked(JSON.parse(json));
      await new Promise((res) => setTimeout(res, 300));
      assert.deepEqual(seen, []);
      assert.equal((await call('DELETE', `/api/v1/sessions/${a.body.session_id}`, { token })).status, 204);
    });
  });

  describe('resource exhaustion ends with a clear result', () => {
    attack('fork bomb that never stops: killed at its timeout (504 timeout)', 40_000, async () => {
      const r = await task('import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass', 5_000);
      assert.equal(r.status, 504, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'timeout');
    });

    attack('fork bomb that gives up: at most the pids limit, EAGAIN, and none of its processes outlive the run', 40_000, async () => {
      const code = [
        'import os, time, errno, socket',
        'kids = 0',
        'try:',
        '    while True:',
        '        if os.fork() == 0:',
        '            time.sleep(600); os._exit(0)',
        '        kids += 1',
        'except OSError as e:',
        '    print(kids, errno.errorcode[e.errno])',
      ].join('\n');
      const r = await plantThenCheck(code, 'import os\nprint(len([p for p in os.listdir("/proc") if p.isdigit()]))');
      const [kids, err] = r.planted.trim().split(' ');
      assert.equal(err, 'EAGAIN');
      assert.ok(Number(kids) > 10 && Number(kids) < platform.config.worker.python.pidsLimit, `forked ${kids}`);
      assert.equal(r.checked.trim(), '2', 'only the keeper and the new program run');
    });

    attack('memory bomb in one process: a non-zero exit, nothing allocated past the limit', 40_000, async () => {
      const r = await run('chunks = []\nwhile True:\n    chunks.append(bytearray(32 * 1024 * 1024))\n    print(len(chunks) * 32, flush=True)');
      assert.notEqual(r.exit_code, 0);
      const mb = Math.max(...r.output.trim().split('\n').map(Number));
      assert.ok(mb <= platform.config.worker.python.memoryBytes / 1024 / 1024, `allocated ${mb} MB`);
    });

    attack('memory bomb spread over many processes: a clear result, and the keeper survives', 60_000, async () => {
      const code = [
        'import os, time',
        'pids = []',
        'for i in range(24):',
        '    pid = os.fork()',
        '    if pid == 0:',
        '        b = bytearray(16 * 1024 * 1024)',
        '        for j in range(0, len(b), 4096): b[j] = 1',
        '        time.sleep(2); os._exit(0)',
        '    pids.append(pid)',
        'killed = sum(1 for p in pids if os.waitpid(p, 0)[1] != 0)',
        'print("done", killed)',
      ].join('\n');
      // The same sandbox serves the next run: the keeper was not among the processes killed.
      const r = await plantThenCheck(code, 'print("alive")');
      assert.match(r.planted, /^done \d+/);
      assert.equal(r.checked.trim(), 'alive');
    });

    attack('CPU spin in threads and processes past the timeout: killed at its timeout (504 timeout)', 30_000, async () => {
      const started = Date.now();
      const spin = 'import os, threading\ndef spin():\n    while True: pass\nfor _ in range(3): os.fork()\nfor _ in range(4): threading.Thread(target=spin).start()\nspin()';
      const r = await task(spin, 2_000);
      assert.equal(r.status, 504, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'timeout');
      assert.ok(Date.now() - started < 15_000);
    });

    attack('an endless print is killed at its timeout (504 timeout)', 30_000, async () => {
      const r = await task('import sys\nwhile True:\n    sys.stdout.write("y" * 65536)', 3_000);
      assert.equal(r.status, 504, JSON.stringify(r.body).slice(0, 500));
      assert.equal(r.body.error.code, 'timeout');
    });

    attack('200 MB of output on both streams: truncated and flagged, and the worker\'s memory stays flat', 60_000, async () => {
      const before = workerRssKb();
      const r = await run('import sys\nfor _ in range(100):\n    sys.stdout.write("o" * 1048576)\n    sys.stderr.write("e" * 1048576)\nprint("end")');
      assert.equal(r.exit_code, 0);
      assert.equal(r.stdout_truncated, true);
      assert.equal(r.stderr_truncated, true);
      assert.ok(r.output.length <= platform.config.worker.outputLimitBytes && r.output.length > 800_000, `stdout ${r.output.length}`);
      assert.ok(/^o+$/.test(r.output) && /^e+$/.test(r.stderr));
      const grew = workerRssKb() - before;
      assert.ok(grew < 96 * 1024, `the worker grew by ${grew} kB`);
    });

    attack('output of control characters and invalid UTF-8 (6× longer as JSON) still fits in a result', 60_000, async () => {
      const r = await run('import sys\nsys.stdout.write("\\x01" * 3000000)\nsys.stdout.flush()\nsys.stderr.buffer.write(b"\\xff" * 3000000)');
      assert.equal(r.exit_code, 0);
      assert.equal(r.stdout_truncated, true);
      assert.equal(r.stderr_truncated, true);
      assert.ok(r.output.length > 100_000 && /^\x01+$/.test(r.output), `stdout ${r.output.length}`);
      assert.ok(r.stderr.length > 100_000 && /^\uFFFD+$/.test(r.stderr), `stderr ${r.stderr.length}`);
    });

    attack('disk fill of every writable path: each stops at its size with ENOSPC, and the next run finds them empty', 60_000, async () => {
      const fill = [
        'import os, errno',
        'for d in ("/tmp", "/workspace", "/dev/shm"):',
        '    n = 0',
        '    try:',
        '        with open(os.path.join(d, "fill"), "wb") as f:',
        '            while True:',
        '                f.write(b"\\0" * 1048576); f.flush(); n += 1',
        '    except OSError as e:',
        '        print(d, n, errno.errorcode[e.errno])',
      ].join('\n');
      const r = await plantThenCheck(fill, 'import os\nprint([os.listdir(d) for d in ("/tmp", "/workspace", "/dev/shm")])');
      const lines = r.planted.trim().split('\n').map((l) => l.split(' '));
      const tmpfsMb = platform.config.worker.python.tmpfsBytes / 1024 / 1024;
      assert.deepEqual(lines.map((l) => [l[0], l[2]]), [['/tmp', 'ENOSPC'], ['/workspace', 'ENOSPC'], ['/dev/shm', 'ENOSPC']]);
      for (const [, mb] of lines) assert.ok(Number(mb) <= tmpfsMb, `wrote ${mb} MB`);
      assert.equal(r.checked.trim(), '[[], [], []]');
    });

    attack('100 000 files: the run ends with a result and the next run in that sandbox sees none of them', 90_000, async () => {
      const r = await plantThenCheck(
        'import os\nfor i in range(100000):\n    open(f"/workspace/f{i}", "w").close()\nprint(len(os.listdir("/workspace")))',
        'import os\nprint(len(os.listdir("/workspace")), len(os.listdir("/tmp")))',
      );
      assert.equal(r.planted.trim(), '100000');
      assert.equal(r.checked.trim(), '0 0');
    });
  });

  describe('the sandbox cannot change or read what is not its own', () => {
    attack('writes to /, /etc, /usr, /proc/sys, /proc/sysrq-trigger and /sys are refused', 30_000, async () => {
      const r = await run([
        'import os',
        'for p in ("/evil", "/etc/passwd", "/etc/evil", "/usr/bin/python3", "/proc/sys/kernel/hostname", "/proc/sys/kernel/core_pattern", "/proc/sysrq-trigger", "/sys/kernel/mm/transparent_hugepage/enabled"):',
        '    try:',
        '        with open(p, "w") as f: f.write("x")',
        '        print("wrote", p)',
        '    except OSError as e:',
        '        print("refused", p)',
        'try:',
        '    os.chmod("/etc/passwd", 0o777); print("chmod")',
        'except OSError:',
        '    print("chmod refused")',
      ].join('\n'));
      assert.deepEqual(r.output.trim().split('\n').filter((l) => !l.startsWith('refused')), ['chmod refused']);
    });

    attack('no host secret is readable: /etc/shadow, the keeper\'s environment and memory, a Docker socket, host variables', 30_000, async () => {
      const r = await run([
        'import os, glob, json',
        'res = {}',
        'for p in ("/etc/shadow", "/proc/1/environ", "/proc/1/mem", "/proc/1/root/etc/hostname", "/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock"):',
        '    try:',
        '        open(p, "rb").read(1); res[p] = "read"',
        '    except OSError as e:',
        '        res[p] = "refused"',
        'seen = dict(os.environ)',
        'for f in glob.glob("/proc/[0-9]*/environ") + glob.glob("/proc/[0-9]*/cmdline"):',
        '    try:',
        '        seen[f] = open(f, "rb").read().decode("utf-8", "replace")',
        '    except OSError:',
        '        pass',
        'print(json.dumps({"res": res, "env": sorted(os.environ), "seen": seen}))',
      ].join('\n'));
      const out = JSON.parse(r.output);
      for (const [p, v] of Object.entries(out.res)) assert.equal(v, 'refused', p);
      assert.deepEqual(out.env, ['HOME', 'LANG', 'PATH', 'PYTHONDONTWRITEBYTECODE'], 'only the clean environment');
      const everything = JSON.stringify(out.seen);
      for (const secret of [HASH_KEY, workerSecret(), platform.config.temporal.address!, ...(platform.database?.url ? [platform.database.url] : []), 'DURABOX_', 'TEMPORAL_']) {
        assert.ok(!everything.includes(secret), `the sandbox can read ${secret.slice(0, 12)}…`);
      }
    });

    attack('a default ACL, an extended attribute, a mode or a umask left on the writable roots reaches no later run', 60_000, async () => {
      const { planted, checked } = await plantThenCheck([
        'import os, struct',
        '# A default ACL giving everyone rwx on every file made later, and an attribute of our own.',
        'acl = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", t, p, i) for t, p, i in [(1, 7, 0xffffffff), (4, 7, 0xffffffff), (0x20, 7, 0xffffffff)])',
        'for root in ("/workspace", "/tmp"):',
        '    os.setxattr(root, "system.posix_acl_default", acl)',
        '    os.setxattr(root, "user.mark", b"planted")',
        '    os.chmod(root, 0o777)',
        'os.umask(0)',
        'print(sorted(os.listxattr("/workspace")), oct(os.stat("/workspace").st_mode & 0o777))',
      ].join('\n'), [
        'import os',
        'open("/workspace/new", "w").close()',
        'print([sorted(os.listxattr(r)) for r in ("/workspace", "/tmp")], [oct(os.stat(r).st_mode & 0o777) for r in ("/workspace", "/tmp")],',
        '      os.listxattr("/workspace/new"), oct(os.umask(0o022)))',
      ].join('\n'));
      assert.equal(planted, "['system.posix_acl_default', 'user.mark'] 0o777\n", 'the attack took hold (else this test proves nothing)');
      assert.equal(checked, "[[], []] ['0o700', '0o700'] [] 0o22\n");
    });

    attack('lowering PID 1\'s limits, priority, scheduling or CPU affinity poisons no later run: the sandbox is restored or replaced', 60_000, async () => {
      const poisoned = await run([
        'import os, resource',
        'resource.prlimit(1, resource.RLIMIT_CPU, (1, resource.RLIM_INFINITY))',
        'resource.prlimit(1, resource.RLIMIT_NOFILE, (16, 16))',
        'os.setpriority(os.PRIO_PROCESS, 1, 19)',
        'os.sched_setscheduler(1, os.SCHED_IDLE, os.sched_param(0))',
        'os.sched_setaffinity(1, {0})',
        'print(resource.prlimit(1, resource.RLIMIT_CPU)[0], resource.prlimit(1, resource.RLIMIT_NOFILE)[1], os.getpriority(os.PRIO_PROCESS, 1), os.sched_getscheduler(1) == os.SCHED_IDLE)',
      ].join('\n'));
      assert.equal(poisoned.output, '1 16 19 True\n', `the attack took hold of PID 1 (else this test proves nothing): ${poisoned.stderr}`);
      // More runs than warm sandboxes: whichever sandbox each lands in, none inherits the poison.
      for (let i = 0; i < 5; i++) {
        const r = await run([
          'import os, resource, time',
          'end = time.process_time() + 1.5',
          'while time.process_time() < end: pass',
          'print(resource.getrlimit(resource.RLIMIT_CPU)[0] == resource.RLIM_INFINITY, resource.getrlimit(resource.RLIMIT_NOFILE), os.getpriority(os.PRIO_PROCESS, 0), os.sched_getscheduler(0) == os.SCHED_OTHER, len(os.sched_getaffinity(0)) == os.cpu_count())',
        ].join('\n'));
        assert.equal(r.exit_code, 0, `run ${i} was killed (exit ${r.exit_code}): ${r.stderr}`);
        assert.equal(r.output, 'True (1024, 1024) 0 True True\n', `run ${i} inherited: ${r.output}`);
      }
    });

    attack('mount, unshare, chroot, setuid, ptrace and signals of the keeper (PID 1) all fail, and the keeper lives on', 30_000, async () => {
      const r = await plantThenCheck([
        'import ctypes, os, signal',
        'libc = ctypes.CDLL(None, use_errno=True)',
        'def sys(name, rc):',
        '    print(name, "refused" if rc == -1 else "ALLOWED", os.strerror(ctypes.get_errno()) if rc == -1 else "")',
        'os.makedirs("/workspace/m", exist_ok=True)',
        'sys("mount", libc.mount(b"none", b"/workspace/m", b"tmpfs", 0, None))',
        'sys("unshare user", libc.unshare(0x10000000))',
        'sys("unshare mount", libc.unshare(0x00020000))',
        'sys("chroot", libc.chroot(b"/workspace"))',
        'sys("setuid", libc.setuid(0))',
        'sys("ptrace keeper", libc.ptrace(16, 1, None, None))',
        'sys("keyctl", libc.syscall(250, 0, -3, 0))',
        'try:',
        '    os.kill(1, signal.SIGKILL); os.kill(1, signal.SIGTERM); os.kill(1, signal.SIGSTOP)',
        'except OSError as e:',
        '    pass',
        'print(os.getuid(), os.geteuid())',
      ].join('\n'), 'print("alive")');
      const lines = r.planted.trim().split('\n');
      assert.deepEqual(lines.filter((l) => l.includes('ALLOWED')), []);
      assert.equal(lines.at(-1), '1000 1000');
      // The keeper got the signals and ignored them: the same container serves the next run.
      assert.equal(r.checked.trim(), 'alive');
    });

    attack('setuid binaries give no privilege: every one still runs as uid 1000 with no capabilities', 40_000, async () => {
      const r = await run([
        'import subprocess',
        'found = subprocess.run(["find", "/", "-xdev", "-perm", "-4000", "-type", "f"], capture_output=True, text=True).stdout.split()',
        'print(" ".join(sorted(found)))',
        // newgrp runs a shell from its (setuid root) self: that shell says who it is.
        'print(subprocess.run(["newgrp"], input="id -u; grep -E \'^(Uid|CapEff)\' /proc/self/status", capture_output=True, text=True, timeout=10).stdout.strip())',
        'for cmd in (["mount", "-t", "tmpfs", "none", "/tmp"], ["umount", "/tmp"], ["su", "-c", "id -u", "root"], ["passwd", "-d", "root"], ["chsh", "-s", "/bin/sh", "root"], ["gpasswd", "-a", "sandbox", "root"]):',
        '    p = subprocess.run(cmd, input="", capture_output=True, text=True, timeout=10)',
        '    print(cmd[0], p.returncode)',
        'print("uid", subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip())',
      ].join('\n'));
      const lines = r.output.trim().split('\n');
      assert.ok(lines[0].split(' ').length >= 1 && lines[0].includes('/usr/bin/su'), `setuid binaries: ${lines[0]}`);
      assert.equal(lines[1], '1000');
      assert.match(lines[2], /^Uid:\s+1000\s+1000\s+1000\s+1000$/);
      assert.match(lines[3], /^CapEff:\s+0+$/);
      for (const l of lines.slice(4, -1)) assert.notEqual(l.split(' ')[1], '0', `${l}: succeeded`);
      assert.equal(lines.at(-1), 'uid 1000');
    });
  });

  describe('nothing outlives its execution', () => {
    attack('a background process (plain, setsid, double fork, nohup, SIGTERM-proof) dies with its run: it never writes later', 60_000, async () => {
      const plant = [
        'import os, subprocess, signal, time',
        'late = lambda tag: f"sleep 1.5; echo {tag} > /workspace/late-{tag}; echo {tag} > /tmp/late-{tag}"',
        'subprocess.Popen(["sh", "-c", late("plain")])',
        'subprocess.Popen(["sh", "-c", late("session")], start_new_session=True)',
        'subprocess.Popen(["setsid", "sh", "-c", late("setsid")])',
        'subprocess.Popen(["sh", "-c", "nohup sh -c \'" + late("nohup") + "\' >/dev/null 2>&1 &"])',
        'if os.fork() == 0:',
        '    os.setsid()',
        '    if os.fork() == 0:',
        '        signal.signal(signal.SIGTERM, signal.SIG_IGN); signal.signal(signal.SIGHUP, signal.SIG_IGN)',
        '        time.sleep(1.5); open("/workspace/late-double", "w").write("x"); os._exit(0)',
        '    os._exit(0)',
        'time.sleep(0.2)',
        'print("planted")',
      ].join('\n');
      const quick = Date.now();
      assert.equal((await run(plant)).output, 'planted\n');
      assert.ok(Date.now() - quick < 10_000, 'background processes holding the pipes did not hold the result back');
      const r = await plantThenCheck(plant, [
        'import os',
        'print(sorted(os.listdir("/workspace") + os.listdir("/tmp")))',
        'print(len([p for p in os.listdir("/proc") if p.isdigit()]))',
      ].join('\n'), 2_500);
      assert.equal(r.planted.trim(), 'planted');
      assert.deepEqual(r.checked.trim().split('\n'), ['[]', '2']);
    });

    attack('System V IPC and POSIX message queues do not carry data to the next run', 40_000, async () => {
      const plant = [
        'import ctypes, os',
        'libc = ctypes.CDLL(None, use_errno=True)',
        'libc.shmat.restype = ctypes.c_void_p',
        'libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]',
        'sid = libc.shmget(0x5eed, 4096, 0o1000 | 0o600)',
        'ctypes.memmove(libc.shmat(sid, None, 0), b"planted-secret", 14)',
        'print(sid >= 0, libc.semget(0x5eed, 1, 0o1000 | 0o600) >= 0, libc.msgget(0x5eed, 0o1000 | 0o600) >= 0)',
        'mq = libc.mq_open(b"/durabox-leak", os.O_CREAT | os.O_RDWR, 0o600, None)',
        'print(mq >= 0 and libc.mq_send(mq, b"mq-secret", 9, 0) == 0)',
      ].join('\n');
      const r = await plantThenCheck(plant, [
        'import os',
        'print([len(open(f"/proc/sysvipc/{k}").read().splitlines()) - 1 for k in ("shm", "sem", "msg")], os.listdir("/dev/mqueue"))',
      ].join('\n'));
      assert.equal(r.planted.trim(), 'True True True\nTrue');
      assert.equal(r.checked.trim(), '[0, 0, 0] []');
    });
  });

  describe('odd programs', () => {
    attack('code near the 1,000,000-character limit runs; one character more is refused with 400 naming code', 60_000, async () => {
      const near = `print(len(${JSON.stringify('x'.repeat(999_000))}))\n#`.padEnd(1_000_000, '#');
      assert.equal(near.length, 1_000_000);
      const r = await run(near);
      assert.equal(r.output, '999000\n');
      const over = await task(`${near}#`);
      assert.equal(over.status, 400);
      assert.match(over.body.error, /code/);
    });

    attack('code too large once encoded (a million € signs, control characters or lone surrogates) is refused with 400 naming code', 30_000, async () => {
      for (const code of [`#${'€'.repeat(999_000)}`, `#${'\u0001'.repeat(600_000)}`, `#${'\ud800'.repeat(600_000)}`]) {
        const r = await task(code);
        assert.equal(r.status, 400, JSON.stringify(r.body).slice(0, 300));
        assert.match(r.body.error, /code: must be at most \d+ bytes once JSON-encoded/);
      }
    });

    attack('code with NUL bytes, lone surrogates and invalid UTF-8 bytes gets an answer', 30_000, async () => {
      const nul = await run('print(1)\0\n');
      assert.ok(nul.exit_code !== 0 ? /null bytes/.test(nul.stderr) : nul.output === '1\n', JSON.stringify(nul));
      const lone = await call('POST', '/api/v1/tasks', { token, raw: '{"capability":"pythonExec","mode":"sync","input":{"code":"print(\\"a\\")\\n# \\udc80 \\ud800"}}' });
      assert.equal(lone.status, 200, JSON.stringify(lone.body));
      assert.equal(typeof lone.body.result.exit_code, 'number');
      const raw = Buffer.concat([Buffer.from('{"capability":"pythonExec","mode":"sync","input":{"code":"print(2) # '), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}}')]);
      const bad = await fetch(`${platform.url}/api/v1/tasks`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: raw });
      assert.ok(bad.status === 200 || bad.status === 400, `${bad.status}`);
      if (bad.status === 200) assert.equal(((await bad.json()) as { result: PyResult }).result.output, '2\n');
      const out = await run('import sys\nsys.stdout.buffer.write(b"ok \\xff\\xfe \\xed\\xa0\\x80\\n")');
      assert.equal(out.output, 'ok \uFFFD\uFFFD \uFFFD\uFFFD\uFFFD\n');
    });
  });

  describe('terminal sessions', () => {
    const term = (body: Record<string, unknown>) => call<TermOut>('POST', '/api/v1/commands/terminal', { token, body: { lease_ttl_sec: 120, ...body } });

    /** The session's container, as the session itself names it (Docker sets the hostname to the container id). */
    const containerOf = async (sid: string): Promise<string> => {
      const r = await term({ command: 'hostname', session_id: sid });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.stdout.trim();
    };

    /** Deleting a session removes its container, and everything that ran in it. */
    const endSession = async (sid: string, container?: string) => {
      const id = container ?? (await containerOf(sid));
      assert.ok(await containerExists(id), `the session's container ${id} exists before the delete`);
      assert.equal((await call('DELETE', `/api/v1/sessions/${sid}`, { token })).status, 204);
      await eventually('the session\'s container to be removed', async () => !(await containerExists(id)), 20_000);
    };

    attack('fork bomb in a session: a clear answer, other sessions keep working, and deleting the session ends it', 60_000, async () => {
      const bystander = await term({ command: 'echo ready' });
      const a = await term({ command: 'echo ready' });
      const sid = a.body.session_id;
      const container = await containerOf(sid);
      const bomb = await term({ command: 'bomb() { bomb | bomb & }; bomb; wait', session_id: sid, timeout_ms: 5_000 });
      assert.ok([200, 504].includes(bomb.status), JSON.stringify(bomb.body).slice(0, 300));
      const other = await term({ command: 'echo unaffected', session_id: bystander.body.session_id });
      assert.equal(other.body.stdout, 'unaffected\n', 'the pids limit is per session');
      // The bomb's leftovers are the session's own; the next command there still gets a clear answer.
      const next = await term({ command: 'echo next', session_id: sid, timeout_ms: 5_000 });
      // Either the command ran, or the agent said plainly that no process could be started.
      const clear = next.status === 200
        ? next.body.stdout === 'next\n' || (next.body.exit_code === 126 && /cannot start the command/.test(next.body.stderr))
        : typeof next.body.error === 'string';
      assert.ok(clear, JSON.stringify(next.body).slice(0, 300));
      await endSession(sid, container);
    });

    attack('processes that keep every pid of a session taken: the next command gets a clear answer, and deleting the session frees them', 60_000, async () => {
      const bystander = await term({ command: 'echo ready' });
      const a = await term({ command: 'echo ready' });
      const sid = a.body.session_id;
      const container = await containerOf(sid);
      // Starts after the command has returned, then takes every pid the session frees, for good.
      const hog = await term({
        command: `nohup python3 -c 'import os, time
time.sleep(0.5)
while True:
    try:
        if os.fork() == 0:
            time.sleep(1000); os._exit(0)
    except OSError:
        time.sleep(0.005)' >/dev/null 2>&1 & echo started`,
        session_id: sid,
      });
      assert.equal(hog.body.stdout, 'started\n', JSON.stringify(hog.body).slice(0, 300));
      await new Promise((res) => setTimeout(res, 2_000));
      const started = Date.now();
      const next = await term({ command: 'echo next', session_id: sid, timeout_ms: 5_000 });
      assert.ok(Date.now() - started < 30_000, 'answered in bounded time');
      // Either the command ran, or the agent said plainly that no process could be started.
      const clear = next.status === 200
        ? next.body.stdout === 'next\n' || (next.body.exit_code === 126 && /cannot start the command/.test(next.body.stderr))
        : typeof next.body.error === 'string';
      assert.ok(clear, JSON.stringify(next.body).slice(0, 300));
      const other = await term({ command: 'echo unaffected', session_id: bystander.body.session_id });
      assert.equal(other.body.stdout, 'unaffected\n');
      assert.ok([204, 404].includes((await call('DELETE', `/api/v1/sessions/${sid}`, { token })).status));
      await eventually('the session\'s container to be removed', async () => !(await containerExists(container)), 20_000);
      await endSession(bystander.body.session_id);
    });

    attack('disk fill in a session: every writable path ends with ENOSPC, and the session and its files survive', 90_000, async () => {
      const a = await term({ command: 'echo keep > /workspace/keep' });
      const sid = a.body.session_id;
      const fill = await term({ command: 'for d in /tmp /workspace /dev/shm; do head -c 2G /dev/zero > $d/fill; echo "$d $?"; done', session_id: sid, timeout_ms: 60_000 });
      assert.equal(fill.status, 200, JSON.stringify(fill.body).slice(0, 300));
      assert.equal(fill.body.stdout, '/tmp 1\n/workspace 1\n/dev/shm 1\n');
      assert.match(fill.body.stderr, /No space left on device/);
      const r = await term({ command: 'rm -f /tmp/fill /workspace/fill /dev/shm/fill; cat /workspace/keep; echo more > /workspace/more && cat /workspace/more', session_id: sid });
      assert.equal(r.status, 200, JSON.stringify(r.body).slice(0, 300));
      assert.equal(r.body.stdout, 'keep\nmore\n');
      await endSession(sid);
    });

    attack('huge output in a session: truncated and flagged, and still delivered', 60_000, async () => {
      const a = await term({ command: 'head -c 5000000 /dev/zero | tr "\\0" o; head -c 5000000 /dev/urandom >&2' });
      assert.equal(a.status, 200, JSON.stringify(a.body).slice(0, 300));
      assert.equal(a.body.stdout_truncated, true);
      assert.equal(a.body.stderr_truncated, true);
      assert.ok(a.body.stdout.length > 500_000 && /^o+$/.test(a.body.stdout));
      await endSession(a.body.session_id);
    });

    attack('a background process stays within its own session: another session cannot see, signal or reach it, and deleting the session ends it', 90_000, async () => {
      const a = await term({ command: 'nohup sh -c "while :; do date > /tmp/beat; sleep 0.2; done" >/dev/null 2>&1 & setsid sleep 1000 >/dev/null 2>&1 & echo started' });
      assert.equal(a.status, 200, JSON.stringify(a.body));
      const sa = a.body.session_id;
      const still = await term({ command: 'sleep 0.5; ps -eo args | grep -c "[s]leep 1000"; wc -l < /tmp/beat', session_id: sa });
      assert.equal(still.body.stdout, '1\n1\n', 'its own background processes are the session\'s own state');
      const b = await term({ command: 'ps -eo args | grep -c "[s]leep 1000"; ls /tmp; pkill -9 -f "[s]leep 1000"; echo done' });
      assert.equal(b.status, 200, JSON.stringify(b.body));
      assert.equal(b.body.stdout, '0\ndone\n', 'another session sees none of its processes or files');
      const stillAfter = await term({ command: 'ps -eo args | grep -c "[s]leep 1000"', session_id: sa });
      assert.equal(stillAfter.body.stdout, '1\n', 'a kill from the other session did not reach it');
      await endSession(sa);
      await endSession(b.body.session_id);
    });

    attack('a background process that keeps the output open: the command still ends with a clear result, and the session goes on', 60_000, async () => {
      const a = await term({ command: 'echo ready' });
      const sid = a.body.session_id;
      const r = await term({ command: 'setsid sleep 1000 & echo started', session_id: sid, timeout_ms: 3_000 });
      assert.ok([200, 504].includes(r.status), JSON.stringify(r.body));
      assert.match(JSON.stringify(r.body), /started/);
      const next = await term({ command: 'echo next', session_id: sid });
      assert.equal(next.status, 200, JSON.stringify(next.body));
      assert.equal(next.body.stdout, 'next\n');
      await endSession(sid);
    });

    attack('kill -9 -1 in a session reaches only that session\'s processes, with a clear answer', 60_000, async () => {
      const other = await term({ command: 'echo other' });
      const a = await term({ command: 'echo ready' });
      const sid = a.body.session_id;
      const container = await containerOf(sid);
      const r = await term({ command: 'kill -9 -1; echo survived', session_id: sid });
      assert.ok(r.status < 500 || r.status === 502, JSON.stringify(r.body));
      const next = await term({ command: 'echo next', session_id: sid });
      assert.ok([200, 404, 502].includes(next.status), JSON.stringify(next.body));
      const o = await term({ command: 'echo still', session_id: other.body.session_id });
      assert.equal(o.body.stdout, 'still\n', 'another session is untouched');
      await call('DELETE', `/api/v1/sessions/${sid}`, { token });
      await eventually('the killed session\'s container to be removed', async () => !(await containerExists(container)), 20_000);
      await endSession(other.body.session_id);
    });
  });
});

/** The text of every payload in a history, opened with the payload key. */
async function openedPayloadsText(history: unknown, codec: EncryptionCodec): Promise<string> {
  const opened = await codec.decode(payloadsIn(history));
  return opened.map((p) => Buffer.from(p.data ?? new Uint8Array()).toString('utf8')).join('\n');
}

/** Every text a history holds: its JSON (bytes as base64, as the Temporal UI gets them) and each payload's bytes decoded. */
function historyText(history: unknown): string {
  const parts: string[] = [JSON.stringify(history)];
  const walk = (v: unknown): void => {
    if (v instanceof Uint8Array) {
      parts.push(Buffer.from(v).toString('utf8'));
    } else if (typeof v === 'string') {
      if (/^[A-Za-z0-9+/]{16,}={0,2}$/.test(v)) parts.push(Buffer.from(v, 'base64').toString('utf8'));
    } else if (Array.isArray(v)) {
      v.forEach(walk);
    } else if (v && typeof v === 'object') {
      Object.values(v).forEach(walk);
    }
  };
  walk(history);
  walk(JSON.parse(parts[0]));
  return parts.join('\n');
}

describe('secrets stay where they belong', function () {
  this.timeout(120_000);

  it('no access token, password, login cookie, worker secret or hash key in workflow histories, logs or error messages', async () => {
    const captured: string[] = [];
    const writes = { out: process.stdout.write, err: process.stderr.write };
    const tap = (stream: NodeJS.WriteStream, original: typeof process.stdout.write) =>
      ((chunk: unknown, ...rest: unknown[]) => {
        captured.push(Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
        return (original as (...a: unknown[]) => boolean).call(stream, chunk, ...rest);
      }) as typeof process.stdout.write;
    const worker = platform.workers.get('w-main')!;
    const workerLogFrom = worker.output().length;
    const apiLogFrom = platform.apiLog.length;
    const since = new Date(Date.now() - 1000).toISOString();
    const wrongPassword = `wrong-${Math.random().toString(36).slice(2)}-password`;
    const wrongToken = `dbx_${'f'.repeat(48)}`;
    const workflowIds = new Set<string>();
    let token = '';
    let cookie = '';
    process.stdout.write = tap(process.stdout, writes.out);
    process.stderr.write = tap(process.stderr, writes.err);
    try {
      cookie = await login();
      token = await newToken(cookie);
      const sync = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', input: { code: 'import os\nprint(sorted(os.environ))' }, mode: 'sync' } });
      assert.equal(sync.status, 200);
      workflowIds.add(sync.body.task_id);
      const failing = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', input: { code: 'raise SystemExit(3)' }, mode: 'sync', request_id: `secrets-${process.pid}` } });
      workflowIds.add(failing.body.task_id);
      const slow = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', input: { code: 'while True: pass' }, mode: 'sync', timeout_ms: 1000 } });
      assert.equal(slow.status, 504);
      workflowIds.add(slow.body.task_id);
      assert.equal((await call('POST', '/api/v1/commands/echo', { token, body: { message: 'hi' } })).status, 200);
      const t = await call('POST', '/api/v1/commands/terminal', { token, body: { command: 'env; echo x > f', lease_ttl_sec: 60 } });
      assert.equal(t.status, 200);
      const put = await fetch(`${platform.url}/api/v1/sessions/${t.body.session_id}/files?path=g`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: 'content' });
      assert.equal(put.status, 201);
      assert.equal((await call('DELETE', `/api/v1/sessions/${t.body.session_id}`, { token })).status, 204);
      const me = (await call('GET', '/api/v1/console/session', { cookie })).body.account.account_id;
      workflowIds.add(platform.api.deps.sessions.workflowId(me, t.body.session_id));
      const mcp = new Client({ name: 'durabox-secrets', version: '1.0.0' });
      await mcp.connect(new StreamableHTTPClientTransport(new URL(`${platform.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
      assert.ok(!(await mcp.callTool({ name: 'pythonExec', arguments: { code: 'print(2)' } })).isError);
      await mcp.close();
      // Wrong credentials: refused without echoing what was sent.
      const badLogin = await call('POST', '/api/v1/console/login', { body: { username: ADMIN.username, password: wrongPassword } });
      platform.api.deps.loginLimiter.reset();
      const badToken = await call('GET', '/api/v1/tasks', { token: wrongToken });
      const badWorker = await call('POST', '/api/v1/registry/heartbeat', { headers: { authorization: `Bearer ${worker.id}:${wrongPassword}` }, body: {} });
      for (const r of [badLogin, badToken, badWorker]) {
        assert.equal(r.status, 401);
        assert.ok(!JSON.stringify(r.body).includes(wrongPassword) && !JSON.stringify(r.body).includes(wrongToken), JSON.stringify(r.body));
      }
    } finally {
      process.stdout.write = writes.out;
      process.stderr.write = writes.err;
    }

    const client = platform.api.deps.client;
    const listed = await eventually('the run\'s workflows to be visible', async () => {
      const seen = new Set<string>();
      for await (const w of client.workflow.list({ query: `StartTime >= '${since}'` })) seen.add(w.workflowId);
      // The three tasks and the session, plus the echo and the MCP call.
      return seen.size >= workflowIds.size + 2 && new Set([...seen, ...workflowIds]);
    });
    // Histories as stored (sealed), and as an admin reads them opened through the codec.
    const codec = new EncryptionCodec(Buffer.from(PAYLOAD_KEY, 'base64'));
    const histories: string[] = [];
    for (const id of listed) {
      const history = await client.workflow.getHandle(id).fetchHistory();
      histories.push(historyText(history), await openedPayloadsText(history, codec));
    }
    assert.ok(histories.join('').includes('SystemExit'), 'the histories were read');

    const secrets: Record<string, string> = {
      'access token': token,
      'admin password': ADMIN.password,
      'login cookie': cookie.split('=')[1],
      'worker secret': workerSecret(),
      'DURABOX_HASH_KEY': HASH_KEY,
      'DURABOX_PAYLOAD_KEY': PAYLOAD_KEY,
      'wrong password': wrongPassword,
      'wrong token': wrongToken,
    };
    const places: Record<string, string> = {
      'a workflow history': histories.join('\n'),
      'the API\'s log': captured.join('') + platform.apiLog.slice(apiLogFrom).join(''),
      'the worker\'s log': worker.output().slice(workerLogFrom),
      'the worker\'s command line': readFileSync(`/proc/${worker.child.pid}/cmdline`, 'utf8'),
    };
    for (const [what, secret] of Object.entries(secrets)) {
      assert.ok(secret.length >= 8, what);
      for (const [where, text] of Object.entries(places)) assert.ok(!text.includes(secret), `the ${what} appears in ${where}`);
    }
  });
});
