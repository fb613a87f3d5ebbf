// Who is calling: a bearer access token (API, MCP), the dashboard's login cookie (console, workers) or a
// runtime worker's credential (the host registry).
import type { Context, Next } from 'koa';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { DuraboxError } from '../contract/errors.js';
import type { Auth } from '../contract/operations.js';
import { keyedHash } from '../control/security.js';
import type { Account } from '../db/accounts.js';
import type { AppDeps, AppState } from './context.js';

export const SESSION_COOKIE = 'durabox_session';
const SESSION_TTL_MS = 7 * 24 * 3600 * 1000;

type Ctx = Context & { state: AppState };

export function requireToken(deps: AppDeps) {
  return async (ctx: Ctx, next: Next) => {
    const header = ctx.get('authorization');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const account = m ? await deps.accounts.byTokenHash(keyedHash(deps.hashKey, m[1])) : undefined;
    if (!account) {
      ctx.set('WWW-Authenticate', 'Bearer');
      throw new DuraboxError('unauthenticated', m ? 'invalid access token' : 'missing access token: send Authorization: Bearer <token>');
    }
    ctx.state.account = account;
    ctx.state.token = m?.[1];
    await next();
  };
}

/** A runtime worker: `Authorization: Bearer <worker_id>:<secret>`, checked against the secret's keyed hash. */
export function requireWorkerCredential(deps: AppDeps) {
  return async (ctx: Ctx, next: Next) => {
    const m = /^Bearer\s+(\S+):(\S+?)\s*$/i.exec(ctx.get('authorization'));
    const stored = m && m[1].length <= 128 ? await deps.workers.secretHashOf(m[1]) : undefined;
    const given = m ? Buffer.from(keyedHash(deps.hashKey, m[2]), 'hex') : undefined;
    if (!stored || !given || !timingSafeEqual(Buffer.from(stored, 'hex'), given)) {
      ctx.set('WWW-Authenticate', 'Bearer');
      throw new DuraboxError('unauthenticated', m ? 'invalid worker credential' : 'missing worker credential: send Authorization: Bearer <worker_id>:<worker_secret>');
    }
    ctx.state.workerId = m![1];
    await next();
  };
}

export function requireLogin(deps: AppDeps, opts: { admin?: boolean } = {}) {
  return async (ctx: Ctx, next: Next) => {
    const account = await loginAccount(deps, ctx);
    if (!account) throw new DuraboxError('unauthenticated', 'not logged in');
    if (opts.admin && !account.is_admin) throw new DuraboxError('forbidden', 'admin only');
    ctx.state.account = account;
    await next();
  };
}

export async function loginAccount(deps: AppDeps, ctx: Context): Promise<Account | undefined> {
  const sid = ctx.cookies.get(SESSION_COOKIE);
  if (!sid || sid.length > 128) return undefined;
  return deps.accounts.accountOfLoginSession(keyedHash(deps.hashKey, sid));
}

/** Login sessions live in the database (keyed hash of the cookie), so an API restart logs no one out. */
export async function startLoginSession(deps: AppDeps, ctx: Context, account: Account): Promise<void> {
  const sid = randomBytes(32).toString('base64url');
  const expires = new Date(Date.now() + SESSION_TTL_MS);
  await deps.accounts.createLoginSession(keyedHash(deps.hashKey, sid), account.id, expires);
  ctx.cookies.set(SESSION_COOKIE, sid, { httpOnly: true, sameSite: 'lax', secure: cookiesSecure(deps, ctx), expires, path: '/', overwrite: true });
}

export async function endLoginSession(deps: AppDeps, ctx: Context): Promise<void> {
  const sid = ctx.cookies.get(SESSION_COOKIE);
  if (sid && sid.length <= 128) await deps.accounts.deleteLoginSession(keyedHash(deps.hashKey, sid));
  ctx.cookies.set(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'lax', secure: cookiesSecure(deps, ctx), expires: new Date(0), path: '/', overwrite: true });
}

/**
 * Whether the login cookie is Secure: the request came over TLS (as Koa sees it: the API's own, or a
 * trusted proxy's word), or the operator says the API is only ever reached through TLS.
 */
function cookiesSecure(deps: AppDeps, ctx: Context): boolean {
  if (!deps.api.secureCookies) return ctx.secure;
  // The request reached this process in plain HTTP from the TLS proxy: Koa's cookie jar must be told.
  (ctx.cookies as unknown as { secure: boolean }).secure = true;
  return true;
}

/** The guard of an operation's auth kind. */
export function guard(deps: AppDeps, auth: Auth): ((ctx: Ctx, next: Next) => Promise<void>) | undefined {
  switch (auth) {
    case 'none': return undefined;
    case 'token': return requireToken(deps);
    case 'login': return requireLogin(deps);
    case 'admin': return requireLogin(deps, { admin: true });
    case 'worker': return requireWorkerCredential(deps);
  }
}
