// Wrappers every runtime activity uses: heartbeats and the in-flight count the worker reports.
import { Context } from '@temporalio/activity';

export async function withHeartbeat<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const every = Math.max(200, Math.min(1000, (ctx.info.heartbeatTimeoutMs ?? 3000) / 3));
  const timer = setInterval(() => ctx.heartbeat(), every);
  try {
    return await work(ctx.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}

/** Counts the execution in `inflight` while it runs, for the worker's registry reports. */
export async function countedInflight<T>(inflight: Map<string, number>, runtime: string, work: () => Promise<T>): Promise<T> {
  inflight.set(runtime, (inflight.get(runtime) ?? 0) + 1);
  try {
    return await work();
  } finally {
    inflight.set(runtime, (inflight.get(runtime) ?? 1) - 1);
  }
}
