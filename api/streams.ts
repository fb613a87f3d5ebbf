// The workbench's streams through the API (docs/workbench/ports.md, docs/workbench/terminal.md):
//   /api/v1/sessions/:id/ports/:port/…   HTTP and WebSocket to a server listening in the session
//   <port>-<session>.<DURABOX_PREVIEW_DOMAIN>   the same, on an origin of its own
//   /api/v1/sessions/:id/pty            WebSocket: the session's interactive terminal
//   /api/v1/sessions/:id/browser/cdp    WebSocket: the session's browser, raw Chrome DevTools Protocol
// Each opens a tunnel (tunnel/client.ts) into the session's container through its host. Bodies and
// WebSocket frames pass through as they come; nothing is buffered whole.
import { randomBytes } from 'node:crypto';
import { STATUS_CODES, createServer as createHttpServer, request as httpRequest, type Server, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo, Socket } from 'node:net';
import type { Context, Next } from 'koa';
import { WebSocketServer } from 'ws';
import { bridgePty } from './pty-bridge.js';
import { componentLog, errorFields } from '../config/log.js';
import { DuraboxError, type ErrorCode, ERROR_TABLE } from '../contract/errors.js';
import { keyedHash } from '../control/security.js';
import { openLink, PTY_LINK, type LinkClaims } from '../tunnel/links.js';
import { PEER_CREDENTIAL_HEADERS } from '../peer/common.js';
import { E2B_TRAFFIC_HEADER, openSandboxToken } from '../peer/e2b/protocol.js';
import { readUntil, splice } from '../tunnel/lines.js';
import { SESSION_COOKIE } from './auth.js';
import type { AppDeps } from './context.js';
import { sessionErrorAnswer, sessionIdOf } from './handlers/sessions.js';

const log = componentLog('api');

/** The cookie a preview host keeps its link in, after the link opened it once. */
export const LINK_COOKIE = 'durabox_link';
/** The query parameter a signed link travels in. */
export const LINK_PARAM = 'durabox_link';

const PORT_PATH = /^\/api\/v1\/sessions\/([^/]+)\/ports\/(\d{1,5})(\/.*)?$/;
const LINK_PATH = /^\/api\/v1\/links\/(l1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)(\/.*)?$/;
const PTY_PATH = /^\/api\/v1\/sessions\/([^/]+)\/pty$/;
const CDP_PATH = /^\/api\/v1\/sessions\/([^/]+)\/browser\/cdp$/;

// Hop-by-hop headers (RFC 9110 §7.6.1) end at each hop; the caller's credentials never reach the session.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'authorization', ...PEER_CREDENTIAL_HEADERS]);
/**
 * A page served from a session on the API's own origin would run its scripts there, beside the dashboard's
 * login cookie: it gets a sandboxed, opaque origin instead (a preview domain gives it a real one).
 */
const SANDBOX_CSP = 'sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads';

interface Target {
  sessionId: string;
  port: number;
  rest: string;
  preview: boolean;
  /** Reached by a link in the path (/api/v1/links/<link>/…): the link is the credential, and the prefix. */
  link?: { claims: LinkClaims; prefix: string };
}

