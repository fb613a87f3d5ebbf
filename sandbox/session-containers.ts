// The terminal sessions' containers on one host. A few are kept warm, so a new session takes one
// instead of waiting for Docker to create and start it. Each runs the session agent as PID 1; commands
// go to it as frames over the attached stdio, so a command costs no `docker exec`.
import { randomUUID } from 'node:crypto';
import type Docker from 'dockerode';
import type { RuntimeLimits } from '../config/index.js';
import { componentLog, errorFields } from '../config/log.js';
import type { CellResult, HostExecResult, Language } from '../contract/messages.js';
import { ChannelClosed, FrameChannel, type OnChunk } from './frame-channel.js';
import type { AgentRequest, CellAnswer, DeltaAnswer, ReadyFrame, Received, RestoreFrame, RunAnswer, SavedContexts } from './frames.js';
import { fitCellToPayload, fitOutputToPayload, hardenedHostConfig, sandboxLabels, SANDBOX_USER, writableTmpfsBytes } from './profile.js';
import { CELL_INTERRUPT_GRACE_MS, cellResultOf } from './cells.js';
import { inExecSpan } from './exec-span.js';
import { WarmPool } from './warm-pool.js';
import { sandboxNetwork, type Egress } from './egress.js';
import type { TemplateRef } from '../contract/templates.js';
import { templateLimits, type TemplateImages } from './template-images.js';
import { pid1Program, type Pid1Runtime } from './pid1-runtime.js';
import { restoreAnswerOf, type RestoreAnswer } from './workspace-checkpoint.js';
import type { Relays } from '../tunnel/relay.js';

/** The session agent as the worker composes it (the kernels test runs it as is). */
export const AGENT_SOURCE = pid1Program('session-agent.py', { kernels: true, restore: true, relay: true });

const SESSION_ENV = [
  'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  'HOME=/workspace',
  'LANG=C.UTF-8',
  'TERM=dumb',
];

/** The session's container is gone (removed, or its agent died). */
export class SessionGone extends Error {}

/** The container was already gone when a step came: the step did not begin. */
export class ContainerGone extends SessionGone {}

/** This host already holds its most sessions; the start goes to another host or ends as no_capacity. */
export class HostFull extends Error {}

/** Checkpoints up to this size are unpacked by the session's agent (one frame); larger ones by `docker exec tar`. */
export const RESTORE_BY_AGENT_BYTES = 8 * 1024 * 1024;

export type { SavedContexts } from './frames.js';

/** A session agent's answer to a delta request (session-agent.py). */
export type AgentDelta =
  | { kind: 'unchanged' }
  | { kind: 'too_large'; token: number }
  | { kind: 'walked'; token: number; contexts?: SavedContexts }
  | { kind: 'delta'; token: number; tar: Buffer; changed: number; deleted: number };

/** After its start step returned, how long a container may still be missing from its session's memo. */
const STARTED_GRACE_MS = 15_000;

export interface SessionContainerOptions {
  docker: Docker;
  workerId: string;
  limits: RuntimeLimits;
  warm: number;
  /** Most sessions held at once (DURABOX_HOST_MAX_SESSIONS). */
  maxSessions: number;
  /** Account templates' images on this host: a session of a template starts from its image, built first if missing. */
  images: TemplateImages;
  /** This host's egress proxy, for sessions of templates with a network (allowlist or full). */
  egress?: Egress;
  /** The base runtime's interpreter that runs the agent, whatever the image holds. */
  pid1: () => Promise<Pid1Runtime>;
  /** The workbench's streams into the containers (ports, browser, terminals). */
  relays?: Relays;
}

export class SessionContainers {
  /** Warm containers (their ids), not yet given to a session. */
  private readonly pool: WarmPool<string>;
  /** Containers owned by sessions, each with the time before which the reaper must spare it (Infinity while its session starts). */
  private readonly held = new Map<string, number>();
  /** Takes under way, counted against the most sessions before their container exists. */
  private taking = 0;
  /** Containers made but not yet ready (their agent is starting). */
  private readonly creating = new Set<string>();
  private readonly channels = new Map<string, Promise<FrameChannel>>();
  /** Gives back the allow-list network of a container that has one (made by this worker). */
  private readonly networks = new Map<string, () => void>();

