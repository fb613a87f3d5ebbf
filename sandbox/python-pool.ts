// Warm python sandboxes. Each container runs the keeper (inside/sandbox-keeper.py) as PID 1; an execution is
// one frame written to its attached stdin and one frame read back, so the hot path makes no Docker API
// call at all. A container serves one execution at a time, is reset in between (all processes killed,
// writable paths wiped, fresh environment) and is replaced after `maxUses` executions, on any doubt,
// and always after a timeout or cancellation (the container is killed).
import type Docker from 'dockerode';
import type { RuntimeLimits } from '../config/index.js';
import { componentLog, errorFields } from '../config/log.js';
import type { CellResult, Language } from '../contract/messages.js';
import { CELL_INTERRUPT_GRACE_MS, cellResultOf } from './cells.js';
import { ChannelClosed, FrameChannel, type OnChunk } from './frame-channel.js';
import type { KeeperAnswer, KeeperRequest, ReadyFrame, Received } from './frames.js';
import { fitCellToPayload, fitOutputToPayload, hardenedHostConfig, sandboxLabels, SANDBOX_USER } from './profile.js';
import { inExecSpan } from './exec-span.js';
import { WarmPool } from './warm-pool.js';
import { sandboxNetwork, type Egress } from './egress.js';
import { pid1Program, type Pid1Runtime } from './pid1-runtime.js';

/** The python keeper as the worker composes it (the kernels test runs it as is). */
export const KEEPER_SOURCE = pid1Program('sandbox-keeper.py', { kernels: true });

export interface PythonRunResult {
  exit_code: number;
  stdout: string;
  stderr: string;
  stdout_truncated: boolean;
  stderr_truncated: boolean;
}

export class SandboxTimeout extends Error {}
export class SandboxCancelled extends Error {}
/** The sandbox died under the execution for a reason that is not the user's code (Docker, the host). */
export class SandboxBroken extends Error {}

function broken(e: unknown): never {
  throw e instanceof ChannelClosed ? new SandboxBroken('sandbox container exited') : e;
}

/** A warm container and its keeper's channel; `uses` counts the executions it has served. */
class WarmSandbox {
  uses = 0;

  constructor(readonly channel: FrameChannel, private readonly onGone?: () => void) {}

  /** The next frame; a closed channel means the container is gone, not the user's doing. */
  next(): Promise<Received<ReadyFrame>> {
    return this.channel.next<ReadyFrame>().catch(broken);
  }

  /** The answer to the request in flight; output chunks before it go to `onChunk`. */
  answer(onChunk?: OnChunk): Promise<KeeperAnswer> {
    return this.channel.reply<KeeperAnswer>(undefined, onChunk).catch(broken);
  }

  async destroy(): Promise<void> {
    this.channel.close();
    // AutoRemove deletes it once it stops; a kill of an already gone container is not an error.
    await this.channel.container.kill().catch(() => undefined);
    this.onGone?.();
  }
}

export interface PythonPoolOptions {
  docker: Docker;
  workerId: string;
  limits: RuntimeLimits;
  warm: number;
  maxUses: number;
  outputLimitBytes: number;
  /** Most idle sandboxes kept after use (an account template's pool keeps few); default: all. */
  keepIdle?: number;
  /** This host's egress proxy, for sandboxes of templates with a network (allowlist or full). */
  egress?: Egress;
  /** The base runtime's interpreter that runs the keeper, whatever the image holds. */
  pid1: () => Promise<Pid1Runtime>;
}

export class PythonSandboxPool {
  private readonly pool: WarmPool<WarmSandbox>;

  constructor(private readonly opts: PythonPoolOptions) {
    this.pool = new WarmPool({
      warm: opts.warm,
      create: () => this.create(),
      discard: (sb) => sb.destroy(),
      onError: (e) => componentLog('worker', { worker_id: opts.workerId }).error(errorFields(e), 'python sandbox warm-up failed'),
    });
  }

  /** Keeps `warm` idle sandboxes ready; called at start and after every execution. */
  refill(): void {
    this.pool.refill();
  }

  get idle(): number { return this.pool.idle.length; }

