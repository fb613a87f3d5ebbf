// How many idle sessions one host holds, and what each costs in memory: open N sessions with a long
// lease, let them sit, read memory, prove each is still alive, then end them all.
import { setTimeout as sleep } from 'node:timers/promises';
import { LABEL_RUNTIME, LABEL_WORKER } from '../sandbox/profile.js';
import { IDLE_SESSIONS_HELD, IDLE_SESSION_MEMORY } from './catalog.js';
import { attempt, failed, record, type Measurement } from './figures.js';
import { forEachLimited } from './load.js';
import { containersMemory, processTreeRssBytes } from './memory.js';
import { ErrorTally } from './stats.js';
import { addFigure, type PlatformContext } from './context.js';

const MiB = 1024 * 1024;

interface MemorySnapshot {
  workerContainers: number;
  workerContainerBytes: number;
  sessionContainers: number;
  sessionContainerBytes: number;
  unreadableContainers: number;
  workerRssBytes: number;
  /** Not the host's cost, but worth seeing: what the control plane pays per session. */
  temporalRssBytes: number;
  apiProcessRssBytes: number;
}

async function snapshot(ctx: PlatformContext): Promise<MemorySnapshot> {
  const worker = `${LABEL_WORKER}=${ctx.worker.id}`;
  const all = await containersMemory(ctx.docker, [worker]);
  const sessions = await containersMemory(ctx.docker, [worker, `${LABEL_RUNTIME}=terminal`]);
  return {
    workerContainers: all.containers,
    workerContainerBytes: all.bytes,
    sessionContainers: sessions.containers,
    sessionContainerBytes: sessions.bytes,
    unreadableContainers: all.unreadable,
    workerRssBytes: processTreeRssBytes(ctx.worker.pid),
    temporalRssBytes: processTreeRssBytes(ctx.temporalPid),
    apiProcessRssBytes: process.memoryUsage().rss,
  };
}

/** Opens sessions `concurrency` at a time; stops early once opening keeps failing. */
async function openSessions(ctx: PlatformContext, count: number, concurrency: number, tally: ErrorTally): Promise<{ ids: string[]; leaseExpiresMs: number[] }> {
  const ids: string[] = [];
  const leaseExpiresMs: number[] = [];
  let attempted = 0;
  let consecutiveFailures = 0;
  const lane = async () => {
    while (attempted < count && consecutiveFailures < 10) {
      attempted++;
      try {
        const r = await ctx.api.terminal({ command: 'true', lease_ttl_sec: ctx.settings.idleLeaseSec });
        ids.push(r.session_id);
        leaseExpiresMs.push(r.lease_expires_unix_ms);
        consecutiveFailures = 0;
      } catch (err) {
        tally.add(err);
        consecutiveFailures++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return { ids, leaseExpiresMs };
}

export async function measureIdleSessions(ctx: PlatformContext): Promise<void> {
  const { settings: s } = ctx;
  const outcome = await attempt(async () => {
    if (s.idleSessions === 0) throw new Error('not measured: BENCH_IDLE_SESSIONS=0');
    const before = await snapshot(ctx);
    const openErrors = new ErrorTally();
    const openStarted = Date.now();
    const { ids, leaseExpiresMs } = await openSessions(ctx, s.idleSessions, s.idleOpenConcurrency, openErrors);
    const openSec = (Date.now() - openStarted) / 1000;
    try {
      if (ids.length === 0) throw new Error(`no session could be opened: ${openErrors.top(1)[0]?.message}`);
      await sleep(s.idleHoldSec * 1000);
      const after = await snapshot(ctx);
      // A session counts as held only if it still runs a command after all of them were open.
      const verifyErrors = new ErrorTally();
      const verified = await forEachLimited(ids, s.idleOpenConcurrency, (id) => ctx.api.terminal({ command: 'true', session_id: id }));
      for (const v of verified) if (v.status === 'rejected') verifyErrors.add(v.reason);
      const held = verified.filter((v) => v.status === 'fulfilled').length;
      return { before, after, opened: ids.length, held, openSec, openErrors, verifyErrors, leaseExpiresMs };
    } finally {
      const deleted = await forEachLimited(ids, 8, (id) => ctx.api.deleteSession(id));
      const deleteFailures = deleted.filter((d) => d.status === 'rejected');
      if (deleteFailures.length > 0) console.error(`bench: ${deleteFailures.length} idle sessions could not be deleted: ${String((deleteFailures[0] as PromiseRejectedResult).reason)}`);
    }
  });

  if (failed(outcome)) {
    addFigure(ctx, record(IDLE_SESSIONS_HELD, outcome, ctx.byId));
    addFigure(ctx, record(IDLE_SESSION_MEMORY, outcome, ctx.byId));
    return;
  }
  const { before, after, opened, held, openSec, openErrors, verifyErrors, leaseExpiresMs } = outcome;
  const minLeaseLeftSec = (Math.min(...leaseExpiresMs) - Date.now()) / 1000;
  const common = {
    requested: s.idleSessions, opened, held, openSec, leaseTtlSecRequested: s.idleLeaseSec,
    minLeaseLeftSecAfterRun: Math.round(minLeaseLeftSec),
    openErrors: openErrors.top(), verifyErrors: verifyErrors.top(), memoryBefore: before, memoryAfter: after,
  };
  const heldMeasurement: Measurement = { value: held, errors: openErrors.count + verifyErrors.count, details: common };
  addFigure(ctx, record(IDLE_SESSIONS_HELD, heldMeasurement, ctx.byId));

  const containerDelta = after.workerContainerBytes - before.workerContainerBytes;
  const rssDelta = after.workerRssBytes - before.workerRssBytes;
  const memory: Measurement = {
    value: (containerDelta + rssDelta) / opened / MiB,
    errors: after.unreadableContainers,
    details: {
      ...common,
      containerDeltaMiB: containerDelta / MiB,
      workerRssDeltaMiB: rssDelta / MiB,
      containerMiBPerSession: containerDelta / opened / MiB,
      workerRssMiBPerSession: rssDelta / opened / MiB,
      sessionContainersAfter: after.sessionContainers,
      averageSessionContainerMiB: after.sessionContainers > 0 ? after.sessionContainerBytes / after.sessionContainers / MiB : undefined,
      controlPlane: {
        temporalRssMiBPerSession: (after.temporalRssBytes - before.temporalRssBytes) / opened / MiB,
        apiRssMiBPerSession: (after.apiProcessRssBytes - before.apiProcessRssBytes) / opened / MiB,
      },
    },
  };
  addFigure(ctx, record(IDLE_SESSION_MEMORY, memory, ctx.byId));
}
