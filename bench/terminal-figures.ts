// terminalExec sessions through the REST API: a command on a live session, and a new session's
// first command.
import { FORK_P50, FORK_THEN_COMMAND_P50, NEW_SESSION_P50, RESUME_LARGE_P50, RESUME_P50, TERMINAL_P50 } from './catalog.js';
import type { FigureSpec } from './figures.js';
import { attempt, record } from './figures.js';
import { latencyMeasurement, measureSequential } from './load.js';
import { addFigure, type PlatformContext } from './context.js';
import type { DuraboxApi, TerminalResult } from './api-client.js';

export function expectHi(r: TerminalResult): void {
  if (r.stdout !== 'hi\n') throw new Error(`echo hi printed ${JSON.stringify(r.stdout)} (stderr ${JSON.stringify(r.stderr)})`);
}

export async function measureLiveSession(ctx: PlatformContext): Promise<void> {
  const { settings: s, api } = ctx;
  const latency = await attempt(async () => {
    const opened = await api.terminal({ command: 'true' });
    try {
      return await measureSequential(async () => {
        expectHi(await api.terminal({ command: 'echo hi', session_id: opened.session_id }));
      }, { samples: s.samples, warmup: s.warmup });
    } finally {
      await api.deleteSession(opened.session_id).catch((e) => console.error(`bench: ${e.message}`));
    }
  });
  addFigure(ctx, record(TERMINAL_P50, latencyMeasurement(latency, 'p50'), ctx.byId));
}

export async function measureNewSession(ctx: PlatformContext): Promise<void> {
  const { settings: s, api } = ctx;
  const leftover = new Set<string>();
  const latency = await attempt(async () => {
    try {
      return await measureSequential(async () => {
        const r = await api.terminal({ command: 'echo hi' });
        leftover.add(r.session_id);
        expectHi(r);
        if (!r.created) throw new Error(`a call without session_id answered created=false (session ${r.session_id})`);
        // Ending the session is not part of the figure: it runs after the clock stops.
        return async () => {
          await api.deleteSession(r.session_id);
          leftover.delete(r.session_id);
        };
      }, { samples: s.sessionSamples, warmup: Math.min(s.warmup, 3) });
    } finally {
      await deleteAll(api, leftover);
    }
  });
  addFigure(ctx, record(NEW_SESSION_P50, latencyMeasurement(latency, 'p50'), ctx.byId));
}

/** How long a session of the resume figure stays idle before it pauses. */
const RESUME_PAUSE_SEC = 2;

/**
 * A paused session's next command: a container on the host, its checkpoint (a small workspace) fetched
 * from the store and unpacked, then the command. Sessions are opened with a file, left to pause, then
 * each is called once; the clock covers that one call.
 */
export async function measurePausedResume(ctx: PlatformContext): Promise<void> {
  await measureResume(ctx, RESUME_P50, Math.min(ctx.settings.sessionSamples, 30), 'mkdir -p src && seq 1 2000 > src/data.txt && echo hi > note.txt');
  // The same with a workspace near the checkpoint cap (64 MiB by default), part of it incompressible.
  await measureResume(ctx, RESUME_LARGE_P50, 3, 'head -c 33554432 /dev/urandom > blob && seq 1 3300000 > big.txt && echo hi > note.txt');
}

async function measureResume(ctx: PlatformContext, spec: FigureSpec, samples: number, setUp: string): Promise<void> {
  const { api } = ctx;
  const opened: string[] = [];
  const latency = await attempt(async () => {
    ctx.setPauseAfterSec(RESUME_PAUSE_SEC);
    try {
      for (let i = 0; i < samples + 2; i++) {
        opened.push((await api.terminal({ command: setUp, timeout_ms: 60_000 })).session_id);
      }
    } finally {
      ctx.setPauseAfterSec(0);
    }
    const until = Date.now() + 120_000;
    for (const id of opened) {
      while ((await api.sessionStatus(id)) !== 'paused') {
        if (Date.now() > until) throw new Error(`session ${id} did not pause within 120 s`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    let next = 0;
    return measureSequential(async () => {
      const r = await api.terminal({ command: 'cat note.txt', session_id: opened[next++] });
      expectHi(r);
      if (!r.restored) throw new Error('a paused session answered without restored: true');
    }, { samples, warmup: 2 });
  });
  await deleteAll(api, opened);
  addFigure(ctx, record(spec, latencyMeasurement(latency, 'p50'), ctx.byId));
}

/**
 * Forks of one live session with a small workspace, each to its first command result: in one call
 * (terminalExec fork_from: the chain copied in the database, a container on any host restored from it and
 * the command run there, one activity), and through POST /sessions/:id/fork then the command (two calls).
 * Each fork is ended after its clock stops.
 */
export async function measureFork(ctx: PlatformContext): Promise<void> {
  const { settings: s, api } = ctx;
  const leftover = new Set<string>();
  const opts = { samples: s.sessionSamples, warmup: Math.min(s.warmup, 3) };
  /** Times `forkAndRun` (it answers the fork's id); the fork is ended after the clock stops. */
  const timed = (forkAndRun: () => Promise<string>) => measureSequential(async () => {
    const forked = await forkAndRun();
    leftover.add(forked);
    return async () => {
      await api.deleteSession(forked);
      leftover.delete(forked);
    };
  }, opts);
  let source: string | undefined;
  const opened = async () => {
    source ??= (await api.terminal({ command: 'mkdir -p src && seq 1 2000 > src/data.txt && echo hi > note.txt', lease_ttl_sec: 1800 })).session_id;
    leftover.add(source);
    return source;
  };
  try {
    const oneCall = await attempt(async () => {
      const from = await opened();
      return timed(async () => {
        const r = await api.terminal({ command: 'cat note.txt', fork_from: from });
        expectHi(r);
        if (!r.created || r.session_id === from) throw new Error(`fork_from answered session ${r.session_id}, created=${r.created}`);
        return r.session_id;
      });
    });
    addFigure(ctx, record(FORK_P50, latencyMeasurement(oneCall, 'p50'), ctx.byId));
    const twoCalls = await attempt(async () => {
      const from = await opened();
      return timed(async () => {
        const forked = await api.fork(from);
        expectHi(await api.terminal({ command: 'cat note.txt', session_id: forked }));
        return forked;
      });
    });
    addFigure(ctx, record(FORK_THEN_COMMAND_P50, latencyMeasurement(twoCalls, 'p50'), ctx.byId));
  } finally {
    await deleteAll(api, leftover);
  }
}

async function deleteAll(api: DuraboxApi, ids: Iterable<string>): Promise<void> {
  for (const id of ids) await api.deleteSession(id).catch((e) => console.error(`bench: ${e.message}`));
}
