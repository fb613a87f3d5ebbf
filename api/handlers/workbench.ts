// The workbench's REST calls beside its streams (api/streams.ts): the ports a session listens on, signed
// links to a port or the terminal, and the WebSocket routes' answer to a plain GET.
import { DuraboxError } from '../../contract/errors.js';
import { PTY_LINK, signLink } from '../../tunnel/links.js';
import type { AppDeps } from '../context.js';
import type { Handlers } from '../routes.js';
import { LINK_PARAM } from '../streams.js';
import { answer, sessionIdOf } from './sessions.js';

/** Where a session keeps its services (sandbox/session-relay.py reads it). */
export const SERVICES_FILE = '/workspace/.durabox/services.json';

export function workbenchHandlers(deps: AppDeps): Pick<Handlers, 'listSessionPorts' | 'createSessionService' | 'createSessionLink' | 'sessionPty' | 'sessionBrowserCdp'> {
  const previewUrl = (ctx: { protocol: string; host: string }, sessionId: string, port: number) => {
    const domain = deps.api.previewDomain;
    if (!domain) return undefined;
    const portSuffix = /:\d+$/.exec(ctx.host)?.[0] ?? '';
    return `${ctx.protocol}://${port}-${sessionId}.${domain}${portSuffix}/`;
  };
  return {
    async listSessionPorts(ctx) {
      const sessionId = sessionIdOf(ctx.params.id);
      const ports = await answer(() => deps.tunnels.ports(ctx.state.account!.id, sessionId));
      ctx.body = {
        ports: ports.map((port) => {
          const preview = previewUrl(ctx, sessionId, port);
          return { port, path: `/api/v1/sessions/${sessionId}/ports/${port}/`, ...(preview ? { preview_url: preview } : {}) };
        }),
      };
    },

    async createSessionService(ctx, { body }) {
      const sessionId = sessionIdOf(ctx.params.id);
      const accountId = ctx.state.account!.id;
      const services = await answer(() => readServices(deps, accountId, sessionId));
      services[String(body.port)] = { command: body.command };
      // A file call like any other: durable, and part of the session's checkpoints from now on.
      await answer(() => deps.sessions.file(accountId, sessionId, { op: 'write', path: SERVICES_FILE, contentBase64: Buffer.from(`${JSON.stringify(services, null, 2)}\n`).toString('base64') }));
      let listening = false;
      if (body.start) {
        (await answer(() => deps.tunnels.open(accountId, sessionId, { port: body.port }))).destroy();
        listening = true;
      }
      const preview = previewUrl(ctx, sessionId, body.port);
      ctx.status = 201;
      ctx.body = { port: body.port, command: body.command, path: `/api/v1/sessions/${sessionId}/ports/${body.port}/`, listening, ...(preview ? { preview_url: preview } : {}) };
    },

    async createSessionLink(ctx, { body }) {
      const sessionId = sessionIdOf(ctx.params.id);
      const accountId = ctx.state.account!.id;
      // Only a session of the caller's account gets a link (another's is not found).
      const s = await answer(() => deps.sessions.get(accountId, sessionId));
      if (!s || s.status === 'ended') throw new DuraboxError('session_not_found', `no session ${sessionId}`);
      const expires = Date.now() + body.ttl_sec * 1000;
      const port = body.port ?? PTY_LINK;
      const link = signLink(deps.hashKey, { a: accountId, s: sessionId, p: port, x: expires });
      const base = body.port !== undefined ? `/api/v1/sessions/${sessionId}/ports/${port}/` : `/api/v1/sessions/${sessionId}/pty`;
      const path = `${base}?${LINK_PARAM}=${encodeURIComponent(link)}`;
      const preview = body.port !== undefined ? previewUrl(ctx, sessionId, port) : undefined;
      ctx.status = 201;
      ctx.body = {
        path,
        url: `${ctx.protocol}://${ctx.host}${path}`,
        ...(preview ? { preview_url: `${preview}?${LINK_PARAM}=${encodeURIComponent(link)}` } : {}),
        expires_at: new Date(expires).toISOString(),
      };
    },

    sessionPty() {
      throw new DuraboxError('invalid_input', 'this route is a WebSocket: connect with Upgrade: websocket (see docs/workbench/terminal.md)');
    },

    sessionBrowserCdp() {
      throw new DuraboxError('invalid_input', 'this route is a WebSocket: connect with Upgrade: websocket, e.g. Playwright\'s chromium.connectOverCDP(url, {headers: {Authorization}})');
    },
  };
}

/** The session's registered services; none when it has no file yet (or an unreadable one, which is replaced). */
async function readServices(deps: AppDeps, accountId: string, sessionId: string): Promise<Record<string, { command: string }>> {
  try {
    const r = await deps.sessions.file(accountId, sessionId, { op: 'read', path: SERVICES_FILE, maxBytes: 1 << 20 });
    if (r.op !== 'read') return {};
    const parsed = JSON.parse(Buffer.from(r.contentBase64, 'base64').toString('utf8')) as unknown;
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, { command: string }>) : {};
  } catch (e) {
    if (e instanceof DuraboxError && e.code !== 'file_not_found') throw e;
    return {};
  }
}
