// Long activities heartbeat, so Temporal notices a dead host and a cancel reaches the activity.
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
