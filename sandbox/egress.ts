// Egress for sandboxes of templates with a network (spec §3.2), enforced outside the sandbox. Each such
// sandbox, allow-list or `full`, gets a Docker network of its own: internal (no route out) and with no
// address on the host (the bridge's IPv4 is inhibited), so neither the host's services nor other
// sandboxes are reachable. Its only other member is this host's egress proxy (inside/egress-proxy.py), which
// listens there with the sandbox's policy (its allow-list, or any public destination for `full`): an
// HTTP proxy (CONNECT, so any TCP protocol) and the sandbox's DNS server. The proxy refuses private,
// local and special addresses and the host's own, whatever the policy (docs/security/egress.md). The
// proxy's own container sits on the default bridge to reach out.
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import type Docker from 'dockerode';
import type { EgressPolicy, RuntimeLimits } from '../config/index.js';
import { componentLog, errorFields } from '../config/log.js';
import { FrameChannel } from './frame-channel.js';
import type { ProxyAnswer, ProxyRequest, ReadyFrame } from './frames.js';
import { pid1Program } from './pid1-runtime.js';
import { LABEL_MANAGED, LABEL_WORKER, sandboxLabels, SANDBOX_USER } from './profile.js';

const PROXY_SOURCE = pid1Program('egress-proxy.py');

/** Marks the egress networks (their value: the policy, JSON: the allow-list or "public") and the proxy container ("proxy"). */
export const LABEL_EGRESS = 'io.durabox.egress';
export const EGRESS_HTTP_PORT = 3128;

/** Each sandbox's network: a /29 holds the (unassigned) gateway, the proxy and the sandbox. */
const NET_BITS = 29;

export interface EgressOptions {
  docker: Docker;
  workerId: string;
  /** An image with python3 on this host (a runtime's own). */
  image: string;
  /** The range the sandboxes' networks are cut from (DURABOX_EGRESS_SUBNET). */
  subnet: string;
  /** Private ranges an allow-list may reach; by default none: only public addresses (DURABOX_EGRESS_PRIVATE_CIDRS). */
  privateCidrs: string[];
  /** Names the proxy resolves itself, name=ip each (DURABOX_EGRESS_HOSTS). */
  hosts: string[];
  /** This host's own addresses, which the proxy never reaches unless privateCidrs opens them; default hostAddresses(). */
  hostAddresses?: string[];
}

/**
 * This machine's Docker bridge address: the IPv4 of the `docker0` interface, where a container on the
 * default bridge reaches the host. Read from the interface: Docker 20.10 leaves the `bridge` network's
 * IPAM gateway out when `docker0` already existed.
 */
export function bridgeAddress(): string | undefined {
  const listed = networkInterfaces().docker0?.find((a) => a.family === 'IPv4')?.address;
  if (listed) return listed;
  // Node lists only interfaces that are up and running: docker0 is not while no container is on it.
  try {
    const out = execFileSync('ip', ['-o', '-4', 'addr', 'show', 'dev', 'docker0'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
    return /\binet (\d+\.\d+\.\d+\.\d+)\//.exec(out)?.[1];
  } catch {
    return undefined; // no docker0 here (a worker in a container, or a daemon with another bridge)
  }
}

/**
 * Every address of this host (all interfaces, public ones too, and the bridge's): a sandbox's proxy
 * refuses them, so nothing listening on the host is reachable through it, on whatever address it listens.
 */
export function hostAddresses(): string[] {
  const all = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address.split('%')[0]));
  const bridge = bridgeAddress();
  return [...new Set(bridge ? [...all, bridge] : all)];
}

/** How a sandbox container is networked: `disabled` (none), the Docker bridge (the runtime's own network setting), or its own egress network. */
export interface SandboxNetwork {
  disabled: boolean;
  env: string[];
  hostConfig: Partial<Docker.HostConfig>;
  /** The sandbox is gone: its allow-list network goes too (call once it is removed, or on a failed create). */
  release: () => void;
}