/** Who may open a stream of a session, from the request alone (headers, cookies, the link). */
async function callerOf(deps: AppDeps, req: IncomingMessage, want: { sessionId: string; port: number }, opts: { websocket: boolean }): Promise<string> {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (bearer) {
    const account = await deps.accounts.byTokenHash(keyedHash(deps.hashKey, bearer[1]));
    if (!account) throw new DuraboxError('unauthenticated', 'invalid access token');
    return account.id;
  }
  // An E2B sandbox's traffic token (peer/e2b) opens that sandbox's ports, as E2B's own does.
  const traffic = req.headers[E2B_TRAFFIC_HEADER];
  if (typeof traffic === 'string') {
    const claims = openSandboxToken(deps.hashKey, traffic, 'traffic');
    if (!claims) throw new DuraboxError('unauthenticated', `${E2B_TRAFFIC_HEADER}: not a valid traffic token`);
    if (claims.s !== want.sessionId) throw new DuraboxError('forbidden', `${E2B_TRAFFIC_HEADER}: the token is for another sandbox`);
    if ((await deps.accounts.byTokenHash(claims.h))?.id !== claims.a) throw new DuraboxError('unauthenticated', `${E2B_TRAFFIC_HEADER}: the API key it was given for has been deleted`);
    return claims.a;
  }
  const url = new URL(req.url ?? '/', 'http://x');
  const cookies = cookiesOf(req);
  const link = url.searchParams.get(LINK_PARAM) ?? cookies[LINK_COOKIE];
  if (link) {
    const claims = openLink(deps.hashKey, link);
    if (!claims) throw new DuraboxError('unauthenticated', 'the link is not valid or has expired: ask for a new one (POST /api/v1/sessions/{id}/links)');
    if (!linkOpens(claims, want)) throw new DuraboxError('forbidden', 'the link opens another session or port');
    return claims.a;
  }
  const sid = cookies[SESSION_COOKIE];
  if (sid && sid.length <= 128) {
    // A browser sends the login cookie with any site's WebSocket: only the API's own pages may use it there.
    if (opts.websocket && !sameOrigin(req)) throw new DuraboxError('forbidden', 'a WebSocket with the login cookie must come from the dashboard\'s own origin');
    // Lax cookies ride along on another site's links too: a request another site started (a link, a form)
    // must not act on the user's session servers as the user. The browser says where a request came from.
    const site = req.headers['sec-fetch-site'];
    if (site === 'cross-site' || site === 'same-site') throw new DuraboxError('forbidden', 'the login cookie opens a session\'s port only from the dashboard, or from an address typed in: another site\'s link needs a signed link instead');
    const account = await deps.accounts.accountOfLoginSession(keyedHash(deps.hashKey, sid));
    if (account) return account.id;
  }
  throw new DuraboxError('unauthenticated', 'send Authorization: Bearer <token>, a signed link (?durabox_link=), or log in to the dashboard');
}

function linkOpens(c: LinkClaims, want: { sessionId: string; port: number }): boolean {
  return c.s === want.sessionId && c.p === want.port;
}

function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (!origin) return true; // not a browser: the cookie was put there by whoever holds it
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

function cookiesOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = decodeURIComponent(part.slice(eq + 1).trim());
  }
  return out;
}

/** The cookies the session's server may see: the platform's own are taken out. */
function forwardedCookie(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const kept = header.split(';').filter((p) => {
    const name = p.split('=')[0].trim();
    return name !== SESSION_COOKIE && name !== LINK_COOKIE;
  });
  return kept.length > 0 ? kept.join(';').trim() : undefined;
}

/**
 * A cookie the session's server sets, as the caller's browser may keep it (undefined: dropped). The
 * platform's own cookies are never a session's to set: its server would sign a visitor into another
 * account, or swap their link. Domain goes (a parent domain's cookie would reach the API and every other
 * preview). On the API's paths a cookie stays under its port's path (`portPath`), off the dashboard's.
 */
export function confineCookie(value: string, portPath: string | undefined): string | undefined {
  const [pair, ...attrs] = value.split(';');
  const eq = pair.indexOf('=');
  const name = eq > 0 ? pair.slice(0, eq).trim() : '';
  // A nameless cookie (`=durabox_session=…`) is read differently by different browsers: none is kept.
  if (!name || name === SESSION_COOKIE || name === LINK_COOKIE) return undefined;
  let path = '/';
  const kept = attrs.filter((a) => {
    const key = a.split('=')[0].trim().toLowerCase();
    if (key === 'path' && portPath !== undefined) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1).trim() : '';
      if (v.startsWith('/')) path = v;
      return false;
    }
    return key !== 'domain';
  });
  if (portPath !== undefined) kept.push(` Path=${portPath}${path}`);
  return [pair, ...kept].join(';');
}

/** The path of a port on the API's own paths: its cookies stay under it. */
function portPathOf(t: Target): string | undefined {
  if (t.preview) return undefined;
  return t.link?.prefix ?? `/api/v1/sessions/${encodeURIComponent(t.sessionId)}/ports/${t.port}`;
}

/** An HTTP response head from a session's server, its Set-Cookie lines confined (folded lines unfolded first). */
function confineHead(head: string, portPath: string | undefined): string {
  const lines: string[] = [];
  for (const line of head.split('\r\n')) {
    if (/^[ \t]/.test(line) && lines.length > 1) lines[lines.length - 1] += ` ${line.trim()}`;
    else lines.push(line);
  }
  const out = lines.flatMap((line) => {
    const m = /^set-cookie\s*:(.*)$/i.exec(line);
    if (!m) return [line];
    const kept = confineCookie(m[1].trim(), portPath);
    return kept === undefined ? [] : [`set-cookie: ${kept}`];
  });
  return out.join('\r\n');
}

