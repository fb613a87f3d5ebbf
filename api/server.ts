// The HTTP app in one place: error mapping, body limits, then one router per resource.
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import type { AppDeps, AppState } from './context.js';
import { errorMiddleware } from './errors.js';
import { consoleRoutes } from './routes/console.js';
import { taskRoutes } from './routes/tasks.js';
import { commandRoutes } from './routes/commands.js';
import { healthRoutes } from './routes/health.js';
import { mcpRoutes } from './mcp.js';

/** Largest JSON body accepted: a 1 MB program plus its JSON escaping. */
export const JSON_BODY_LIMIT = '4mb';

export function createApp(deps: AppDeps): Koa<AppState> {
  const app = new Koa<AppState>({ proxy: process.env.DURABOX_TRUST_PROXY === 'true' });
  app.on('error', (err, ctx) => {
    if ((err as { status?: number }).status && (err as { status: number }).status < 500) return;
    console.error(`${ctx?.method ?? ''} ${ctx?.path ?? ''} failed:`, err);
  });
  app.use(errorMiddleware);
  app.use(bodyParser({ enableTypes: ['json'], jsonLimit: JSON_BODY_LIMIT, encoding: 'utf-8' }));
  for (const router of [healthRoutes(deps), consoleRoutes(deps), taskRoutes(deps), commandRoutes(deps), mcpRoutes(deps)]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  app.use((ctx) => {
    ctx.status = 404;
    ctx.body = { error: `no route for ${ctx.method} ${ctx.path}` };
  });
  return app;
}
