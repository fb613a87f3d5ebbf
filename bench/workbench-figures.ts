// The workbench through the API: a small GET to a server in a session through the port proxy, beside the
// same server reached directly, and one keystroke's echo through the interactive terminal's WebSocket.
import { request } from 'node:http';
import type Docker from 'dockerode';
import WebSocket from 'ws';
import { hardenedHostConfig, SANDBOX_USER } from '../sandbox/profile.js';
import { TERMINAL_IMAGE } from './baselines.js';
import { BENCH_LABEL } from './bench-containers.js';
import { PORT_DIRECT_P50, PORT_PROXY_OVERHEAD, PORT_PROXY_P50, PTY_ECHO_P50, PTY_ECHO_P99 } from './catalog.js';
import { attempt, failed, record, type Measurement, type Outcome } from './figures.js';
import { latencyMeasurement, measureInterleaved, measureSequential, type LatencyRun } from './load.js';
import { addFigure, type PlatformContext } from './context.js';

/** Where the server listens, in the session and in the direct baseline's container alike. */
const PORT = 8000;
const PAGE = 'i.html';
const PAGE_BODY = 'hi\n';
/** How long a server may take to accept its first request. */
const READY_MS = 15_000;

/**
 * `GET url` on a connection of its own (no agent: Node sends `Connection: close`), as python's
 * http.server (HTTP/1.0) closes every connection anyway: both paths pay one TCP connect per request.
 */
export function getOnce(url: string, headers: Record<string, string>, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url} took longer than ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** One GET that must answer 200 with the page. */
async function getPage(url: string, headers: Record<string, string>, timeoutMs: number): Promise<void> {
  const r = await getOnce(url, headers, timeoutMs);
  if (r.status !== 200 || r.body !== PAGE_BODY) throw new Error(`GET ${url.replace(/\/api\/v1\/sessions\/[^/]+/, '/api/v1/sessions/…')} answered ${r.status}: ${JSON.stringify(r.body.slice(0, 200))}`);
}

