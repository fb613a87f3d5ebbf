// What the workflow tests share: a local Temporal dev server (the CLI on this machine, no time skipping),
// the compiled workflows bundled once, workers whose activities are plain mocks, and small helpers for
// waiting and counting. No Docker, no database.
import { fileURLToPath } from 'node:url';
import { Context } from '@temporalio/activity';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker, bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { SEARCH_ATTRIBUTES } from '../../../contract/search-attributes.js';

/** The compiled workflows the control worker runs (…/workflows/index.js beside this compiled tree). */
export const workflowsPath = fileURLToPath(new URL('../../../workflows/index.js', import.meta.url));
/** The workflow interceptors the product's bundle carries (they only add log attributes). */
const workflowInterceptorModules = [fileURLToPath(new URL('../../../workflows/log-attributes.js', import.meta.url))];

// Activity failures are part of what these tests provoke; keep the SDK's warnings about them quiet.
try {
  Runtime.install({ logger: new DefaultLogger((process.env.DURABOX_TEST_LOG_LEVEL as 'ERROR' | undefined) ?? 'ERROR') });
} catch {
  // Already installed by another test file of this run.
}

let bundle: Promise<WorkflowBundle> | undefined;
/** The workflow bundle, built once per mocha run (webpack takes seconds; every worker reuses it). */
export function workflowBundle(): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflowCode({ workflowsPath, workflowInterceptorModules, logger: new DefaultLogger('ERROR') }).then(({ code }) => ({ code }));
  return bundle;
}

/** A dev server with durabox's search attributes and fast history queues. */
export async function startTestEnv(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: process.env.DURABOX_TEMPORAL_CLI || 'temporal' },
      searchAttributes: SEARCH_ATTRIBUTES,
      log: { format: 'pretty', level: 'error' },
      extraArgs: [
        '--dynamic-config-value', 'history.transferProcessorMaxPollRPS=10000',
        '--dynamic-config-value', 'history.timerProcessorMaxPollRPS=10000',
        '--dynamic-config-value', 'history.visibilityProcessorMaxPollRPS=10000',
        // One partition per queue, as the product's own dev server runs: no forwarding between partitions.
        '--dynamic-config-value', 'matching.numTaskqueueReadPartitions=1',
        '--dynamic-config-value', 'matching.numTaskqueueWritePartitions=1',
      ],
    },
  });
}

export interface RunningWorker {
  worker: Worker;
  /** Shuts the worker down and waits until it stopped polling. */
  stop(): Promise<void>;
}

/**
 * Starts a worker on `taskQueue` serving `activities` (mocks) and, with `workflows: true`, the durabox
 * workflows. It runs until `stop()`.
 */
export async function startWorker(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  activities: object = {},
  opts: { workflows?: boolean } = {},
): Promise<RunningWorker> {
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    activities,
    ...(opts.workflows ? { workflowBundle: await workflowBundle() } : {}),
    shutdownGraceTime: '2s',
  });
  const running = worker.run();
  let stopped: Promise<void> | undefined;
  return {
    worker,
    stop() {
      stopped ??= (async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running;
      })();
      return stopped;
    },
  };
}

/** Stops every worker given, whatever happens to the others. */
export async function stopAll(workers: (RunningWorker | undefined)[]): Promise<void> {
  await Promise.allSettled(workers.map((w) => w?.stop()));
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(50);
  }
}

/**
 * Inside a mocked activity: heartbeats every 100 ms until `until` settles, and rejects with the
 * cancellation reason when Temporal cancels the activity (as the real activities do through withHeartbeat).
 */
export async function heartbeatUntil<T>(until: Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat(), 100);
  try {
    return await Promise.race([until, ctx.cancelled]);
  } finally {
    clearInterval(timer);
  }
}

/** Every run of a workflow id, oldest first (continue-as-new makes several). */
export async function runsOf(client: Client, workflowId: string): Promise<{ runId: string; status: string }[]> {
  const runs: { runId: string; status: string; start: number }[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    runs.push({ runId: w.runId, status: w.status.name, start: w.startTime.getTime() });
  }
  return runs.sort((a, b) => a.start - b.start).map(({ runId, status }) => ({ runId, status }));
}

/** Terminates whatever the test left running, so the next test starts from a quiet server. */
export async function terminateRunning(handles: WorkflowHandle[]): Promise<void> {
  await Promise.allSettled(handles.map(async (h) => {
    const d = await h.describe();
    if (d.status.name === 'RUNNING') await h.terminate('test cleanup');
  }));
}
