// pythonExec through the REST API, as an application calls it: latency with one client, split by part
// from each task's workflow history and set beside the bare Temporal floor, then throughput with many,
// whose clients run in a process of their own so the window's CPU cost can be told by part (load-child.ts).
import { FLOOR_P50, PYTHON_P50, PYTHON_P99, PYTHON_THROUGHPUT } from './catalog.js';
import { attempt, failed, record } from './figures.js';
import { partsOf, type TimedRun } from './latency-parts.js';
import { latencyMeasurement, measureSequential, throughputMeasurement } from './load.js';
import { PRINT_ONE, throughputInChild } from './load-child.js';
import { addFigure, type PlatformContext } from './context.js';

export async function measurePythonExec(ctx: PlatformContext): Promise<void> {
  const { settings: s, api } = ctx;
  const runs: TimedRun[] = [];
  const printOne = async () => {
    const sentMs = Date.now();
    const workflowId = await api.pythonExec(PRINT_ONE.code, PRINT_ONE.expectedOutput);
    runs.push({ workflowId, sentMs, answeredMs: Date.now() });
  };
  const latency = await attempt(() => measureSequential(printOne, { samples: s.samples, warmup: s.warmup }));
  addFigure(ctx, record(PYTHON_P50, latencyMeasurement(latency, 'p50'), ctx.byId));
  addFigure(ctx, record(PYTHON_P99, latencyMeasurement(latency, 'p99'), ctx.byId));
  // The task ids are the workflow ids: their histories say where the time went (warm-up runs left out).
  ctx.tables.latencyParts = { ...ctx.tables.latencyParts, python: await attempt(() => partsOf(ctx.floor.client, runs.slice(s.warmup))) };
  const window = await attempt(() => throughputInChild(ctx, { clients: s.clients, windowSec: s.throughputSec }));
  ctx.tables.pythonWindow = window;
  addFigure(ctx, record(PYTHON_THROUGHPUT, throughputMeasurement(failed(window) ? window : window.run), ctx.byId));
}

/** The same one-client loop on a bare Temporal workflow (temporal-floor.ts): what is left when durabox is taken away. */
export async function measureTemporalFloor(ctx: PlatformContext): Promise<void> {
  const { settings: s, floor } = ctx;
  const latency = await attempt(() => measureSequential(floor.op, { samples: s.samples, warmup: s.warmup }));
  await floor.retire();
  addFigure(ctx, record(FLOOR_P50, latencyMeasurement(latency, 'p50'), ctx.byId));
  ctx.tables.latencyParts = { ...ctx.tables.latencyParts, floor: await attempt(() => partsOf(floor.client, floor.runs.slice(s.warmup))) };
}
