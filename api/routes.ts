// Routes from the operation records: each record gets its guard, its request validation (a 400 naming
// the field) and the one handler the compiler insists it has. With `checkResponses` every answer is
// also checked against the record's response schema for its status, so a response the OpenAPI
// document does not describe fails loudly (the test platform turns it on).
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { z } from 'zod';
import { OPERATIONS, responsesOf, type Auth, type Operation, type OperationId } from '../contract/operations.js';
import { DuraboxError } from '../contract/errors.js';
import { describeIssues, parseOr400 } from '../contract/schemas.js';
import { guard } from './auth.js';
import type { AppDeps, AppState } from './context.js';
import { readJsonBody } from './raw-body.js';

type Ctx = Context & { state: AppState; params: Record<string, string> };

type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface Input<O> {
  body: O extends { body: infer B } ? Parsed<B> : undefined;
  query: O extends { query: infer Q } ? Parsed<Q> : undefined;
}

export type Handler<O> = (ctx: Ctx, input: Input<O>) => Promise<void> | void;
export type Handlers = { [K in OperationId]: Handler<(typeof OPERATIONS)[K]> };

export const koaPath = (path: string): string => path.replace(/\{(\w+)\}/g, ':$1');

/**
 * Request bodies narrowed by settings (a lease within the configured bounds): each still parses to its
 * record's type, and is checked in the same pass so every problem of a body is named at once.
 */
export type SettingsBodies = { [K in OperationId]?: (typeof OPERATIONS)[K] extends { body: infer B } ? B : never };

export function operationsRouter(deps: AppDeps, handlers: Handlers, bodies: SettingsBodies = {}): Router<AppState> {
  const router = new Router<AppState>();
  for (const [id, op] of Object.entries(OPERATIONS) as Array<[OperationId, Operation]>) {
    const handler = handlers[id] as Handler<Operation>;
    const bodySchema = (bodies[id] as z.ZodType | undefined) ?? op.body;
    const run = async (ctx: Ctx) => {
      const body = bodySchema ? parseOr400(bodySchema, await jsonBody(ctx, op.auth)) : undefined;
      const query = op.query ? parseOr400(op.query, ctx.query, 'query') : undefined;
      await handler(ctx, { body, query } as Input<Operation>);
    };
    const g = guard(deps, op.auth);
    const mark = async (ctx: Ctx, next: Next) => {
      ctx.state.operation = id;
      await next();
    };
    if (g) router[op.method](koaPath(op.path), mark, g, run);
    else router[op.method](koaPath(op.path), mark, run);
  }
  return router;
}

/**
 * A JSON operation's body. A bearer-token route reads JSON whatever the declared type (`curl -d` declares
 * a form, a byte body nothing): a browser never adds the token on its own, so no foreign page can send
 * one. Where a cookie opens the route, another format is refused as such: a form a foreign page posts
 * is never read, not even as empty.
 */
async function jsonBody(ctx: Ctx, auth: Auth): Promise<unknown> {
  // A body declared as JSON was read by the body parser already.
  if (auth === 'token') return ctx.req.readableEnded ? ctx.request.body : readJsonBody(ctx);
  if (ctx.request.type && !ctx.is('json')) throw new DuraboxError('unsupported_media_type');
  return ctx.request.body;
}

/** Checks the answer against its operation's response record; a mismatch becomes a 500 that says why. */
export async function responseCheck(ctx: Context & { state: AppState }, next: Next): Promise<void> {
  await next();
  const id = ctx.state.operation as OperationId | undefined;
  if (!id || ctx.respond === false) return;
  const op: Operation = OPERATIONS[id];
  const problem = responseProblem(op, ctx.status, ctx.body, ctx.response.type);
  if (problem) {
    const message = `response of ${id} (${ctx.method} ${ctx.path}) does not match its operation record: ${problem}`;
    ctx.state.failure = message;
    ctx.status = 500;
    ctx.body = { error: message };
  }
}

export function responseProblem(op: Operation, status: number, body: unknown, type: string): string | undefined {
  const r = responsesOf(op)[status];
  if (!r) return `status ${status} is not documented`;
  if (status === 204) return undefined;
  if (body === undefined || body === null) return r.schema || r.contentType ? 'an empty body' : undefined;
  if (Buffer.isBuffer(body) || typeof body === 'string' || typeof (body as { pipe?: unknown }).pipe === 'function') {
    return r.contentType ? undefined : `a ${type || 'non-JSON'} body where JSON is documented`;
  }
  if (!r.schema) return r.contentType === 'application/json' ? undefined : 'a JSON body where none is documented';
  const wire = JSON.parse(JSON.stringify(body));
  const parsed = r.schema.safeParse(wire);
  return parsed.success ? undefined : describeIssues(parsed.error);
}