/** A port request by path, or by preview host name. */
function portTarget(deps: AppDeps, req: IncomingMessage): Target | undefined {
  const url = new URL(req.url ?? '/', 'http://x');
  const domain = deps.api.previewDomain;
  const host = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
  if (domain && host.endsWith(`.${domain}`)) {
    const m = /^(\d{1,5})-(.+)$/.exec(host.slice(0, -domain.length - 1));
    if (m) return { port: Number(m[1]), sessionId: m[2], rest: pathWithoutLink(url), preview: true };
  }
  const byLink = LINK_PATH.exec(url.pathname);
  if (byLink) {
    // The link names the account, session and port; relative URLs in its pages keep it, so their scripts,
    // styles and images come through it too (a cookie would not: the page's origin is sandboxed).
    const claims = openLink(deps.hashKey, byLink[1]);
    if (!claims || claims.p === PTY_LINK) throw new DuraboxError('unauthenticated', 'the link is not valid or has expired: ask for a new one (POST /api/v1/sessions/{id}/links)');
    url.pathname = byLink[2] ?? '/';
    return { sessionId: claims.s, port: claims.p, rest: pathWithoutLink(url), preview: false, link: { claims, prefix: `/api/v1/links/${byLink[1]}` } };
  }
  const m = PORT_PATH.exec(url.pathname);
  if (!m) return undefined;
  url.pathname = m[3] ?? '/';
  return { sessionId: decodeURIComponent(m[1]), port: Number(m[2]), rest: pathWithoutLink(url), preview: false };
}

function pathWithoutLink(url: URL): string {
  url.searchParams.delete(LINK_PARAM);
  return `${url.pathname}${url.search}`;
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new DuraboxError('invalid_input', `port: must be 1-65535, not ${port}`);
}

/** The request's headers as the session's server gets them. */
function upstreamHeaders(req: IncomingMessage, t: Target, keepUpgrade: boolean): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers as IncomingHttpHeaders)) {
    if (v === undefined || k === 'cookie') continue;
    if (HOP_BY_HOP.has(k) && !(keepUpgrade && (k === 'upgrade' || k === 'connection'))) continue;
    out[k] = v;
  }
  const cookie = forwardedCookie(req.headers.cookie);
  if (cookie) out.cookie = cookie;
  // Dev servers refuse unknown Host names (DNS rebinding guards): the request is local where it lands.
  out.host = `localhost:${t.port}`;
  out['x-forwarded-host'] = req.headers.host ?? '';
  out['x-forwarded-proto'] = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  const prefix = portPathOf(t);
  if (prefix) out['x-forwarded-prefix'] = prefix;
  return out;
}

/** Koa middleware: HTTP requests to a session's port, by path or preview host; everything else goes on. */
export function portProxy(deps: AppDeps) {
  return async (ctx: Context, next: Next) => {
    const t = portTarget(deps, ctx.req);
    if (!t) return next();
    try {
      await proxyPort(deps, ctx, t);
    } catch (e) {
      throw e instanceof DuraboxError ? sessionErrorAnswer(e) : e;
    }
  };
}

async function proxyPort(deps: AppDeps, ctx: Context, t: Target): Promise<void> {
  sessionIdOf(t.sessionId);
  checkPort(t.port);
  const accountId = t.link?.claims.a ?? (await callerOf(deps, ctx.req, { sessionId: t.sessionId, port: t.port }, { websocket: false }));
  const url = new URL(ctx.req.url ?? '/', 'http://x');
  const link = url.searchParams.get(LINK_PARAM);
  if (t.preview && link) {
    // The link opened the preview host: keep it in a cookie of that host alone, and drop it from the URL.
    ctx.cookies.set(LINK_COOKIE, link, { httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: '/', overwrite: true });
    ctx.redirect(t.rest);
    return;
  }
  const socket = await deps.tunnels.open(accountId, t.sessionId, { port: t.port });
  void deps.sessions.used(accountId, t.sessionId);
  ctx.respond = false;
  await forward(ctx.req, ctx.res, socket, t);
}

