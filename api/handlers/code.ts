// The code interpreter (spec §3.1): a cell run once in a fresh sandbox, or in one of a session's
// interpreter contexts, and the contexts themselves.
import { DuraboxError } from '../../contract/errors.js';
import { contextId as ContextId } from '../../contract/schemas.js';
import type { AppDeps } from '../context.js';
import { newStreamId, streamCommand, wantsEvents } from '../events.js';
import type { Handlers } from '../routes.js';
import { runCommand, startCommand } from './commands.js';
import { answer, sessionIdOf } from './sessions.js';

export function codeHandlers(deps: AppDeps): Pick<Handlers, 'runCode' | 'createContext' | 'listContexts' | 'deleteContext'> {
  const sessions = deps.sessions;
  return {
    async runCode(ctx, { body }) {
      const { request_id, ...input } = body;
      const accountId = ctx.state.account!.id;
      if (wantsEvents(ctx)) {
        if (input.session_id) {
          const streamId = newStreamId();
          return streamCommand(deps, ctx, streamId, () => answer(() => sessions.runCode(accountId, input, request_id, streamId)));
        }
        // Once, the cell is a task: its id names its stream.
        const started = await startCommand(deps, accountId, 'runCode', input, input.timeout_ms, request_id);
        return streamCommand(deps, ctx, started.taskId, () => started.outcome());
      }
      ctx.body = input.session_id
        ? await answer(() => sessions.runCode(accountId, input, request_id))
        : await runCommand(deps, accountId, 'runCode', input, input.timeout_ms, request_id);
    },

    async createContext(ctx, { body }) {
      const view = await answer(() => sessions.createContext(ctx.state.account!.id, sessionIdOf(ctx.params.id), body.language));
      ctx.status = 201;
      ctx.body = view;
    },

    async listContexts(ctx) {
      ctx.body = { items: await answer(() => sessions.contexts(ctx.state.account!.id, sessionIdOf(ctx.params.id))) };
    },

    async deleteContext(ctx) {
      await answer(async () => {
        const sessionId = sessionIdOf(ctx.params.id);
        // An id that cannot exist is unknown, as a deleted one is.
        if (!ContextId.safeParse(ctx.params.context_id).success) throw new DuraboxError('context_not_found', `no context ${ctx.params.context_id}`);
        await sessions.deleteContext(ctx.state.account!.id, sessionId, ctx.params.context_id);
      });
      ctx.status = 204;
    },
  };
}
