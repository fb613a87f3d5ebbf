// Measures the `cold` and `exec` baselines every platform figure is compared with.
import { COLD_P50, COLD_P99, COLD_THROUGHPUT, EXEC_P50 } from './catalog.js';
import { coldRun, execEcho, startExecTarget } from './baselines.js';
import { attempt, record } from './figures.js';
import { latencyMeasurement, measureSequential, measureThroughput, throughputMeasurement, withTimeout } from './load.js';
import { addFigure, type BenchContext } from './context.js';

export async function measureColdBaseline(ctx: BenchContext): Promise<void> {
  const { settings: s, runTag } = ctx;
  const cold = () => coldRun(runTag, s.requestTimeoutMs);
  const latency = await attempt(() => measureSequential(cold, { samples: s.coldSamples, warmup: Math.min(s.warmup, 3) }));
  addFigure(ctx, record(COLD_P50, latencyMeasurement(latency, 'p50'), ctx.byId));
  addFigure(ctx, record(COLD_P99, latencyMeasurement(latency, 'p99'), ctx.byId));
  const throughput = await attempt(() => measureThroughput(cold, { clients: s.clients, windowSec: s.throughputSec }));
  addFigure(ctx, record(COLD_THROUGHPUT, throughputMeasurement(throughput), ctx.byId));
}

export async function measureExecBaseline(ctx: BenchContext): Promise<void> {
  const { settings: s } = ctx;
  const latency = await attempt(async () => {
    const target = await startExecTarget(ctx.docker, ctx.runTag);
    try {
      return await measureSequential(() => withTimeout(execEcho(target), s.requestTimeoutMs, 'docker exec'), { samples: s.samples, warmup: s.warmup });
    } finally {
      await target.remove({ force: true }).catch(() => undefined);
    }
  });
  addFigure(ctx, record(EXEC_P50, latencyMeasurement(latency, 'p50'), ctx.byId));
}
