// Accounts (spec §4.1): the admin registers non-admin accounts when DURABOX_ENABLE_REGISTRATION is on,
// lists them and deletes them. Each account sees only its own tokens, tasks and sessions.
import Router from '@koa/router';
import type { AppDeps, AppState } from '../context.js';
import { requireLogin } from '../auth.js';
import { HttpError, notFound } from '../errors.js';
import { AccountListQuery, RegisterBody, isResourceId, parseOr400 } from '../schemas.js';
import { hashPassword, newId } from '../security.js';
import { UniqueViolation, type Account } from '../../db/accounts.js';

export function accountRoutes(deps: AppDeps): Router<AppState> {
  const r = new Router<AppState>({ prefix: '/api/v1/console' });

  r.post('/register', requireLogin(deps), async (ctx) => {
    if (!deps.config.enableRegistration) throw new HttpError(403, 'account registration is disabled (DURABOX_ENABLE_REGISTRATION=false)');
    if (!ctx.state.account!.is_admin) throw new HttpError(403, 'admin only');
    const body = parseOr400(RegisterBody, ctx.request.body);
    try {
      const a = await deps.accounts.create({ id: newId('acc'), username: body.username, passwordHash: await hashPassword(body.password), isAdmin: false });
      ctx.status = 201;
      ctx.body = { account: accountRef(a), created_at: a.created_at, updated_at: a.updated_at };
    } catch (e) {
      if (e instanceof UniqueViolation) throw new HttpError(409, 'username already exists');
      throw e;
    }
  });

  r.get('/accounts', requireLogin(deps, { admin: true }), async (ctx) => {
    const q = parseOr400(AccountListQuery, ctx.query, 'query');
    const [items, total] = await Promise.all([deps.accounts.list(q.page, q.page_size), deps.accounts.count()]);
    ctx.body = { items: items.map((a) => ({ ...accountRef(a), created_at: a.created_at, updated_at: a.updated_at })), total, page: q.page, page_size: q.page_size };
  });

  r.delete('/accounts/:id', requireLogin(deps, { admin: true }), async (ctx) => {
    const id = ctx.params.id;
    if (id === ctx.state.account!.id) throw new HttpError(403, 'an admin cannot delete its own account');
    const target = isResourceId(id) ? await deps.accounts.byId(id) : undefined;
    if (!target) throw notFound('account not found');
    if (target.is_admin) throw new HttpError(403, 'admin accounts cannot be deleted');
    await deps.accounts.delete(id);
    ctx.status = 204;
  });

  return r;
}

function accountRef(a: Account) {
  return { account_id: a.id, username: a.username, is_admin: a.is_admin };
}
