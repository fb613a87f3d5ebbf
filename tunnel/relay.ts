// The host's end of the relay into each session container (sandbox/inside/session-relay.py has the other).
// Each container gets a directory of its own, mounted read-only at /run/durabox, where this worker listens
// on a Unix socket. The container's agent connects out to it: one control connection that takes requests,
// and one connection per stream it opens. The host never connects into a path the container controls, and
// the container sees no other container's socket.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { Logger } from '../config/log.js';
import { readLine } from './lines.js';
import type { TunnelTarget } from './grants.js';

export const LABEL_RELAY = 'durabox.relay';
export const RELAY_MOUNT = '/run/durabox';

/** The target could not be opened, for a reason the caller is told (a port nobody listens on, no browser…). */
export class RelayRefused extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** Streams a container may have open at once: each is a thread and two sockets in it. */
const MAX_STREAMS_PER_CONTAINER = 256;
/** How long a container's agent may take to come (back) to its control connection: it retries every 0.5 s. */
const CTL_WAIT_MS = 5000;

interface Pending { resolve(s: Socket): void; reject(e: Error): void; timer: NodeJS.Timeout }

/** One container's socket and what goes on over it. */
class RelayPoint {
  ctl?: Socket;
  private ctlWaiters: Array<() => void> = [];
  readonly pending = new Map<string, Pending>();
  readonly answers = new Map<string, (ports: number[]) => void>();
  streams = 0;

  constructor(readonly dir: string, readonly server: Server) {}

  attachCtl(s: Socket): void {
    this.ctl?.destroy();
    this.ctl = s;
    s.on('error', () => undefined);
    s.once('close', () => { if (this.ctl === s) this.ctl = undefined; });
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      if (buf.length > 1 << 20) return void s.destroy();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const m = JSON.parse(line) as { id?: string; ports?: unknown };
          const answer = typeof m.id === 'string' ? this.answers.get(m.id) : undefined;
          if (answer && Array.isArray(m.ports)) answer(m.ports.filter((p): p is number => Number.isInteger(p)));
        } catch {
          // not JSON: the container's business, ignored
        }
      }
    });
    s.resume();
    for (const w of this.ctlWaiters.splice(0)) w();
  }

  async control(): Promise<Socket> {
    if (this.ctl && !this.ctl.destroyed) return this.ctl;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new RelayRefused('relay_unavailable', 'the session\'s agent does not answer the relay (is the container still starting, or stopped?)')), CTL_WAIT_MS);
      this.ctlWaiters.push(() => { clearTimeout(timer); resolve(); });
    });
    return this.ctl!;
  }

  close(): void {
    this.ctl?.destroy();
    this.server.close();
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new RelayRefused('session_gone', 'the session\'s container is gone'));
    }
    this.pending.clear();
  }
}

export class Relays {
  private readonly points = new Map<string, RelayPoint>();
  /** Container id → relay key, learned from its label. */
  private readonly keys = new Map<string, string>();

  /** This worker's own directory under the root: several workers of one machine never touch each other's. */
  private readonly root: string;

  constructor(private readonly o: { root: string; workerId: string; docker: Docker; log: Logger }) {
    // Only this worker (and Docker, which mounts it) needs the root: no other user of the host reaches a socket.
    mkdirSync(o.root, { recursive: true, mode: 0o700 });
    chmodSync(o.root, 0o700);
    this.root = join(o.root, createHash('sha256').update(o.workerId).digest('hex').slice(0, 16));
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
  }

  /** Removes the directories of containers that are gone (removed while this worker was away). */
  sweep(liveKeys: Set<string>): void {
    for (const name of readdirSync(this.root)) {
      if (!liveKeys.has(name) && !this.points.has(name)) rmSync(join(this.root, name), { recursive: true, force: true });
    }
  }

  /** Why this host's containers get no relay (set once a container could not be given one). */
  private disabled?: string;

  disable(reason: string): void {
    if (this.disabled) return;
    this.disabled = reason;
    this.o.log.warn({ reason }, 'session containers get no relay: ports, the browser and terminals are not available on this host');
  }

  /** A relay point for a container about to be made: the label that names it and the mount that carries it. */
  async prepare(): Promise<{ labels: Record<string, string>; mount: Docker.MountSettings } | undefined> {
    if (this.disabled) return undefined;
    const key = randomBytes(16).toString('hex');
    const point = await this.listen(key);
    return { labels: { [LABEL_RELAY]: key }, mount: { Type: 'bind', Source: point.dir, Target: RELAY_MOUNT, ReadOnly: true } };
  }

  /** The container is made: its id is known. */
  bind(containerId: string, labels: Record<string, string>): void {
    this.keys.set(containerId, labels[LABEL_RELAY]);
  }