export async function sandboxNetwork(egress: Egress | undefined, limits: RuntimeLimits): Promise<SandboxNetwork> {
  if (!limits.egress) return { disabled: !limits.network, env: [], hostConfig: {}, release: () => undefined };
  if (!egress) throw new Error('a sandbox of a template with a network needs this host\'s egress proxy');
  const lease = await egress.lease(limits.egress);
  return { disabled: false, env: lease.env, hostConfig: lease.hostConfig, release: () => egress.release(lease) };
}

/** A sandbox's network and what its container is created with. */
export interface EgressLease {
  network: string;
  proxyIp: string;
  hostConfig: { NetworkMode: string; Dns: string[] };
  env: string[];
}

/** The proxy's container, and its control channel: one request at a time (answers come in order). */
class Proxy {
  private turn: Promise<unknown> = Promise.resolve();

  constructor(readonly id: string, readonly channel: FrameChannel) {}

  request(body: ProxyRequest): Promise<void> {
    const r = this.turn.then(async () => {
      const id = randomBytes(8).toString('hex');
      this.channel.send({ id, ...body });
      const answer = await this.channel.reply<ProxyAnswer>(id);
      if (answer.error) throw new Error(`egress proxy: ${String(answer.error)}`);
    });
    this.turn = r.catch(() => undefined);
    return r;
  }
}

export class Egress {
  private proxy?: Promise<Proxy>;
  /** Networks leased and not yet given back: never swept, even while their sandbox is being made. */
  private readonly inUse = new Set<string>();
  /** Networks given back whose sandbox may still be going (Docker removes it): swept again shortly. */
  private readonly released = new Set<string>();
  private next: number;
  private readonly base: number;
  private readonly count: number;
  private sweepTimer?: NodeJS.Timeout;
  private periodic?: NodeJS.Timeout;
  private sweeping?: Promise<number>;
  private readonly log;

  constructor(private readonly o: EgressOptions) {
    const [addr, bits] = o.subnet.split('/');
    this.base = ipv4ToInt(addr);
    this.count = 2 ** (NET_BITS - Number(bits));
    // Workers sharing a Docker daemon start far apart; an overlap is met by trying the next block.
    this.next = parseInt(randomBytes(4).toString('hex'), 16) % this.count;
    this.log = componentLog('worker', { worker_id: o.workerId });
  }

  /** A network for one sandbox with this policy (an allow-list, or any public destination), the proxy listening on it. */
  async lease(allow: EgressPolicy): Promise<EgressLease> {
    const proxy = await this.ensureProxy();
    const { network, proxyIp } = await this.createNetwork(allow);
    try {
      await this.attachProxy(proxy, network, proxyIp, allow);
    } catch (e) {
      this.inUse.delete(network);
      await this.o.docker.getNetwork(network).remove().catch(() => undefined);
      throw e;
    }
    const url = `http://${proxyIp}:${EGRESS_HTTP_PORT}`;
    return {
      network,
      proxyIp,
      hostConfig: { NetworkMode: network, Dns: [proxyIp] },
      // Clients that honour the usual variables (curl, pip, npm, requests, git) go through the proxy.
      env: ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy'].map((k) => `${k}=${url}`),
    };
  }

  /** The sandbox of this lease is gone (or going): its network is removed once nothing but the proxy is on it. */
  release(lease: EgressLease | undefined): void {
    if (!lease) return;
    this.inUse.delete(lease.network);
    this.released.add(lease.network);
    this.sweepSoon();
  }

