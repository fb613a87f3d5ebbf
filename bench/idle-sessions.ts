// How many idle sessions one host holds, and what each costs: open sessions with a long lease up to
// each level of BENCH_SESSION_LEVELS in turn, let them sit, read memory, prove each is still alive,
// time a command on one of them, then grow to the next level; end them all at the end. The figures
// come from the largest level, the session table from every level.
import { setTimeout as sleep } from 'node:timers/promises';
import { LABEL_RUNTIME, LABEL_WORKER } from '../sandbox/profile.js';
import { IDLE_SESSIONS_HELD, IDLE_SESSION_MEMORY } from './catalog.js';
import { attempt, failed, record, type Measurement } from './figures.js';
import { forEachLimited, measureSequential } from './load.js';
import { containersMemory, dockerEnginePss, processTreeRssBytes } from './memory.js';
import { ErrorTally } from './stats.js';
import { addFigure, type PlatformContext } from './context.js';
import { expectHi } from './terminal-figures.js';

const MiB = 1024 * 1024;
/** `echo hi` commands timed on one held session at each level. */
const COMMANDS_PER_LEVEL = 20;

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
  /** dockerd, containerd and the shims (PSS): a cost of the host the figure's formula leaves out. */
  dockerEnginePssBytes: number;
  shims: number;
}

async function snapshot(ctx: PlatformContext): Promise<MemorySnapshot> {
  const worker = `${LABEL_WORKER}=${ctx.worker.id}`;
  const all = await containersMemory(ctx.docker, [worker]);
  const sessions = await containersMemory(ctx.docker, [worker, `${LABEL_RUNTIME}=terminal`]);
  const engine = dockerEnginePss();
  return {
    workerContainers: all.containers,
    workerContainerBytes: all.bytes,
    sessionContainers: sessions.containers,
    sessionContainerBytes: sessions.bytes,
    unreadableContainers: all.unreadable,
    workerRssBytes: processTreeRssBytes(ctx.worker.pid),
    temporalRssBytes: processTreeRssBytes(ctx.temporalPid),
    apiProcessRssBytes: process.memoryUsage().rss,
    dockerEnginePssBytes: engine.bytes,
    shims: engine.shims,
  };
}

/** One row of the session table. */
export interface SessionLevel {
  /** Sessions asked for. */
  level: number;
  /** Sessions open once this level's opening ended. */
  opened: number;
  /** Of those, the ones that still ran a command after all were open. */
  held: number;
  /** How long opening this level's new sessions took, and how many that was. */
  openSec: number;
  openedNow: number;
  /** The figure's formula: (containers' memory + worker RSS, change since before the first level) / sessions open. */
  memoryPerSessionMiB: number;
  workerRssMiB: number;
  temporalRssMiB: number;
  apiRssMiB: number;
  dockerEnginePssMiB: number;
  /** p50 of `echo hi` on one held session, or why it could not be timed. */
  terminalP50Ms?: number;
  terminalError?: string;
  memory: MemorySnapshot;
}