  private readonly pinger: NodeJS.Timeout;

  constructor(private readonly o: SessionContainerOptions) {
    this.pool = new WarmPool({
      warm: o.warm,
      create: () => this.create(),
      discard: (id) => this.remove(id),
      onError: (e) => componentLog('worker', { worker_id: o.workerId }).error(errorFields(e), 'session container warm-up failed'),
    });
    this.pinger = setInterval(() => this.pingWarm(), 2000);
    this.pinger.unref();
  }

  /** Keeps `warm` containers ready; called at start and after every take. */
  refill(): void {
    this.pool.refill();
  }

  /** Session containers this host holds, found alive when its worker started. */
  adopt(ids: Iterable<string>): void {
    for (const id of ids) if (!this.held.has(id)) this.held.set(id, 0);
  }

  /**
   * A started container for a new session: a warm one when there is one. A session of an account template
   * gets a container of the template's image and limits (never a warm one of the base), its image built
   * here first when this host lacks it.
   */
  async take(template?: TemplateRef): Promise<string> {
    if (this.held.size + this.taking >= this.o.maxSessions) {
      throw new HostFull(`this host holds ${this.held.size} sessions, its most (DURABOX_HOST_MAX_SESSIONS=${this.o.maxSessions})`);
    }
    this.taking++;
    try {
      const limits = template ? templateLimits(this.o.limits, template) : undefined;
      if (template) await this.o.images.ready(template);
      // A warm container that died meanwhile (removed under this worker) is dropped for a fresh one.
      for (let warm = limits ? undefined : this.pool.take(); ; warm = undefined) {
        const id = warm ?? (await this.create(limits));
        this.held.set(id, Infinity);
        try {
          // From now on the agent stays when this worker goes: the session owns the container.
          (await this.channel(id)).send({ adopt: true });
          return id;
        } catch (e) {
          await this.remove(id).catch(() => undefined);
          if (!warm || !(e instanceof SessionGone)) throw e;
        }
      }
    } finally {
      this.taking--;
      this.refill();
    }
  }

  /** Warm containers end themselves when their worker stops pinging, so a killed worker leaves none. */
  private pingWarm(): void {
    for (const id of this.pool.idle) this.channels.get(id)?.then((c) => c.send({ ping: true }), () => undefined);
  }

  async exec(containerId: string, req: { command: string; timeoutMs: number; limitBytes: number }, onChunk?: OnChunk): Promise<HostExecResult> {
    // The agent enforces the timeout itself; the guard here only catches an agent that stopped answering.
    const r = (await this.request<RunAnswer>(containerId, { command: req.command, timeout_ms: req.timeoutMs, limit: req.limitBytes, stream: onChunk !== undefined }, req.timeoutMs + 15_000, onChunk)) as unknown as HostExecResult;
    const fit = fitOutputToPayload(r.stdout, r.stderr);
    return { ...r, stdout: fit.stdout, stderr: fit.stderr, stdout_truncated: r.stdout_truncated || fit.stdoutCut, stderr_truncated: r.stderr_truncated || fit.stderrCut };
  }

  /** Runs a cell in one of the session's interpreter contexts; the agent starts the context's process on first use. */
  async cell(containerId: string, req: { contextId: string; language: Language; code: string; timeoutMs: number; limitBytes: number }, onChunk?: OnChunk): Promise<CellResult> {
    const frame = await this.request<CellAnswer>(
      containerId,
      { cell: { language: req.language, code: req.code, context_id: req.contextId, timeout_ms: req.timeoutMs }, limit: req.limitBytes, stream: onChunk !== undefined },
      req.timeoutMs + CELL_INTERRUPT_GRACE_MS + 15_000,
      onChunk,
    );
    if (frame.error === 'context_language_mismatch') throw new Error(`context ${req.contextId} runs another language than ${req.language}`);
    return fitCellToPayload(cellResultOf(frame.cell_result));
  }

