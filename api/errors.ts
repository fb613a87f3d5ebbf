// One middleware turns every failure into its answer: the status comes from the error table, the body
// is `{ "error": "<message>" }` unless the failure brings a body of its own. What it caught is left on
// the request's state for its log line: the code, or the unexpected failure itself.
import type { Context, Next } from 'koa';
import { DuraboxError, ERROR_TABLE, type ErrorCode } from '../contract/errors.js';

/** A failure answered with a body given in full (a session error with its code and details). */
export class ErrorAnswer extends Error {
  constructor(readonly code: ErrorCode, readonly body: Record<string, unknown>) {
    super(typeof body.message === 'string' ? body.message : typeof body.error === 'string' ? body.error : code);
  }
}

export async function errorMiddleware(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (err) {
    if (err instanceof ErrorAnswer) {
      ctx.state.errorCode = err.code;
      ctx.status = ERROR_TABLE[err.code].status;
      ctx.body = err.body;
    } else if (err instanceof DuraboxError) {
      ctx.state.errorCode = err.code;
      ctx.status = err.status;
      // Details name what was at fault, e.g. the limit a quota_exceeded refusal reached.
      ctx.body = { ...(err.details ?? {}), error: err.message };
    } else if (isRefusedValue(err)) {
      // PostgreSQL refused a value of the request (a NUL character in an id, say): the request is at fault.
      ctx.status = ERROR_TABLE.invalid_input.status;
      ctx.body = { error: 'invalid request: a value in the path or body cannot be stored or looked up (e.g. it contains a NUL character)' };
    } else {
      const e = err as { status?: number; statusCode?: number; message?: string; type?: string };
      const status = e.status ?? e.statusCode ?? 500;
      if (status >= 400 && status < 500) {
        // Errors raised by body parsing and Koa itself: bad JSON, oversize bodies, wrong content type.
        ctx.status = status;
        ctx.body = { error: describeClientError(e.type, e.message ?? 'bad request', status) };
      } else {
        ctx.status = ERROR_TABLE.internal.status;
        ctx.body = { error: ERROR_TABLE.internal.message };
        // The request's log line carries it, with its stack (api/request-log.ts).
        ctx.state.failure = err;
      }
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
  if (type === 'entity.too.large' || status === ERROR_TABLE.payload_too_large.status) return ERROR_TABLE.payload_too_large.message;
  if (status === ERROR_TABLE.unsupported_media_type.status) return ERROR_TABLE.unsupported_media_type.message;
  return message;
}
