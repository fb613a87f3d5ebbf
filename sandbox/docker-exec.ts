// `docker exec` through the Docker API, with stdin when given, output capped per stream while it is
// read (the rest is drained and dropped, or, with stopAtLimit, not read at all), and the exit code from
// the exec's inspect.
import { Transform, Writable, type Duplex, type Readable, type TransformCallback } from 'node:stream';
import { finished } from 'node:stream/promises';
import type Docker from 'dockerode';
import { inExecSpan } from './exec-span.js';

export interface ExecOptions {
  cmd: string[];
  user?: string;
  env?: string[];
  workingDir?: string;
  stdin?: Buffer;
  limitBytes: number;
  /**
   * Past limitBytes of stdout, stop reading and close the exec's stream instead of draining it: for output
   * whose excess is unbounded (a tar of sparse files), so no more of it crosses Docker than the limit.
   */
  stopAtLimit?: boolean;
  /** Give up waiting after this long (the command itself is expected to enforce its own timeout). */
  waitMs?: number;
}

export interface ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  exitCode: number;
  /** True when the output did not end within waitMs. */
  abandoned: boolean;
}

/** Keeps the first `limit` bytes written to it and drops the rest. */
export class CappedSink extends Writable {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;

  constructor(private readonly limit: number, private readonly onOver?: () => void) { super(); }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    const room = this.limit - this.size;
    if (room > 0) {
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      this.chunks.push(part);
      this.size += part.length;
    }
    if (chunk.length > room) {
      this.truncated = true;
      this.onOver?.();
    }
    done();
  }

  get bytes(): Buffer { return Buffer.concat(this.chunks); }
}

export function dockerExec(container: Docker.Container, o: ExecOptions): Promise<ExecResult> {
  return inExecSpan({ runtime: 'terminal', request: 'docker_exec' }, async (span) => {
    span.container(container.id);
    const r = await execIn(container, o);
    span.exitCode(r.exitCode);
    return r;
  });
}

async function execIn(container: Docker.Container, o: ExecOptions): Promise<ExecResult> {
  const exec = await container.exec({
    Cmd: o.cmd,
    User: o.user,
    Env: o.env,
    WorkingDir: o.workingDir,
    AttachStdin: o.stdin !== undefined,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
  });
  const stream = (await exec.start({ hijack: true, stdin: o.stdin !== undefined })) as unknown as Duplex;
  // Closing the stream ends the command too: its stdout pipe is gone, its next write fails.
  const out = new CappedSink(o.limitBytes, o.stopAtLimit ? () => stream.destroy() : undefined);
  const err = new CappedSink(o.limitBytes);
  container.modem.demuxStream(stream, out, err);
  // Some exec streams never emit 'end'; 'close' is the other sign that the process is done.
  const finished = new Promise<boolean>((resolve) => {
    stream.once('end', () => resolve(true));
    stream.once('close', () => resolve(true));
    stream.once('error', () => resolve(true));
  });
  if (o.stdin !== undefined) stream.end(o.stdin);
  let timer: NodeJS.Timeout | undefined;
  const done = o.waitMs === undefined
    ? await finished
    : await Promise.race([finished, new Promise<boolean>((r) => { timer = setTimeout(() => r(false), o.waitMs); })]);
  clearTimeout(timer);
  if (!done) stream.destroy();
  let info = done ? await exec.inspect() : undefined;
  // The stream can close a moment before Docker records the exit code.
  for (let i = 0; info?.Running && i < 50; i++) {
    await new Promise((r) => setTimeout(r, 10));
    info = await exec.inspect();
  }
  return {
    stdout: out.bytes,
    stderr: err.bytes,
    stdoutTruncated: out.truncated,
    stderrTruncated: err.truncated,
    exitCode: info?.ExitCode ?? -1,
    abandoned: !done,
  };
}

/**
 * Splits Docker's multiplexed exec stream (8-byte frame headers: stream type, length) at its reader's
 * pace: stdout passes on, stderr is kept up to a cap. Docker's own demuxStream ignores backpressure, so a
 * slow reader of a large stdout (an upload) would have it all piled up in memory.
 */
export class ExecDemux extends Transform {
  private pending = Buffer.alloc(0);
  private type = 0;
  private left = 0;
  private readonly errChunks: Buffer[] = [];
  private errBytes = 0;

  constructor(private readonly stderrLimit: number) { super(); }

  get stderr(): Buffer { return Buffer.concat(this.errChunks); }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (buf.length > 0) {
      if (this.left === 0) {
        if (buf.length < 8) {
          this.pending = Buffer.from(buf);
          break;
        }
        this.type = buf[0];
        this.left = buf.readUInt32BE(4);
        buf = buf.subarray(8);
        continue;
      }
      const part = buf.subarray(0, Math.min(this.left, buf.length));
      if (this.type === 1) this.push(part);
      else if (this.type === 2 && this.errBytes < this.stderrLimit) {
        const kept = part.subarray(0, this.stderrLimit - this.errBytes);
        this.errChunks.push(Buffer.from(kept));
        this.errBytes += kept.length;
      }
      this.left -= part.length;
      buf = buf.subarray(part.length);
    }
    done();
  }
}

/** A command run through `docker exec` whose stdout (and stdin) are streams. */
export interface StreamingExec {
  /** The command's stdout, as fast as its reader takes it (Docker and the command wait meanwhile). */
  stdout: Readable;
  /** The command's stdin, when asked for: ending it closes the command's stdin. */
  stdin: Writable | undefined;
  /** The first bytes of its stderr (after it ended: all of them, up to the cap). */
  stderr(): Buffer;
  /** Its exit code, once stdout has ended (-1: unknown). */
  exitCode(): Promise<number>;
  /** Ends it now: its output pipe closes and the command's next write fails. */
  abort(): void;
}

export async function dockerExecStream(container: Docker.Container, o: { cmd: string[]; user?: string; workingDir?: string; stdin?: boolean; stderrLimit?: number }): Promise<StreamingExec> {
  const exec = await container.exec({
    Cmd: o.cmd,
    User: o.user,
    WorkingDir: o.workingDir,
    AttachStdin: o.stdin === true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
  });
  const stream = (await exec.start({ hijack: true, stdin: o.stdin === true })) as unknown as Duplex;
  const demux = new ExecDemux(o.stderrLimit ?? 64 * 1024);
  stream.pipe(demux);
  stream.once('error', (e) => demux.destroy(e));
  // Some exec streams never emit 'end': 'close' also says the command's output is complete.
  stream.once('close', () => { if (!demux.writableEnded && !demux.destroyed) demux.end(); });
  const ended = finished(demux).then(() => true, () => true);
  return {
    stdout: demux,
    stdin: o.stdin ? stream : undefined,
    stderr: () => demux.stderr,
    async exitCode() {
      await ended;
      let info = await exec.inspect().catch(() => undefined);
      // The stream can close a moment before Docker records the exit code.
      for (let i = 0; info?.Running && i < 50; i++) {
        await new Promise((r) => setTimeout(r, 10));
        info = await exec.inspect().catch(() => undefined);
      }
      return info?.ExitCode ?? -1;
    },
    abort: () => stream.destroy(),
  };
}
