// durabox's JavaScript kernel: Node's own REPL machinery, without a terminal. Started by kernel-driver.py as
// `node -e <this file>`. Cell requests arrive as JSON lines on fd 3 ({"code": ...}); each finished cell is
// one JSON line on fd 4 ({"results", "error", "execution_count"}), after one {"ready": true} line once started.
// The user's console writes to fd 1 and 2.
// Each cell goes through the REPL server's own eval(): top-level await, let/const/function declarations kept
// between cells, object literals, `_`; the completion value is the main result (a Promise is awaited).
'use strict';
const fs = require('fs');
const net = require('net');
const path = require('path');
const readline = require('readline');
const repl = require('repl');
const util = require('util');
const { Console } = require('console');
const { Module } = require('module');
const { PassThrough, Writable } = require('stream');

try { process.chdir('/workspace'); } catch { /* elsewhere: stay */ }
// The control pipes again as close-on-exec fds (Node opens everything so), so that what a cell spawns does not
// inherit them; fd 3 and 4 themselves are closed.
function reopen(fd, flags) {
  try {
    const again = fs.openSync(`/proc/self/fd/${fd}`, flags);
    fs.closeSync(fd);
    return again;
  } catch {
    return fd;
  }
}
const requestFd = reopen(3, 'r');
const replyFd = reopen(4, 'w');

// The REPL never reads a line (cells go to eval directly); what it would print by itself (an error thrown
// later by a timer, a prompt) goes to stderr, with an empty prompt, except while a cell runs: then the
// error is the cell's, and goes in its reply.
let current = null; // resolves the running cell's eval
const input = new PassThrough();
const output = new Writable({
  write(chunk, _enc, cb) {
    const s = chunk.toString();
    if (s.trim() && !current) process.stderr.write(s);
    cb();
  },
});
const server = repl.start({
  prompt: '',
  input,
  output,
  terminal: false,
  useColors: false,
  useGlobal: false,
  ignoreUndefined: true,
  breakEvalOnSigint: true,
});
const ctx = server.context;
Object.defineProperty(ctx, 'console', {
  configurable: true, writable: true, enumerable: false,
  value: new Console({ stdout: process.stdout, stderr: process.stderr, colorMode: false }),
});
ctx.require = Module.createRequire(path.join(process.cwd(), '<cell>'));

// An error in a timer or an unhandled rejection must not end the context: it is reported on stderr.
process.on('uncaughtException', (e) => process.stderr.write(`Uncaught ${util.inspect(e, { colors: false })}\n`));
process.on('unhandledRejection', (e) => process.stderr.write(`Unhandled rejection: ${util.inspect(e, { colors: false })}\n`));

// SIGINT: a synchronous cell is broken by vm's breakOnSigint (the REPL's eval sets it); an awaited one
// through the REPL's own SIGINT handling (its prioritised queue), and our own await of a returned Promise
// through `interrupters`. While idle it does nothing: the process lives on. A cell stuck in native code
// (execSync, a busy addon) is not interrupted: the driver then restarts the context.
const interrupters = new Set();
function onSigint() {
  if (current) server.emit('SIGINT'); // only while the REPL awaits a cell: idle, it would print a hint, then close
  for (const f of [...interrupters]) f();
}
// The listener is off while the REPL runs a cell's synchronous part: the REPL starts vm's SIGINT watchdog
// first, and vm then removes every SIGINT listener, which would put the default disposition back (so SIGINT
// would kill the process) unless there was none. When the watched script ends, the watchdog leaves a handler
// that kills the process too: the listener (and its signal handler) is installed again after every run.
function armSigint() {
  process.removeListener('SIGINT', onSigint);
  process.on('SIGINT', onSigint);
}
armSigint();

const RESULTS_BUDGET = 4 * 1024 * 1024;
let executionCount = 0;

function isPlainJson(value) {
  if (value === null) return true;
  const t = typeof value;
  if (t === 'string' || t === 'boolean') return true;
  if (t === 'number') return Number.isFinite(value);
  if (t !== 'object') return false;
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value);
  return proto === null || proto === Object.prototype || Object.getPrototypeOf(proto) === null;
}

