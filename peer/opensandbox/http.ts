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

