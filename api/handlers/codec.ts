// The Temporal UI's codec endpoint: the UI sends the sealed payloads of a history it shows, and a
// logged-in admin gets them back opened. The browser calls it cross-origin (the UI is served elsewhere),
// so the Temporal UI's origin, and only it, may call it with credentials.
import type { Context, Next } from 'koa';
import type { Payload } from '@temporalio/common';
import { codecOf } from '../../temporal/codec.js';
import type { AppDeps } from '../context.js';
import type { Handlers } from '../routes.js';

const CODEC_PATH_PREFIX = '/api/v1/codec/';

/** A payload as the Temporal UI sends it to a codec server: proto JSON, bytes in base64. */
export type WirePayload = { metadata?: Record<string, string>; data?: string };

const fromWire = (p: WirePayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});

export const toWire = (p: Payload): WirePayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

export function codecHandlers(deps: AppDeps): Pick<Handlers, 'codecDecode'> {
  // The UI only shows what it is sent: histories written before encryption are shown as they are.
  const codec = codecOf(deps.api.payloadKeys, { acceptPlain: true });
  return {
    async codecDecode(ctx, { body }) {
      const payloads = body.payloads.map(fromWire);
      ctx.body = { payloads: (codec ? await codec.decode(payloads) : payloads).map(toWire) };
    },
  };
}

/** CORS for the codec endpoint: the Temporal UI's origin may call it with the admin's login cookie. */
export function codecCors(uiUrl: string) {
  const allowed = new URL(uiUrl).origin;
  return async (ctx: Context, next: Next): Promise<void> => {
    if (!ctx.path.startsWith(CODEC_PATH_PREFIX)) return next();
    const origin = ctx.get('Origin');
    if (origin === allowed) {
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Allow-Credentials', 'true');
      ctx.vary('Origin');
      if (ctx.method === 'OPTIONS') {
        ctx.set('Access-Control-Allow-Methods', 'POST');
        ctx.set('Access-Control-Allow-Headers', 'content-type, x-namespace, authorization');
        ctx.set('Access-Control-Max-Age', '600');
        ctx.status = 204;
        return;
      }
    }
    return next();
  };
}
