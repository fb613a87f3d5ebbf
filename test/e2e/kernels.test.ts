// The code interpreter's in-container side, without the platform: the PID 1 programs (session agent, keeper)
// with the kernel driver and the three kernels, composed exactly as the worker composes them, run in real
// containers of the sandbox images and spoken to in length-prefixed JSON frames over `docker run -i`.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { pid1Program } from '../../sandbox/pid1-runtime.js';
import { AGENT_SOURCE } from '../../sandbox/session-containers.js';
import { KEEPER_SOURCE } from '../../sandbox/python-pool.js';

const PYTHON_IMAGE = process.env.DURABOX_PYTHON_IMAGE?.trim() || 'durabox/python:4';
const TERMINAL_IMAGE = process.env.DURABOX_TERMINAL_IMAGE?.trim() || 'durabox/terminal:6';
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** prelude + frames + `KERNEL_SOURCES = {...}` + kernel-driver.py (+ the agent's parts) + the PID 1 program, exactly as the worker composes it. */
function program(script: string): string {
  const composed = script === 'session-agent.py' ? AGENT_SOURCE : script === 'sandbox-keeper.py' ? KEEPER_SOURCE : pid1Program(script, { kernels: true });
  assert.match(composed, /\nKERNEL_SOURCES = \{"python":/);
  // One argv string: Linux refuses a single argument over 128 KiB (MAX_ARG_STRLEN).
  assert.ok(Buffer.byteLength(composed) < 128 * 1024, `the ${script} program is ${Buffer.byteLength(composed)} bytes`);
  return composed;
}

type Frame = Record<string, any>;
type Result = { is_main_result: boolean; text?: string; html?: string; png?: string; json?: unknown };
type CellResult = {
  results: Result[]; logs: { stdout: string[]; stderr: string[] }; error: { name: string; value: string; traceback: string } | null;
  execution_count: number; timed_out: boolean; context_restarted: boolean; stdout_truncated: boolean; stderr_truncated: boolean;
  results_truncated: boolean;
};

/** One sandbox container running a PID 1 program, and its frames with the time each arrived. */
class Sandbox {
  private buf = Buffer.alloc(0);
  private frames: Array<{ at: number; frame: Frame }> = [];
  private waiters: Array<() => void> = [];
  private exited = false;
  readonly name = `durabox-kernels-test-${randomBytes(4).toString('hex')}`;
  private proc: ChildProcessWithoutNullStreams;

  constructor(image: string, script: string, memory: string) {
    this.proc = spawn('docker', [
      'run', '--rm', '-i', '--name', this.name, '--network', 'none', '--read-only',
      '--tmpfs', '/tmp:uid=1000,gid=1000', '--tmpfs', '/workspace:uid=1000,gid=1000', '--user', '1000:1000', '-w', '/workspace',
      // as the worker's hardened profile: no capabilities, no privilege gain, bounded memory and pids
      '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--memory', memory, '--memory-swap', memory, '--pids-limit', '128',
      image, 'python3', '-c', program(script),
    ]);
    this.proc.stdout.on('data', (d: Buffer) => this.onData(d));
    this.proc.stderr.on('data', (d: Buffer) => process.stderr.write(`[${this.name}] ${d}`));
    this.proc.on('exit', () => { this.exited = true; this.wake(); });
  }

  private wake(): void { for (const w of this.waiters.splice(0)) w(); }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 4) {
      const n = this.buf.readUInt32BE(0);
      if (this.buf.length < 4 + n) break;
      this.frames.push({ at: Date.now(), frame: JSON.parse(this.buf.subarray(4, 4 + n).toString('utf8')) });
      this.buf = this.buf.subarray(4 + n);
    }
    this.wake();
  }

  send(obj: unknown): void {
    const body = Buffer.from(JSON.stringify(obj), 'utf8');
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length, 0);
    this.proc.stdin.write(Buffer.concat([head, body]));
  }

  async next(timeoutMs = 60_000): Promise<{ at: number; frame: Frame }> {
    const until = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.exited) throw new Error(`${this.name} exited`);
      const left = until - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return this.frames.shift()!;
  }

  /** Frames up to and including the first that has `key`. */
  async until(key: string, timeoutMs = 60_000): Promise<Array<{ at: number; frame: Frame }>> {
    const got: Array<{ at: number; frame: Frame }> = [];
    for (;;) {
      const f = await this.next(timeoutMs);
      got.push(f);
      if (key in f.frame) return got;
    }
  }

  stop(): void {
    this.proc.stdin.end();
    spawnSync('docker', ['rm', '-f', this.name], { stdio: 'ignore' });
  }
}

