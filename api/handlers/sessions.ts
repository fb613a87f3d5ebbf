// Terminal sessions and their files (spec §4.4 terminal command, §4.6).
import { readRawBody } from '../raw-body.js';
import { DuraboxError, ERROR_TABLE } from '../../contract/errors.js';
import { sessionId as SessionId } from '../../contract/schemas.js';
import type { AppDeps } from '../context.js';
import { newStreamId, streamCommand, wantsEvents } from '../events.js';
import { ErrorAnswer } from '../errors.js';
import type { Handlers } from '../routes.js';
import { fileToolHandlers } from './files.js';

type SessionOps = 'terminalCommand' | 'listSessions' | 'getSession' | 'deleteSession' | 'pauseSession' | 'resumeSession' | 'setSessionLease' | 'readSessionFile' | 'writeSessionFile' | 'deleteSessionFile';

export function sessionHandlers(deps: AppDeps): Pick<Handlers, SessionOps> & ReturnType<typeof fileToolHandlers> {
  const sessions = deps.sessions;
  const maxBytes = deps.api.session.fileMaxBytes;

  return {
    ...fileToolHandlers(deps),

    async terminalCommand(ctx, { body }) {
      const { request_id, ...input } = body;
      if (wantsEvents(ctx)) {
        const streamId = newStreamId();
        return streamCommand(deps, ctx, streamId, () => answer(() => sessions.exec(ctx.state.account!.id, input, request_id, streamId)));
      }
      ctx.body = await answer(() => sessions.exec(ctx.state.account!.id, input, request_id));
    },

    async listSessions(ctx, { query }) {
      ctx.body = await sessions.list(ctx.state.account!.id, query);
    },

    async getSession(ctx) {
      const s = await answer(() => sessions.get(ctx.state.account!.id, sessionIdOf(ctx.params.id)));
      if (!s) throw sessionErrorAnswer(new DuraboxError('session_not_found', `no session ${ctx.params.id}`));
      ctx.body = s;
    },

    async deleteSession(ctx) {
      await answer(() => sessions.close(ctx.state.account!.id, sessionIdOf(ctx.params.id)));
      ctx.status = 204;
    },

    async pauseSession(ctx) {
      ctx.body = await answer(() => sessions.pause(ctx.state.account!.id, sessionIdOf(ctx.params.id)));
    },

    async resumeSession(ctx) {
      ctx.body = await answer(() => sessions.resume(ctx.state.account!.id, sessionIdOf(ctx.params.id)));
    },

    // ttl_sec is within the lease bounds already: the route's body schema checks them (api/app.ts).
    async setSessionLease(ctx, { body }) {
      ctx.body = await answer(() => sessions.setLease(ctx.state.account!.id, sessionIdOf(ctx.params.id), body.ttl_sec));
    },

    async readSessionFile(ctx, { query: { path } }) {
      const res = await answer(() => sessions.file(ctx.state.account!.id, sessionIdOf(ctx.params.id), { op: 'read', path, maxBytes }));
      if (res.op === 'list') {
        ctx.body = { path, entries: res.entries };
      } else if (res.op === 'read') {
        ctx.type = res.mime ?? 'application/octet-stream';
        ctx.set('Content-Disposition', `attachment; filename="${encodeURIComponent(path.split('/').pop() || 'file')}"`);
        ctx.set('X-Content-Type-Options', 'nosniff');
        ctx.body = Buffer.from(res.contentBase64, 'base64');
      }
    },

    async writeSessionFile(ctx, { query: { path } }) {
      const res = await answer(async () => {
        const content = await readRawBody(ctx, maxBytes, `file larger than ${maxBytes} bytes`);
        return sessions.file(ctx.state.account!.id, sessionIdOf(ctx.params.id), { op: 'write', path, contentBase64: content.toString('base64') });
      });
      ctx.status = 201;
      ctx.body = res;
    },

    async deleteSessionFile(ctx, { query: { path } }) {
      await answer(() => sessions.file(ctx.state.account!.id, sessionIdOf(ctx.params.id), { op: 'delete', path }));
      ctx.status = 204;
    },
  };
}

/** A session id that cannot exist answers as an unknown one. */
export function sessionIdOf(raw: string): string {
  const r = SessionId.safeParse(raw);
  if (!r.success) throw new DuraboxError('session_not_found', 'no session with this id');
  return r.data;
}

/**
 * Session failures answer with their code's status and `{error, code, message, …details}`: `error` is
 * the reference platform's message (`session not found`, `session is busy`), `code` the machine-readable
 * code, `message` what happened in this call (a timed-out command's details carry its output so far).
 */
export function sessionErrorAnswer(e: DuraboxError): ErrorAnswer {
  return new ErrorAnswer(e.code, { ...(e.details ?? {}), error: ERROR_TABLE[e.code].message, code: e.code, message: e.message });
}

export async function answer<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof DuraboxError) throw sessionErrorAnswer(e);
    throw e;
  }
}
