// pythonExec throughput at several client counts, with what each costs the machine, and where more
// clients stop buying throughput.
import { setTimeout as sleep } from 'node:timers/promises';
import { attempt, failed, formatNumber, type Outcome } from './figures.js';
import { findKnee, type Knee } from './knee.js';
import { throughputInChild, type MeasuredWindow } from './load-child.js';
import type { PlatformContext } from './context.js';

export interface ScalingRow {
  clients: number;
  windowSec: number;
  /** The main throughput window (BENCH_CLIENTS clients), not a run of its own. */
  reused: boolean;
  completed?: number;
  perSec?: number;
  p50Ms?: number;
  p99Ms?: number;
  errors?: number;
  /** The platform's parts summed, per completed task. */
  cpuMsPerTask?: number;
  /** Of all cores' time in the window. */
  machineBusyPct?: number;
  error?: string;
}

export interface ThroughputScaling {
  rows: ScalingRow[];
  knee: Knee;
}

export function scalingRow(clients: number, windowSec: number, reused: boolean, w: Outcome<MeasuredWindow>): ScalingRow {
  const row: ScalingRow = { clients, windowSec, reused };
  if (failed(w)) return { ...row, error: w.error };
  const { run, cost } = w;
  return {
    ...row,
    completed: run.completed,
    perSec: run.perSec,
    p50Ms: run.latency?.p50,
    p99Ms: run.latency?.p99,
    errors: run.errors,
    cpuMsPerTask: failed(cost) ? undefined : cost.platform.msPerTask,
    machineBusyPct: failed(cost) ? undefined : cost.machine.busyPct,
    error: run.completed === 0 ? `no task completed: ${run.errorMessages[0]?.message ?? 'no error either'}` : failed(cost) ? `cost: ${cost.error}` : undefined,
  };
}

export async function measureThroughputScaling(ctx: PlatformContext): Promise<void> {
  const { settings: s } = ctx;
  const rows: ScalingRow[] = [];
  for (const [i, clients] of s.scalingClients.entries()) {
    const main = clients === s.clients ? ctx.tables.pythonWindow : undefined;
    if (main === undefined && i > 0) await sleep(s.settleSec * 1000);
    const windowSec = main ? s.throughputSec : s.scalingSec;
    const row = scalingRow(clients, windowSec, main !== undefined, main ?? await attempt(() => throughputInChild(ctx, { clients, windowSec })));
    rows.push(row);
    console.error(`bench: scaling ${clients} clients × ${windowSec} s: ${row.perSec === undefined ? `ERROR ${row.error}` : `${formatNumber(row.perSec)} runs/s, p50 ${formatNumber(row.p50Ms ?? NaN)} ms, errors ${row.errors}`}`);
  }
  const points = rows.flatMap((r) => (r.perSec !== undefined && r.p50Ms !== undefined && !r.error ? [{ clients: r.clients, perSec: r.perSec, p50Ms: r.p50Ms }] : []));
  ctx.tables.throughputScaling = { rows, knee: findKnee(points) };
}