const text = (r: CellResult, stream: 'stdout' | 'stderr' = 'stdout') => r.logs[stream].join('');
const main = (r: CellResult) => r.results.find((x) => x.is_main_result);
const noAnsi = (r: CellResult) => assert.ok(!JSON.stringify(r).includes('\\u001b'), 'no ANSI escape anywhere');

describe('code interpreter kernels in real sandbox containers', function () {
  this.timeout(120_000);

  describe('session agent (stateful contexts)', () => {
    let box: Sandbox;
    let seq = 0;
    before(async () => {
      box = new Sandbox(TERMINAL_IMAGE, 'session-agent.py', '512m');
      assert.deepEqual((await box.next()).frame, { ready: true });
      box.send({ adopt: true });
    });
    after(() => box?.stop());

    async function cellFrames(language: string, code: string, o: { context?: string; timeoutMs?: number; stream?: boolean; limit?: number } = {}) {
      const id = `c${++seq}`;
      const sent = Date.now();
      box.send({ id, cell: { language, code, context_id: o.context ?? language, timeout_ms: o.timeoutMs ?? 30_000 }, limit: o.limit ?? 1_048_576, stream: o.stream ?? false });
      const frames = await box.until('cell_result');
      for (const f of frames) assert.equal(f.frame.id, id);
      return { sent, frames, last: frames[frames.length - 1] };
    }
    async function cell(language: string, code: string, o: Parameters<typeof cellFrames>[2] = {}): Promise<CellResult> {
      const { last } = await cellFrames(language, code, o);
      assert.ok(last.frame.cell_result, JSON.stringify(last.frame));
      return last.frame.cell_result as CellResult;
    }

    it('python keeps variables, imports and definitions between cells', async () => {
      const a = await cell('python', 'import math\nx = 21\ndef double(v):\n    return v * 2\nprint("defined")');
      assert.equal(a.error, null);
      assert.equal(text(a), 'defined\n');
      assert.deepEqual(a.results, []);
      const b = await cell('python', 'double(x) + math.floor(0.5)');
      assert.equal(b.error, null);
      assert.deepEqual(b.results, [{ is_main_result: true, text: '42' }]);
      assert.equal(b.execution_count, a.execution_count + 1);
      assert.equal(b.context_restarted, false);
    });

    it('python: every matplotlib figure shown or left open is a png result', async () => {
      const r = await cell('python', [
        'import matplotlib.pyplot as plt',
        'plt.plot([1, 2, 3], [3, 1, 2]); plt.title("shown"); plt.show()',
        'plt.figure(); plt.bar(["a", "b"], [2, 5])',
        'None',
      ].join('\n'));
      assert.equal(r.error, null, JSON.stringify(r.error));
      const pngs = r.results.filter((x) => x.png);
      assert.equal(pngs.length, 2, JSON.stringify(r.results.map((x) => Object.keys(x))));
      for (const p of pngs) {
        assert.equal(p.is_main_result, false);
        const bytes = Buffer.from(p.png!, 'base64');
        assert.ok(bytes.subarray(0, 8).equals(PNG_SIGNATURE), 'decodes to a PNG');
        assert.ok(bytes.length > 1000);
      }
      assert.equal(main(r), undefined);
      // closed after display: the next cell shows nothing again
      const again = await cell('python', 'x');
      assert.equal(again.results.filter((x) => x.png).length, 0);
    });

    it('python: a cell that switches to the Agg backend still has every figure shown or left open as a png', async () => {
      // pyplot is already loaded on the inline backend in this context: matplotlib.use switches it away.
      await cell('python', 'import matplotlib.pyplot as plt', { context: 'agg' });
      const r = await cell('python', [
        'import matplotlib',
        'matplotlib.use("Agg")',
        'import matplotlib.pyplot as plt',
        'plt.plot([1, 2, 3], [3, 1, 2]); plt.show()',
        'plt.figure(); plt.bar(["a", "b"], [2, 5]); plt.savefig("/tmp/bars.png")',
      ].join('\n'), { context: 'agg' });
      assert.equal(r.error, null, JSON.stringify(r.error));
      const pngs = r.results.filter((x) => x.png);
      assert.equal(pngs.length, 2, JSON.stringify(r.results.map((x) => Object.keys(x))));
      for (const p of pngs) assert.ok(Buffer.from(p.png!, 'base64').subarray(0, 8).equals(PNG_SIGNATURE), 'decodes to a PNG');
      // closed after display: the next cell shows nothing again
      const again = await cell('python', 'plt.get_fignums()', { context: 'agg' });
      assert.deepEqual(again.results, [{ is_main_result: true, text: '[]' }]);
    });

    it('python: a pandas DataFrame as the last expression gives html and text', async () => {
      const r = await cell('python', "import pandas as pd\ndf = pd.DataFrame({'city': ['Oslo', 'Lima'], 'temp': [3, 19]})\ndf");
      assert.equal(r.error, null);
      const m = main(r)!;
      assert.ok(m, 'a main result');
      assert.match(m.html!, /<table[\s\S]*Oslo[\s\S]*<\/table>/);
      assert.match(m.text!, /city\s+temp\n0\s+Oslo\s+3\n1\s+Lima\s+19/);
      const quiet = await cell('python', 'df;');
      assert.deepEqual(quiet.results, [], 'a trailing semicolon shows nothing, as in IPython');
    });

    it('python: an exception or a syntax error is an error result, in plain text, and the context lives on', async () => {
      const r = await cell('python', 'def f():\n    raise ValueError("bad value")\nprint("before")\nf()');
      assert.equal(r.error?.name, 'ValueError');
      assert.equal(r.error?.value, 'bad value');
      assert.match(r.error!.traceback, /ValueError/);
      assert.match(r.error!.traceback, /f\(\)/);
      assert.equal(text(r), 'before\n');
      noAnsi(r);
      const s = await cell('python', 'def broken(:\n    pass');
      assert.equal(s.error?.name, 'SyntaxError');
      noAnsi(s);
      assert.deepEqual((await cell('python', 'x')).results, [{ is_main_result: true, text: '21' }]);
    });

    it('python: a timeout interrupts the cell and keeps the context; a second in a row restarts it', async () => {
      await cell('python', 'kept = "still here"');
      const t = await cell('python', 'import time\nprint("working", flush=True)\nwhile True:\n    time.sleep(0.05)', { timeoutMs: 1000 });
      assert.equal(t.timed_out, true);
      assert.equal(t.context_restarted, false);
      assert.equal(t.error?.name, 'KeyboardInterrupt');
      assert.equal(text(t), 'working\n');
      assert.deepEqual((await cell('python', 'kept')).results, [{ is_main_result: true, text: "'still here'" }]);

      const first = await cell('python', 'while True: pass', { timeoutMs: 500 });
      assert.equal(first.timed_out, true);
      assert.equal(first.context_restarted, false);
      assert.equal(first.error?.name, 'KeyboardInterrupt');
      const second = await cell('python', 'while True: pass', { timeoutMs: 500 });
      assert.equal(second.timed_out, true);
      assert.equal(second.context_restarted, true);
      assert.equal(second.error?.name, 'TimeoutError');
      assert.match(second.error!.value, /the context was restarted; its state is gone/);
      const fresh = await cell('python', 'kept');
      assert.equal(fresh.error?.name, 'NameError');
      assert.equal(fresh.execution_count, 1);
    });

    it('python: a context whose process dies says so, and the next cell starts a fresh one', async () => {
      await cell('python', 'doomed = 1');
      const d = await cell('python', 'import os\nos._exit(3)');
      assert.equal(d.error?.name, 'ContextDied');
      assert.match(d.error!.value, /exited with status 3/);
      const n = await cell('python', '1 + 1');
      assert.equal(n.error, null);
      assert.deepEqual(n.results, [{ is_main_result: true, text: '2' }]);
      assert.equal(n.context_restarted, true);
      assert.equal((await cell('python', 'doomed')).error?.name, 'NameError');
    });

    it('javascript keeps declarations, awaits at top level, and logs to stdout and stderr', async () => {
      const a = await cell('javascript', 'let x = 1');
      assert.equal(a.error, null);
      assert.deepEqual(a.results, []);
      const b = await cell('javascript', 'x + 1');
      assert.deepEqual(b.results, [{ is_main_result: true, text: '2', json: 2 }]);
      const c = await cell('javascript', "const v = await new Promise((r) => setTimeout(() => r('done'), 50));\nv");
      assert.equal(c.error, null, JSON.stringify(c.error));
      assert.deepEqual(c.results, [{ is_main_result: true, text: "'done'", json: 'done' }]);
      const d = await cell('javascript', "console.log('hello from js', { a: 1 }); console.error('oops'); ({ list: [1, 2], v })");
      assert.equal(text(d), "hello from js { a: 1 }\n");
      assert.equal(text(d, 'stderr'), 'oops\n');
      assert.deepEqual(main(d)!.json, { list: [1, 2], v: 'done' });
      const e = await cell('javascript', "function check(n) { if (n > 1) throw new TypeError('nope'); }\ncheck(2)");
      assert.equal(e.error?.name, 'TypeError');
      assert.equal(e.error?.value, 'nope');
      assert.match(e.error!.traceback, /TypeError: nope/);
      assert.equal((await cell('javascript', 'Promise.resolve(6 * 7)')).results[0].json, 42, 'a returned Promise is awaited');
      assert.match((await cell('javascript', "require('path').join('a', 'b')")).results[0].text!, /a\/b/);
      const t = await cell('javascript', 'while (true) {}', { timeoutMs: 500 });
      assert.equal(t.timed_out, true);
      assert.equal(t.context_restarted, false);
      assert.equal((await cell('javascript', 'x')).results[0].json, 1, 'the context survives an interrupt');
    });

    it('bash keeps variables, functions and the working directory; a non-zero status is an ExitStatus error', async () => {
      const a = await cell('bash', "cd /tmp\nexport GREETING=hi\ngreet() { echo \"$GREETING, $1\"; }\nmkdir -p made");
      assert.equal(a.error, null);
      const b = await cell('bash', "pwd; greet 'world'; ls -d made\ncat <<'EOF'\n$HOME \"quoted\" 'single'\nEOF");
      assert.equal(b.error, null);
      assert.equal(text(b), '/tmp\nhi, world\nmade\n$HOME "quoted" \'single\'\n');
      assert.deepEqual(b.results, []);
      const c = await cell('bash', 'echo out; echo err >&2; false');
      assert.deepEqual(c.error, { name: 'ExitStatus', value: '1', traceback: '' });
      assert.equal(text(c), 'out\n');
      assert.equal(text(c, 'stderr'), 'err\n');
      const t = await cell('bash', 'echo start; sleep 30; echo never', { timeoutMs: 700 });
      assert.equal(t.timed_out, true);
      assert.equal(text(t), 'start\n');
      assert.equal(text(await cell('bash', 'echo $GREETING')), 'hi\n', 'the shell survives an interrupt');
      const x = await cell('bash', 'exit 4');
      assert.equal(x.error?.name, 'ContextDied');
      assert.match(x.error!.value, /status 4/);
      const f = await cell('bash', 'echo "[$GREETING]"; pwd');
      assert.equal(f.context_restarted, true);
      assert.equal(text(f), '[]\n/workspace\n');
    });

    it('streams a cell\'s output as chunk frames while it runs', async () => {
      const { sent, frames, last } = await cellFrames('python', 'print("first", flush=True)\nimport time\ntime.sleep(2)\nprint("second")', { stream: true });
      const chunks = frames.filter((f) => f.frame.chunk);
      assert.ok(chunks.length >= 2, JSON.stringify(frames.map((f) => f.frame)));
      assert.equal(chunks[0].frame.chunk.stream, 'stdout');
      assert.match(chunks[0].frame.chunk.text, /^first/); // print() may write the line and its end apart
      assert.ok(last.at - chunks[0].at >= 1500, `the first chunk came ${last.at - chunks[0].at} ms before the result`);
      assert.ok(chunks[0].at - sent < 1500);
      const r = last.frame.cell_result as CellResult;
      assert.equal(chunks.map((f) => f.frame.chunk.text).join(''), text(r));
      assert.equal(text(r), 'first\nsecond\n');
      // and a command's output, the same way
      box.send({ id: 'cmd-stream', command: 'echo one; sleep 1.5; echo two >&2', timeout_ms: 10_000, limit: 1000, stream: true });
      const cmd = await box.until('exit_code');
      assert.deepEqual(cmd.map((f) => f.frame.chunk).filter(Boolean), [{ stream: 'stdout', text: 'one\n' }, { stream: 'stderr', text: 'two\n' }]);
      assert.ok(cmd[cmd.length - 1].at - cmd[0].at >= 1000);
      assert.equal(cmd[cmd.length - 1].frame.stdout, 'one\n');
    });

    it('drops a context, refuses a context id of another language, and caps output', async () => {
      await cell('python', 'z = 1', { context: 'scratch' });
      const mismatch = await cellFrames('javascript', '1', { context: 'scratch' });
      assert.equal(mismatch.last.frame.cell_result, null);
      assert.equal(mismatch.last.frame.error, 'context_language_mismatch');
      box.send({ id: 'drop1', drop_context: 'scratch' });
      assert.deepEqual((await box.until('dropped')).pop()!.frame, { id: 'drop1', dropped: true });
      box.send({ id: 'drop2', drop_context: 'scratch' });
      assert.deepEqual((await box.until('dropped')).pop()!.frame, { id: 'drop2', dropped: false });
      const fresh = await cell('python', 'z', { context: 'scratch' });
      assert.equal(fresh.error?.name, 'NameError');
      const big = await cell('python', 'print("é" * 100000)', { context: 'scratch', limit: 1001 });
      assert.equal(big.stdout_truncated, true);
      assert.ok(Buffer.byteLength(text(big)) <= 1003);
      assert.ok(text(big).startsWith('éé'));
    });
  });

  describe('keeper (one-shot runs)', () => {
    let box: Sandbox;
    before(async () => {
      box = new Sandbox(PYTHON_IMAGE, 'sandbox-keeper.py', '256m');
      assert.deepEqual((await box.next()).frame, { ready: true });
    });
    after(() => box?.stop());

    it('runs a one-shot cell in each language in a kernel of its own, then resets', async () => {
      box.send({ cell: { language: 'python', code: 'print("hi")\n6 * 7', timeout_ms: 30_000 }, limit: 1000, stream: false });
      const py = (await box.until('cell_result')).pop()!.frame.cell_result as CellResult;
      assert.deepEqual(py.results, [{ is_main_result: true, text: '42' }]);
      assert.equal(py.logs.stdout.join(''), 'hi\n'); // print() may write the line and its end apart under load
      assert.deepEqual((await box.next()).frame, { ready: true });

      box.send({ cell: { language: 'javascript', code: 'const a = [1, 2, 3];\na.map((n) => n * 2)', timeout_ms: 30_000 }, limit: 1000 });
      const js = (await box.until('cell_result')).pop()!.frame.cell_result as CellResult;
      assert.deepEqual(js.results, [{ is_main_result: true, text: '[ 2, 4, 6 ]', json: [2, 4, 6] }]);
      assert.deepEqual((await box.next()).frame, { ready: true });

      box.send({ cell: { language: 'bash', code: 'echo "$((6 * 7))"; touch left-behind', timeout_ms: 30_000 }, limit: 1000, stream: true });
      const frames = await box.until('cell_result');
      assert.deepEqual(frames[0].frame, { chunk: { stream: 'stdout', text: '42\n' } });
      assert.equal((frames.pop()!.frame.cell_result as CellResult).error, null);
      assert.deepEqual((await box.next()).frame, { ready: true });

      box.send({ cell: { language: 'bash', code: 'ls -A /workspace | wc -l', timeout_ms: 30_000 }, limit: 1000 });
      const after = (await box.until('cell_result')).pop()!.frame.cell_result as CellResult;
      assert.equal(text(after).trim(), '0', 'nothing of the previous run is left');
      assert.deepEqual((await box.next()).frame, { ready: true });
    });

    it('a one-shot cell that picks the Agg backend before pyplot still gives its figure left open as a png', async () => {
      const code = 'import matplotlib\nmatplotlib.use("Agg")\nimport matplotlib.pyplot as plt\nplt.plot([1, 4, 9])\n"drawn"';
      box.send({ cell: { language: 'python', code, timeout_ms: 30_000 }, limit: 1000 });
      const r = (await box.until('cell_result')).pop()!.frame.cell_result as CellResult;
      assert.equal(r.error, null, JSON.stringify(r.error));
      assert.deepEqual(r.results.filter((x) => x.is_main_result), [{ is_main_result: true, text: "'drawn'" }]);
      const pngs = r.results.filter((x) => x.png);
      assert.equal(pngs.length, 1, JSON.stringify(r.results.map((x) => Object.keys(x))));
      assert.ok(Buffer.from(pngs[0].png!, 'base64').subarray(0, 8).equals(PNG_SIGNATURE), 'decodes to a PNG');
      assert.deepEqual((await box.next()).frame, { ready: true });
    });

    it("counts a cell's timeout from its kernel's start, not the interpreter's start-up, and interrupts it there", async () => {
      // IPython takes some 300 ms to start: a 250 ms timeout still leaves the cell its 250 ms.
      box.send({ cell: { language: 'python', code: 'import time\ntime.sleep(0.05)\n"in time"', timeout_ms: 250 }, limit: 1000 });
      const ok = (await box.until('cell_result')).pop()!.frame.cell_result as CellResult;
      assert.equal(ok.error, null, JSON.stringify(ok.error));
      assert.equal(ok.timed_out, false);
      assert.deepEqual(ok.results, [{ is_main_result: true, text: "'in time'" }]);
      assert.deepEqual((await box.next()).frame, { ready: true });

      box.send({ cell: { language: 'python', code: 'while True:\n    pass', timeout_ms: 500 }, limit: 1000 });
      const late = (await box.until('cell_result')).pop()!.frame.cell_result as CellResult;
      assert.equal(late.timed_out, true);
      assert.equal(late.error?.name, 'KeyboardInterrupt');
      assert.deepEqual((await box.next()).frame, { ready: true });
    });

    it('streams a pythonExec run as chunk frames when asked, and not otherwise', async () => {
      box.send({ code: 'import sys, time\nprint("a", flush=True)\ntime.sleep(1.5)\nprint("b")\nprint("e", file=sys.stderr)', limit: 1000, stream: true });
      const frames = await box.until('exit_code');
      const last = frames.pop()!;
      assert.deepEqual(frames[0].frame, { chunk: { stream: 'stdout', text: 'a\n' } });
      assert.ok(last.at - frames[0].at >= 1000, 'the first chunk came well before the result');
      assert.deepEqual(frames.map((f) => f.frame.chunk).sort((x, y) => x.text.localeCompare(y.text)),
        [{ stream: 'stdout', text: 'a\n' }, { stream: 'stdout', text: 'b\n' }, { stream: 'stderr', text: 'e\n' }]);
      assert.deepEqual(last.frame, { exit_code: 0, stdout: 'a\nb\n', stderr: 'e\n', stdout_truncated: false, stderr_truncated: false });
      assert.deepEqual((await box.next()).frame, { ready: true });

      box.send({ code: 'print("plain")', limit: 1000 });
      const plain = await box.until('exit_code');
      assert.equal(plain.length, 1, 'no chunk frames without stream');
      assert.equal(plain[0].frame.stdout, 'plain\n');
      assert.deepEqual((await box.next()).frame, { ready: true });
    });
  });
});
