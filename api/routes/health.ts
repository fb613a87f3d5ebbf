// Liveness, readiness and Prometheus metrics (spec §4.7).
import Router from '@koa/router';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { AppDeps, AppState } from '../context.js';
import { dbReachable } from '../../db/index.js';

export const metrics = new Registry();
collectDefaultMetrics({ register: metrics, prefix: 'durabox_api_' });

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
  r.get('/metrics', async (ctx) => {
    ctx.type = metrics.contentType;
    ctx.body = await metrics.metrics();
  });
  return r;
}