function forward(req: IncomingMessage, res: ServerResponse, socket: Socket, t: Target): Promise<void> {
  return new Promise((resolve) => {
    const up = httpRequest({
      method: req.method,
      path: t.rest,
      headers: upstreamHeaders(req, t, false),
      // No agent: the tunnel is this request's one connection.
      createConnection: () => flowing(socket),
    });
    const fail = (e: Error) => {
      socket.destroy();
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: `the session's server on port ${t.port} broke the response off: ${e.message}`, code: 'execution_failed' }));
      } else {
        res.destroy();
      }
      resolve();
    };
    up.on('error', fail);
    up.on('response', (answer) => {
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(answer.headers)) if (v !== undefined && !HOP_BY_HOP.has(k) && k !== 'set-cookie') headers[k] = v;
      const cookies = (answer.headers['set-cookie'] ?? []).flatMap((c) => confineCookie(c, portPathOf(t)) ?? []);
      if (cookies.length > 0) headers['set-cookie'] = cookies;
      if (!t.preview) headers['content-security-policy'] = SANDBOX_CSP;
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, headers);
      answer.pipe(res);
      answer.on('error', () => res.destroy());
      res.on('close', () => { socket.destroy(); resolve(); });
    });
    req.pipe(up);
    req.on('aborted', () => socket.destroy());
  });
}

/**
 * A tunnel comes paused, its first bytes put back after the answer line (tunnel/lines.ts): the HTTP client
 * hooks its parser on the next tick, so the bytes flow once it has.
 */
function flowing(socket: Socket): Socket {
  setImmediate(() => socket.resume());
  return socket;
}

/** Answers a refused upgrade as HTTP on the raw socket, in the API's error shape. */
function refuseUpgrade(socket: Duplex, e: unknown): void {
  const err = e instanceof DuraboxError ? e : new DuraboxError('internal', (e as Error).message);
  if (!(e instanceof DuraboxError)) log.error(errorFields(e as Error), 'a stream upgrade failed');
  const status = ERROR_TABLE[err.code as ErrorCode]?.status ?? 500;
  const body = JSON.stringify({ error: ERROR_TABLE[err.code as ErrorCode]?.message ?? err.message, code: err.code, message: err.message });
  if (socket.writable) socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  else socket.destroy();
}


/**
 * Writes an upgrade request to the session's server and joins the two sockets once its answer's head is
 * through: the head's cookies are confined as an HTTP answer's are (a browser keeps a WebSocket handshake's
 * cookies too).
 */
function passUpgrade(req: IncomingMessage, client: Duplex, head: Buffer, upstream: Socket, path: string, headers: Record<string, string | string[]>, portPath: string | undefined): void {
  const lines = [`${req.method ?? 'GET'} ${path} HTTP/1.1`];
  for (const [k, v] of Object.entries(headers)) for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one.replace(/[\r\n]/g, '')}`);
  upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
  if (head.length > 0) upstream.write(head);
  client.once('close', () => upstream.destroy());
  readUntil(upstream, '\r\n\r\n', 64 * 1024, 75_000, 'an answer head').then((head) => {
    const answer = head.toString('latin1');
    client.write(Buffer.from(`${confineHead(answer, portPath)}\r\n\r\n`, 'latin1'));
    splice(client as Socket, upstream);
  }, (e: Error) => {
    upstream.destroy();
    const body = JSON.stringify({ error: `the session's server broke the upgrade off: ${e.message}`, code: 'execution_failed' });
    if (client.writable) client.end(`HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
}


/** The server's 'upgrade' handler: WebSockets to ports, the terminal and the browser. */
export function streamUpgrades(deps: AppDeps) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => undefined);
    upgrade(deps, wss, req, socket, head).catch((e) => refuseUpgrade(socket, e));
  };
}

async function upgrade(deps: AppDeps, wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const port = portTarget(deps, req);
  if (port) {
    sessionIdOf(port.sessionId);
    checkPort(port.port);
    const accountId = port.link?.claims.a ?? (await callerOf(deps, req, { sessionId: port.sessionId, port: port.port }, { websocket: true }));
    const upstream = await deps.tunnels.open(accountId, port.sessionId, { port: port.port });
    void deps.sessions.used(accountId, port.sessionId);
    return passUpgrade(req, socket, head, upstream, port.rest, upstreamHeaders(req, port, true), portPathOf(port));
  }
  let m = PTY_PATH.exec(url.pathname);
  if (m) {
    const sessionId = sessionIdOf(decodeURIComponent(m[1]));
    const accountId = await callerOf(deps, req, { sessionId, port: PTY_LINK }, { websocket: true });
    const size = (name: string, dflt: number) => {
      const v = url.searchParams.get(name);
      const n = v === null ? dflt : Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 1000) throw new DuraboxError('invalid_input', `${name}: must be an integer 1-1000`);
      return n;
    };
    const name = url.searchParams.get('name') ?? 'main';
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new DuraboxError('invalid_input', 'name: 1-64 letters, digits, _ . -');
    const upstream = await deps.tunnels.open(accountId, sessionId, { pty: { name, cols: size('cols', 80), rows: size('rows', 24) } });
    const used = (now = false) => void deps.sessions.used(accountId, sessionId, now);
    wss.handleUpgrade(req, socket, head, (ws) => bridgePty(ws, upstream, used));
    return;
  }
  m = CDP_PATH.exec(url.pathname);
  if (m) {
    const sessionId = sessionIdOf(decodeURIComponent(m[1]));
    const accountId = await callerOf(deps, req, { sessionId, port: -1 }, { websocket: true });
    return bridgeCdp(deps, req, socket, head, accountId, sessionId);
  }
  throw new DuraboxError('not_found', `no WebSocket route for ${url.pathname}`);
}

/**
 * The session's browser for this process's own use (the browser tools, api/workbench/browser.ts): a
 * loopback WebSocket endpoint that a CDP client such as playwright-core connects to, good for one
 * connection within a minute, bridged to the browser through the tunnel like /browser/cdp.
 */
export class CdpBridge {
  private server?: Server;
  private port?: Promise<number>;
  private readonly tickets = new Map<string, { accountId: string; sessionId: string; expires: number }>();

  constructor(private readonly deps: AppDeps) {}

  async cdpEndpoint(accountId: string, sessionId: string): Promise<{ wsUrl: string; headers: Record<string, string> }> {
    const port = await this.listen();
    const ticket = randomBytes(24).toString('base64url');
    const now = Date.now();
    for (const [k, t] of this.tickets) if (t.expires < now) this.tickets.delete(k);
    this.tickets.set(ticket, { accountId, sessionId, expires: now + 60_000 });
    return { wsUrl: `ws://127.0.0.1:${port}/cdp/${ticket}`, headers: {} };
  }

  close(): void {
    this.server?.close();
    this.server?.closeAllConnections();
  }

  private listen(): Promise<number> {
    this.port ??= new Promise<number>((resolve, reject) => {
      const server = createHttpServer((_req, res) => { res.writeHead(404).end(); });
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        socket.on('error', () => undefined);
        const ticket = /^\/cdp\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '')?.[1];
        const t = ticket ? this.tickets.get(ticket) : undefined;
        if (ticket) this.tickets.delete(ticket);
        if (!t || t.expires < Date.now()) return refuseUpgrade(socket, new DuraboxError('unauthenticated', 'no such ticket'));
        bridgeCdp(this.deps, req, socket, head, t.accountId, t.sessionId).catch((e) => refuseUpgrade(socket, e));
      });
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
      server.unref();
      this.server = server;
    });
    return this.port;
  }
}

