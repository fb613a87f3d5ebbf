// Length-prefixed JSON frames over a container's attached stdin/stdout: how a worker talks to the
// keeper of a python sandbox and to the agent of a terminal session without a `docker exec` per call.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, type Duplex } from 'node:stream';
import type Docker from 'dockerode';
import { sandboxProgramsDir } from '../config/paths.js';

const read = (f: string) => readFileSync(join(sandboxProgramsDir, f), 'utf8');

/**
 * A PID 1 program for `python3 -c`: the shared prelude (set-up, send()), then, for a session's agent, the
 * checkpoint restore, then, for programs that run code cells, the interpreter kernels' sources and their
 * driver, then the script.
 */
export function pid1Program(script: string, opts: { kernels?: boolean; restore?: boolean } = {}): string {
  const parts = [read('pid1-prelude.py')];
  // The rules a checkpoint is unpacked by (restore_workspace), shared with the `docker exec` restore.
  if (opts.restore) parts.push(read('workspace-restore.py'));
  if (opts.kernels) {
    const kernels = {
      python: read('kernels/python-kernel.py'),
      javascript: read('kernels/javascript-kernel.js'),
      bash: read('kernels/bash-kernel.py'),
    };
    // JSON string literals are Python string literals too.
    parts.push(`KERNEL_SOURCES = ${JSON.stringify(kernels)}`, read('kernel-driver.py'));
  }
  parts.push(read(script));
  return parts.join('\n');
}

/** A piece of output as the program writes it, forwarded while the work runs. */
export interface OutputChunk { stream: 'stdout' | 'stderr'; text: string }
export type OnChunk = (chunk: OutputChunk) => void;

export type Frame = Record<string, unknown>;

/** The container's process is gone, or the attachment broke. */
export class ChannelClosed extends Error {}

export class FrameChannel {
  private buffered: Buffer = Buffer.alloc(0);
  private waiters: Array<{ resolve: (f: Frame) => void; reject: (e: Error) => void }> = [];
  private frames: Frame[] = [];
  closed = false;

  private constructor(readonly container: Docker.Container, private readonly stream: Duplex, label: string) {
    const out = new PassThrough();
    const err = new PassThrough();
    container.modem.demuxStream(stream, out, err);
    out.on('data', (chunk: Buffer) => this.onData(chunk));
    err.on('data', (chunk: Buffer) => process.stderr.write(`[${label} ${container.id.slice(0, 12)}] ${chunk}`));
    const gone = () => this.fail(new ChannelClosed(`${label} container exited`));
    stream.on('end', gone);
    stream.on('close', gone);
    stream.on('error', gone);
  }

  /** Attaches to the container's stdio; attach before start to see the first frame. */
  static async attach(container: Docker.Container, label: string): Promise<FrameChannel> {
    const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex;
    return new FrameChannel(container, stream, label);
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    while (this.buffered.length >= 4) {
      const n = this.buffered.readUInt32BE(0);
      if (this.buffered.length < 4 + n) break;
      const frame = JSON.parse(this.buffered.subarray(4, 4 + n).toString('utf8')) as Frame;
      this.buffered = this.buffered.subarray(4 + n);
      const w = this.waiters.shift();
      if (w) w.resolve(frame);
      else this.frames.push(frame);
    }
  }

  private fail(e: Error): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.reject(e);
  }

  next(): Promise<Frame> {
    const f = this.frames.shift();
    if (f) return Promise.resolve(f);
    if (this.closed) return Promise.reject(new ChannelClosed('channel closed'));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /**
   * The frame answering request `id` (or, with no id, the next answer); output chunks sent before it go
   * to `onChunk`, and frames of abandoned earlier requests are skipped.
   */
  async reply(id: string | undefined, onChunk?: OnChunk): Promise<Frame> {
    for (;;) {
      const f = await this.next();
      if (f.id !== id) continue;
      if (f.chunk) {
        onChunk?.(f.chunk as OutputChunk);
        continue;
      }
      return f;
    }
  }

  send(obj: unknown): void {
    const body = Buffer.from(JSON.stringify(obj), 'utf8');
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length, 0);
    this.stream.write(Buffer.concat([head, body]));
  }

  /** Detaches; the container's process sees its stdin close only when StdinOnce is set. */
  close(): void {
    this.closed = true;
    this.stream.destroy();
  }
}
