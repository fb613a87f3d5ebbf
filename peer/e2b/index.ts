// The e2b API (docs/peers/e2b.md).
import type { Middleware } from 'koa';
import type { AppDeps, AppState } from '../../api/context.js';

export function e2bApi(_deps: AppDeps): Middleware<AppState> {
  return async (ctx) => {
    ctx.status = 404;
    ctx.body = { code: 'NOT_FOUND', message: `no route for ${ctx.method} ${ctx.path}` };
  };
}