  /** A stream to `target` inside the container, once its agent opened it. */
  async open(containerId: string, target: Exclude<TunnelTarget, { ports: true }>): Promise<Socket> {
    const point = await this.pointOf(containerId);
    if (point.streams >= MAX_STREAMS_PER_CONTAINER) throw new RelayRefused('too_many_streams', `the session has ${MAX_STREAMS_PER_CONTAINER} streams open, its most`);
    const ctl = await point.control();
    const id = randomUUID();
    // Chromium's first start takes a few seconds, a port's registered service up to a minute; a terminal opens at once.
    const waitMs = 'port' in target ? 70_000 : 10_000;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const timer = setTimeout(() => {
        point.pending.delete(id);
        reject(new RelayRefused('relay_timeout', `the session did not open the stream within ${waitMs / 1000} s`));
      }, waitMs);
      point.pending.set(id, { resolve, reject, timer });
      ctl.write(`${JSON.stringify({ id, ...target })}\n`);
    });
    point.streams++;
    socket.once('close', () => { point.streams--; });
    return socket;
  }

  /** The TCP ports something in the container listens on. */
  async ports(containerId: string): Promise<number[]> {
    const point = await this.pointOf(containerId);
    const ctl = await point.control();
    const id = randomUUID();
    try {
      return await new Promise<number[]>((resolve, reject) => {
        const timer = setTimeout(() => reject(new RelayRefused('relay_timeout', 'the session did not list its ports within 5 s')), 5000);
        point.answers.set(id, (p) => { clearTimeout(timer); resolve(p); });
        ctl.write(`${JSON.stringify({ id, ports: true })}\n`);
      });
    } finally {
      point.answers.delete(id);
    }
  }

  /** The container was removed: its socket and directory go. */
  drop(containerId: string): void {
    const key = this.keys.get(containerId);
    this.keys.delete(containerId);
    if (key) this.discard({ [LABEL_RELAY]: key });
  }

  /** A relay point whose container was never made (or is gone). */
  discard(labels: Record<string, string>): void {
    const key = labels[LABEL_RELAY];
    if (!key) return;
    const point = this.points.get(key);
    this.points.delete(key);
    point?.close();
    rmSync(join(this.root, key), { recursive: true, force: true });
  }

  close(): void {
    for (const p of this.points.values()) p.close();
    this.points.clear();
  }

  private async pointOf(containerId: string): Promise<RelayPoint> {
    let key = this.keys.get(containerId);
    if (!key) {
      // A container adopted after this worker restarted: its label names its directory.
      const info = await this.o.docker.getContainer(containerId).inspect().catch((e: { statusCode?: number }) => {
        if (e.statusCode === 404) throw new RelayRefused('session_gone', 'the session\'s container is gone');
        throw e;
      });
      key = info.Config.Labels?.[LABEL_RELAY];
      if (!key || !/^[0-9a-f]{32}$/.test(key)) {
        throw new RelayRefused('relay_unavailable', this.disabled ?? 'this session\'s container was made before the workbench: it gets a relay when the session moves or resumes');
      }
      this.keys.set(containerId, key);
    }
    return this.points.get(key) ?? (await this.listen(key));
  }

  private async listen(key: string): Promise<RelayPoint> {
    const existing = this.points.get(key);
    if (existing) return existing;
    const dir = join(this.root, key);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755);
    const path = join(dir, 'relay.sock');
    try {
      unlinkSync(path); // left by this worker's previous run
    } catch {
      // none
    }
    const server = createServer((s) => this.accept(point, s));
    const point = new RelayPoint(dir, server);
    this.points.set(key, point);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => { server.off('error', reject); resolve(); });
    });
    chmodSync(path, 0o666); // the sandbox user connects; nobody else can reach the directory
    return point;
  }

  /** A connection from the container: its control connection, or the answer that opens a stream. */
  private accept(point: RelayPoint, s: Socket): void {
    s.on('error', () => undefined);
    readLine(s, 1024, 5000).then((line) => {
      if (line === 'ctl') return point.attachCtl(s);
      const a = JSON.parse(line) as { id?: unknown; ok?: unknown; error?: unknown; message?: unknown };
      const p = typeof a.id === 'string' ? point.pending.get(a.id) : undefined;
      if (!p) return void s.destroy();
      point.pending.delete(a.id as string);
      clearTimeout(p.timer);
      if (a.ok === true) return p.resolve(s);
      s.destroy();
      p.reject(new RelayRefused(String(a.error ?? 'relay_failed').slice(0, 64), String(a.message ?? 'the session could not open the stream').slice(0, 1000)));
    }).catch(() => s.destroy());
  }
}
