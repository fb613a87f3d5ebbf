// Zero loss of acknowledged work (spec §6): with DURABOX_SESSION_DURABILITY=zero every command's effect
// on /workspace is in the snapshot store before the command is answered. What that costs a command is
// measured beside the old behaviour (durability interval: a checkpoint in the background at most every
// DURABOX_SESSION_CHECKPOINT_SEC) and beside no checkpoints at all. A session takes its durability from
// the API that starts it, so each setting gets an API process of its own on the platform's database and
// Temporal, and the three sessions are timed round by round, side by side.
import {
  APPEND_10K_INTERVAL_P50, APPEND_10K_OFF_P50, APPEND_10K_OVERHEAD, APPEND_10K_ZERO_P50,
  APPEND_INTERVAL_P50, APPEND_OFF_P50, APPEND_ZERO_P50,
} from './catalog.js';
import { DuraboxApi } from './api-client.js';
import { addFigure, type PlatformContext, type StartedApi } from './context.js';
import { attempt, failed, record, type FigureSpec, type Measurement, type Outcome } from './figures.js';
import { latencyMeasurement, measureInterleaved, type LatencyRun, type Operation } from './load.js';
import type { LatencySummary } from './stats.js';

/** The checkpoint interval of the sessions that have checkpoints: the product's default. */
export const CHECKPOINT_SEC = 10;

export type DurabilityKey = 'off' | 'interval' | 'zero';

export interface DurabilityVariant {
  key: DurabilityKey;
  /** The API process's settings, over the platform's. */
  env: Record<string, string>;
}

/** Measured in this order within a round's first turn; later rounds turn the order (load.ts). */
export const DURABILITY_VARIANTS: DurabilityVariant[] = [
  // A session never pauses here, and a pause needs checkpoints.
  { key: 'off', env: { DURABOX_SESSION_DURABILITY: 'interval', DURABOX_SESSION_CHECKPOINT_SEC: '0', DURABOX_SESSION_PAUSE_AFTER_SEC: '0' } },
  { key: 'interval', env: { DURABOX_SESSION_DURABILITY: 'interval', DURABOX_SESSION_CHECKPOINT_SEC: String(CHECKPOINT_SEC), DURABOX_SESSION_PAUSE_AFTER_SEC: '0' } },
  { key: 'zero', env: { DURABOX_SESSION_DURABILITY: 'zero', DURABOX_SESSION_CHECKPOINT_SEC: String(CHECKPOINT_SEC), DURABOX_SESSION_PAUSE_AFTER_SEC: '0' } },
];

/** The command timed: one small change to one file of the workspace. */
export const APPEND = 'echo x >> f';
/** Makes the large workspace: 10,000 empty files under d/, before the timing starts (in a subshell: f stays in /workspace). */
export const TEN_THOUSAND_FILES = 'mkdir -p d && (cd d && seq 1 10000 | xargs touch)';

/** One workspace's runs, by durability setting: what the report's zero-loss table shows. */
export interface ZeroLossRow {
  workspace: string;
  runs: Record<DurabilityKey, Outcome<LatencySummary>>;
  /** What each session's workflow had its host do: shows each API really ran its setting. */
  activities?: Record<DurabilityKey, Outcome<SessionActivities>>;
}

/** The activities a session's (latest) workflow run scheduled, by type, and how many commands it answered. */
export interface SessionActivities {
  commands: number;
  byType: Record<string, number>;
}

/** Just what activitiesByType reads of a history event. */
export interface ScheduledEvent {
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
}

export function activitiesByType(events: ScheduledEvent[]): Record<string, number> {
  const byType: Record<string, number> = {};
  for (const e of events) {
    const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (name) byType[name] = (byType[name] ?? 0) + 1;
  }
  return byType;
}

interface SessionRun {
  run: Outcome<LatencyRun>;
  activities: Outcome<SessionActivities>;
}

interface Workspace {
  name: string;
  /** The session's first command, untimed; `true` for a small workspace. */
  setUp: string;
  figures: Record<DurabilityKey, FigureSpec>;
  overhead?: FigureSpec;
}

const WORKSPACES: Workspace[] = [
  { name: 'small (one file)', setUp: 'true', figures: { off: APPEND_OFF_P50, interval: APPEND_INTERVAL_P50, zero: APPEND_ZERO_P50 } },
  {
    name: '10,000 files', setUp: TEN_THOUSAND_FILES,
    figures: { off: APPEND_10K_OFF_P50, interval: APPEND_10K_INTERVAL_P50, zero: APPEND_10K_ZERO_P50 },
    overhead: APPEND_10K_OVERHEAD,
  },
];

export const ZERO_LOSS_FIGURES: FigureSpec[] = WORKSPACES.flatMap((w) => [w.figures.off, w.figures.interval, w.figures.zero, ...(w.overhead ? [w.overhead] : [])]);

