// The throughput clients in a process of their own (forked by load-child.ts), so that the bench
// process's CPU time is the API's alone. It warms each client up, runs the window, and tells its parent
// the instant the window starts and the instant it ends, so the parent reads every CPU counter around
// exactly that window; the shims and sandbox cgroups it samples meanwhile are sent with the result.
import { DuraboxApi } from './api-client.js';
import type { WindowSample } from './cpu-parts.js';
import { measureThroughput, type ThroughputRun } from './load.js';
import { locateSandboxCpu, type SandboxCpuSource } from './sandbox-cpu.js';
import { watchWindow } from './window-watch.js';

/** The one message the parent sends: which pythonExec to run, how hard and how long. */
export interface LoadOrder {
  baseUrl: string;
  token: string;
  timeoutMs: number;
  code: string;
  expectedOutput: string;
  clients: number;
  windowSec: number;
}

export type LoadMessage =
  | { window: 'start' | 'end' }
  | { done: ThroughputRun; samples: WindowSample[]; sandboxSource: string | { error: string } }
  | { failed: string };

function send(m: LoadMessage): Promise<void> {
  return new Promise((resolve, reject) => process.send!(m, undefined, {}, (err) => (err ? reject(err) : resolve())));
}

async function run(order: LoadOrder): Promise<LoadMessage> {
  const api = new DuraboxApi(order.baseUrl, order.token, order.timeoutMs);
  let sandboxes: SandboxCpuSource | undefined;
  let sandboxSource: string | { error: string };
  try {
    sandboxes = locateSandboxCpu();
    sandboxSource = sandboxes.source;
  } catch (err) {
    sandboxSource = { error: (err as Error).message };
  }
  let watch: ReturnType<typeof watchWindow> | undefined;
  let samples: WindowSample[] = [];
  const done = await measureThroughput(async () => { await api.pythonExec(order.code, order.expectedOutput); }, {
    clients: order.clients,
    windowSec: order.windowSec,
    window: {
      start: () => {
        watch = watchWindow(sandboxes);
        void send({ window: 'start' });
      },
      end: () => {
        samples = watch?.stop() ?? [];
        void send({ window: 'end' });
      },
    },
  });
  return { done, samples, sandboxSource };
}

process.once('message', (order: LoadOrder) => {
  run(order)
    .catch((err: unknown): LoadMessage => ({ failed: err instanceof Error ? err.message : String(err) }))
    .then(send)
    .finally(() => process.disconnect());
});
