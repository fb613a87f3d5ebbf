// Errors carry their HTTP status; one middleware turns them into `{ "error": "<message>" }`.
import type { Context, Next } from 'koa';

export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly body?: Record<string, unknown>) {
    super(message);
  }
}

export const badRequest = (message: string) => new HttpError(400, message);
export const notFound = (message = 'not found') => new HttpError(404, message);

export async function errorMiddleware(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (err) {
    const e = err as { status?: number; statusCode?: number; expose?: boolean; message?: string; type?: string; body?: Record<string, unknown> };
    const status = e.status ?? e.statusCode ?? 500;
    if (err instanceof HttpError) {
      ctx.status = err.status;
      ctx.body = err.body ?? { error: err.message };
    } else if (isRefusedValue(err)) {
      // PostgreSQL refused a value of the request (a NUL character in an id, say): the request is at fault.
      ctx.status = 400;
      ctx.body = { error: 'invalid request: a value in the path or body cannot be stored or looked up (e.g. it contains a NUL character)' };
    } else if (status >= 400 && status < 500) {
      // Errors raised by body parsing and Koa itself: bad JSON, oversize bodies, wrong content type.
      ctx.status = status;
      ctx.body = { error: describeClientError(e.type, e.message ?? 'bad request', status) };
    } else {
      ctx.status = status >= 500 && status < 600 ? status : 500;
      ctx.body = { error: 'internal error' };
      ctx.app.emit('error', err, ctx);
    }
  }
}

/** A PostgreSQL data exception (SQLSTATE class 22): bad encoding, NUL, out-of-range values, never a server fault. */
function isRefusedValue(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code) && typeof (err as { severity?: unknown }).severity === 'string';
}

function describeClientError(type: string | undefined, message: string, status: number): string {
  if (type === 'entity.parse.failed' || /JSON/i.test(message)) return 'invalid JSON body';
  if (type === 'entity.too.large' || status === 413) return 'request body too large';
  if (status === 415) return 'unsupported content type: send application/json';
  return message;
}
