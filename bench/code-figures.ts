// The code interpreter and streaming through the REST API: a cell in a live context, a one-shot cell,
// and how late the first streamed chunk reaches a client after the code printed it.
import { CODE_CONTEXT_P50, CODE_ONESHOT_P50, FIRST_CHUNK_P50 } from './catalog.js';
import { attempt, record } from './figures.js';
import { latencyMeasurement, measureSequential, type LatencyRun } from './load.js';
import { addFigure, type PlatformContext } from './context.js';
import { loadavg } from 'node:os';
import { summarize } from './stats.js';

export async function measureRunCode(ctx: PlatformContext): Promise<void> {
  const { settings: s, api } = ctx;
  const inContext = await attempt(async () => {
    const opened = await api.terminal({ command: 'true' });
    try {
      // The context's interpreter starts with the first cell: warm-up pays for it.
      return await measureSequential(() => api.runCode({ code: '1+1', session_id: opened.session_id }, '2'), { samples: s.samples, warmup: Math.max(s.warmup, 2) });
    } finally {
      await api.deleteSession(opened.session_id).catch((e) => console.error(`bench: ${e.message}`));
    }
  });
  addFigure(ctx, record(CODE_CONTEXT_P50, latencyMeasurement(inContext, 'p50'), ctx.byId));

  const oneShot = await attempt(() => measureSequential(() => api.runCode({ code: '1+1' }, '2'), { samples: s.sessionSamples, warmup: Math.min(s.warmup, 3) }));
  addFigure(ctx, record(CODE_ONESHOT_P50, latencyMeasurement(oneShot, 'p50'), ctx.byId));

  const delays = await attempt(async (): Promise<LatencyRun> => {
    const loadBefore = loadavg()[0];
    const values: number[] = [];
    for (let i = 0; i < Math.min(s.warmup, 3) + s.sessionSamples; i++) {
      const d = await api.firstChunkDelay();
      if (i >= Math.min(s.warmup, 3)) values.push(d);
    }
    return { latency: summarize(values), errors: 0, errorMessages: [], load: [loadBefore, loadavg()[0]], samplesMs: values };
  });
  addFigure(ctx, record(FIRST_CHUNK_P50, latencyMeasurement(delays, 'p50'), ctx.byId));
}
