// The workbench's REST calls beside its streams (api/streams.ts): the ports a session listens on, signed
// links to a port or the terminal, and the WebSocket routes' answer to a plain GET.
import { DuraboxError } from '../../contract/errors.js';
import { PTY_LINK, signLink } from '../../tunnel/links.js';
import type { AppDeps } from '../context.js';
import type { Handlers } from '../routes.js';
import { LINK_PARAM } from '../streams.js';
import { answer, sessionErrorAnswer, sessionIdOf } from './sessions.js';

/** Where a session keeps its services (sandbox/inside/session-relay.py reads it). */
export const SERVICES_FILE = '/workspace/.durabox/services.json';

export function workbenchHandlers(deps: AppDeps): Pick<Handlers, 'listSessionPorts' | 'createSessionService' | 'createSessionLink' | 'sessionPty' | 'sessionBrowserCdp'> {
  return {
    async listSessionPorts(ctx) {
      const sessionId = sessionIdOf(ctx.params.id);
      const ports = await answer(() => deps.tunnels.ports(ctx.state.account!.id, sessionId));
      ctx.body = {
        ports: ports.map((port) => {
          const preview = previewUrl(deps, ctx, sessionId, port);
          return { port, path: `/api/v1/sessions/${sessionId}/ports/${port}/`, ...(preview ? { preview_url: preview } : {}) };
        }),
      };
    },

    async createSessionService(ctx, { body }) {
      const sessionId = sessionIdOf(ctx.params.id);
      const accountId = ctx.state.account!.id;
      await answer(() => registerService(deps, accountId, sessionId, body.port, body.command));
      if (body.start) await answer(() => openPort(deps, accountId, sessionId, body.port));
      const listening = body.start;
      const preview = previewUrl(deps, ctx, sessionId, body.port);
      ctx.status = 201;
      ctx.body = { port: body.port, command: body.command, path: `/api/v1/sessions/${sessionId}/ports/${body.port}/`, listening, ...(preview ? { preview_url: preview } : {}) };
    },

    async createSessionLink(ctx, { body }) {
      const sessionId = sessionIdOf(ctx.params.id);
      const accountId = ctx.state.account!.id;
      // Only a session of the caller's account gets a link (another's is not found).
      const s = await answer(() => deps.sessions.get(accountId, sessionId));
      if (!s || s.status === 'ended') throw sessionErrorAnswer(new DuraboxError('session_not_found', `no session ${sessionId}`));
      ctx.status = 201;
      ctx.body = linkTo(deps, { protocol: ctx.protocol, host: ctx.host }, accountId, sessionId, body.port ?? PTY_LINK, body.ttl_sec);
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

/** Where the API was reached, for the URLs it answers. */
export interface Origin { protocol: string; host: string }

/** The port on its own origin, where the operator set DURABOX_PREVIEW_DOMAIN. */
export function previewUrl(deps: AppDeps, at: Origin, sessionId: string, port: number): string | undefined {
  const domain = deps.api.previewDomain;
  if (!domain) return undefined;
  const portSuffix = /:\d+$/.exec(at.host)?.[0] ?? '';
  return `${at.protocol}://${port}-${sessionId}.${domain}${portSuffix}/`;
}

/** A signed link to a port of the session (or, with PTY_LINK, its terminal) for `ttlSec`. */
export function linkTo(deps: AppDeps, at: Origin, accountId: string, sessionId: string, port: number, ttlSec: number): { path: string; url: string; preview_url?: string; expires_at: string } {
  const expires = Date.now() + ttlSec * 1000;
  const link = encodeURIComponent(signLink(deps.hashKey, { a: accountId, s: sessionId, p: port, x: expires }));
  // A port's link is a path of its own, so the page's relative URLs carry it; the terminal's is a parameter.
  const path = port !== PTY_LINK ? `/api/v1/links/${link}/` : `/api/v1/sessions/${sessionId}/pty?${LINK_PARAM}=${link}`;
  const preview = port !== PTY_LINK ? previewUrl(deps, at, sessionId, port) : undefined;
  return { path, url: `${at.protocol}://${at.host}${path}`, ...(preview ? { preview_url: `${preview}?${LINK_PARAM}=${link}` } : {}), expires_at: new Date(expires).toISOString() };
}

/** Registers a port's service in the session's services file: a file call like any other, durable, checkpointed. */
export async function registerService(deps: AppDeps, accountId: string, sessionId: string, port: number, command: string): Promise<void> {
  const services = await readServices(deps, accountId, sessionId);
  services[String(port)] = { command };
  await deps.sessions.file(accountId, sessionId, { op: 'write', path: SERVICES_FILE, contentBase64: Buffer.from(`${JSON.stringify(services, null, 2)}\n`).toString('base64') });
}

/** Opens the port once (starting its registered service if nothing listens): port_not_listening when it cannot. */
export async function openPort(deps: AppDeps, accountId: string, sessionId: string, port: number): Promise<void> {
  (await deps.tunnels.open(accountId, sessionId, { port })).destroy();
}
