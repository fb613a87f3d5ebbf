// The E2B API (docs/peers/e2b.md), mounted at /e2b: the control API (E2B_API_URL=<durabox>/e2b, the key a
// durabox access token) and, under /e2b/sandbox (E2B_SANDBOX_URL), what runs inside a sandbox, told apart
// by the SDKs' E2b-Sandbox-Id and E2b-Sandbox-Port headers: envd (49983) and the code interpreter (49999).
import type { Context, Middleware } from 'koa';
import type { AppDeps, AppState } from '../../api/context.js';
import { DuraboxError } from '../../contract/errors.js';
import { keyedHash } from '../../control/security.js';
import { accountOfKey } from '../common.js';
import { interpreterApi } from './code.js';
import { controlApi, type KeyCaller } from './control.js';
import { envdApi, type Caller } from './envd.js';
import { connectError, E2bError, restError, unsupported } from './errors.js';
import { E2B_TRAFFIC_HEADER, ENVD_PORT, JUPYTER_PORT, openSandboxToken } from './protocol.js';

const SANDBOX_PREFIX = '/e2b/sandbox';

export function e2bApi(deps: AppDeps): Middleware<AppState> {
  const control = controlApi(deps);
  const envd = envdApi(deps);
  const interpreter = interpreterApi(deps);

  /** The account a control call acts for: its X-API-KEY (or bearer token) is one of its access tokens. */
  const accountOf = async (ctx: Context): Promise<KeyCaller> => {
    const key = ctx.get('x-api-key') || /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'))?.[1];
    const account = await accountOfKey(deps, key);
    if (!account || !key) throw new E2bError(401, 'X-API-KEY: not a valid durabox access token');
    ctx.state.account = account;
    return { accountId: account.id, keyHash: keyedHash(deps.hashKey, key) };
  };

  /**
   * The sandbox an in-sandbox call acts on: its token must be that sandbox's. envd takes only its own token
   * (X-Access-Token); the code interpreter, a port as in E2B, also the traffic token (its SDK sends only that
   * for contexts). A traffic token, the one handed out to open a sandbox's ports, never reaches envd.
   */
  const callerOf = async (ctx: Context, port: number): Promise<Caller> => {
    const sandboxId = ctx.get('e2b-sandbox-id');
    if (!sandboxId) throw new E2bError(400, 'E2b-Sandbox-Id: required');
    const claims = openSandboxToken(deps.hashKey, ctx.get('x-access-token'), 'envd')
      ?? (port === JUPYTER_PORT ? openSandboxToken(deps.hashKey, ctx.get(E2B_TRAFFIC_HEADER), 'traffic') : undefined);
    if (!claims) throw new E2bError(401, 'X-Access-Token: send the envdAccessToken the sandbox was created or connected with');
    if (claims.s !== sandboxId) throw new E2bError(403, 'X-Access-Token: the token is for another sandbox');
    // The key it was given for must still be the account's: deleting a key closes its sandboxes' tokens.
    if ((await deps.accounts.byTokenHash(claims.h))?.id !== claims.a) throw new E2bError(401, 'X-Access-Token: the API key this token was given for has been deleted; connect again');
    const known = await deps.sessions.peerOf(claims.a, sandboxId).catch(() => undefined);
    if (!known) throw new E2bError(404, `sandbox ${sandboxId} not found`);
    return { accountId: claims.a, sandboxId, ...(known.peer ? { peer: known.peer } : {}) };
  };

  const controlRoute = async (ctx: Context, path: string) => {
    const caller = await accountOf(ctx);
    const accountId = caller.accountId;
    const m = /^(\/v2)?\/sandboxes(?:\/([^/]+))?(?:\/([a-z]+))?$/.exec(path);
    if (!m) throw new E2bError(404, `no route for ${ctx.method} ${ctx.path}`);
    const [, v2, id, action] = m;
    const method = ctx.method;
    if (!id && !action) {
      if (method === 'POST') return control.create(ctx, caller);
      if (method === 'GET') return control.list(ctx, accountId, Boolean(v2));
    } else if (id && !action) {
      if (method === 'GET' && !v2) return control.get(ctx, accountId, id);
      if (method === 'DELETE' && !v2) return control.kill(ctx, accountId, id);
    } else if (id && method === 'POST') {
      if (action === 'timeout' && !v2) return control.setTimeout(ctx, accountId, id);
      if (action === 'pause' && !v2) return control.pause(ctx, accountId, id);
      if (action === 'resume' && !v2) return control.connect(ctx, caller, id, true);
      if (action === 'connect') return control.connect(ctx, caller, id, false);
      if (action === 'refreshes') return control.setTimeout(ctx, accountId, id);
      if (action === 'fork') throw unsupported('forking a sandbox');
      if (action === 'snapshots') throw unsupported('sandbox snapshots');
    } else if (id && action === 'metrics') {
      throw unsupported('sandbox metrics');
    } else if (id && action === 'logs') {
      throw unsupported('sandbox logs');
    }
    throw new E2bError(404, `no route for ${ctx.method} ${ctx.path}`);
  };

  const sandboxRoute = async (ctx: Context, path: string) => {
    const port = Number(ctx.get('e2b-sandbox-port') || ENVD_PORT);
    const caller = await callerOf(ctx, port);
    if (port === ENVD_PORT) {
      if (path === '/files' && ctx.method === 'GET') return envd.download(ctx, caller);
      if (path === '/files' && ctx.method === 'POST') return envd.upload(ctx, caller);
      if (path === '/health' || path === '/init') { ctx.status = 204; return; }
      if (ctx.method === 'POST' && /^\/(process\.Process|filesystem\.Filesystem)\/[A-Za-z]+$/.test(path)) return envd.rpc(ctx, caller, path.slice(1));
    } else if (port === JUPYTER_PORT) {
      if (path === '/execute' && ctx.method === 'POST') return interpreter.execute(ctx, caller);
      if (path === '/contexts' && ctx.method === 'POST') return interpreter.createContext(ctx, caller);
      if (path === '/contexts' && ctx.method === 'GET') return interpreter.listContexts(ctx, caller);
      const m = /^\/contexts\/([^/]+)(\/restart)?$/.exec(path);
      if (m && m[2] && ctx.method === 'POST') throw unsupported('restarting a code context');
      if (m && ctx.method === 'DELETE') return interpreter.deleteContext(ctx, caller, m[1]);
    } else {
      throw new E2bError(400, `E2b-Sandbox-Port: ${port} is neither envd's (${ENVD_PORT}) nor the code interpreter's (${JUPYTER_PORT}); reach other ports through get_host`);
    }
    throw new E2bError(404, `no route for ${ctx.method} ${path} on port ${port}`);
  };

  return async (ctx) => {
    const inSandbox = ctx.path === SANDBOX_PREFIX || ctx.path.startsWith(`${SANDBOX_PREFIX}/`);
    const path = inSandbox ? ctx.path.slice(SANDBOX_PREFIX.length) || '/' : ctx.path.slice('/e2b'.length) || '/';
    const isRpc = inSandbox && /^\/(process\.Process|filesystem\.Filesystem)\//.test(path);
    try {
      await (inSandbox ? sandboxRoute(ctx, path) : controlRoute(ctx, path));
    } catch (e) {
      if (ctx.respond === false) return; // a stream already answered: its end said what went wrong
      if (e instanceof E2bError || e instanceof DuraboxError) {
        if (e instanceof DuraboxError) ctx.state.errorCode = e.code;
        (isRpc ? connectError : restError)(ctx, e);
        return;
      }
      // Not expected: logged with its stack on the request's line, answered as the peer's internal error.
      ctx.state.failure = e;
      ctx.status = 500;
      ctx.body = isRpc ? { code: 'internal', message: 'internal error' } : { code: 500, message: 'internal error' };
    }
  };
}
