// pythonExec through the REST API, as an application calls it: latency with one client, then
// throughput with many, whose clients run in a process of their own so the window's CPU cost can be
// told by part (load-child.ts).
import { PYTHON_P50, PYTHON_P99, PYTHON_THROUGHPUT } from './catalog.js';
import { attempt, failed, record } from './figures.js';
import { latencyMeasurement, measureSequential, throughputMeasurement } from './load.js';
import { PRINT_ONE, throughputInChild } from './load-child.js';
import { addFigure, type PlatformContext } from './context.js';

export async function measurePythonExec(ctx: PlatformContext): Promise<void> {
  const { settings: s, api } = ctx;
  const printOne = () => api.pythonExec(PRINT_ONE.code, PRINT_ONE.expectedOutput);
  const latency = await attempt(() => measureSequential(printOne, { samples: s.samples, warmup: s.warmup }));
  addFigure(ctx, record(PYTHON_P50, latencyMeasurement(latency, 'p50'), ctx.byId));
  addFigure(ctx, record(PYTHON_P99, latencyMeasurement(latency, 'p99'), ctx.byId));
  const window = await attempt(() => throughputInChild(ctx, { clients: s.clients, windowSec: s.throughputSec }));
  ctx.tables.pythonWindow = window;
  addFigure(ctx, record(PYTHON_THROUGHPUT, throughputMeasurement(failed(window) ? window : window.run), ctx.byId));
}