function mainResult(value) {
  const item = { is_main_result: true, text: util.inspect(value, { colors: false }) };
  if (isPlainJson(value)) {
    try {
      const s = JSON.stringify(value);
      if (typeof s === 'string') item.json = JSON.parse(s);
    } catch { /* circular or throwing toJSON: text only */ }
  }
  return item;
}

// A stack without the frames of the REPL and vm machinery that ran the cell (as the REPL itself shows it).
function userFrames(stack) {
  const lines = stack.split('\n');
  const i = lines.findIndex((l) => /^\s+at (sigintHandlersWrap|.*\(node:(vm|repl|domain|internal\/vm)[:)])/.test(l));
  return (i < 0 ? lines : lines.slice(0, i)).join('\n');
}

function toError(e) {
  if (e instanceof repl.Recoverable) e = e.err;
  if (e && typeof e === 'object' && typeof e.message === 'string') {
    const interrupted = e.code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED';
    return {
      name: interrupted ? 'KeyboardInterrupt' : String(e.name || 'Error'),
      value: e.message,
      traceback: typeof e.stack !== 'string' ? '' : interrupted ? e.stack.split('\n')[0] : userFrames(e.stack),
    };
  }
  return { name: 'Error', value: util.inspect(e, { colors: false }), traceback: '' };
}

// The REPL's eval runs inside its domain: an error the cell throws (or an awaited rejection) is emitted on
// the domain, not given to the callback.
function settle(outcome) {
  const done = current;
  current = null;
  if (done) done(outcome);
}
if (server._domain) server._domain.on('error', (err) => settle({ err }));

function evalCell(code) {
  return new Promise((resolve) => {
    current = resolve;
    process.removeListener('SIGINT', onSigint);
    try {
      server.eval(code, ctx, 'cell', (err, value) => settle({ err, value }));
    } catch (err) {
      settle({ err });
    } finally {
      armSigint();
    }
  });
}

function awaitInterruptibly(promise) {
  return new Promise((resolve, reject) => {
    const stop = () => {
      const e = new Error('Script execution was interrupted by `SIGINT`');
      e.code = 'ERR_SCRIPT_EXECUTION_INTERRUPTED';
      e.stack = `Error: ${e.message}`;
      reject(e);
    };
    interrupters.add(stop);
    Promise.resolve(promise).then(resolve, reject).finally(() => interrupters.delete(stop));
  });
}

async function runCell(code) {
  executionCount += 1;
  const reply = { results: [], error: null, execution_count: executionCount };
  let { err, value } = await evalCell(code);
  if (!err && value !== null && typeof value === 'object' && typeof value.then === 'function') {
    try {
      value = await awaitInterruptibly(value);
    } catch (e) {
      err = e;
    }
  }
  if (err) {
    reply.error = toError(err);
  } else if (value !== undefined) {
    const item = mainResult(value);
    if (JSON.stringify(item).length > RESULTS_BUDGET) {
      delete item.json;
      if (item.text.length > RESULTS_BUDGET) item.text = item.text.slice(0, RESULTS_BUDGET);
      reply.results_truncated = true;
    }
    reply.results.push(item);
    server.last = value;
  }
  return reply;
}

function writeAll(fd, text) {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

writeAll(replyFd, '{"ready":true}\n'); // started: the driver sends the first cell and starts its clock

// Cells run strictly one after another, in the order they arrive.
let queue = Promise.resolve();
// A pipe handle, polled by the event loop: a blocking read in the thread pool would hold process.exit() up.
const requests = new net.Socket({ fd: requestFd, readable: true, writable: false });
const lines = readline.createInterface({ input: requests, crlfDelay: Infinity });
lines.on('line', (line) => {
  if (!line.trim()) return;
  queue = queue.then(async () => {
    const req = JSON.parse(line);
    const reply = await runCell(String(req.code ?? ''));
    // Whatever the cell wrote is already in the pipes: stdout and stderr writes to pipes are synchronous.
    writeAll(replyFd, `${JSON.stringify(reply)}\n`);
  });
});
lines.on('close', () => queue.then(() => process.exit(0)));
