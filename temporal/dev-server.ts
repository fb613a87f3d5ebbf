// The local workflow engine: `temporal server start-dev` as a child process, its SQLite file (WAL) in the
// data dir so workflows survive restarts, durabox's search attributes registered up front. It never
// outlives the process that started it, however that process ends (see WATCHED).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { SEARCH_ATTRIBUTES } from '../contract/search-attributes.js';
import { componentLog } from '../config/log.js';

/**
 * The dev server's launcher. Linux's PR_SET_PDEATHSIG is out of Node's reach, so a shell forks a watcher
 * that reads its stdin, a pipe from the process that started it, then execs the CLI (the child's pid is
 * the server's: signals reach the server itself). When the starter dies, kill -9 included, the kernel
 * closes the pipe: the watcher reads EOF and stops the server, TERM then KILL after 10 s. The starter
 * closes the pipe itself when the server exits, and the watcher, no longer the server's child, just ends
 * (the pid could name another process by then). A dead server not yet reaped (a zombie, whose new
 * parent may be slow to reap it) counts as gone. A background job of a non-interactive shell ignores
 * SIGINT, so a Ctrl+C leaves the watcher to the end; its stdin would be /dev/null, hence the pipe on fd 3.
 */
const WATCHED = `exec 3<&0
(
  cat <&3 >/dev/null
  if [ -r /proc/self/stat ]; then read -r _ _ _ ppid _ < /proc/self/stat; [ "$ppid" = "$$" ] || exit 0; fi
  running() { kill -0 $$ 2>/dev/null && ! grep -q '^[0-9]* ([^)]*) Z' /proc/$$/stat 2>/dev/null; }
  kill -TERM $$ 2>/dev/null || exit 0
  i=0
  while [ $i -lt 100 ] && running; do sleep 0.1; i=$((i+1)); done
  if running; then kill -KILL $$; fi
) &
exec "$@" </dev/null 3<&-`;

export interface DevServerOptions {
  dataDir: string;
  port?: number;
  uiPort?: number;
  /** Where the server's Prometheus `/metrics` listens (default: a port the CLI picks and does not tell). */
  metricsPort?: number;
  namespace?: string;
  headless?: boolean;
  /** Where the UI opens sealed payloads (the API's codec endpoint, without the trailing /decode). */
  codecEndpoint?: string;
  /** The Temporal CLI binary (DURABOX_TEMPORAL_CLI). */
  cli: string;
}

export interface DevServer {
  address: string;
  uiUrl: string;
  /** The server's Prometheus metrics, when a metrics port was given. */
  metricsUrl?: string;
  process: ChildProcess;
  /** SIGTERM, then SIGKILL after 10 s; with `SIGKILL`, at once (a crash: SQLite keeps what it committed). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startTemporalDevServer(o: DevServerOptions): Promise<DevServer> {
  const port = o.port ?? 7233;
  const uiPort = o.uiPort ?? 8233;
  mkdirSync(o.dataDir, { recursive: true });
  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(port),
    '--ui-port', String(uiPort),
    ...(o.metricsPort === undefined ? [] : ['--metrics-port', String(o.metricsPort)]),
    '--db-filename', join(o.dataDir, 'temporal.sqlite'),
    '--sqlite-pragma', 'journal_mode=WAL',
    '--sqlite-pragma', 'synchronous=NORMAL',
    '--namespace', o.namespace ?? 'default',
    '--log-level', 'error',
    // One partition per task queue: with a handful of pollers, more partitions only add matching hops.
    '--dynamic-config-value', 'matching.numTaskqueueReadPartitions=1',
    '--dynamic-config-value', 'matching.numTaskqueueWritePartitions=1',
    // Queued work is handed out fairly across accounts (each workflow carries its account as fairness
    // key), so one account's backlog does not starve another's next task.
    '--dynamic-config-value', 'matching.enableFairness=true',
    // The history queues read new tasks at most 20 times a second per shard by default, which puts
    // ~50 ms on every hop (start → workflow task → activity → workflow task). Lift the limit.
    '--dynamic-config-value', 'history.transferProcessorMaxPollRPS=10000',
    '--dynamic-config-value', 'history.transferProcessorMaxPollHostRPS=100000',
    '--dynamic-config-value', 'history.timerProcessorMaxPollRPS=10000',
    '--dynamic-config-value', 'history.timerProcessorMaxPollHostRPS=100000',
    '--dynamic-config-value', 'history.visibilityProcessorMaxPollRPS=10000',
    '--dynamic-config-value', 'history.visibilityProcessorMaxPollHostRPS=100000',
    ...SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=Keyword`]),
    ...(o.headless ? ['--headless'] : []),
    ...(o.codecEndpoint ? ['--ui-codec-endpoint', o.codecEndpoint] : []),
  ];
  const log = openSync(join(o.dataDir, 'temporal.log'), 'a');
  const child = spawn('/bin/sh', ['-c', WATCHED, 'temporal-dev-server', o.cli, ...args], { stdio: ['pipe', log, log], detached: false });
  // Never written to: it is only held open, and a watcher that already ended must not fail this process.
  child.stdin!.on('error', () => undefined);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    child.stdin!.destroy();
    resolve(code);
  }));
  const cannotStart = (reason: string) => componentLog('start').error({ cli: o.cli, reason }, `cannot start the Temporal CLI (${o.cli}): ${reason}; run deploy/setup-host.sh or set DURABOX_TEMPORAL_CLI`);
  child.once('error', (e) => cannotStart(e.message));
  // The shell's exec of a CLI that is not there, or not executable.
  void exited.then((code) => { if (code === 127 || code === 126) cannotStart(code === 127 ? 'not found' : 'not executable'); });
  const ready = await Promise.race([waitForPort(port, 60_000), exited.then(() => false)]);
  if (!ready) {
    child.kill('SIGKILL');
    throw new Error(`Temporal dev server did not start on 127.0.0.1:${port}; see ${join(o.dataDir, 'temporal.log')}`);
  }
  return {
    address: `127.0.0.1:${port}`,
    uiUrl: `http://127.0.0.1:${uiPort}`,
    ...(o.metricsPort === undefined ? {} : { metricsUrl: `http://127.0.0.1:${o.metricsPort}/metrics` }),
    process: child,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export async function waitForPort(port: number, timeoutMs: number, host = '127.0.0.1'): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host }, () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
