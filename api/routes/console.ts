// Dashboard auth and access tokens (spec §4.1, §4.2).
import Router from '@koa/router';
import type { AppDeps, AppState } from '../context.js';
import { endLoginSession, requireLogin, startLoginSession } from '../auth.js';
import { HttpError, notFound } from '../errors.js';
import { LoginBody, TokenCreateBody, parseOr400, SessionListQuery, TaskListQuery, isResourceId } from '../schemas.js';
import { generateToken, keyedHash, maskToken, newId, verifyPassword } from '../security.js';
import { UniqueViolation, type Account, type TokenRow } from '../../db/accounts.js';

export const CONSOLE_VERSION = '0.1.0';

export function consoleRoutes(deps: AppDeps): Router<AppState> {
  const r = new Router<AppState>({ prefix: '/api/v1/console' });
  const sessionBody = (a: Account) => ({
    authenticated: true,
    account: { account_id: a.id, username: a.username, is_admin: a.is_admin },
    registration_enabled: deps.config.enableRegistration,
    console_version: CONSOLE_VERSION,
    // durabox additions: where the dashboard links each task's workflow.
    temporal_ui_url: deps.config.temporalUiUrl,
    temporal_namespace: deps.config.temporalNamespace,
  });

  r.post('/login', async (ctx) => {
    const body = parseOr400(LoginBody, ctx.request.body);
    const retryAfter = deps.loginLimiter.retryAfterSec(body.username, ctx.ip);
    if (retryAfter > 0) {
      ctx.set('Retry-After', String(retryAfter));
      throw new HttpError(429, `too many failed logins; try again in ${retryAfter} s`);
    }
    const row = await deps.accounts.byUsername(body.username);
    // Verify against a dummy hash for unknown names too, so timing does not tell which names exist.
    const ok = await verifyPassword(body.password, row?.password_hash ?? DUMMY_HASH);
    if (!row || !ok) {
      deps.loginLimiter.recordFailure(body.username, ctx.ip);
      throw new HttpError(401, 'invalid username or password');
    }
    deps.loginLimiter.recordSuccess(body.username);
    await startLoginSession(deps, ctx, row);
    ctx.body = sessionBody(row);
  });

  r.get('/session', requireLogin(deps), (ctx) => {
    ctx.body = sessionBody(ctx.state.account!);
  });

  r.post('/logout', async (ctx) => {
    await endLoginSession(deps, ctx);
    ctx.status = 204;
  });

  r.get('/tokens', requireLogin(deps), async (ctx) => {
    const items = (await deps.accounts.listTokens(ctx.state.account!.id)).map(tokenView);
    ctx.body = { items, total: items.length };
  });

  r.post('/tokens', requireLogin(deps), async (ctx) => {
    const body = parseOr400(TokenCreateBody, ctx.request.body);
    const token = body.token ?? generateToken();
    try {
      const row = await deps.accounts.createToken({
        id: newId('tok'),
        accountId: ctx.state.account!.id,
        name: body.name.trim(),
        tokenHash: keyedHash(deps.hashKey, token),
        masked: maskToken(token),
        generated: body.token === undefined,
      });
      ctx.status = 201;
      ctx.body = { ...tokenView(row), token, generated: row.generated };
    } catch (e) {
      if (e instanceof UniqueViolation) {
        throw new HttpError(409, e.constraint.includes('name') ? 'token name already exists' : 'token value already exists');
      }
      throw e;
    }
  });

  r.delete('/tokens/:id', requireLogin(deps), async (ctx) => {
    if (!isResourceId(ctx.params.id) || !(await deps.accounts.deleteToken(ctx.state.account!.id, ctx.params.id))) throw notFound('token not found');
    ctx.status = 204;
  });

  // The dashboard's read-only views of the account's tasks and sessions, by login cookie: the
  // token-authenticated /tasks and /sessions stay token-only.
  r.get('/tasks', requireLogin(deps), async (ctx) => {
    ctx.body = await deps.tasks.list(ctx.state.account!.id, parseOr400(TaskListQuery, ctx.query, 'query'));
  });

  r.get('/sessions', requireLogin(deps), async (ctx) => {
    ctx.body = await deps.sessions.list(ctx.state.account!.id, parseOr400(SessionListQuery, ctx.query, 'query'));
  });

  r.get('/tokens/:id/value', requireLogin(deps), () => {
    throw new HttpError(410, 'token values are shown only once, when created; create a new token if this one is lost');
  });

  return r;
}

function tokenView(t: TokenRow) {
  return { id: t.id, name: t.name, token_masked: t.token_masked, created_at: t.created_at, updated_at: t.updated_at };
}

// scrypt hash of a random password nobody knows.
const DUMMY_HASH = 'scrypt$16384$8$1$3XbyUvTTEeOSRmTO3gnHrQ==$6mW2kAz8Q7ZpJ8UjX1n0pUq8Y1JmYfXh9j8Wk4Kq0bA=';