/** A CDP WebSocket joined to the session's browser (started on first use). */
async function bridgeCdp(deps: AppDeps, req: IncomingMessage, socket: Duplex, head: Buffer, accountId: string, sessionId: string): Promise<void> {
  const path = await browserPath(deps, accountId, sessionId);
  const upstream = await deps.tunnels.open(accountId, sessionId, { port: BROWSER_PORT, browser: true });
  const headers = upstreamHeaders(req, { sessionId, port: BROWSER_PORT, rest: path, preview: true }, true);
  // Chromium refuses DevTools WebSockets that name an Origin it was not told of: the API is the client here.
  delete headers.origin;
  delete headers['x-forwarded-host'];
  delete headers['x-forwarded-proto'];
  passUpgrade(req, socket, head, upstream, path, headers, undefined);
}

/** The port the session's browser serves DevTools on (sandbox/inside/session-relay.py). */
export const BROWSER_PORT = 9222;

/** The path of the browser's DevTools WebSocket, from its /json/version (starting the browser if need be). */
export async function browserPath(deps: AppDeps, accountId: string, sessionId: string): Promise<string> {
  const socket = await deps.tunnels.open(accountId, sessionId, { port: BROWSER_PORT, browser: true });
  const body = await new Promise<string>((resolve, reject) => {
    const r = httpRequest({ method: 'GET', path: '/json/version', headers: { host: `localhost:${BROWSER_PORT}` }, createConnection: () => flowing(socket) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; if (text.length > 65536) res.destroy(new Error('too long')); });
      res.on('end', () => resolve(text));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end();
  }).finally(() => socket.destroy());
  let ws: unknown;
  try {
    ws = (JSON.parse(body) as { webSocketDebuggerUrl?: unknown }).webSocketDebuggerUrl;
  } catch {
    ws = undefined;
  }
  if (typeof ws !== 'string') throw new DuraboxError('browser_unavailable', 'the session\'s browser did not say where its DevTools endpoint is');
  return new URL(ws).pathname;
}