/** Opens up to `count` more sessions `concurrency` at a time into `open`; stops early once opening keeps failing. */
async function openSessions(ctx: PlatformContext, count: number, concurrency: number, tally: ErrorTally, open: { ids: string[]; leaseExpiresMs: number[] }): Promise<void> {
  let attempted = 0;
  let consecutiveFailures = 0;
  const lane = async () => {
    while (attempted < count && consecutiveFailures < 10) {
      attempted++;
      try {
        const r = await ctx.api.terminal({ command: 'true', lease_ttl_sec: ctx.settings.idleLeaseSec });
        open.ids.push(r.session_id);
        open.leaseExpiresMs.push(r.lease_expires_unix_ms);
        consecutiveFailures = 0;
      } catch (err) {
        tally.add(err);
        consecutiveFailures++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
}

const memoryPerSession = (before: MemorySnapshot, after: MemorySnapshot, opened: number) =>
  (after.workerContainerBytes - before.workerContainerBytes + after.workerRssBytes - before.workerRssBytes) / opened / MiB;

export async function measureIdleSessions(ctx: PlatformContext): Promise<void> {
  const { settings: s } = ctx;
  const levels: SessionLevel[] = [];
  ctx.tables.sessionLevels = levels;
  const open = { ids: [] as string[], leaseExpiresMs: [] as number[] };
  const openErrors = new ErrorTally();
  const outcome = await attempt(async () => {
    const before = await snapshot(ctx);
    let largest: { after: MemorySnapshot; held: number; verifyErrors: ErrorTally } | undefined;
    try {
      for (const level of s.sessionLevels) {
        const already = open.ids.length;
        const openStarted = Date.now();
        await openSessions(ctx, level - already, s.idleOpenConcurrency, openErrors, open);
        const openSec = (Date.now() - openStarted) / 1000;
        if (open.ids.length === 0) throw new Error(`no session could be opened: ${openErrors.top(1)[0]?.message}`);
        await sleep(s.idleHoldSec * 1000);
        const after = await snapshot(ctx);
        // A session counts as held only if it still runs a command after all of them were open.
        const verifyErrors = new ErrorTally();
        const verified = await forEachLimited(open.ids, s.idleOpenConcurrency, (id) => ctx.api.terminal({ command: 'true', session_id: id }));
        for (const v of verified) if (v.status === 'rejected') verifyErrors.add(v.reason);
        const held = verified.filter((v) => v.status === 'fulfilled').length;
        const one = open.ids.find((_, i) => verified[i].status === 'fulfilled');
        const terminal = await attempt(async () => {
          if (one === undefined) throw new Error('no held session');
          return measureSequential(async () => expectHi(await ctx.api.terminal({ command: 'echo hi', session_id: one })), { samples: COMMANDS_PER_LEVEL, warmup: 0 });
        });
        levels.push({
          level, opened: open.ids.length, held, openSec, openedNow: open.ids.length - already,
          memoryPerSessionMiB: memoryPerSession(before, after, open.ids.length),
          workerRssMiB: after.workerRssBytes / MiB,
          temporalRssMiB: after.temporalRssBytes / MiB,
          apiRssMiB: after.apiProcessRssBytes / MiB,
          dockerEnginePssMiB: after.dockerEnginePssBytes / MiB,
          ...(failed(terminal) ? { terminalError: terminal.error } : { terminalP50Ms: terminal.latency.p50 }),
          memory: after,
        });
        console.error(`bench: session level ${level}: ${open.ids.length} open, ${held} held, opening took ${openSec.toFixed(0)} s`);
        largest = { after, held, verifyErrors };
        // A host that refused this level will not take the next one either.
        if (open.ids.length < level) break;
      }
      return { before, ...largest!, opened: open.ids.length };
    } finally {
      const deleted = await forEachLimited(open.ids, s.idleOpenConcurrency, (id) => ctx.api.deleteSession(id));
      const deleteFailures = deleted.filter((d) => d.status === 'rejected');
      if (deleteFailures.length > 0) console.error(`bench: ${deleteFailures.length} idle sessions could not be deleted: ${String((deleteFailures[0] as PromiseRejectedResult).reason)}`);
    }
  });

  if (failed(outcome)) {
    addFigure(ctx, record(IDLE_SESSIONS_HELD, outcome, ctx.byId));
    addFigure(ctx, record(IDLE_SESSION_MEMORY, outcome, ctx.byId));
    return;
  }
  const { before, after, opened, held, verifyErrors } = outcome;
  const openSec = levels.reduce((total, l) => total + l.openSec, 0);
  const minLeaseLeftSec = (Math.min(...open.leaseExpiresMs) - Date.now()) / 1000;
  const common = {
    requested: s.sessionLevels[s.sessionLevels.length - 1], opened, held, openSec, leaseTtlSecRequested: s.idleLeaseSec,
    minLeaseLeftSecAfterRun: Math.round(minLeaseLeftSec),
    openErrors: openErrors.top(), verifyErrors: verifyErrors.top(), memoryBefore: before, memoryAfter: after,
  };
  const heldMeasurement: Measurement = { value: held, errors: openErrors.count + verifyErrors.count, details: common };
  addFigure(ctx, record(IDLE_SESSIONS_HELD, heldMeasurement, ctx.byId));

  const containerDelta = after.workerContainerBytes - before.workerContainerBytes;
  const rssDelta = after.workerRssBytes - before.workerRssBytes;
  const memory: Measurement = {
    value: memoryPerSession(before, after, opened),
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
      dockerEnginePssMiBPerSession: (after.dockerEnginePssBytes - before.dockerEnginePssBytes) / opened / MiB,
    },
  };
  addFigure(ctx, record(IDLE_SESSION_MEMORY, memory, ctx.byId));
}
