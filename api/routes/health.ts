// Liveness, readiness and Prometheus metrics (spec §4.7).
import Router from '@koa/router';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { Context, Next } from 'koa';
import type { AppDeps, AppState } from '../context.js';
import { dbReachable } from '../../db/index.js';
import { openApiDocument } from '../openapi.js';
import { CONSOLE_VERSION } from './console.js';

export const metrics = new Registry();
collectDefaultMetrics({ register: metrics, prefix: 'durabox_api_' });

const httpDuration = new Histogram({
  name: 'durabox_http_request_duration_seconds',
  help: 'HTTP requests by route and status',
  labelNames: ['method', 'route', 'status'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
  registers: [metrics],
});

export const tasksStarted = new Counter({
  name: 'durabox_tasks_started_total',
  help: 'Task workflows started, by capability',
  labelNames: ['capability'],
  registers: [metrics],
});

/** Times every request under its route pattern (not its raw path, so ids do not explode the labels). */
export async function httpMetrics(ctx: Context, next: Next): Promise<void> {
  const end = httpDuration.startTimer();
  try {
    await next();
  } finally {
    end({ method: ctx.method, route: (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched', status: String(ctx.status) });
  }
}

export function healthRoutes(deps: AppDeps): Router<AppState> {
  const r = new Router<AppState>();
  r.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  r.get('/readyz', async (ctx) => {
    const [database, temporal] = await Promise.all([
      dbReachable(deps.db),
      deps.connection.healthService.check({}).then(() => true, () => false),
    ]);
    ctx.status = database && temporal ? 200 : 503;
    ctx.body = { status: ctx.status === 200 ? 'ready' : 'not ready', database, temporal };
  });
  r.get('/api/v1/openapi.json', (ctx) => {
    ctx.body = openApiDocument(CONSOLE_VERSION);
  });
  r.get('/metrics', async (ctx) => {
    ctx.type = metrics.contentType;
    ctx.body = await metrics.metrics();
  });
  return r;
}
