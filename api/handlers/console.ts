// Dashboard auth and access tokens (spec §4.1, §4.2), the dashboard's views of tasks and sessions, and
// its templates page.
import { PRODUCT_VERSION } from '../../config/paths.js';
import { DuraboxError } from '../../contract/errors.js';
import { isResourceId } from '../../contract/schemas.js';
import { generateToken, keyedHash, maskToken, newId, verifyPassword } from '../../control/security.js';
import { UniqueViolation, type Account, type TokenRow } from '../../db/accounts.js';
import { endLoginSession, startLoginSession } from '../auth.js';
import type { AppDeps } from '../context.js';
import type { Handlers } from '../routes.js';
import { consoleSessionHandlers } from './console-sessions.js';
import { templateHandlers } from './templates.js';

type ConsoleOps = 'login' | 'consoleSession' | 'logout' | 'listTokens' | 'createToken' | 'deleteToken' | 'tokenValue' | 'consoleTasks' | 'consoleSessions'
  | 'consoleTemplates' | 'consoleGetTemplate' | 'consoleCreateTemplate' | 'consoleDeleteTemplate';

export function consoleHandlers(deps: AppDeps): Pick<Handlers, ConsoleOps | keyof ReturnType<typeof consoleSessionHandlers>> {
  const sessionBody = (a: Account) => ({
    authenticated: true,
    account: { account_id: a.id, username: a.username, is_admin: a.is_admin },
    registration_enabled: deps.api.enableRegistration,
    console_version: PRODUCT_VERSION,
    // durabox additions: where the dashboard links each task's workflow.
    temporal_ui_url: deps.temporal.uiUrl,
    temporal_namespace: deps.temporal.namespace,
  });
  const templates = templateHandlers(deps);

  return {
    async login(ctx, { body }) {
      const retryAfter = deps.loginLimiter.retryAfterSec(body.username, ctx.ip);
      if (retryAfter > 0) {
        ctx.set('Retry-After', String(retryAfter));
        throw new DuraboxError('rate_limited', `too many failed logins; try again in ${retryAfter} s`);
      }
      // A username guessed from many addresses is slowed down, never locked: its owner still gets in.
      const backoff = deps.loginLimiter.backoffMs(body.username);
      if (backoff > 0) await new Promise((r) => setTimeout(r, backoff));
      const row = await deps.accounts.byUsername(body.username);
      // Verify against a dummy hash for unknown names too, so timing does not tell which names exist.
      const ok = await verifyPassword(body.password, row?.password_hash ?? DUMMY_HASH);
      if (!row || !ok) {
        deps.loginLimiter.recordFailure(body.username, ctx.ip);
        throw new DuraboxError('unauthenticated', 'invalid username or password');
      }
      deps.loginLimiter.recordSuccess(body.username, ctx.ip);
      await startLoginSession(deps, ctx, row);
      ctx.body = sessionBody(row);
    },

    consoleSession(ctx) {
      ctx.body = sessionBody(ctx.state.account!);
    },

    async logout(ctx) {
      await endLoginSession(deps, ctx);
      ctx.status = 204;
    },

    async listTokens(ctx) {
      const items = (await deps.accounts.listTokens(ctx.state.account!.id)).map(tokenView);
      ctx.body = { items, total: items.length };
    },

    async createToken(ctx, { body }) {
      await deps.quotas.admitToken(ctx.state.account!.id);
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
          // A value taken, by this account or another, is answered alike: the answer says nothing of other accounts.
          throw new DuraboxError('conflict', e.constraint.includes('name') ? 'token name already exists' : 'this token value cannot be used: choose another, or omit it to have one generated');
        }
        throw e;
      }
    },

    async deleteToken(ctx) {
      if (!isResourceId(ctx.params.id) || !(await deps.accounts.deleteToken(ctx.state.account!.id, ctx.params.id))) {
        throw new DuraboxError('not_found', 'token not found');
      }
      ctx.status = 204;
    },

    tokenValue() {
      throw new DuraboxError('gone', 'token values are shown only once, when created; create a new token if this one is lost');
    },

    // The dashboard's read-only views of the account's tasks and sessions, by login cookie: the
    // token-authenticated /tasks and /sessions stay token-only.
    async consoleTasks(ctx, { query }) {
      ctx.body = await deps.tasks.list(ctx.state.account!.id, query);
    },

    async consoleSessions(ctx, { query }) {
      ctx.body = await deps.sessions.list(ctx.state.account!.id, query);
    },

    // The templates page: the token routes' own handlers, by login cookie (same bodies, same answers).
    // Each record is its own type, so the input is handed on by its shape.
    consoleTemplates: (ctx, { body, query }) => templates.listTemplates(ctx, { body, query }),
    consoleGetTemplate: (ctx, { body, query }) => templates.getTemplate(ctx, { body, query }),
    consoleCreateTemplate: (ctx, { body, query }) => templates.createTemplate(ctx, { body, query }),
    consoleDeleteTemplate: (ctx, { body, query }) => templates.deleteTemplate(ctx, { body, query }),

    // The session page: the session routes by login cookie.
    ...consoleSessionHandlers(deps),
  };
}

function tokenView(t: TokenRow) {
  return { id: t.id, name: t.name, token_masked: t.token_masked, created_at: t.created_at, updated_at: t.updated_at };
}

// scrypt hash of a random password nobody knows.
const DUMMY_HASH = 'scrypt$16384$8$1$3XbyUvTTEeOSRmTO3gnHrQ==$6mW2kAz8Q7ZpJ8UjX1n0pUq8Y1JmYfXh9j8Wk4Kq0bA=';