  async run(code: string, timeoutMs: number, signal?: AbortSignal, onChunk?: OnChunk): Promise<PythonRunResult> {
    const result = (await this.execute({ code, limit: this.opts.outputLimitBytes, stream: onChunk !== undefined }, timeoutMs, signal, onChunk)) as unknown as PythonRunResult;
    const fit = fitOutputToPayload(result.stdout, result.stderr);
    return {
      ...result,
      stdout: fit.stdout,
      stderr: fit.stderr,
      stdout_truncated: result.stdout_truncated || fit.stdoutCut,
      stderr_truncated: result.stderr_truncated || fit.stderrCut,
    };
  }

  /**
   * Runs one code cell in a fresh interpreter of its language. The keeper interrupts a cell past its
   * timeout and answers with what it has; the pool's own timer, later, only guards against a keeper
   * that stopped answering.
   */
  async runCell(cell: { language: Language; code: string }, timeoutMs: number, signal?: AbortSignal, onChunk?: OnChunk): Promise<CellResult> {
    const frame = await this.execute(
      { cell: { ...cell, timeout_ms: timeoutMs }, limit: this.opts.outputLimitBytes, stream: onChunk !== undefined },
      timeoutMs + CELL_INTERRUPT_GRACE_MS, signal, onChunk,
    );
    return fitCellToPayload(cellResultOf(frame.cell_result));
  }

  /** One request to a warm sandbox, its answer, and the sandbox's recycling (or its end, on any doubt). */
  private execute(request: KeeperRequest, timeoutMs: number, signal: AbortSignal | undefined, onChunk: OnChunk | undefined): Promise<KeeperAnswer> {
    return inExecSpan({ runtime: 'python', request: 'cell' in request ? 'cell' : 'code' }, async (span) => {
      const warm = this.pool.take();
      const sb = warm ?? (await this.create());
      span.container(sb.channel.container.id, { 'durabox.sandbox.warm': warm !== undefined, 'durabox.sandbox.use': sb.uses + 1 });
      const answer = await this.runIn(sb, request, timeoutMs, signal, onChunk);
      span.exitCode(answer.exit_code);
      return answer;
    });
  }

  private async runIn(sb: WarmSandbox, request: KeeperRequest, timeoutMs: number, signal: AbortSignal | undefined, onChunk: OnChunk | undefined): Promise<KeeperAnswer> {
    this.refill();
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      sb.uses++;
      sb.channel.send(request);
      const stopped = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new SandboxTimeout(`execution exceeded timeout_ms=${timeoutMs}`)), timeoutMs);
        onAbort = () => reject(new SandboxCancelled('execution canceled'));
        if (signal?.aborted) onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
      });
      const result = await Promise.race([sb.answer(onChunk), stopped]);
      void this.recycle(sb);
      return result;
    } catch (e) {
      await sb.destroy();
      this.refill();
      throw e;
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Back to the pool once the keeper reports the reset done; otherwise replaced. */
  private async recycle(sb: WarmSandbox): Promise<void> {
    try {
      const frame = await sb.next();
      if (frame.ready === true && sb.uses < this.opts.maxUses && this.pool.giveBack(sb, this.opts.keepIdle)) return;
    } catch { /* fall through: replace it */ }
    await sb.destroy();
    this.refill();
  }

  private async create(): Promise<WarmSandbox> {
    const { docker, limits, workerId } = this.opts;
    const pid1 = await this.opts.pid1();
    const net = await sandboxNetwork(this.opts.egress, limits);
    let sb: WarmSandbox;
    try {
      const container = await docker.createContainer({
        Image: limits.image,
        Cmd: pid1.command(KEEPER_SOURCE),
        User: SANDBOX_USER,
        WorkingDir: '/workspace',
        Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'LANG=C.UTF-8', ...net.env],
        OpenStdin: true,
        StdinOnce: true, // the worker's attach closing (even by kill -9) closes stdin: the keeper exits
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        NetworkDisabled: net.disabled,
        Labels: sandboxLabels(workerId, 'python'),
        HostConfig: { ...hardenedHostConfig(limits), ...net.hostConfig, Mounts: [pid1.mount] },
      });
      sb = new WarmSandbox(await FrameChannel.attach(container, 'keeper'), net.release);
    } catch (e) {
      net.release();
      throw e;
    }
    try {
      await sb.channel.container.start();
      const first = await sb.next();
      if (first.ready !== true) throw new SandboxBroken('sandbox failed its first reset');
      return sb;
    } catch (e) {
      await sb.destroy();
      throw e;
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
