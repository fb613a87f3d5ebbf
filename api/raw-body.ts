// Request bodies that are bytes, not JSON (file uploads, hosts' checkpoints): read whole up to a limit,
// a larger one refused with 413 `file_too_large` naming what it is. And JSON bodies a client declared as
// something else (`curl -d` says it sends a form), on the routes that read them.
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import { DuraboxError } from '../contract/errors.js';

/** Largest JSON body accepted: a 1 MB program plus its JSON escaping. */
export const JSON_BODY_LIMIT = '4mb';

export async function readRawBody(ctx: Context, limit: number, tooLarge: string): Promise<Buffer> {
  return getRawBody(ctx.req, { limit, length: ctx.get('content-length') || undefined }).catch((e: { type?: string }) => {
    if (e.type === 'entity.too.large') throw new DuraboxError('file_too_large', tooLarge);
    throw new DuraboxError('invalid_input', 'could not read the request body');
  });
}

/**
 * The body read as JSON whatever type it declares, within the JSON limit. An empty one is `{}`, as a
 * request without a body is; one that is not JSON is a 400 that says so.
 */
export async function readJsonBody(ctx: Context): Promise<unknown> {
  const text = await getRawBody(ctx.req, { limit: JSON_BODY_LIMIT, length: ctx.get('content-length') || undefined, encoding: 'utf-8' }).catch((e: { type?: string }) => {
    if (e.type === 'entity.too.large') throw new DuraboxError('payload_too_large');
    throw new DuraboxError('invalid_input', 'could not read the request body');
  });
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch {
    const declared = ctx.request.type ? `declared as ${ctx.request.type}` : 'sent with no content type';
    throw new DuraboxError('invalid_input', `invalid JSON body (${declared}): this route reads its body as a JSON object whatever its content type`);
  }
}
