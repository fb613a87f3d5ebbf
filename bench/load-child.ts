// A pythonExec throughput window driven from a child process (load-process.ts), with what it cost:
// the bench process reads every CPU counter, and scrapes Temporal's request counters, the moment the
// child says the window starts and the moment it ends.
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../config/paths.js';
import { costByPart, type CostByPart, type WindowSnapshot } from './cpu-parts.js';
import { attempt, failed, type Outcome } from './figures.js';
import type { ThroughputRun } from './load.js';
import type { LoadMessage, LoadOrder } from './load-process.js';
import { clockTicksPerSecond, readMachineTicks, readProcesses } from './procfs.js';
import { frontendRequests, requestsPerTask, scrape, type RequestsPerTask } from './prometheus.js';
import type { PlatformContext } from './context.js';

export interface MeasuredWindow {
  run: ThroughputRun;
  cost: Outcome<CostByPart>;
  temporalRequests: Outcome<RequestsPerTask>;
}

/** The task every throughput window runs. */
export const PRINT_ONE = { code: 'print(1)', expectedOutput: '1\n' };

function snapshot(): WindowSnapshot {
  const own = process.cpuUsage();
  return { atMs: Date.now(), benchProcessUs: own.user + own.system, processes: readProcesses(), machine: readMachineTicks() };
}

async function requestCounters(ctx: PlatformContext): Promise<Outcome<Record<string, number>>> {
  const url = ctx.temporalMetricsUrl;
  if (!url) return { error: 'the Temporal dev server was started without a metrics port' };
  return attempt(async () => frontendRequests(await scrape(url), ctx.temporalNamespace));
}

/** Runs `print(1)` from `clients` clients in a child process for `windowSec` seconds. */
export function throughputInChild(ctx: PlatformContext, o: { clients: number; windowSec: number }): Promise<MeasuredWindow> {
  const child = fork(join(repoRoot, 'dist', 'bench', 'load-process.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const order: LoadOrder = { baseUrl: ctx.api.baseUrl, token: ctx.api.token, timeoutMs: ctx.api.timeoutMs, ...PRINT_ONE, ...o };
  let start: { snap: WindowSnapshot; requests: Promise<Outcome<Record<string, number>>> } | undefined;
  let end: typeof start;
  return new Promise<MeasuredWindow>((resolve, reject) => {
    // Warm-up and stragglers each take at most one call's time limit.
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the load process did not finish within ${o.windowSec} s + twice the call limit`));
    }, o.windowSec * 1000 + 2 * ctx.api.timeoutMs + 30_000);
    // Set on the result: the exit that follows it is no failure, even while the result is still being read.
    let answered = false;
    const settle = (f: () => void) => {
      clearTimeout(guard);
      answered = true;
      f();
    };
    child.on('message', (m: LoadMessage) => {
      if ('window' in m) {
        const taken = { snap: snapshot(), requests: requestCounters(ctx) };
        if (m.window === 'start') start = taken;
        else end = taken;
      } else if ('failed' in m) {
        settle(() => reject(new Error(`load process: ${m.failed}`)));
      } else {
        settle(() => void finish(m).then(resolve, reject));
      }
    });
    child.once('close', (code, signal) => {
      if (!answered) settle(() => reject(new Error(`the load process exited (${code ?? signal}) before its result`)));
    });
    child.send(order);
  });

  async function finish(m: Extract<LoadMessage, { done: ThroughputRun }>): Promise<MeasuredWindow> {
    const run = m.done;
    if (!start || !end) return { run, cost: { error: 'the window never started' }, temporalRequests: { error: 'the window never started' } };
    if (run.completed === 0) return { run, cost: { error: 'no task completed in the window' }, temporalRequests: { error: 'no task completed in the window' } };
    const cost = await attempt(async () => costByPart({
      start: start!.snap,
      end: end!.snap,
      samples: m.samples,
      roles: { temporalPid: ctx.temporalPid, workerPid: ctx.worker.pid, gatewayPid: ctx.gatewayPid, clientsPid: child.pid! },
      completed: run.completed,
      windowSec: run.windowSec,
      clockTicksPerSec: clockTicksPerSecond(),
      sandboxSource: m.sandboxSource,
    }));
    const [before, after] = await Promise.all([start.requests, end.requests]);
    const temporalRequests: Outcome<RequestsPerTask> = failed(before) ? before : failed(after) ? after : requestsPerTask(before, after, run.completed);
    return { run, cost, temporalRequests };
  }
}
