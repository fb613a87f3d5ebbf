// The opensandbox API (docs/peers/opensandbox.md).
import type { Middleware } from 'koa';
import type { AppDeps, AppState } from '../../api/context.js';

export function openSandboxApi(_deps: AppDeps): Middleware<AppState> {
  return async (ctx) => {
    ctx.status = 404;
    ctx.body = { code: 'NOT_FOUND', message: `no route for ${ctx.method} ${ctx.path}` };
  };
}
