// Request bodies that are bytes, not JSON (file uploads, hosts' checkpoints): read whole up to a limit,
// a larger one refused with 413 `file_too_large` naming what it is.
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import { DuraboxError } from '../contract/errors.js';

export async function readRawBody(ctx: Context, limit: number, tooLarge: string): Promise<Buffer> {
  return getRawBody(ctx.req, { limit, length: ctx.get('content-length') || undefined }).catch((e: { type?: string }) => {
    if (e.type === 'entity.too.large') throw new DuraboxError('file_too_large', tooLarge);
    throw new DuraboxError('invalid_input', 'could not read the request body');
  });
}