  /**
   * Unpacks a checkpoint's tar into the session's (fresh) workspace through its agent, which costs no
   * `docker exec`; for checkpoints up to RESTORE_BY_AGENT_BYTES (larger ones stream: writeWorkspaceStream).
   */
  async restore(containerId: string, tar: Buffer): Promise<RestoreAnswer> {
    return restoreAnswerOf(await this.request<RestoreFrame>(containerId, { restore: tar.toString('base64') }, 120_000));
  }

  /**
   * What changed in the session's workspace since its last stored checkpoint part, from its agent
   * (session-agent.py): a tar of it, or `unchanged`, or `tooLarge` (the changes hold more than
   * `maxBytes`: the caller stores the whole workspace instead). `walk` only notes the workspace as it is
   * now, for a full checkpoint or a restore. Whatever is answered counts as stored only once `commitDelta`.
   */
  async delta(containerId: string, mode: 'delta' | 'walk', maxBytes: number, opts: { contexts?: boolean } = {}): Promise<AgentDelta> {
    const f = await this.request<DeltaAnswer>(containerId, { delta: { mode, max_bytes: maxBytes, ...(opts.contexts ? { contexts: true } : {}) } }, 120_000);
    if (f.unchanged === true) return { kind: 'unchanged' };
    const token = Number(f.token);
    if (!Number.isSafeInteger(token)) throw new Error(`the session agent answered no delta: ${String(f.message ?? f.error ?? 'no token')}`);
    if (f.too_large === true) return { kind: 'too_large', token };
    if (typeof f.delta !== 'string') return { kind: 'walked', token, ...(f.contexts && typeof f.contexts === 'object' ? { contexts: f.contexts as SavedContexts } : {}) };
    return { kind: 'delta', token, tar: Buffer.from(f.delta, 'base64'), changed: Number(f.changed) || 0, deleted: Number(f.deleted) || 0 };
  }

  /** The delta (or walk) `token` is stored: the agent's next delta is taken from there. */
  async commitDelta(containerId: string, token: number): Promise<void> {
    (await this.channel(containerId)).send({ delta_commit: token });
  }

  /** The size of /workspace in a session's container (of its template, when it has one). */
  workspaceBytes(template?: TemplateRef): number {
    return writableTmpfsBytes(template ? templateLimits(this.o.limits, template) : this.o.limits).each;
  }

  /** Ends a context's process, if it has one. */
  async dropContext(containerId: string, contextId: string): Promise<void> {
    await this.request(containerId, { drop_context: contextId }, 15_000);
  }

  /** One request to the session's agent and its answer; a gone container or a silent agent is SessionGone. */
  private request<T>(containerId: string, body: AgentRequest, guardMs: number, onChunk?: OnChunk): Promise<Received<T>> {
    const kind = 'cell' in body ? 'cell' : 'command' in body ? 'command' : 'restore' in body ? 'restore' : 'delta' in body ? 'delta' : 'drop_context';
    return inExecSpan({ runtime: 'terminal', request: kind }, async (span) => {
      span.container(containerId);
      const answer = await this.ask<T>(containerId, body, guardMs, onChunk);
      span.exitCode((answer as Received<RunAnswer>).exit_code);
      return answer;
    });
  }

