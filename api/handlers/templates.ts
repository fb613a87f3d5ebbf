// Templates (spec §3.2): the account's own and the built-in ones over REST, and the registry routes that
// let a host learn the templates it must have and report a build made outside a build workflow.
import { DuraboxError } from '../../contract/errors.js';
import { templateName } from '../../contract/templates.js';
import type { AppDeps } from '../context.js';
import type { Handlers } from '../routes.js';

export function templateHandlers(deps: AppDeps): Pick<Handlers, 'listTemplates' | 'getTemplate' | 'createTemplate' | 'deleteTemplate' | 'registryTemplates' | 'registryTemplateBuilt'> {
  return {
    async listTemplates(ctx) {
      const items = await deps.templates.list(ctx.state.account!.id);
      ctx.body = { items, total: items.length, offered: deps.templates.offered() };
    },

    async getTemplate(ctx) {
      const t = await deps.templates.get(ctx.state.account!.id, nameOf(ctx.params.name));
      if (!t) throw new DuraboxError('template_not_found', `no template ${ctx.params.name}`);
      ctx.body = t;
    },

    async createTemplate(ctx, { body }) {
      const account = ctx.state.account!;
      ctx.status = 201;
      ctx.body = await deps.templates.create(account.id, account.is_admin, body);
    },

    async deleteTemplate(ctx) {
      await deps.templates.delete(ctx.state.account!.id, nameOf(ctx.params.name));
      ctx.status = 204;
    },

    async registryTemplates(ctx, { query }) {
      const runtimes = query.runtimes.split(',').map((r) => r.trim()).filter(Boolean);
      ctx.body = { items: await deps.templateStore.readyFor(runtimes) };
    },

    async registryTemplateBuilt(ctx, { body }) {
      await deps.templateStore.recordHost({ image: body.image }, ctx.state.workerId!, { status: body.ok ? 'ready' : 'failed', seconds: body.seconds, log: body.log });
      ctx.status = 204;
    },
  };
}

/** A name that cannot be a template's answers as an unknown one. */
function nameOf(raw: string): string {
  const r = templateName.safeParse(raw);
  if (!r.success) throw new DuraboxError('template_not_found', 'no template with this name');
  return r.data;
}
