// Terminal sessions and their files (spec §4.4 terminal command, §4.6).
import Router from '@koa/router';
import getRawBody from 'raw-body';
import type { Context } from 'koa';
import type { AppDeps, AppState } from '../context.js';
import { requireToken } from '../auth.js';
import { HttpError, notFound } from '../errors.js';
import { FilePathQuery, SessionListQuery, TerminalCommandBody, parseOr400, sessionId as SessionId } from '../schemas.js';
import { SessionError, httpStatusOfSessionError } from '../session-service.js';

export function sessionRoutes(deps: AppDeps): Router<AppState> {
  const r = new Router<AppState>({ prefix: '/api/v1' });
  r.use(requireToken(deps));
  const sessions = deps.sessions;

  r.post('/commands/terminal', async (ctx) => {
    const body = parseOr400(TerminalCommandBody, ctx.request.body);
    const { request_id, ...input } = body;
    ctx.body = await answer(() => sessions.exec(ctx.state.account!.id, input, request_id));
  });

  r.get('/sessions', async (ctx) => {
    ctx.body = await sessions.list(ctx.state.account!.id, parseOr400(SessionListQuery, ctx.query, 'query'));
  });

  r.get('/sessions/:id', async (ctx) => {
    const s = await sessions.get(ctx.state.account!.id, sessionIdOf(ctx));
    if (!s) throw notFound('session_not_found');
    ctx.body = s;
  });

  r.delete('/sessions/:id', async (ctx) => {
    await answer(() => sessions.close(ctx.state.account!.id, sessionIdOf(ctx)));
    ctx.status = 204;
  });

  r.get('/sessions/:id/files', async (ctx) => {
    const { path } = parseOr400(FilePathQuery, ctx.query, 'query');
    const res = await answer(() => sessions.file(ctx.state.account!.id, sessionIdOf(ctx), { op: 'read', path, maxBytes: deps.config.session.fileMaxBytes }));
    if (res.op === 'list') {
      ctx.body = { path, entries: res.entries };
    } else if (res.op === 'read') {
      ctx.type = res.mime ?? 'application/octet-stream';
      ctx.set('Content-Disposition', `attachment; filename="${encodeURIComponent(path.split('/').pop() || 'file')}"`);
      ctx.set('X-Content-Type-Options', 'nosniff');
      ctx.body = Buffer.from(res.contentBase64, 'base64');
    }
  });

  r.put('/sessions/:id/files', async (ctx) => {
    const { path } = parseOr400(FilePathQuery, ctx.query, 'query');
    const limit = deps.config.session.fileMaxBytes;
    const content = await getRawBody(ctx.req, { limit, length: ctx.get('content-length') || undefined }).catch((e: { type?: string; status?: number }) => {
      if (e.type === 'entity.too.large') throw new HttpError(413, `file larger than ${limit} bytes`);
      throw new HttpError(e.status && e.status < 500 ? e.status : 400, 'could not read the request body');
    });
    const res = await answer(() => sessions.file(ctx.state.account!.id, sessionIdOf(ctx), { op: 'write', path, contentBase64: content.toString('base64') }));
    ctx.status = 201;
    ctx.body = res;
  });

  r.delete('/sessions/:id/files', async (ctx) => {
    const { path } = parseOr400(FilePathQuery, ctx.query, 'query');
    await answer(() => sessions.file(ctx.state.account!.id, sessionIdOf(ctx), { op: 'delete', path }));
    ctx.status = 204;
  });

  return r;
}

function sessionIdOf(ctx: Context): string {
  const r = SessionId.safeParse(ctx.params.id);
  if (!r.success) throw notFound('session_not_found');
  return r.data;
}

/** Session errors become `{error: <code>, message, …details}` with their status. */
export async function answer<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof SessionError) {
      throw new HttpError(httpStatusOfSessionError(e.code), e.code, { error: e.code, message: e.message, ...(e.details ?? {}) });
    }
    throw e;
  }
}
