// The dashboard (spec §9): the static files `npm run build` makes from api/dashboard/ into dist/dashboard/.
// Any other GET outside the API's own paths answers index.html, so the page's own routes (/tokens,
// /workers, …) survive a reload; the API, MCP and operations paths are never shadowed.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { send } from '@koa/send';
import type { Context, Next } from 'koa';
import { dashboardBuildDir } from '../config/paths.js';
const RESERVED = /^\/(api|mcp|healthz|readyz|metrics)(\/|$)/;

/**
 * What every dashboard answer says to the browser: its own scripts and styles only (the build has no
 * inline code), no framing, no sniffing, no referrer leaving for the Temporal UI.
 */
export const DASHBOARD_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; style-src-elem 'self' 'unsafe-inline'; style-src-attr 'none'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

export function dashboardMiddleware() {
  return async (ctx: Context, next: Next) => {
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || RESERVED.test(ctx.path)) return next();
    ctx.set(DASHBOARD_HEADERS);
    if (!existsSync(join(dashboardBuildDir, 'index.html'))) {
      ctx.status = 503;
      ctx.body = { error: 'the dashboard is not built: run npm run build' };
      return;
    }
    if (ctx.path.startsWith('/assets/')) {
      // File names carry a content hash: cache them for good.
      const sent = await send(ctx, ctx.path, { root: dashboardBuildDir, immutable: true, maxage: 365 * 24 * 3600 * 1000 }).catch(() => undefined);
      if (!sent) return next();
      return;
    }
    if (/\.[A-Za-z0-9]+$/.test(ctx.path)) {
      const sent = await send(ctx, ctx.path, { root: dashboardBuildDir }).catch(() => undefined);
      if (!sent) return next();
      return;
    }
    ctx.set('Cache-Control', 'no-cache');
    await send(ctx, 'index.html', { root: dashboardBuildDir });
  };
}
