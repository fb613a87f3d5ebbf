// pythonExec through the REST API, as an application calls it: latency with one client, then
// throughput with many.
import { PYTHON_P50, PYTHON_P99, PYTHON_THROUGHPUT } from './catalog.js';
import { attempt, record } from './figures.js';
import { latencyMeasurement, measureSequential, measureThroughput, throughputMeasurement } from './load.js';
import { addFigure, type PlatformContext } from './context.js';

export async function measurePythonExec(ctx: PlatformContext): Promise<void> {
  const { settings: s, api } = ctx;
  const printOne = () => api.pythonExec('print(1)', '1\n');
  const latency = await attempt(() => measureSequential(printOne, { samples: s.samples, warmup: s.warmup }));
  addFigure(ctx, record(PYTHON_P50, latencyMeasurement(latency, 'p50'), ctx.byId));
  addFigure(ctx, record(PYTHON_P99, latencyMeasurement(latency, 'p99'), ctx.byId));
  const throughput = await attempt(() => measureThroughput(printOne, { clients: s.clients, windowSec: s.throughputSec }));
  addFigure(ctx, record(PYTHON_THROUGHPUT, throughputMeasurement(throughput), ctx.byId));
}
