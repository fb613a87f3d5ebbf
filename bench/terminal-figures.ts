// terminalExec sessions through the REST API: a command on a live session, and a new session's
// first command.
import { NEW_SESSION_P50, TERMINAL_P50 } from './catalog.js';
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

async function deleteAll(api: DuraboxApi, ids: Iterable<string>): Promise<void> {
  for (const id of ids) await api.deleteSession(id).catch((e) => console.error(`bench: ${e.message}`));
}