export async function measureZeroLoss(ctx: PlatformContext): Promise<void> {
  const started: StartedApi[] = [];
  try {
    const clients = await attempt(async () => {
      for (const v of DURABILITY_VARIANTS) started.push(await ctx.startApi(v.env));
      // The token lives in the shared database: every API process takes it.
      return started.map((a) => new DuraboxApi(a.url, ctx.api.token, ctx.api.timeoutMs));
    });
    const rows: ZeroLossRow[] = [];
    for (const w of WORKSPACES) {
      const notStarted = (e: string): SessionRun => ({ run: { error: `starting the API processes: ${e}` }, activities: { error: 'no session' } });
      const results = failed(clients) ? DURABILITY_VARIANTS.map(() => notStarted(clients.error)) : await measureAppends(ctx, clients, w.setUp);
      const byKey = Object.fromEntries(DURABILITY_VARIANTS.map((v, i) => [v.key, results[i]])) as Record<DurabilityKey, SessionRun>;
      // Off first: it is the baseline zero's target is judged against.
      for (const key of ['off', 'interval', 'zero'] as const) addFigure(ctx, record(w.figures[key], latencyMeasurement(byKey[key].run, 'p50'), ctx.byId));
      if (w.overhead) addFigure(ctx, record(w.overhead, overheadMeasurement(byKey.zero.run, byKey.interval.run), ctx.byId));
      rows.push({
        workspace: w.name,
        runs: { off: summaryOf(byKey.off.run), interval: summaryOf(byKey.interval.run), zero: summaryOf(byKey.zero.run) },
        activities: { off: byKey.off.activities, interval: byKey.interval.activities, zero: byKey.zero.activities },
      });
    }
    ctx.tables.zeroLoss = rows;
  } finally {
    for (const a of started) await a.stop().catch((e: Error) => console.error(`bench: stopping an API process: ${e.message}`));
  }
}

/**
 * Opens one session per durability setting (each through its own API), makes its workspace, times
 * APPEND on all of them side by side, then checks each file holds one line per answered append (an
 * acknowledged command that left no trace would make the number meaningless) and reads what each
 * session's workflow had its host do.
 */
async function measureAppends(ctx: PlatformContext, clients: DuraboxApi[], setUp: string): Promise<SessionRun[]> {
  const { settings: s } = ctx;
  const sessions = await Promise.all(clients.map((c) => attempt(async () => (await c.terminal({ command: setUp, timeout_ms: 60_000 })).session_id)));
  const answered = clients.map(() => 0);
  const ops: Operation[] = [];
  const opened: number[] = [];
  clients.forEach((c, i) => {
    const id = sessions[i];
    if (failed(id)) return;
    opened.push(i);
    ops.push(async () => {
      const r = await c.terminal({ command: APPEND, session_id: id });
      if (r.stdout !== '' || r.stderr !== '') throw new Error(`${APPEND} printed ${JSON.stringify(r.stdout)} (stderr ${JSON.stringify(r.stderr)})`);
      answered[i]++;
    });
  });
  const measured = await measureInterleaved(ops, { samples: s.samples, warmup: s.warmup });
  const results: SessionRun[] = sessions.map((id) => {
    const error = failed(id) ? `opening the session: ${id.error}` : 'not measured';
    return { run: { error }, activities: { error } };
  });
  for (const [k, i] of opened.entries()) {
    const id = sessions[i] as string;
    const run = await checkLines(clients[i], id, answered[i], measured[k]);
    // The set-up and the line count are commands too.
    const activities = await attempt(async () => ({ commands: answered[i] + 2, byType: await sessionActivities(ctx, id) }));
    results[i] = { run, activities };
  }
  for (const [i, id] of sessions.entries()) {
    if (!failed(id)) await clients[i].deleteSession(id).catch((e: Error) => console.error(`bench: ${e.message}`));
  }
  return results;
}

async function sessionActivities(ctx: PlatformContext, sessionId: string): Promise<Record<string, number>> {
  const history = await ctx.floor.client.workflow.getHandle(ctx.sessionWorkflowId(sessionId)).fetchHistory();
  return activitiesByType(history.events ?? []);
}

async function checkLines(client: DuraboxApi, sessionId: string, answered: number, run: Outcome<LatencyRun>): Promise<Outcome<LatencyRun>> {
  if (failed(run)) return run;
  const counted = await attempt(async () => (await client.terminal({ command: 'wc -l < f', session_id: sessionId })).stdout.trim());
  if (failed(counted)) return { error: `counting the lines of f: ${counted.error}` };
  if (counted !== String(answered)) return { error: `f has ${counted} lines after ${answered} answered appends` };
  return run;
}

/** zero's p50 minus interval's p50: what zero loss adds to a command over the old behaviour. */
export function overheadMeasurement(zero: Outcome<LatencyRun>, interval: Outcome<LatencyRun>): Outcome<Measurement> {
  if (failed(zero)) return { error: `durability zero: ${zero.error}` };
  if (failed(interval)) return { error: `durability interval: ${interval.error}` };
  return {
    value: zero.latency.p50 - interval.latency.p50,
    errors: zero.errors + interval.errors,
    details: { zero: zero.latency, interval: interval.latency, p99OverheadMs: zero.latency.p99 - interval.latency.p99 },
  };
}

function summaryOf(r: Outcome<LatencyRun>): Outcome<LatencySummary> {
  return failed(r) ? r : r.latency;
}
