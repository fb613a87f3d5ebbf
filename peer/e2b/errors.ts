// E2B's error shapes: the control API answers `{code: <status>, message}`, envd's RPCs Connect's
// `{code: "<name>", message}`, its /files and the interpreter plain `{code, message}` with the status.
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import type { z } from 'zod';
import { DuraboxError } from '../../contract/errors.js';
import { CONNECT_STATUS, connectCodeOf, connectCodeOfStatus, endOfStream, envelope, type ConnectCode } from './protocol.js';

/** A failure a handler answers with, in its API's shape. */
export class E2bError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Not something durabox does: 501, naming the feature. */
export function unsupported(feature: string): E2bError {
  return new E2bError(501, `${feature} is not supported by durabox`);
}

/** An error as the control API (and /files, the interpreter) answer it. */
export function restError(ctx: Context, e: unknown): void {
  const { status, message } = statusOf(e);
  ctx.status = status;
  // The JS interpreter SDK shows only the status line of a failed call: the reason phrase says what it was.
  ctx.message = message.replace(/[^\x20-\x7e]/g, ' ').slice(0, 200);
  ctx.body = { code: status, message };
}

/** An error as a unary Connect call answers it. */
export function connectError(ctx: Context, e: unknown): void {
  const code = connectCodeFor(e);
  ctx.status = CONNECT_STATUS[code];
  ctx.type = 'application/json';
  ctx.body = { code, message: statusOf(e).message };
}

export function connectCodeFor(e: unknown): ConnectCode {
  if (e instanceof DuraboxError) return connectCodeOf(e.code);
  if (e instanceof E2bError) return connectCodeOfStatus(e.status);
  return 'internal';
}

export function statusOf(e: unknown): { status: number; message: string } {
  if (e instanceof E2bError) return { status: e.status, message: e.message };
  if (e instanceof DuraboxError) return { status: e.status, message: e.message };
  throw e;
}

/** The request's body, whole, up to `limit` bytes. */
export async function bodyOf(ctx: Context, limit: number): Promise<Buffer> {
  return getRawBody(ctx.req, { limit }).catch((e: { type?: string }) => {
    if (e.type === 'entity.too.large') throw new E2bError(413, `the request body is larger than ${limit} bytes`);
    throw new E2bError(400, 'could not read the request body');
  });
}

/** A JSON body checked against `schema`; a bad field answers 400 naming it. */
export async function jsonBody<T extends z.ZodType>(ctx: Context, schema: T, limit = 1 << 20): Promise<z.output<T>> {
  const raw = await bodyOf(ctx, limit);
  let value: unknown = {};
  if (raw.length > 0) {
    try {
      value = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new E2bError(400, 'the body is not JSON');
    }
  }
  return parsed(schema, value);
}

export function parsed<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue.path.join('.') || 'body';
  throw new E2bError(400, `${field}: ${issue.message}`);
}

/** A silent stream says it is alive this often (proxies close idle streams). */
const KEEPALIVE_MS = 20_000;

/** An open Connect server stream: its messages, whether the client left, and its end (with a failure or not). */
export interface ConnectStream { write(m: unknown): void; readonly closed: boolean; end(e?: unknown): void }

/**
 * Opens a Connect server stream (application/connect+json, enveloped messages): `first` goes out at once,
 * `keepalive` while it is quiet. end() sends the end-of-stream message, a failure told in Connect's terms
 * (an unexpected one kept for the request's log line), and stops the keepalive.
 */
export function openConnectStream(ctx: Context, first: unknown, keepalive: unknown): ConnectStream {
  ctx.respond = false;
  ctx.req.socket.setNoDelay(true);
  ctx.res.writeHead(200, { 'content-type': 'application/connect+json', 'cache-control': 'no-cache' });
  let closed = false;
  ctx.res.on('close', () => { closed = true; });
  const write = (m: unknown) => { if (!closed && !ctx.res.writableEnded) ctx.res.write(envelope(m)); };
  write(first);
  const alive = setInterval(() => write(keepalive), KEEPALIVE_MS);
  return {
    write,
    get closed() { return closed; },
    end(e?: unknown) {
      clearInterval(alive);
      if (closed || ctx.res.writableEnded) return;
      if (e === undefined) return void ctx.res.end(endOfStream());
      let message = 'internal error';
      try { message = statusOf(e).message; } catch { ctx.state.failure = e; }
      ctx.res.end(endOfStream({ code: connectCodeFor(e), message }));
    },
  };
}