async function untilServed(get: () => Promise<void>, what: string): Promise<void> {
  const until = Date.now() + READY_MS;
  for (;;) {
    try {
      return await get();
    } catch (e) {
      if (Date.now() > until) throw new Error(`${what} did not serve within ${READY_MS / 1000} s: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * The direct baseline's server: python3 -m http.server in a container of the sessions' image with a
 * session's security profile and the terminal runtime's default limits (sandbox/profile.ts), but on
 * Docker's bridge so the host reaches it by its address. Answers its URL.
 */
async function startDirectServer(docker: Docker, runTag: string): Promise<{ url: string; container: Docker.Container }> {
  const limits = { image: TERMINAL_IMAGE, memoryBytes: 512 * 1024 * 1024, nanoCpus: 1e9, pidsLimit: 128, tmpfsBytes: 192 * 1024 * 1024, network: true };
  const container = await docker.createContainer({
    Image: TERMINAL_IMAGE,
    User: SANDBOX_USER,
    Cmd: ['sh', '-c', `mkdir -p /workspace/site && cd /workspace/site && printf 'hi\\n' > ${PAGE} && exec python3 -m http.server ${PORT} --bind 0.0.0.0`],
    Labels: { [BENCH_LABEL]: runTag },
    HostConfig: hardenedHostConfig(limits),
  });
  try {
    await container.start();
    const info = await container.inspect();
    const ip = info.NetworkSettings.Networks?.bridge?.IPAddress;
    if (!ip) throw new Error('the direct server\'s container has no address on the Docker bridge');
    return { url: `http://${ip}:${PORT}/${PAGE}`, container };
  } catch (e) {
    await container.remove({ force: true }).catch(() => undefined);
    throw e;
  }
}

/** Starts the server in the session the way a user would from its terminal, and waits until it accepts. */
const SERVE_IN_SESSION = `mkdir -p site && cd site && printf 'hi\\n' > ${PAGE} && (nohup python3 -m http.server ${PORT} --bind 127.0.0.1 >/dev/null 2>&1 &) ; `
  + `for i in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', ${PORT}))" 2>/dev/null && break; sleep 0.1; done`;

/**
 * Port proxy: the same GET through /sessions/:id/ports/8000/ and straight to the direct server, side by
 * side round by round (measureInterleaved), so a passing load falls on both; the overhead is the
 * difference of their p50s.
 */
export async function measurePortProxy(ctx: PlatformContext): Promise<void> {
  const { settings: s, api } = ctx;
  let sessionId: string | undefined;
  let direct: Docker.Container | undefined;
  const runs = await attempt(async () => {
    sessionId = (await api.terminal({ command: SERVE_IN_SESSION, lease_ttl_sec: 1800 })).session_id;
    const started = await startDirectServer(ctx.docker, ctx.runTag);
    direct = started.container;
    const proxyUrl = `${api.baseUrl}/api/v1/sessions/${encodeURIComponent(sessionId)}/ports/${PORT}/${PAGE}`;
    const auth = { authorization: `Bearer ${api.token}` };
    const viaProxy = () => getPage(proxyUrl, auth, s.requestTimeoutMs);
    const straight = () => getPage(started.url, {}, s.requestTimeoutMs);
    await untilServed(viaProxy, 'the session\'s server (through the proxy)');
    await untilServed(straight, 'the direct server');
    return measureInterleaved([viaProxy, straight], { samples: s.samples, warmup: s.warmup });
  });
  await direct?.remove({ force: true }).catch(() => undefined);
  if (sessionId) await api.deleteSession(sessionId).catch((e) => console.error(`bench: ${e.message}`));
  const [proxy, straight]: Outcome<LatencyRun>[] = failed(runs) ? [runs, runs] : runs;
  addFigure(ctx, record(PORT_DIRECT_P50, latencyMeasurement(straight, 'p50'), ctx.byId));
  addFigure(ctx, record(PORT_PROXY_P50, latencyMeasurement(proxy, 'p50'), ctx.byId));
  addFigure(ctx, record(PORT_PROXY_OVERHEAD, proxyOverhead(proxy, straight), ctx.byId));
}

/** The proxy's p50 minus the direct p50: what going through the API and the tunnel adds to a request. */
export function proxyOverhead(proxy: Outcome<LatencyRun>, direct: Outcome<LatencyRun>): Outcome<Measurement> {
  if (failed(proxy)) return { error: `through the proxy: ${proxy.error}` };
  if (failed(direct)) return { error: `direct: ${direct.error}` };
  return {
    value: proxy.latency.p50 - direct.latency.p50,
    errors: proxy.errors + direct.errors,
    details: { proxy: proxy.latency, direct: direct.latency, p99DifferenceMs: proxy.latency.p99 - direct.latency.p99, load: proxy.load },
  };
}

/** A viewer of the session's terminal: its output as text, and a way to wait for some of it. */
class TerminalViewer {
  private output = '';
  private ended?: string;
  private wake?: () => void;

  constructor(private readonly ws: WebSocket) {
    ws.on('message', (data, binary) => {
      if (binary) this.output += Buffer.from(data as Buffer).toString('latin1');
      else this.ended = `the terminal sent ${String(data).slice(0, 200)}`;
      this.wake?.();
    });
    ws.on('close', (code) => {
      this.ended ??= `the terminal closed (${code})`;
      this.wake?.();
    });
  }

  static open(url: string, headers: Record<string, string>, timeoutMs: number): Promise<TerminalViewer> {
    const ws = new WebSocket(url, { headers, handshakeTimeout: timeoutMs });
    const viewer = new TerminalViewer(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(viewer));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`the PTY WebSocket was refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  get length(): number {
    return this.output.length;
  }

  /** Keystrokes as a binary message, as a terminal sends them. */
  type(keys: string): void {
    this.ws.send(Buffer.from(keys, 'latin1'));
  }

  /** Resolves once the output from `from` on passes `test`. */
  until(from: number, test: (text: string) => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`no such terminal output within ${timeoutMs} ms; last output ${JSON.stringify(this.output.slice(-120))}`)), timeoutMs);
      const finish = (e?: Error) => {
        clearTimeout(timer);
        this.wake = undefined;
        if (e) reject(e);
        else resolve();
      };
      const check = () => {
        if (test(this.output.slice(from))) finish();
        else if (this.ended) finish(new Error(this.ended));
      };
      this.wake = check;
      check();
    });
  }

  close(): void {
    this.ws.close();
  }
}

/** The first character of terminal output that is not a control character or part of an escape sequence. */
export function firstPrintable(text: string): string | undefined {
  return /[^\x00-\x20\x7f]/.exec(text.replace(/\x1b\[[0-9;?]*[ -\/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>]/g, ''))?.[0];
}

/** A character erased at the end of the line: back, then blank it out or clear to the end of the line. */
export const ERASED = /[\b](?: [\b]|\x1b\[K)/;

/** Letters in turn, so an echo is never mistaken for the one before it. */
const KEYS = 'abcdefghijklmnopqrstuvwxyz';
/** The longest a keystroke's echo may take before the sample counts as failed. */
const ECHO_WAIT_MS = 10_000;

/**
 * Keystroke echo: a live session's terminal opened over its WebSocket, the shell's prompt awaited, then
 * one letter sent and timed until the TTY's echo of it comes back; untimed, a backspace erases it (its
 * echo awaited too), so the line never grows.
 */
export async function measurePtyEcho(ctx: PlatformContext): Promise<void> {
  const { settings: s, api } = ctx;
  let sessionId: string | undefined;
  let viewer: TerminalViewer | undefined;
  const run = await attempt(async () => {
    sessionId = (await api.terminal({ command: 'true', lease_ttl_sec: 1800 })).session_id;
    const url = `${api.baseUrl.replace(/^http/, 'ws')}/api/v1/sessions/${encodeURIComponent(sessionId)}/pty?cols=80&rows=24`;
    const term = await TerminalViewer.open(url, { authorization: `Bearer ${api.token}` }, s.requestTimeoutMs);
    viewer = term;
    term.type('echo BENCH-$((6*7))\r');
    await term.until(0, (t) => /BENCH-42[\s\S]*\$ $/.test(t), READY_MS);
    let i = 0;
    return measureSequential(async () => {
      const key = KEYS[i++ % KEYS.length];
      const mark = term.length;
      term.type(key);
      await term.until(mark, (t) => firstPrintable(t) === key, ECHO_WAIT_MS);
      return async () => {
        const erased = term.length;
        term.type('\x7f');
        await term.until(erased, (t) => ERASED.test(t), ECHO_WAIT_MS);
      };
    }, { samples: s.samples, warmup: s.warmup });
  });
  viewer?.close();
  if (sessionId) await api.deleteSession(sessionId).catch((e) => console.error(`bench: ${e.message}`));
  addFigure(ctx, record(PTY_ECHO_P50, latencyMeasurement(run, 'p50'), ctx.byId));
  addFigure(ctx, record(PTY_ECHO_P99, latencyMeasurement(run, 'p99'), ctx.byId));
}