  /**
   * At the worker's start: the networks of sandboxes that outlived the last worker (sessions) get the new
   * proxy; the rest are removed.
   */
  async start(): Promise<void> {
    await this.sweep();
    const kept = await this.networks();
    if (kept.length > 0) await this.ensureProxy();
    // Sandboxes also end on their own (a session's agent exits, Docker removes it): their networks go here.
    // A proxy that died is replaced at once, not at the next lease: sessions on allow-lists need it.
    this.periodic = setInterval(() => {
      this.sweepSoon();
      if (this.proxy) this.ensureProxy().catch((e: Error) => this.log.warn(errorFields(e), 'egress: cannot restart the proxy'));
    }, 60_000);
    this.periodic.unref();
  }

  private sweepSoon(): void {
    if (this.sweepTimer) return;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      this.sweep().catch((e: Error) => this.log.warn(errorFields(e), 'egress: cannot remove unused networks'));
    }, 2000);
    this.sweepTimer.unref();
  }

  /** Removes this worker's egress networks that no sandbox is on (AutoRemove may still be removing one: later). */
  sweep(): Promise<number> {
    this.sweeping ??= this.sweepOnce().finally(() => { this.sweeping = undefined; });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<number> {
    let removed = 0;
    let waiting = false;
    const proxyId = await this.proxy?.then((p) => p.id, () => undefined);
    for (const n of await this.networks()) {
      if (this.inUse.has(n.Name)) continue;
      const info = (await this.o.docker.getNetwork(n.Id).inspect().catch(() => undefined)) as { Containers?: Record<string, { IPv4Address?: string }> } | undefined;
      if (!info) continue;
      const members = Object.keys(info.Containers ?? {}).filter((id) => id !== proxyId);
      if (members.length > 0) {
        waiting ||= this.released.has(n.Name);
        continue;
      }
      const proxyIp = proxyAddress(n.IPAM?.Config?.[0]?.Subnet);
      if (proxyId && proxyIp) {
        await this.proxy!.then((p) => p.request({ drop: proxyIp })).catch(() => undefined);
        await this.o.docker.getNetwork(n.Id).disconnect({ Container: proxyId, Force: true }).catch(() => undefined);
      }
      await this.o.docker.getNetwork(n.Id).remove().then(() => {
        removed++;
        this.released.delete(n.Name);
      }, () => { waiting = true; });
    }
    if (waiting) this.sweepSoon();
    return removed;
  }

  /** This host's proxy, made when first needed (or after it died) and attached to every network of this worker. */
  private ensureProxy(): Promise<Proxy> {
    const current = this.proxy;
    if (!current) return (this.proxy = this.createProxy());
    return current.then((p) => (p.channel.closed ? this.replace(current) : p), () => this.replace(current));
  }

  /** A new proxy instead of one that died or failed to start (once, however many callers noticed). */
  private replace(stale: Promise<Proxy>): Promise<Proxy> {
    if (this.proxy === stale) this.proxy = this.createProxy();
    return this.proxy!;
  }

  private async createProxy(): Promise<Proxy> {
    const { docker, workerId } = this.o;
    const container = await docker.createContainer({
      Image: this.o.image,
      Cmd: ['python3', '-c', PROXY_SOURCE],
      User: SANDBOX_USER,
      Env: [
        `EGRESS_PRIVATE_CIDRS=${JSON.stringify(this.o.privateCidrs)}`,
        `EGRESS_HOST_ADDRS=${JSON.stringify(this.o.hostAddresses ?? hostAddresses())}`,
        'LANG=C.UTF-8',
      ],
      OpenStdin: true,
      StdinOnce: true, // the worker's attach closing (a stop, or kill -9) ends the proxy
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Labels: sandboxLabels(workerId, 'egress', { [LABEL_EGRESS]: 'proxy' }),
      HostConfig: {
        NetworkMode: 'bridge',
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        ReadonlyRootfs: true,
        Memory: 256 * 1024 * 1024,
        MemorySwap: 256 * 1024 * 1024,
        PidsLimit: 64,
        // DNS on port 53 without any capability.
        Sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0' },
        ExtraHosts: this.o.hosts.map((h) => h.replace('=', ':')),
        AutoRemove: true,
        LogConfig: { Type: 'none', Config: {} },
      },
    });
    const channel = await FrameChannel.attach(container, 'egress');
    try {
      await container.start();
      if ((await channel.next<ReadyFrame>()).ready !== true) throw new Error('egress proxy did not start');
    } catch (e) {
      channel.close();
      await container.remove({ force: true }).catch(() => undefined);
      throw e;
    }
    const proxy = new Proxy(container.id, channel);
    // Sandboxes already on networks of this worker (sessions kept across a restart, or a proxy that died).
    for (const n of await this.networks()) {
      const ip = proxyAddress(n.IPAM?.Config?.[0]?.Subnet);
      if (!ip) continue;
      await this.attachProxy(proxy, n.Name, ip, JSON.parse(n.Labels?.[LABEL_EGRESS] ?? '[]') as EgressPolicy)
        .catch((e: Error) => this.log.warn({ network: n.Name, ...errorFields(e) }, 'egress: cannot attach the proxy to a network'));
    }
    return proxy;
  }

  private async attachProxy(proxy: Proxy, network: string, proxyIp: string, allow: EgressPolicy): Promise<void> {
    await this.o.docker.getNetwork(network).connect({ Container: proxy.id, EndpointConfig: { IPAMConfig: { IPv4Address: proxyIp } } }).catch((e: { statusCode?: number; message: string }) => {
      // Already attached (a second start of the same network): fine.
      if (!/already exists|already attached/i.test(e.message)) throw e;
    });
    await proxy.request({ listen: proxyIp, allow });
  }

  private async createNetwork(allow: EgressPolicy): Promise<{ network: string; proxyIp: string }> {
    let last: Error | undefined;
    for (let attempt = 0; attempt < 64; attempt++) {
      const block = this.base + ((this.next++ % this.count) << (32 - NET_BITS));
      const subnet = `${intToIpv4(block)}/${NET_BITS}`;
      const name = `durabox-egress-${randomBytes(6).toString('hex')}`;
      // In use from before it exists: a sweep listing it meanwhile must not take it for a leftover.
      this.inUse.add(name);
      try {
        await this.o.docker.createNetwork({
          Name: name,
          Driver: 'bridge',
          Internal: true,
          CheckDuplicate: true,
          IPAM: { Driver: 'default', Config: [{ Subnet: subnet, Gateway: intToIpv4(block + 1) }] },
          Options: {
            // No address on the host: the host's own services are out of reach, not just unrouted.
            'com.docker.network.bridge.inhibit_ipv4': 'true',
          },
          Labels: { [LABEL_MANAGED]: 'true', [LABEL_WORKER]: this.o.workerId, [LABEL_EGRESS]: JSON.stringify(allow) },
        });
        return { network: name, proxyIp: intToIpv4(block + 2) };
      } catch (e) {
        this.inUse.delete(name);
        last = e as Error;
        // Another worker (or a leftover) holds this block: take the next.
        if (!/overlap|in use|conflict/i.test(last.message)) throw e;
      }
    }
    throw new Error(`egress: no free /${NET_BITS} left in ${this.o.subnet}: ${last?.message}`);
  }

  private async networks(): Promise<Docker.NetworkInspectInfo[]> {
    return this.o.docker.listNetworks({ filters: { label: [LABEL_EGRESS, `${LABEL_WORKER}=${this.o.workerId}`] } });
  }

  /** Detaches from the proxy, which then ends; the networks of sessions stay for the next start. */
  async close(): Promise<void> {
    clearInterval(this.periodic);
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    const p = await this.proxy?.catch(() => undefined);
    p?.channel.close();
    this.proxy = undefined;
  }
}

/** The proxy's address on a sandbox's network: the second of its block (the first is the unassigned gateway). */
function proxyAddress(subnet: string | undefined): string | undefined {
  return subnet ? intToIpv4(ipv4ToInt(subnet.split('/')[0]) + 2) : undefined;
}

export function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

export function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}
