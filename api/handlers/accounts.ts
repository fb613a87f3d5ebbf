// Accounts (spec §4.1): the admin registers non-admin accounts when DURABOX_ENABLE_REGISTRATION is on,
// lists them and deletes them. Each account sees only its own tokens, tasks and sessions.
import { DuraboxError } from '../../contract/errors.js';
import { LIMIT_NAMES, type LimitName } from '../../contract/limits.js';
import { isResourceId } from '../../contract/schemas.js';
import { hashPassword, newId } from '../../control/security.js';
import { UniqueViolation, type Account } from '../../db/accounts.js';
import type { AppDeps } from '../context.js';
import type { Handlers } from '../routes.js';

export function accountHandlers(deps: AppDeps): Pick<Handlers, 'register' | 'listAccounts' | 'deleteAccount' | 'setAccountLimits' | 'accountLimits'> {
  const limitsView = async (accountId: string, withUsage: boolean) => {
    const { limits, overrides } = await deps.quotas.limitsOf(accountId);
    return {
      account_id: accountId,
      limits,
      overrides: Object.fromEntries(LIMIT_NAMES.map((n) => [n, overrides[n] ?? null])) as Record<LimitName, number | null>,
      ...(withUsage ? { usage: await deps.quotas.usage(accountId) } : {}),
    };
  };

  return {
    async setAccountLimits(ctx, { body }) {
      const id = ctx.params.id;
      if (!isResourceId(id) || !(await deps.quotas.setOverrides(id, body))) throw new DuraboxError('not_found', 'account not found');
      ctx.body = await limitsView(id, false);
    },

    async accountLimits(ctx) {
      ctx.body = await limitsView(ctx.state.account!.id, true);
    },

    async register(ctx, { body }) {
      if (!deps.api.enableRegistration) throw new DuraboxError('forbidden', 'account registration is disabled (DURABOX_ENABLE_REGISTRATION=false)');
      if (!ctx.state.account!.is_admin) throw new DuraboxError('forbidden', 'admin only');
      try {
        const a = await deps.accounts.create({ id: newId('acc'), username: body.username, passwordHash: await hashPassword(body.password), isAdmin: false });
        ctx.status = 201;
        ctx.body = { account: accountRef(a), created_at: a.created_at, updated_at: a.updated_at };
      } catch (e) {
        if (e instanceof UniqueViolation) throw new DuraboxError('conflict', 'username already exists');
        throw e;
      }
    },

    async listAccounts(ctx, { query: q }) {
      const [items, total] = await Promise.all([deps.accounts.list(q.page, q.page_size), deps.accounts.count()]);
      ctx.body = { items: items.map((a) => ({ ...accountRef(a), created_at: a.created_at, updated_at: a.updated_at })), total, page: q.page, page_size: q.page_size };
    },

    async deleteAccount(ctx) {
      const id = ctx.params.id;
      if (id === ctx.state.account!.id) throw new DuraboxError('forbidden', 'an admin cannot delete its own account');
      const target = isResourceId(id) ? await deps.accounts.byId(id) : undefined;
      if (!target) throw new DuraboxError('not_found', 'account not found');
      if (target.is_admin) throw new DuraboxError('forbidden', 'admin accounts cannot be deleted');
      if (!(await deps.accounts.delete(id))) throw new DuraboxError('not_found', 'account not found');
      ctx.status = 204;
    },
  };
}

function accountRef(a: Account) {
  return { account_id: a.id, username: a.username, is_admin: a.is_admin };
}
