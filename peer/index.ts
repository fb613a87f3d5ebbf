// The peer APIs, mounted beside durabox's own: OpenSandbox at /opensandbox, E2B at /e2b. Each answers in
// its own protocol and error shape (docs/peers/), before durabox's body parser and error mapping.
import type { Middleware } from 'koa';
import type { AppDeps, AppState } from '../api/context.js';
import { e2bApi } from './e2b/index.js';
import { openSandboxApi } from './opensandbox/index.js';

export function peerApis(deps: AppDeps): Middleware<AppState> {
  const openSandbox = openSandboxApi(deps);
  const e2b = e2bApi(deps);
  return async (ctx, next) => {
    if (ctx.path === '/opensandbox' || ctx.path.startsWith('/opensandbox/')) return openSandbox(ctx, next);
    if (ctx.path === '/e2b' || ctx.path.startsWith('/e2b/')) return e2b(ctx, next);
    return next();
  };
}