  private async ask<T>(containerId: string, body: AgentRequest, guardMs: number, onChunk?: OnChunk): Promise<Received<T>> {
    const ch = await this.channel(containerId);
    const id = randomUUID();
    ch.send({ id, ...body });
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        ch.reply<T>(id, onChunk),
        new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new SessionGone('the session agent stopped answering')), guardMs); }),
      ]);
    } catch (e) {
      if (e instanceof ChannelClosed || e instanceof SessionGone) {
        this.channels.delete(containerId);
        throw new SessionGone(e.message);
      }
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The session's start step has returned: its workflow records the container next. */
  started(id: string): void {
    if (this.held.has(id)) this.held.set(id, Date.now() + STARTED_GRACE_MS);
  }

  /** What the reaper must not remove besides the live sessions': warm containers and sessions still starting. */
  spared(): Set<string> {
    const now = Date.now();
    return new Set([...this.pool.idle, ...this.creating, ...[...this.held].filter(([, t]) => t > now).map(([id]) => id)]);
  }

  async remove(containerId: string): Promise<void> {
    this.held.delete(containerId);
    this.o.relays?.drop(containerId);
    const release = this.networks.get(containerId);
    this.networks.delete(containerId);
    const ch = this.channels.get(containerId);
    this.channels.delete(containerId);
    ch?.then((c) => c.close(), () => undefined);
    try {
      await this.o.docker.getContainer(containerId).remove({ force: true }).catch((e: { statusCode?: number }) => {
        if (e.statusCode !== 404) throw e;
      });
    } finally {
      release?.();
    }
  }

  /** Removes the warm containers and detaches from the sessions' (which live on without this worker). */
  async close(): Promise<void> {
    clearInterval(this.pinger);
    await this.pool.close();
    for (const ch of this.channels.values()) ch.then((c) => c.close(), () => undefined);
    this.channels.clear();
  }

  /** The attachment to a session's agent; after a worker restart the first command attaches again. */
  private channel(containerId: string): Promise<FrameChannel> {
    let ch = this.channels.get(containerId);
    if (!ch) {
      ch = FrameChannel.attach(this.o.docker.getContainer(containerId), 'session').catch((e: { statusCode?: number; message: string }) => {
        this.channels.delete(containerId);
        throw e.statusCode === 404 || e.statusCode === 409 ? new ContainerGone('the session\'s container is gone') : e;
      });
      this.channels.set(containerId, ch);
    }
    return ch.then((c) => {
      if (c.closed) {
        this.channels.delete(containerId);
        return this.channel(containerId);
      }
      return c;
    });
  }

  private async create(limits = this.o.limits): Promise<string> {
    const { docker, workerId } = this.o;
    const pid1 = await this.o.pid1();
    const net = await sandboxNetwork(this.o.egress, limits);
    let relay = await this.o.relays?.prepare();
    let container: Docker.Container;
    const make = () => docker.createContainer({
      Image: limits.image,
      Cmd: pid1.command(AGENT_SOURCE),
      User: SANDBOX_USER,
      WorkingDir: '/workspace',
      Env: [...SESSION_ENV, ...net.env],
      OpenStdin: true,
      StdinOnce: false, // a worker that detaches (or dies) leaves the agent running for the next one
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      NetworkDisabled: net.disabled,
      Labels: { ...sandboxLabels(workerId, 'terminal'), ...relay?.labels },
      // Removed by Docker when its agent ends: an unadopted container whose worker died, or a crash.
      HostConfig: { ...hardenedHostConfig(limits), ...net.hostConfig, Mounts: [pid1.mount, ...(relay ? [relay.mount] : [])] },
    });
    try {
      try {
        container = await make();
      } catch (e) {
        // A worker in a container whose relay directory is not a path of the Docker host: sessions go on
        // without the workbench's streams rather than not at all (deploy/platform.Dockerfile says how).
        if (!relay || !/bind source path does not exist/i.test((e as Error).message)) throw e;
        this.o.relays?.disable(`DURABOX_RELAY_DIR (${relay.mount.Source}) is not a directory of the Docker host: mount it into the worker's container at the same path`);
        this.o.relays?.discard(relay.labels);
        relay = undefined;
        container = await make();
      }
    } catch (e) {
      net.release();
      if (relay) this.o.relays?.discard(relay.labels);
      throw e;
    }
    if (relay) this.o.relays?.bind(container.id, relay.labels);
    this.networks.set(container.id, net.release);
    this.creating.add(container.id);
    try {
      const ch = await FrameChannel.attach(container, 'session');
      this.channels.set(container.id, Promise.resolve(ch));
      await container.start();
      const first = await ch.next<ReadyFrame>();
      if (first.ready !== true) throw new Error('session agent did not start');
      return container.id;
    } catch (e) {
      await this.remove(container.id).catch(() => undefined);
      throw e;
    } finally {
      this.creating.delete(container.id);
    }
  }
}
