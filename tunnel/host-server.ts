// The execution host's tunnel listener: where the API opens streams into the session containers this host
// holds (a port, the browser's DevTools endpoint, a terminal). Each connection starts with one JSON line,
// {"grant": "t1…"}, a grant the API signed for this host, one container and one target; the host answers
// one line, {"ok": true} (then the stream's bytes) or {"ok": false, "error", "message"}.
import { createServer, type Server, type Socket } from 'node:net';
import type { KeyObject } from 'node:crypto';
import type { Logger } from '../config/log.js';
import { errorFields } from '../config/log.js';
import { openTunnelGrant, publicTunnelKey } from './grants.js';
import { readLine, splice } from './lines.js';
import { RelayRefused, type Relays } from './relay.js';

/** Streams this host carries at once, whatever their sessions: each holds sockets and a thread in its container. */
const MAX_TUNNELS = 2048;

export interface TunnelServerOptions {
  /** Where to listen: host:port (port 0: any free one). */
  listen: string;
  /** What the API is told to connect to; by default the address listened on. */
  advertise?: string;
  workerId: string;
  relays: Relays;
  log: Logger;
}

export class TunnelServer {
  private server?: Server;
  private key?: KeyObject;
  private keySource?: string;
  private open = 0;
  /** The address the API reaches this host's tunnels at (host:port), once listening. */
  address?: string;

  constructor(private readonly o: TunnelServerOptions) {}

  /** The API's public grant key, from its registry answers. */
  setKey(spkiBase64: string | undefined): void {
    if (!spkiBase64 || spkiBase64 === this.keySource) return;
    try {
      this.key = publicTunnelKey(spkiBase64);
      this.keySource = spkiBase64;
    } catch (e) {
      this.o.log.warn(errorFields(e as Error), 'tunnel: the API sent a grant key this host cannot read');
    }
  }

  async start(): Promise<string> {
    const { host, port } = splitHostPort(this.o.listen);
    const server = createServer((s) => this.accept(s));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => { server.off('error', reject); resolve(); });
    });
    const bound = server.address();
    const boundPort = typeof bound === 'object' && bound ? bound.port : port;
    this.address = this.o.advertise ?? `${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
    return this.address;
  }

  close(): void {
    this.server?.close();
  }

  private accept(s: Socket): void {
    s.on('error', () => undefined);
    s.setNoDelay(true);
    if (this.open >= MAX_TUNNELS) return void this.refuse(s, 'too_many_streams', `this host carries ${MAX_TUNNELS} streams, its most`);
    this.open++;
    s.once('close', () => { this.open--; });
    this.serve(s).catch((e: Error) => {
      if (e instanceof RelayRefused) return this.refuse(s, e.code, e.message);
      this.o.log.warn(errorFields(e), 'tunnel: a stream failed to open');
      this.refuse(s, 'relay_failed', e.message);
    });
  }

  private async serve(s: Socket): Promise<void> {
    let grant: unknown;
    try {
      grant = (JSON.parse(await readLine(s, 8192, 10_000)) as { grant?: unknown }).grant;
    } catch {
      return this.refuse(s, 'bad_request', 'a tunnel starts with one JSON line: {"grant": "…"}');
    }
    const claims = openTunnelGrant(this.key, grant, this.o.workerId);
    if (typeof claims === 'string') {
      this.o.log.warn({ reason: claims, remote: s.remoteAddress }, 'tunnel: refused a stream');
      return this.refuse(s, 'forbidden', claims);
    }
    const target = claims.t;
    if ('ports' in target) {
      const ports = await this.o.relays.ports(claims.c);
      s.end(`${JSON.stringify({ ok: true, ports })}\n`);
      return;
    }
    const inner = await this.o.relays.open(claims.c, target);
    inner.setNoDelay?.(true);
    if (s.destroyed) return void inner.destroy();
    s.write('{"ok":true}\n');
    splice(s, inner);
  }

  private refuse(s: Socket, error: string, message: string): void {
    if (!s.destroyed) s.end(`${JSON.stringify({ ok: false, error, message })}\n`);
  }
}

export function splitHostPort(addr: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(addr.trim());
  if (!m) throw new Error(`not host:port: ${addr}`);
  return { host: m[1] || '0.0.0.0', port: Number(m[2]) };
}
