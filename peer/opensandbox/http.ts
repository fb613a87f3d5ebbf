// Reading OpenSandbox requests: JSON bodies and path segments, their faults told as 4xx naming them.
import type { Context } from 'koa';
import { readRawBody } from '../../api/raw-body.js';
import { DuraboxError } from '../../contract/errors.js';
import { badRequest, OsError } from './errors.js';

const JSON_LIMIT = 1024 * 1024;

/** A JSON body, or 400 naming what is wrong with it. */
export async function jsonBody(ctx: Context, limit = JSON_LIMIT): Promise<unknown> {
  const raw = await readRawBody(ctx, limit, `the request body is larger than ${limit} bytes`).catch((e: unknown) => {
    if (e instanceof DuraboxError && e.code === 'file_too_large') throw new OsError(413, 'PAYLOAD_TOO_LARGE', e.message);
    throw e;
  });
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw badRequest('body: not valid JSON');
  }
}

export function safeDecode(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    throw badRequest(`path: ${JSON.stringify(p)} is not valid percent-encoding`);
  }
}

/** A route of a peer API: method (`*` any), the path's pattern, and what answers it with the caller and the path's groups. */
export type Route<C> = [method: string, path: RegExp, answer: (ctx: Context, caller: C, params: string[]) => Promise<void>];

/**
 * Answers `path` by the first route whose pattern and method match: 'answered'. Else 'method' (a pattern
 * matched, with another method: 405 unless the caller has other routes), or undefined (none matched).
 */
export async function dispatch<C>(routes: ReadonlyArray<Route<C>>, ctx: Context, caller: C, path: string): Promise<'answered' | 'method' | undefined> {
  let pathKnown = false;
  for (const [method, re, answer] of routes) {
    const m = re.exec(path);
    if (!m) continue;
    pathKnown = true;
    if (method !== '*' && method !== ctx.method) continue;
    await answer(ctx, caller, m.slice(1).map((p) => safeDecode(p ?? '')));
    return 'answered';
  }
  return pathKnown ? 'method' : undefined;
}

/** 405 or 404 for a path no route answered. */
export function noRoute(ctx: Context, path: string, found: 'method' | undefined): never {
  if (found === 'method') throw new OsError(405, 'METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${path}`);
  throw new OsError(404, 'NOT_FOUND', `no route for ${ctx.method} ${path}`);
}
