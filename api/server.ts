// The HTTP app in one place: error mapping, body limits, then one router per resource.
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import type { AppDeps, AppState } from './context.js';
import { errorMiddleware } from './errors.js';
import { consoleRoutes } from './routes/console.js';
import { taskRoutes } from './routes/tasks.js';
import { commandRoutes } from './routes/commands.js';
import { healthRoutes, httpMetrics } from './routes/health.js';
import { sessionRoutes } from './routes/sessions.js';
import { mcpRoutes } from './mcp.js';
import { accountRoutes } from './routes/accounts.js';
import { registryRoutes, workerRoutes } from './routes/workers.js';
import { dashboardMiddleware } from './routes/dashboard.js';

/** Largest JSON body accepted: a 1 MB program plus its JSON escaping. */
export const JSON_BODY_LIMIT = '4mb';

/** Every router of the API; the OpenAPI test walks the same list. */
export function apiRouters(deps: AppDeps) {
  return [
    healthRoutes(deps), consoleRoutes(deps), accountRoutes(deps), workerRoutes(deps), registryRoutes(deps),
    taskRoutes(deps), commandRoutes(deps), sessionRoutes(deps), mcpRoutes(deps),
  ];
}

export function createApp(deps: AppDeps): Koa<AppState> {
  const app = new Koa<AppState>({ proxy: process.env.DURABOX_TRUST_PROXY === 'true' });
  app.on('error', (err, ctx) => {
    if ((err as { status?: number }).status && (err as { status: number }).status < 500) return;
    console.error(`${ctx?.method ?? ''} ${ctx?.path ?? ''} failed:`, err);
  });
  app.use(httpMetrics);
  app.use(errorMiddleware);
  app.use(bodyParser({ enableTypes: ['json'], jsonLimit: JSON_BODY_LIMIT, encoding: 'utf-8' }));
  for (const router of apiRouters(deps)) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  app.use(dashboardMiddleware());
  app.use((ctx) => {
    ctx.status = 404;
    ctx.body = { error: `no route for ${ctx.method} ${ctx.path}` };
  });
  return app;
}
