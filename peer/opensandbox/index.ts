// The OpenSandbox API (docs/peers/opensandbox.md): its lifecycle API under /opensandbox/v1, and each
// sandbox's execd API under /opensandbox/sandboxes/<id>/execd, both answered by durabox. A sandbox is a
// durabox session; the API key is a durabox access token.
import type { Context, Middleware } from 'koa';
import type { AppDeps, AppState } from '../../api/context.js';
import { accountOfKey } from '../common.js';
import { answerOf, OsError } from './errors.js';
import { safeDecode } from './http.js';
import { execdRoutes, type ExecdCaller } from './execd.js';
import { lifecycleRoutes } from './lifecycle.js';
import { EXECD_TOKEN_HEADER, openExecdToken } from './mapping.js';

const PREFIX = '/opensandbox';
const EXECD_PATH = /^\/sandboxes\/([^/]{1,128})\/execd(\/.*)?$/;

export function openSandboxApi(deps: AppDeps): Middleware<AppState> {
  const lifecycle = lifecycleRoutes(deps);
  const execd = execdRoutes(deps);
  return async (ctx) => {
    const rest = ctx.path.slice(PREFIX.length);
    const ex = EXECD_PATH.exec(rest);
    if (ex) {
      return answering(ctx, 'execd', async () => {
        const sessionId = safeDecode(ex[1]!);
        await execd(ctx, await execdCaller(deps, ctx, sessionId), ex[2] ?? '/');
      });
    }
    return answering(ctx, 'lifecycle', async () => {
      if (rest !== '/v1' && !rest.startsWith('/v1/')) throw new OsError(404, 'NOT_FOUND', `no route for ${ctx.method} ${ctx.path}`);
      const account = await lifecycleAccount(deps, ctx);
      ctx.state.account = account;
      await lifecycle(ctx, account.id, rest.slice('/v1'.length));
    });
  };
}

/** Runs a route; a failure is answered in OpenSandbox's shape (an open event stream ends instead). */
async function answering(ctx: Context, plane: 'lifecycle' | 'execd', route: () => Promise<void>): Promise<void> {
  try {
    await route();
  } catch (e) {
    const a = answerOf(e, plane);
    // The request's log line carries an unexpected failure with its stack.
    if (a.unexpected) (ctx.state as AppState).failure = e;
    if (ctx.headerSent || ctx.respond === false) {
      if (!ctx.res.writableEnded) ctx.res.end();
      return;
    }
    ctx.status = a.status;
    ctx.body = a.body;
  }
}

/** The lifecycle API's caller: the account whose access token the OPEN-SANDBOX-API-KEY header is. */
async function lifecycleAccount(deps: AppDeps, ctx: Context) {
  const key = ctx.get('open-sandbox-api-key');
  if (!key) throw new OsError(401, 'MISSING_API_KEY', 'Authentication credentials are missing. Provide API key via OPEN-SANDBOX-API-KEY header.');
  const account = await accountOfKey(deps, key);
  if (!account) throw new OsError(401, 'INVALID_API_KEY', 'Authentication credentials are invalid. Check your API key and try again.');
  return account;
}

/**
 * An execd call's caller: the sandbox's own token (the endpoint's answer carries it as a header, which
 * the SDKs forward), or an API key of the account that owns the sandbox. Either way the sandbox must be a
 * live session of that account: anything else is 404, so a key learns nothing of another's sandboxes.
 */
async function execdCaller(deps: AppDeps, ctx: Context, sessionId: string): Promise<ExecdCaller> {
  const claims = openExecdToken(deps.hashKey, ctx.get(EXECD_TOKEN_HEADER) || undefined, sessionId);
  // The token holds while the API key it was issued for does: a deleted key's tokens open nothing.
  let accountId = claims && (await deps.accounts.byTokenHash(claims.k))?.id === claims.a ? claims.a : undefined;
  if (!accountId) {
    const key = ctx.get('open-sandbox-api-key');
    if (!key && !ctx.get(EXECD_TOKEN_HEADER)) throw new OsError(401, 'MISSING_API_KEY', `send the ${EXECD_TOKEN_HEADER} header the sandbox's endpoint answered, or OPEN-SANDBOX-API-KEY`);
    accountId = (await accountOfKey(deps, key || undefined))?.id;
    if (!accountId) throw new OsError(401, 'INVALID_API_KEY', `the ${EXECD_TOKEN_HEADER} or OPEN-SANDBOX-API-KEY header is not valid for sandbox ${sessionId}`);
  }
  const found = await deps.sessions.peerOf(accountId, sessionId);
  if (!found) throw new OsError(404, 'SANDBOX::NOT_FOUND', `sandbox ${sessionId} not found`);
  return { accountId, sessionId, envs: found.peer?.envs ?? {} };
}
